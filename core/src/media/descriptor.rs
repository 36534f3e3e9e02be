//! From a received message's media descriptor to what the download needs
//! (keys and expected hashes), and from an upload back to a descriptor.

use thiserror::Error;

use super::decrypt::ExpectedMedia;
use super::encrypt::EncryptedMedia;
use super::keys::{MediaKeyError, MediaKeys};
use super::media_type::MediaType;
use crate::message::content::{MediaDescriptor, MediaKey};

/// A descriptor that cannot be downloaded, by the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DescriptorError {
    #[error("media descriptor: {field} is missing")]
    Missing { field: &'static str },
    #[error("media descriptor: {field} has {len} bytes, a SHA-256 has 32")]
    NotSha256 { field: &'static str, len: usize },
    #[error(transparent)]
    MediaKey(#[from] MediaKeyError),
}

/// Where the blob is: a full URL, a direct path for the media hosts, or
/// both (the direct path is tried on every host, the URL as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    Url(String),
    DirectPath(String),
    Both { url: String, direct_path: String },
}

/// Everything a download of a received message's media needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadPlan {
    pub keys: MediaKeys,
    pub expected: ExpectedMedia,
    pub location: BlobLocation,
}

impl DownloadPlan {
    /// Reads `descriptor` for a file of `media_type`; every field a
    /// download needs must be there.
    pub fn from_descriptor(
        descriptor: &MediaDescriptor,
        media_type: MediaType,
    ) -> Result<DownloadPlan, DescriptorError> {
        let media_key = descriptor
            .media_key
            .as_ref()
            .ok_or(DescriptorError::Missing { field: "mediaKey" })?;
        let keys = MediaKeys::expand(media_key, media_type)?;
        let expected = ExpectedMedia {
            file_sha256: sha256_field(descriptor.file_sha256.as_deref(), "fileSha256")?,
            file_enc_sha256: sha256_field(descriptor.file_enc_sha256.as_deref(), "fileEncSha256")?,
            file_length: descriptor.file_length,
        };
        let location = match (&descriptor.url, &descriptor.direct_path) {
            (Some(url), Some(direct_path)) => BlobLocation::Both {
                url: url.clone(),
                direct_path: direct_path.clone(),
            },
            (Some(url), None) => BlobLocation::Url(url.clone()),
            (None, Some(direct_path)) => BlobLocation::DirectPath(direct_path.clone()),
            (None, None) => {
                return Err(DescriptorError::Missing {
                    field: "url and directPath",
                });
            }
        };
        Ok(DownloadPlan {
            keys,
            expected,
            location,
        })
    }
}

fn sha256_field(bytes: Option<&[u8]>, field: &'static str) -> Result<[u8; 32], DescriptorError> {
    let bytes = bytes.ok_or(DescriptorError::Missing { field })?;
    bytes.try_into().map_err(|_| DescriptorError::NotSha256 {
        field,
        len: bytes.len(),
    })
}

/// Where the media host put an uploaded blob (its JSON answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedBlob {
    pub url: String,
    pub direct_path: String,
}

/// The descriptor a message carries for a blob we uploaded: the key it
/// was encrypted with, its hashes, where it is. `mimetype`, sizes and the
/// thumbnail are the sender's to add.
#[must_use]
pub fn uploaded_descriptor(
    media_key: MediaKey,
    encrypted: &EncryptedMedia,
    uploaded: UploadedBlob,
    media_key_timestamp_s: i64,
) -> MediaDescriptor {
    MediaDescriptor {
        url: Some(uploaded.url),
        direct_path: Some(uploaded.direct_path),
        file_sha256: Some(encrypted.file_sha256.to_vec()),
        file_enc_sha256: Some(encrypted.file_enc_sha256.to_vec()),
        file_length: Some(encrypted.file_length),
        media_key: Some(media_key),
        media_key_timestamp: Some(media_key_timestamp_s),
        ..MediaDescriptor::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::encrypt::encrypt_media;

    fn uploaded() -> (MediaDescriptor, Vec<u8>) {
        let key = MediaKey::from_bytes(vec![3; 32]);
        let keys = MediaKeys::expand(&key, MediaType::Gif).expect("32 bytes");
        let (blob, encrypted) = encrypt_media(&keys, b"\0\0\0\x18ftypmp42");
        let descriptor = uploaded_descriptor(
            key,
            &encrypted,
            UploadedBlob {
                url: "https://mmg.example/v/t62/abc.enc".into(),
                direct_path: "/v/t62/abc.enc".into(),
            },
            1_700_000_000,
        );
        (descriptor, blob)
    }

    #[test]
    fn an_uploaded_descriptor_downloads_back() {
        let (descriptor, blob) = uploaded();
        let plan = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect("complete");
        assert!(matches!(plan.location, BlobLocation::Both { .. }));
        let plaintext =
            crate::media::decrypt::decrypt_media(&plan.keys, plan.expected, &blob).expect("opens");
        assert_eq!(plaintext, b"\0\0\0\x18ftypmp42");
    }

    #[test]
    fn a_missing_field_is_named() {
        let (mut descriptor, _) = uploaded();
        descriptor.file_enc_sha256 = None;
        let err = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect_err("no hash");
        assert_eq!(
            err,
            DescriptorError::Missing {
                field: "fileEncSha256"
            }
        );

        let (mut descriptor, _) = uploaded();
        descriptor.file_sha256 = Some(vec![0; 20]);
        let err = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect_err("short");
        assert_eq!(
            err,
            DescriptorError::NotSha256 {
                field: "fileSha256",
                len: 20
            }
        );

        let (mut descriptor, _) = uploaded();
        descriptor.url = None;
        descriptor.direct_path = None;
        let err = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect_err("nowhere");
        assert!(err.to_string().contains("url and directPath"));
    }
}
