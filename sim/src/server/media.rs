//! The media host, as WhatsApp's clients see it (Baileys'
//! `getWAUploadToServer`, whatsmeow's upload.go):
//!
//! - `<iq xmlns=w:m type=set><media_conn/></iq>` answers the hosts, an
//!   `auth` token and its `ttl`;
//! - `POST /mms/<type>/<token>?auth=<auth>&token=<token>` stores the
//!   encrypted blob (the token is its SHA-256, base64url) and answers
//!   `{"url", "direct_path"}`;
//! - `GET <direct_path>` (or the url) serves it back.
//!
//! And what a contact's phone would do with a bot's media message: fetch
//! the blob it references, check it against the descriptor (fileEncSha256,
//! MAC, padding, fileLength, fileSha256) and look inside (an MP4 for a
//! video or GIF, a WebP for a sticker). A failure is a
//! [`ViolationKind::BadMedia`]; each message is checked once, however
//! many devices read it.
//!
//! Sans-I/O like the rest of the server: the HTTP shell (`net`) calls
//! [`FakeServer::media_upload`] and [`FakeServer::media_download`].

use std::collections::{BTreeMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use blacksky_core::media::{
    DownloadPlan, MediaDecryptError, MediaKeys, MediaType, decrypt_media, encrypt_media,
    upload_token,
};
use blacksky_core::message::content::{Content, Kind, Media, MediaKey};
use blacksky_core::wire::binary::Node;
use blacksky_proto::wa;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::output::{ConnId, ControlError, ServerEvent};
use super::violations::{Owner, Violation, ViolationKind};
use super::{FakeServer, stanzas};

/// Blobs kept; past it the oldest go first.
pub const MEDIA_BLOBS_LEN_MAX: usize = 512;
/// Bytes of blobs kept in all; past it the oldest go first.
pub const MEDIA_STORED_BYTES_MAX: usize = 256 * 1024 * 1024;
/// The largest upload taken (WhatsApp's own limit for videos is lower).
pub const MEDIA_BLOB_BYTES_MAX: usize = 100 * 1024 * 1024;
/// Media checks remembered (by message id), so a message read by many
/// devices is checked once.
pub const MEDIA_CHECKS_LEN_MAX: usize = 1_000;
/// The `/mms/<type>` names clients upload to (a sticker goes to `image`,
/// a GIF to `video`, a voice note to `audio`).
pub const UPLOAD_TYPES: [&str; 4] = ["image", "video", "audio", "document"];

/// Why the media host refused a request; [`MediaHostError::status`] is
/// its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaHostError {
    #[error("media upload: auth is not the one media_conn gives (now)")]
    BadAuth,
    #[error(
        "media upload: /mms/{mms_type} is no type the host takes (image, video, audio, document)"
    )]
    UnknownType { mms_type: String },
    #[error("media upload: the token in the path and the token= in the query differ")]
    TokensDiffer,
    #[error("media upload: the token is not the body's SHA-256 in base64url")]
    TokenNotBlobHash,
    #[error("media upload: an empty body")]
    EmptyBody,
    #[error("media upload: {len} bytes, over the host's limit of {MEDIA_BLOB_BYTES_MAX}")]
    TooLarge { len: usize },
    #[error("media host: failing on purpose ({left} more)")]
    Injected { left: u32 },
    #[error("media download: no blob at {path}")]
    NotFound { path: String },
}

impl MediaHostError {
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            MediaHostError::BadAuth => 401,
            MediaHostError::UnknownType { .. }
            | MediaHostError::TokensDiffer
            | MediaHostError::TokenNotBlobHash
            | MediaHostError::EmptyBody => 400,
            MediaHostError::TooLarge { .. } => 413,
            MediaHostError::Injected { .. } => 503,
            MediaHostError::NotFound { .. } => 404,
        }
    }

    /// A short name for JSON answers.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            MediaHostError::BadAuth => "bad_auth",
            MediaHostError::UnknownType { .. } => "unknown_type",
            MediaHostError::TokensDiffer => "tokens_differ",
            MediaHostError::TokenNotBlobHash => "token_not_blob_hash",
            MediaHostError::EmptyBody => "empty_body",
            MediaHostError::TooLarge { .. } => "too_large",
            MediaHostError::Injected { .. } => "injected",
            MediaHostError::NotFound { .. } => "not_found",
        }
    }
}

