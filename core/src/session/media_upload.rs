//! An upload the media host took, kept so the same file is sent again
//! with its key and direct path instead of a second upload while the
//! host still serves it. Keyed by the file's SHA-256 (its plaintext, as
//! sent) and the type it was sent as (a clip as a GIF and as a video
//! have other keys).

use std::fmt;

use crate::time::UnixMillis;

/// An earlier upload is reused for this long after it was made: WhatsApp
/// keeps a blob its messages reference for weeks; a week leaves margin.
pub const MEDIA_UPLOAD_REUSE_MS: u64 = 7 * 24 * 3600 * 1000;
/// Uploads kept per session at most; past it the oldest go (and every
/// one older than [`MEDIA_UPLOAD_REUSE_MS`]) whenever one is stored.
pub const MEDIA_UPLOADS_MAX: u32 = 512;

/// One kept upload. `Debug` shows neither the key nor the location.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaUpload {
    /// The plaintext's SHA-256.
    pub file_sha256: [u8; 32],
    /// What it was sent as (`gif`, `sticker`, `image`, …).
    pub media_type: String,
    pub media_key: Vec<u8>,
    pub file_enc_sha256: [u8; 32],
    pub file_length: u64,
    pub url: String,
    pub direct_path: String,
    pub uploaded_at: UnixMillis,
}

impl MediaUpload {
    /// Whether it may still be sent again at `now`.
    #[must_use]
    pub fn reusable_at(&self, now: UnixMillis) -> bool {
        now.as_millis().saturating_sub(self.uploaded_at.as_millis()) < MEDIA_UPLOAD_REUSE_MS
    }
}

impl fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaUpload")
            .field("media_type", &self.media_type)
            .field("file_length", &self.file_length)
            .field("uploaded_at", &self.uploaded_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_reused_for_a_week_and_debug_hides_its_key() {
        let upload = MediaUpload {
            file_sha256: [1; 32],
            media_type: "gif".into(),
            media_key: vec![0xab; 32],
            file_enc_sha256: [2; 32],
            file_length: 10,
            url: "https://mmg.example/v/SECRET".into(),
            direct_path: "/v/SECRET".into(),
            uploaded_at: UnixMillis(1_000),
        };
        assert!(upload.reusable_at(UnixMillis(1_000)));
        assert!(upload.reusable_at(UnixMillis(1_000 + MEDIA_UPLOAD_REUSE_MS - 1)));
        assert!(!upload.reusable_at(UnixMillis(1_000 + MEDIA_UPLOAD_REUSE_MS)));
        let debug = format!("{upload:?}");
        assert!(
            !debug.contains("SECRET") && !debug.contains("171"),
            "{debug}"
        );
    }
}
