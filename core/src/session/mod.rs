//! The session model: what one linked device is (its credentials and the
//! key stores the Signal layer needs), as plain values changed only through
//! [`Write`]s the shell carries out; the snapshot format that backs it up
//! (versioned, checksummed, compressed, encrypted); and the restore plan
//! that decides what a start resumes from.

mod creds;
mod media_upload;
mod model;
pub mod pre_key_ids;
pub mod replaces;
pub mod restore;
pub mod row_seal;
pub mod snapshot;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

mod signed_pre_key_schedule;

pub use creds::{
    AppVersion, AppVersionError, Creds, CredsError, Me, PreKey, PreviousSignedPreKey, SignedPreKey,
    SignedPreKeyStatus,
};
pub use media_upload::{MEDIA_UPLOAD_REUSE_MS, MEDIA_UPLOADS_MAX, MediaUpload};
pub use model::{
    Committed, InboxContent, InboxEntry, Outbound, OutboxEntry, PlacedPreKeys, RecordError, Retry,
    RetryKey, SenderKeyName, Session, StoreFault, StoredGroup, Write, creds_over,
    place_fresh_pre_keys,
};
pub use replaces::{CheckedRecord, GivenKey, RecordDigest, Replaces, StaleRecord};
pub use signed_pre_key_schedule::{SignedPreKeyCheck, next_signed_pre_key_id};
