//! The sender chain: one 32-byte chain key per iteration, each giving the
//! message key of that iteration (HMAC-SHA256(chain, 0x01)) and the next
//! chain key (HMAC-SHA256(chain, 0x02)); a message key expands with
//! HKDF-SHA256 (no salt, info `WhisperGroup`) into a 16-byte IV and a
//! 32-byte AES-256 key.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The length of a chain key and of a message-key seed.
pub const SEED_LEN: usize = 32;

const MESSAGE_KEY_INPUT: u8 = 0x01;
const CHAIN_KEY_INPUT: u8 = 0x02;
const MESSAGE_KEY_INFO: &[u8] = b"WhisperGroup";

/// A chain key and the iteration it is at.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey {
    iteration: u32,
    seed: Zeroizing<[u8; SEED_LEN]>,
}

impl ChainKey {
    #[must_use]
    pub fn new(iteration: u32, seed: [u8; SEED_LEN]) -> Self {
        ChainKey {
            iteration,
            seed: Zeroizing::new(seed),
        }
    }

    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The chain key bytes, for a distribution message or the store.
    #[must_use]
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// The message key of this iteration.
    #[must_use]
    pub fn message_key(&self) -> MessageKey {
        MessageKey::new(self.iteration, hmac_byte(&self.seed, MESSAGE_KEY_INPUT))
    }

    /// The chain key of the next iteration; `None` past `u32::MAX`, where
    /// the chain ends (a sender must make a new key long before).
    #[must_use]
    pub fn next(&self) -> Option<ChainKey> {
        let iteration = self.iteration.checked_add(1)?;
        Some(ChainKey {
            iteration,
            seed: Zeroizing::new(*hmac_byte(&self.seed, CHAIN_KEY_INPUT)),
        })
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainKey")
            .field("iteration", &self.iteration)
            .field("seed", &"<redacted>")
            .finish()
    }
}

/// The key of one message: its seed, as stored for skipped iterations.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageKey {
    iteration: u32,
    seed: Zeroizing<[u8; SEED_LEN]>,
}

/// What a message key expands to.
pub struct CipherKeys {
    pub iv: [u8; 16],
    pub key: Zeroizing<[u8; 32]>,
}

impl MessageKey {
    #[must_use]
    pub fn new(iteration: u32, seed: Zeroizing<[u8; SEED_LEN]>) -> Self {
        MessageKey { iteration, seed }
    }

    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    #[must_use]
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// HKDF-SHA256(seed, no salt, `WhisperGroup`) → IV (16) ‖ key (32).
    #[must_use]
    pub fn cipher_keys(&self) -> CipherKeys {
        let mut okm = Zeroizing::new([0u8; 48]);
        // libsignal passes 32 zero bytes as the salt: HMAC pads a key to
        // its block with zeros, so that is the same as no salt.
        if Hkdf::<Sha256>::new(None, self.seed.as_slice())
            .expand(MESSAGE_KEY_INFO, okm.as_mut_slice())
            .is_err()
        {
            unreachable!("48 bytes is a valid HKDF-SHA256 output length");
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&okm[..16]);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&okm[16..]);
        CipherKeys { iv, key }
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageKey")
            .field("iteration", &self.iteration)
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for CipherKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CipherKeys(<redacted>)")
    }
}

fn hmac_byte(key: &[u8; SEED_LEN], input: u8) -> Zeroizing<[u8; SEED_LEN]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&[input]);
    Zeroizing::new(mac.finalize().into_bytes().into())
}
