//! The key derivations of Signal v3 (libsignal's `WhisperText`,
//! `WhisperRatchet` and `WhisperMessageKeys`): HKDF-SHA256 and HMAC-SHA256
//! over the root, chain and message keys. Public so the known-answer
//! vectors (RFC 5869, libsignal's ratchet tests) run through them.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::SignalError;
use super::keys::{PublicKey, RatchetKeyPair, SecretKey};

/// HKDF-SHA256 (RFC 5869) into `N` bytes; an empty `salt` means 32 zero
/// bytes, as the RFC says.
#[must_use]
pub fn hkdf_sha256<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32, "HKDF-SHA256 gives at most 8160 bytes") };
    let mut out = Zeroizing::new([0u8; N]);
    let salt = (!salt.is_empty()).then_some(salt);
    // Cannot fail: N is within HKDF's bound (checked at compile time).
    let expanded = Hkdf::<Sha256>::new(salt, ikm).expand(info, out.as_mut_slice());
    debug_assert!(expanded.is_ok());
    out
}

/// HMAC-SHA256 keyed with `key` (any length).
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of every length.
        Err(_) => unreachable!("HMAC-SHA256 refused a key"),
    }
}

/// The root key: each Diffie-Hellman ratchet step turns it into a new root
/// key and a chain key.
#[derive(Clone, Debug)]
pub struct RootKey(pub(crate) SecretKey);

impl RootKey {
    #[must_use]
    pub fn new(secret: SecretKey) -> RootKey {
        RootKey(secret)
    }

    #[must_use]
    pub fn secret(&self) -> &SecretKey {
        &self.0
    }

    /// HKDF(salt = root key, DH(our ratchet, their ratchet), "WhisperRatchet")
    /// → (next root key, chain key at index 0).
    pub(crate) fn step(
        &self,
        their_ratchet: &PublicKey,
        our_ratchet: &RatchetKeyPair,
    ) -> Result<(RootKey, ChainKey), SignalError> {
        let shared = our_ratchet
            .agree(their_ratchet)
            .ok_or(SignalError::WeakKey {
                key: "their ratchet key",
            })?;
        let derived = hkdf_sha256::<64>(self.0.expose(), shared.as_slice(), b"WhisperRatchet");
        Ok(split_root_and_chain(&derived))
    }
}

/// The first 32 bytes as a root key, the next 32 as a chain key (index 0).
pub(crate) fn split_root_and_chain(derived: &[u8; 64]) -> (RootKey, ChainKey) {
    let (root, chain) = derived.split_at(32);
    let mut root_bytes = [0u8; 32];
    let mut chain_bytes = [0u8; 32];
    root_bytes.copy_from_slice(root);
    chain_bytes.copy_from_slice(chain);
    (
        RootKey(SecretKey::from(root_bytes)),
        ChainKey {
            key: SecretKey::from(chain_bytes),
            index: 0,
        },
    )
}

/// A symmetric ratchet: the key that gives message `index` and the next
/// chain key.
#[derive(Clone, Debug)]
pub struct ChainKey {
    pub(crate) key: SecretKey,
    pub(crate) index: u32,
}

impl ChainKey {
    #[must_use]
    pub fn new(key: SecretKey, index: u32) -> ChainKey {
        ChainKey { key, index }
    }

    #[must_use]
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// The index of the message whose key this chain key gives next.
    #[must_use]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// HMAC(chain key, 0x01): the seed of message `index`'s keys.
    #[must_use]
    pub fn message_seed(&self) -> SecretKey {
        self.hmac_of(0x01)
    }

    /// HMAC(chain key, 0x02) at `index + 1`; `None` past 2^32 - 1.
    #[must_use]
    pub fn next(&self) -> Option<ChainKey> {
        Some(ChainKey {
            key: self.hmac_of(0x02),
            index: self.index.checked_add(1)?,
        })
    }

    fn hmac_of(&self, byte: u8) -> SecretKey {
        let mut mac = hmac_sha256(self.key.expose());
        mac.update(&[byte]);
        SecretKey::from(<[u8; 32]>::from(mac.finalize().into_bytes()))
    }
}

/// The keys of one message: AES-256-CBC key and IV, and the MAC key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MessageKeys {
    cipher_key: [u8; 32],
    mac_key: [u8; 32],
    iv: [u8; 16],
}

impl MessageKeys {
    /// HKDF(zero salt, seed, "WhisperMessageKeys") → 32 cipher key ‖ 32 MAC
    /// key ‖ 16 IV.
    #[must_use]
    pub fn from_seed(seed: &SecretKey) -> MessageKeys {
        let derived = hkdf_sha256::<80>(&[0u8; 32], seed.expose(), b"WhisperMessageKeys");
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        keys.cipher_key.copy_from_slice(&derived[..32]);
        keys.mac_key.copy_from_slice(&derived[32..64]);
        keys.iv.copy_from_slice(&derived[64..]);
        keys
    }

    #[must_use]
    pub fn cipher_key(&self) -> &[u8; 32] {
        &self.cipher_key
    }

    #[must_use]
    pub fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }

    #[must_use]
    pub fn iv(&self) -> &[u8; 16] {
        &self.iv
    }
}

impl std::fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageKeys(<redacted>)")
    }
}
