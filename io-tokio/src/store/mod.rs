//! Where sessions live. Every store carries out the client's store ops,
//! each as one transaction, and gives the creds back at start.

mod file;

pub use file::FileStore;

use blacksky_core::client::StoreOp;
use blacksky_core::session::Creds;
use std::future::Future;
use thiserror::Error;

/// A store fault. The text names what failed; it never holds key material.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
}

/// The interface the driver uses. One op = one transaction: after `apply`
/// returns `Ok`, a crash loses nothing of it.
pub trait Store: Send {
    /// The stored creds, `None` for a fresh store. A record that exists
    /// but cannot be read is an error, never `None`: blacksky must not
    /// silently replace an identity.
    fn load_creds(&mut self) -> impl Future<Output = Result<Option<Creds>, StoreError>> + Send;

    /// Makes one op durable.
    fn apply(&mut self, op: &StoreOp) -> impl Future<Output = Result<(), StoreError>> + Send;
}
