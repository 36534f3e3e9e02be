//! The end-to-end message: WhatsApp's padding around it and a typed view
//! of its protobuf.

pub mod content;
pub mod fields;
pub mod ids;
pub mod incoming;
pub mod padding;

pub use content::{Content, ContentError, Kind};
pub use incoming::{Incoming, IncomingError, Sender};
