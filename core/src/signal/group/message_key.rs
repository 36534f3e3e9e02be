//! A sender message key: the seed a sender chain gives for one iteration
//! (HMAC-SHA256(chain key, 0x01), the same chain as 1:1 Signal's,
//! [`kdf::ChainKey`]), expanded with HKDF-SHA256 (no salt, info
//! `WhisperGroup`) into a 16-byte IV and a 32-byte AES-256 key.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::signal::SecretKey;
use crate::signal::kdf::ChainKey;

const INFO: &[u8] = b"WhisperGroup";

/// The key of the message at `iteration`.
#[derive(Clone)]
pub struct SenderMessageKey {
    iteration: u32,
    seed: SecretKey,
}

/// What a sender message key expands to.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CipherKeys {
    pub iv: [u8; 16],
    pub key: [u8; 32],
}

impl SenderMessageKey {
    #[must_use]
    pub fn new(iteration: u32, seed: SecretKey) -> Self {
        SenderMessageKey { iteration, seed }
    }

    /// The key of the message at the chain's current index.
    #[must_use]
    pub fn of(chain: &ChainKey) -> Self {
        SenderMessageKey::new(chain.index(), chain.message_seed())
    }

    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    #[must_use]
    pub fn seed(&self) -> &SecretKey {
        &self.seed
    }

    /// HKDF-SHA256(seed, no salt, `WhisperGroup`) → IV (16) ‖ key (32).
    /// (libsignal passes 32 zero bytes as the salt, which HMAC makes the
    /// same as none.)
    #[must_use]
    pub fn cipher_keys(&self) -> CipherKeys {
        let okm: Zeroizing<[u8; 48]> =
            crate::crypto::hkdf_sha256(self.seed.expose(), Some(&[]), INFO);
        let mut keys = CipherKeys {
            iv: [0; 16],
            key: [0; 32],
        };
        keys.iv.copy_from_slice(&okm[..16]);
        keys.key.copy_from_slice(&okm[16..]);
        keys
    }
}

impl fmt::Debug for SenderMessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderMessageKey")
            .field("iteration", &self.iteration)
            .field("seed", &self.seed)
            .finish()
    }
}

impl fmt::Debug for CipherKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CipherKeys(<redacted>)")
    }
}
