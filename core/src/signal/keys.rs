//! Keys as the Signal layer handles them. Public keys travel two ways: with
//! the 0x05 type byte (33 bytes) inside Signal messages, raw (32 bytes) in
//! WhatsApp's XMPP nodes; both parse with a check that names the field.
//! Symmetric keys (root, chain, message-key seeds) are zeroized on drop and
//! never shown by `Debug`.

use std::fmt;

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::KeyError;
use crate::crypto::x25519::x25519;
use crate::crypto::{KEY_TYPE_DJB, KeyPair, prefixed};

fn array32(bytes: &[u8], field: &'static str) -> Result<[u8; 32], KeyError> {
    bytes.try_into().map_err(|_| KeyError::Length {
        field,
        len: bytes.len(),
        expected: 32,
    })
}

/// A Curve25519 public key (ratchet, base or pre-key).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// From raw 32 bytes, as an XMPP node carries a key.
    pub fn from_raw(bytes: &[u8], field: &'static str) -> Result<PublicKey, KeyError> {
        array32(bytes, field).map(PublicKey)
    }

    /// From 33 bytes starting with the 0x05 type byte, as a Signal message
    /// carries a key.
    pub fn from_prefixed(bytes: &[u8], field: &'static str) -> Result<PublicKey, KeyError> {
        match bytes {
            [KEY_TYPE_DJB, rest @ ..] if rest.len() == 32 => PublicKey::from_raw(rest, field),
            [other, rest @ ..] if rest.len() == 32 => Err(KeyError::Type {
                field,
                type_byte: *other,
            }),
            _ => Err(KeyError::Length {
                field,
                len: bytes.len(),
                expected: 33,
            }),
        }
    }

    /// The public half of `key_pair`.
    #[must_use]
    pub fn of(key_pair: &KeyPair) -> PublicKey {
        PublicKey(*key_pair.public())
    }

    #[must_use]
    pub fn raw(&self) -> &[u8; 32] {
        &self.0
    }

    /// 0x05 ‖ key.
    #[must_use]
    pub fn prefixed(&self) -> [u8; 33] {
        prefixed(&self.0)
    }
}

impl From<[u8; 32]> for PublicKey {
    fn from(raw: [u8; 32]) -> PublicKey {
        PublicKey(raw)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A device's long-term identity public key. A type of its own so that it
/// cannot be mixed up with a ratchet or pre-key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(PublicKey);

impl IdentityKey {
    /// From raw 32 bytes (an XMPP `<identity>` node).
    pub fn from_raw(bytes: &[u8], field: &'static str) -> Result<IdentityKey, KeyError> {
        PublicKey::from_raw(bytes, field).map(IdentityKey)
    }

    /// From 0x05 ‖ 32 bytes (inside a Signal message).
    pub fn from_prefixed(bytes: &[u8], field: &'static str) -> Result<IdentityKey, KeyError> {
        PublicKey::from_prefixed(bytes, field).map(IdentityKey)
    }

    /// The identity public key of `key_pair`.
    #[must_use]
    pub fn of(key_pair: &KeyPair) -> IdentityKey {
        IdentityKey(PublicKey::of(key_pair))
    }

    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.0
    }

    #[must_use]
    pub fn raw(&self) -> &[u8; 32] {
        self.0.raw()
    }

    #[must_use]
    pub fn prefixed(&self) -> [u8; 33] {
        self.0.prefixed()
    }
}

impl From<[u8; 32]> for IdentityKey {
    fn from(raw: [u8; 32]) -> IdentityKey {
        IdentityKey(PublicKey(raw))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey(")?;
        self.raw().iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// 32 secret bytes: a root key, a chain key or a message-key seed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// From stored bytes (checked length).
    pub fn from_slice(bytes: &[u8], field: &'static str) -> Result<SecretKey, KeyError> {
        array32(bytes, field).map(SecretKey)
    }

    /// The secret bytes, for a KDF, a cipher or the stored record.
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for SecretKey {
    fn from(raw: [u8; 32]) -> SecretKey {
        SecretKey(raw)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A ratchet key pair as a session keeps it: both halves side by side, so
/// that reading a stored record costs no curve arithmetic.
#[derive(Clone)]
pub(crate) struct RatchetKeyPair {
    private: SecretKey,
    public: PublicKey,
}

impl RatchetKeyPair {
    pub(crate) fn generate(rng: &mut impl CryptoRngCore) -> RatchetKeyPair {
        RatchetKeyPair::from_key_pair(&KeyPair::generate(rng))
    }

    pub(crate) fn from_key_pair(key_pair: &KeyPair) -> RatchetKeyPair {
        RatchetKeyPair {
            private: SecretKey::from(*key_pair.private_bytes()),
            public: PublicKey::of(key_pair),
        }
    }

    /// From a stored record, which keeps both halves.
    pub(crate) fn from_stored(private: SecretKey, public: PublicKey) -> RatchetKeyPair {
        RatchetKeyPair { private, public }
    }

    pub(crate) fn public(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn private(&self) -> &SecretKey {
        &self.private
    }

    /// X25519 with `theirs`; `None` for a low-order key (all-zero result).
    pub(crate) fn agree(&self, theirs: &PublicKey) -> Option<Zeroizing<[u8; 32]>> {
        x25519(self.private.expose(), theirs.raw())
    }
}

impl fmt::Debug for RatchetKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatchetKeyPair")
            .field("public", &self.public)
            .field("private", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_checks_length_and_type_byte() {
        let raw = [7u8; 32];
        let key = PublicKey::from_raw(&raw, "k").expect("32 bytes");
        assert_eq!(PublicKey::from_prefixed(&key.prefixed(), "k"), Ok(key));
        assert_eq!(
            PublicKey::from_raw(&raw[..31], "skey"),
            Err(KeyError::Length {
                field: "skey",
                len: 31,
                expected: 32
            })
        );
        assert_eq!(
            PublicKey::from_prefixed(&raw, "base_key"),
            Err(KeyError::Length {
                field: "base_key",
                len: 32,
                expected: 33
            })
        );
        let mut wrong = key.prefixed();
        wrong[0] = 0x06;
        assert_eq!(
            IdentityKey::from_prefixed(&wrong, "identity_key"),
            Err(KeyError::Type {
                field: "identity_key",
                type_byte: 0x06
            })
        );
        assert_eq!(
            IdentityKey::from_raw(&raw, "identity").map(|k| k.prefixed()),
            Ok(key.prefixed())
        );
    }

    #[test]
    fn ratchet_pair_agrees_like_key_pair() {
        let ours = KeyPair::from_private_bytes([0x11; 32]);
        let theirs = KeyPair::from_private_bytes([0x22; 32]);
        let ratchet = RatchetKeyPair::from_key_pair(&ours);
        assert_eq!(ratchet.public(), &PublicKey::of(&ours));
        assert_eq!(
            ratchet.agree(&PublicKey::of(&theirs)).map(|s| *s),
            ours.diffie_hellman(theirs.public()).map(|s| *s)
        );
        assert!(ratchet.agree(&PublicKey::from([0; 32])).is_none());
        assert!(format!("{ratchet:?}").contains("<redacted>"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = SecretKey::from([0xAB; 32]);
        let shown = format!("{secret:?}");
        assert_eq!(shown, "SecretKey(<redacted>)");
        assert!(SecretKey::from_slice(&[1; 31], "chain_key").is_err());
    }
}