/// The upload's answer, as WhatsApp's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAnswer {
    pub url: String,
    pub direct_path: String,
}

/// Which check a bot's media failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaCheck {
    /// The descriptor lacks a field a download needs.
    Descriptor,
    /// No blob at its direct path (or url).
    BlobMissing,
    /// Uploaded under another `/mms/<type>` than the message's kind.
    UploadType,
    /// The blob is not whole AES blocks and a MAC.
    BlobShape,
    FileEncSha256,
    Mac,
    Padding,
    FileLength,
    FileSha256,
    /// The plaintext is not the container its kind needs (MP4, WebP).
    Container,
}

/// A bot's media message as a contact's device took it: checked and
/// opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMedia {
    /// `image`, `video`, `gif`, `audio`, `voice_note`, `document`, `sticker`.
    pub media_type: String,
    pub mimetype: Option<String>,
    pub file_length: u64,
    /// The caption's length (its text stays out of the records).
    pub caption_len: usize,
    /// The plaintext's SHA-256, hex, to compare with what was sent.
    pub file_sha256: String,
}

/// One stored blob.
#[derive(Debug)]
struct StoredBlob {
    mms_type: &'static str,
    bytes: Vec<u8>,
}

type CheckResult = Result<ReceivedMedia, (MediaCheck, String)>;

/// The host's state inside the server.
#[derive(Debug)]
pub(crate) struct MediaHost {
    /// By direct path (without its query).
    blobs: BTreeMap<String, StoredBlob>,
    order: VecDeque<String>,
    stored_bytes: usize,
    next_blob: u64,
    /// Bumped to give `media_conn` a new auth (the old one stops working).
    auth_generation: u32,
    /// The next requests that fail with 503.
    failures_left: u32,
    /// Where the blobs are served (the `url` answers start with it).
    url_base: String,
    checks: VecDeque<(String, CheckResult)>,
    uploads: u64,
    downloads: u64,
}

impl Default for MediaHost {
    fn default() -> Self {
        MediaHost {
            blobs: BTreeMap::new(),
            order: VecDeque::new(),
            stored_bytes: 0,
            next_blob: 1,
            auth_generation: 0,
            failures_left: 0,
            url_base: "https://mmg.whatsapp.net".to_owned(),
            checks: VecDeque::new(),
            uploads: 0,
            downloads: 0,
        }
    }
}

/// The media host's counters, for tests and `/media/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaStats {
    pub blobs: usize,
    pub stored_bytes: usize,
    pub uploads: u64,
    pub downloads: u64,
}

