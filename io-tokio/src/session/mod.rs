//! What runs one WhatsApp session: [`runner`] starts it and shuts it down
//! with what [`setup`] gives it, [`supervise`] is the keeper's loop,
//! [`driver`] runs one connection over the [`transport`] (its frames out
//! queued in [`socket_writes`]) and reports its
//! [`events`] to the loop, the store [`worker`] owns the session's store
//! (and prunes it, [`retention`]); [`settings`] and [`present`] are shared
//! by the runner and the loop; [`grace`] shares the shutdown's budget
//! among its steps; [`proactive`] takes the bot's own sends, and
//! [`effects`] says what the worker does with a handler's effects;
//! [`client_version`] picks the client version and looks up a newer one
//! after a 405.

pub mod asks;
pub mod client_version;
pub mod driver;
pub mod effects;
pub mod events;
pub mod grace;
pub mod media_conn;
pub mod outbound;
pub mod performing;
pub mod present;
pub mod proactive;
pub mod retention;
pub mod runner;
pub mod settings;
pub mod setup;
pub mod socket_writes;
pub mod supervise;
pub mod transport;
pub mod worker;
