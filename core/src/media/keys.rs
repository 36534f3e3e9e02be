//! A media key's expansion: HKDF-SHA256(mediaKey, no salt, the type's
//! info, 112 bytes) → iv (16) ‖ cipherKey (32) ‖ macKey (32) ‖ refKey (32).

use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

use super::media_type::MediaType;
use crate::crypto::hkdf_sha256;
use crate::message::content::MediaKey;

/// WhatsApp's media keys are 32 random bytes.
pub const MEDIA_KEY_LEN: usize = 32;
const EXPANDED_LEN: usize = 112;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaKeyError {
    #[error("mediaKey: {len} bytes, a media key has {MEDIA_KEY_LEN}")]
    WrongLength { len: usize },
}

/// The keys one media file is encrypted and authenticated with. `Debug`
/// hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKeys {
    media_type: MediaType,
    iv: [u8; 16],
    cipher_key: Zeroizing<[u8; 32]>,
    mac_key: Zeroizing<[u8; 32]>,
    ref_key: Zeroizing<[u8; 32]>,
}

impl MediaKeys {
    /// Expands `media_key` for a file of `media_type`.
    pub fn expand(media_key: &MediaKey, media_type: MediaType) -> Result<MediaKeys, MediaKeyError> {
        let bytes = media_key.as_bytes();
        if bytes.len() != MEDIA_KEY_LEN {
            return Err(MediaKeyError::WrongLength { len: bytes.len() });
        }
        let expanded = hkdf_sha256::<EXPANDED_LEN>(bytes, None, media_type.hkdf_info().as_bytes());
        let mut keys = MediaKeys {
            media_type,
            iv: [0; 16],
            cipher_key: Zeroizing::new([0; 32]),
            mac_key: Zeroizing::new([0; 32]),
            ref_key: Zeroizing::new([0; 32]),
        };
        keys.iv.copy_from_slice(&expanded[..16]);
        keys.cipher_key.copy_from_slice(&expanded[16..48]);
        keys.mac_key.copy_from_slice(&expanded[48..80]);
        keys.ref_key.copy_from_slice(&expanded[80..112]);
        Ok(keys)
    }

    #[must_use]
    pub fn media_type(&self) -> MediaType {
        self.media_type
    }

    #[must_use]
    pub fn iv(&self) -> &[u8; 16] {
        &self.iv
    }

    #[must_use]
    pub fn cipher_key(&self) -> &[u8; 32] {
        &self.cipher_key
    }

    #[must_use]
    pub fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }

    /// The last 32 expanded bytes; WhatsApp uses them for media retry
    /// references, nothing here does yet.
    #[must_use]
    pub fn ref_key(&self) -> &[u8; 32] {
        &self.ref_key
    }
}

impl fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaKeys")
            .field("media_type", &self.media_type)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_key_is_refused_by_its_length() {
        let err = MediaKeys::expand(&MediaKey::from_bytes(vec![1; 31]), MediaType::Image)
            .expect_err("31 bytes");
        assert_eq!(err, MediaKeyError::WrongLength { len: 31 });
        assert!(err.to_string().contains("31 bytes"));
    }

    #[test]
    fn the_type_changes_every_key() {
        let key = MediaKey::from_bytes(vec![7; 32]);
        let image = MediaKeys::expand(&key, MediaType::Image).expect("32 bytes");
        let video = MediaKeys::expand(&key, MediaType::Video).expect("32 bytes");
        assert_ne!(image.iv(), video.iv());
        assert_ne!(image.cipher_key(), video.cipher_key());
        assert_ne!(image.mac_key(), video.mac_key());
        let sticker = MediaKeys::expand(&key, MediaType::Sticker).expect("32 bytes");
        assert_eq!(image.cipher_key(), sticker.cipher_key());
    }

    #[test]
    fn debug_shows_no_key() {
        let keys = MediaKeys::expand(&MediaKey::from_bytes(vec![9; 32]), MediaType::Audio)
            .expect("32 bytes");
        let shown = format!("{keys:?}");
        assert!(shown.contains("Audio"));
        assert!(!shown.contains(&format!("{:?}", keys.cipher_key())));
    }
}