/// The path part of a direct path or a url (no scheme, host or query).
fn path_of(location: &str) -> &str {
    let after_scheme = match location.find("://") {
        Some(at) => {
            let rest = &location[at + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        None => location,
    };
    after_scheme.split('?').next().unwrap_or(after_scheme)
}

fn is_mp4(plaintext: &[u8]) -> bool {
    plaintext.len() >= 12 && &plaintext[4..8] == b"ftyp"
}

fn is_webp(plaintext: &[u8]) -> bool {
    plaintext.len() >= 12 && &plaintext[..4] == b"RIFF" && &plaintext[8..12] == b"WEBP"
}

fn check_of(err: &MediaDecryptError) -> MediaCheck {
    match err {
        MediaDecryptError::BlobTooLarge { .. }
        | MediaDecryptError::BlobTooShort { .. }
        | MediaDecryptError::NotBlockAligned { .. } => MediaCheck::BlobShape,
        MediaDecryptError::FileEncSha256Mismatch => MediaCheck::FileEncSha256,
        MediaDecryptError::MacMismatch => MediaCheck::Mac,
        MediaDecryptError::BadPadding => MediaCheck::Padding,
        MediaDecryptError::BlobLongerThanDeclared { .. }
        | MediaDecryptError::FileLengthMismatch { .. } => MediaCheck::FileLength,
        MediaDecryptError::FileSha256Mismatch => MediaCheck::FileSha256,
    }
}

/// The media a message carries, wrappers and device-sent copies opened.
fn media_of(content: &Content) -> Option<&Media> {
    match &content.kind {
        Kind::Media(media) => Some(media),
        Kind::DeviceSent { message, .. } => media_of(message),
        _ => None,
    }
}

impl MediaHost {
    fn check(&self, media: &Media) -> CheckResult {
        let media_type = MediaType::of_kind(&media.kind);
        let plan = DownloadPlan::from_descriptor(&media.descriptor, media_type)
            .map_err(|e| (MediaCheck::Descriptor, e.to_string()))?;
        let location = media
            .descriptor
            .direct_path
            .as_deref()
            .or(media.descriptor.url.as_deref())
            .unwrap_or_default();
        let path = path_of(location);
        let blob = self.blobs.get(path).ok_or_else(|| {
            (
                MediaCheck::BlobMissing,
                "no blob at the message's direct path".to_owned(),
            )
        })?;
        if blob.mms_type != media_type.mms_type() {
            return Err((
                MediaCheck::UploadType,
                format!(
                    "uploaded to /mms/{}, referenced by a {} message (/mms/{})",
                    blob.mms_type,
                    media_type.name(),
                    media_type.mms_type()
                ),
            ));
        }
        let plaintext = decrypt_media(&plan.keys, plan.expected.clone(), &blob.bytes)
            .map_err(|e| (check_of(&e), e.to_string()))?;
        let container = match media_type {
            MediaType::Video | MediaType::Gif => Some(("an MP4 (ftyp box)", is_mp4(&plaintext))),
            MediaType::Sticker => Some(("a WebP (RIFF…WEBP)", is_webp(&plaintext))),
            _ => None,
        };
        if let Some((what, false)) = container {
            return Err((
                MediaCheck::Container,
                format!("a {} message whose file is not {what}", media_type.name()),
            ));
        }
        Ok(ReceivedMedia {
            media_type: media_type.name().to_owned(),
            mimetype: media.descriptor.mimetype.clone(),
            file_length: plaintext.len() as u64,
            caption_len: media.caption.as_ref().map_or(0, String::len),
            file_sha256: hex::encode(plan.expected.file_sha256),
        })
    }

    fn store(&mut self, mms_type: &'static str, token: &str, bytes: Vec<u8>) -> String {
        let n = self.next_blob;
        self.next_blob += 1;
        let hash_hex: String = token.bytes().take(8).map(|b| format!("{b:02x}")).collect();
        let path = format!("/v/t62.7118-24/{n:08}_{hash_hex}_n.enc");
        self.stored_bytes += bytes.len();
        self.blobs
            .insert(path.clone(), StoredBlob { mms_type, bytes });
        self.order.push_back(path.clone());
        while self.order.len() > MEDIA_BLOBS_LEN_MAX || self.stored_bytes > MEDIA_STORED_BYTES_MAX {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.blobs.remove(&oldest) {
                self.stored_bytes -= gone.bytes.len();
            }
        }
        path
    }
}

/// `token` names `body`: its SHA-256 in base64url, with or without the
/// padding (Baileys strips it, whatsmeow keeps it).
fn token_names(token: &str, body: &[u8]) -> bool {
    let hash = Sha256::digest(body);
    token == URL_SAFE_NO_PAD.encode(hash) || token == URL_SAFE.encode(hash)
}

impl FakeServer {
    /// The auth `media_conn` gives now: derived from the server's static
    /// key (no draw from the seeded RNG, so adding media changes no other
    /// random value).
    #[must_use]
    pub fn media_auth(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"fake-wa media auth");
        hash.update(self.static_key.public());
        hash.update(self.media.auth_generation.to_be_bytes());
        STANDARD.encode(&hash.finalize()[..24])
    }

    /// A new auth for `media_conn`; uploads with the old one get 401.
    pub fn rotate_media_auth(&mut self) {
        self.media.auth_generation = self.media.auth_generation.wrapping_add(1);
    }

    /// The next `count` media requests (uploads and downloads) fail with 503.
    pub fn fail_media_requests(&mut self, count: u32) {
        self.media.failures_left = count;
    }

    /// Where the HTTP shell serves the blobs (`url` answers start with it).
    pub fn set_media_url_base(&mut self, base: &str) {
        self.media.url_base = base.trim_end_matches('/').to_owned();
    }

    #[must_use]
    pub fn media_stats(&self) -> MediaStats {
        MediaStats {
            blobs: self.media.blobs.len(),
            stored_bytes: self.media.stored_bytes,
            uploads: self.media.uploads,
            downloads: self.media.downloads,
        }
    }

    /// What the checks found for the bot's message `id`, if it carried
    /// media: the opened media, or the failed check.
    #[must_use]
    pub fn media_check(&self, id: &str) -> Option<Result<ReceivedMedia, (MediaCheck, String)>> {
        self.media
            .checks
            .iter()
            .rev()
            .find(|(checked, _)| checked == id)
            .map(|(_, result)| result.clone())
    }

    fn injected_failure(&mut self) -> Result<(), MediaHostError> {
        if self.media.failures_left == 0 {
            return Ok(());
        }
        self.media.failures_left -= 1;
        Err(MediaHostError::Injected {
            left: self.media.failures_left,
        })
    }

    /// `POST /mms/<mms_type>/<path_token>?auth=<auth>&token=<query_token>`
    /// with the blob as body.
    pub fn media_upload(
        &mut self,
        mms_type: &str,
        path_token: &str,
        auth: &str,
        query_token: &str,
        body: Vec<u8>,
    ) -> Result<UploadAnswer, MediaHostError> {
        self.injected_failure()?;
        if auth != self.media_auth() {
            return Err(MediaHostError::BadAuth);
        }
        let Some(&mms_type) = UPLOAD_TYPES.iter().find(|&&t| t == mms_type) else {
            return Err(MediaHostError::UnknownType {
                mms_type: mms_type.chars().take(40).collect(),
            });
        };
        if path_token != query_token {
            return Err(MediaHostError::TokensDiffer);
        }
        if body.is_empty() {
            return Err(MediaHostError::EmptyBody);
        }
        if body.len() > MEDIA_BLOB_BYTES_MAX {
            return Err(MediaHostError::TooLarge { len: body.len() });
        }
        if !token_names(path_token, &body) {
            return Err(MediaHostError::TokenNotBlobHash);
        }
        let len = body.len();
        let path = self.media.store(mms_type, path_token, body);
        self.media.uploads += 1;
        let direct_path = format!("{path}?ccb=11-4&oh=01_fake&oe=00000000&_nc_sid=5e03e0");
        let url = format!("{}{direct_path}&mms3=true", self.media.url_base);
        self.event(ServerEvent::MediaUploaded {
            mms_type: mms_type.to_owned(),
            len: len as u64,
        });
        Ok(UploadAnswer { url, direct_path })
    }

    /// `GET` a blob by its direct path or url (the query is ignored).
    pub fn media_download(&mut self, location: &str) -> Result<Vec<u8>, MediaHostError> {
        self.injected_failure()?;
        let path = path_of(location);
        let blob = self
            .media
            .blobs
            .get(path)
            .ok_or_else(|| MediaHostError::NotFound {
                path: path.chars().take(120).collect(),
            })?;
        self.media.downloads += 1;
        Ok(blob.bytes.clone())
    }

    /// The contact `from_phone` sends `image` (its bytes, JPEG, PNG or
    /// WebP) with `caption` in its 1:1 chat, as a phone does: encrypted
    /// under a new media key, stored on this host, referenced by an
    /// `imageMessage`. The key comes from the image and a counter, not
    /// the seeded RNG (no other random value moves). Returns the message id.
    pub fn send_image(
        &mut self,
        from_phone: &str,
        image: &[u8],
        caption: &str,
    ) -> Result<String, ControlError> {
        if image.is_empty() || image.len() > MEDIA_BLOB_BYTES_MAX / 2 {
            return Err(ControlError::BadImage {
                max: MEDIA_BLOB_BYTES_MAX / 2,
            });
        }
        let mut seed = Sha256::new();
        seed.update(b"fake-wa contact media key");
        seed.update(self.media.next_blob.to_be_bytes());
        seed.update(image);
        let media_key = MediaKey::from_bytes(seed.finalize().to_vec());
        let Ok(keys) = MediaKeys::expand(&media_key, MediaType::Image) else {
            unreachable!("a SHA-256 is 32 bytes, a media key's length");
        };
        let (blob, encrypted) = encrypt_media(&keys, image);
        let token = upload_token(&encrypted.file_enc_sha256);
        let path = self.media.store("image", &token, blob);
        let direct_path = format!("{path}?ccb=11-4&oh=01_fake&oe=00000000&_nc_sid=5e03e0");
        let url = format!("{}{direct_path}&mms3=true", self.media.url_base);
        let mimetype = if image.starts_with(b"\x89PNG") {
            "image/png"
        } else if image.starts_with(b"RIFF") {
            "image/webp"
        } else {
            "image/jpeg"
        };
        let message = wa::Message {
            image_message: Some(Box::new(wa::message::ImageMessage {
                url: Some(url),
                mimetype: Some(mimetype.to_owned()),
                caption: (!caption.is_empty()).then(|| caption.to_owned()),
                file_sha256: Some(encrypted.file_sha256.to_vec()),
                file_length: Some(encrypted.file_length),
                media_key: Some(media_key.as_bytes().to_vec()),
                file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
                direct_path: Some(direct_path),
                media_key_timestamp: i64::try_from(self.wall.as_secs()).ok(),
                ..Default::default()
            })),
            ..Default::default()
        };
        self.send_direct_message(from_phone, &message, caption, false)
    }

    /// `<iq xmlns=w:m type=set><media_conn/>`: the hosts and the auth.
    pub(crate) fn on_media_conn(&mut self, conn: ConnId, id: &str) {
        let hosts = self
            .config
            .media_hosts
            .iter()
            .map(|host| {
                Node::new("host")
                    .with_attr("hostname", host.clone())
                    .with_attr("maxContentLengthBytes", MEDIA_BLOB_BYTES_MAX.to_string())
            })
            .collect();
        let media_conn = Node::new("media_conn")
            .with_attr("auth", self.media_auth())
            .with_attr("ttl", self.config.media_conn_ttl_secs.to_string())
            .with_attr("auth_ttl", self.config.media_conn_ttl_secs.to_string())
            .with_attr("max_buckets", "12")
            .with_children(hosts);
        self.send(conn, &stanzas::iq_result_with(id, vec![media_conn]));
    }

    /// Checks the media of a bot's message a device read (once per
    /// message id); a failure is recorded as a violation.
    pub(crate) fn check_bot_media(
        &mut self,
        conn: ConnId,
        id: &str,
        owner: Owner,
        device: u8,
        message: &wa::Message,
    ) -> Option<ReceivedMedia> {
        if let Some(known) = self.media_check(id) {
            return known.ok();
        }
        let content = Content::from_message(message);
        let media = media_of(&content)?;
        let result = self.media.check(media);
        if let Err((check, what)) = &result {
            self.violation(
                conn,
                Violation {
                    id: id.to_owned(),
                    owner: Some(owner),
                    device: Some(device),
                    kind: ViolationKind::BadMedia {
                        check: *check,
                        what: what.clone(),
                    },
                },
            );
        }
        let checks = &mut self.media.checks;
        checks.push_back((id.to_owned(), result.clone()));
        while checks.len() > MEDIA_CHECKS_LEN_MAX {
            checks.pop_front();
        }
        result.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_out_of_urls_and_direct_paths() {
        assert_eq!(path_of("/v/t62/1_n.enc?ccb=11-4"), "/v/t62/1_n.enc");
        assert_eq!(
            path_of("http://127.0.0.1:9/v/t62/1_n.enc?ccb=1&mms3=true"),
            "/v/t62/1_n.enc"
        );
        assert_eq!(path_of("https://mmg.whatsapp.net"), "/");
    }

    #[test]
    fn containers_are_told_apart() {
        assert!(is_mp4(b"\0\0\0\x20ftypisom\0\0\x02\0"));
        assert!(!is_mp4(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(is_webp(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!is_webp(b"\0\0\0\x20ftypisom\0\0\x02\0"));
        assert!(!is_mp4(b"ftyp"));
    }

    #[test]
    fn the_store_forgets_the_oldest_past_its_bound() {
        let mut host = MediaHost::default();
        let first = host.store("image", "tok", vec![1; 10]);
        for _ in 0..MEDIA_BLOBS_LEN_MAX {
            host.store("image", "tok", vec![2; 10]);
        }
        assert_eq!(host.blobs.len(), MEDIA_BLOBS_LEN_MAX);
        assert!(!host.blobs.contains_key(&first));
        assert_eq!(host.stored_bytes, MEDIA_BLOBS_LEN_MAX * 10);
    }
}
