//! What runs one WhatsApp session: [`runner`] starts it and shuts it down,
//! [`supervise`] is the keeper's loop, [`driver`] runs one connection over
//! the [`transport`], and the store [`worker`] owns the session's store.

pub mod driver;
pub mod runner;
pub mod supervise;
pub mod transport;
pub mod worker;
