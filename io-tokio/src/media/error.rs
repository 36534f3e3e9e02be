//! What can go wrong moving media, by culprit. No error carries a URL's
//! query (it holds the upload auth) nor a file's bytes: hosts only.

use blacksky_core::media::{DescriptorError, MediaDecryptError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MediaTransferError {
    #[error("media_conn: {0}")]
    MediaConn(String),
    #[error("reading the media to upload: {0}")]
    Source(std::io::Error),
    #[error("the media to upload changed while it was being uploaded")]
    SourceChanged,
    #[error("{host}: answered HTTP {status}")]
    Status { host: String, status: u16 },
    #[error("{host}: no {phase} within {secs} s")]
    Timeout {
        host: String,
        phase: &'static str,
        secs: u64,
    },
    #[error("{host}: {what}")]
    Request { host: String, what: String },
    #[error("{host}: the upload answer is not WhatsApp's JSON ({what})")]
    BadAnswer { host: String, what: String },
    #[error("{attempts} attempts failed; the last: {last}")]
    AttemptsExhausted {
        attempts: u32,
        last: Box<MediaTransferError>,
    },
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    #[error("{host}: {source}")]
    Verify {
        host: String,
        source: MediaDecryptError,
    },
    #[error("writing the downloaded media: {0}")]
    Sink(std::io::Error),
    #[error("the media has no location a host can serve: {what}")]
    NoLocation { what: String },
}

impl MediaTransferError {
    /// Worth trying again (elsewhere or later): the network, a host's
    /// fault or refusal, a timeout. A blob that fails its checks or a
    /// local fault is not.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            MediaTransferError::Status { status, .. } => {
                *status >= 500 || matches!(status, 401 | 403 | 404 | 408 | 429)
            }
            MediaTransferError::Timeout { .. }
            | MediaTransferError::Request { .. }
            | MediaTransferError::BadAnswer { .. }
            | MediaTransferError::MediaConn(_) => true,
            _ => false,
        }
    }
}
