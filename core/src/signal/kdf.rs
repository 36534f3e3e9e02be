//! The key derivations of Signal v3 (libsignal's `WhisperRatchet` and
//! `WhisperMessageKeys`; X3DH's `WhisperText` is in [`super::x3dh`]):
//! HKDF-SHA256 ([`crate::crypto::hkdf_sha256`]) and HMAC-SHA256 over the
//! root, chain and message keys. Public so libsignal's ratchet vectors run
//! through them.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::SignalError;
use super::keys::{PublicKey, RatchetKeyPair, SecretKey};
use crate::crypto::hkdf_sha256;

/// HMAC-SHA256 keyed with a 32-byte key. HMAC pads a key shorter than the
/// 64-byte block with zeros, so padding it here is the same MAC, and needs
/// no fallible constructor.
pub(crate) fn hmac_sha256(key: &[u8; 32]) -> Hmac<Sha256> {
    let mut block = Zeroizing::new([0u8; 64]);
    block[..32].copy_from_slice(key);
    <Hmac<Sha256> as KeyInit>::new(&(*block).into())
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
        let derived =
            hkdf_sha256::<64>(shared.as_slice(), Some(self.0.expose()), b"WhisperRatchet");
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
        let derived = hkdf_sha256::<80>(seed.expose(), Some(&[0u8; 32]), b"WhisperMessageKeys");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_key_hmac_is_plain_hmac() {
        for byte in [0u8, 0x5a, 0xff] {
            let key = [byte; 32];
            let mut ours = hmac_sha256(&key);
            let mut plain =
                <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key");
            ours.update(b"message");
            plain.update(b"message");
            assert_eq!(ours.finalize().into_bytes(), plain.finalize().into_bytes());
        }
    }
}
