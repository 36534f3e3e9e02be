//! The session model: what one linked device is (its credentials and the
//! key stores the Signal layer needs), as plain values changed only through
//! [`Write`]s the shell carries out; the snapshot format that backs it up
//! (versioned, checksummed, compressed, encrypted); and the restore plan
//! that decides what a start resumes from.

mod creds;
mod model;
pub mod restore;
pub mod snapshot;
pub mod testing;

pub use creds::{
    AppVersion, Creds, CredsError, KEY_TYPE_DJB, Me, PreKey, SignedPreKey, prefixed_public,
};
pub use model::{OutboxEntry, RecordError, SenderKeyName, Session, Write, writes_for};
