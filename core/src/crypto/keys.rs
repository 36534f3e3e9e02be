//! X25519 key pairs: the noise key, ephemerals, the server's static key
//! and certificate keys. The same type signs with XEdDSA, so the Signal
//! layer can use it for identity keys too.

use std::fmt;

use curve25519_dalek::scalar::clamp_integer;
use rand_core::CryptoRngCore;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::xeddsa;

/// An X25519 private key and its public key. `Debug` shows only the
/// public half. The private half is zeroized on drop.
#[derive(Clone)]
pub struct KeyPair {
    private: StaticSecret,
    public: [u8; 32],
}

impl KeyPair {
    /// A fresh key pair from the caller's RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        Self::from_private_bytes(*bytes)
    }

    /// From 32 stored private-key bytes. They are clamped first, as
    /// libsignal does, so [`KeyPair::private_bytes`] returns what any
    /// X25519 implementation would use.
    #[must_use]
    pub fn from_private_bytes(bytes: [u8; 32]) -> Self {
        let private = StaticSecret::from(clamp_integer(bytes));
        let public = PublicKey::from(&private).to_bytes();
        KeyPair { private, public }
    }

    /// The 32-byte Montgomery public key (no 0x05 prefix).
    #[must_use]
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// The private key bytes, for persisting. Handle with care.
    #[must_use]
    pub fn private_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.private.to_bytes())
    }

    /// X25519 with `their_public`; `None` when the result is all zero (a
    /// low-order peer key), which we refuse like Go's `curve25519.X25519`.
    #[must_use]
    pub fn diffie_hellman(&self, their_public: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        super::x25519::x25519(&self.private_bytes(), their_public)
    }

    /// XEdDSA signature over `message` (see [`crate::crypto::xeddsa`]).
    #[must_use]
    pub fn sign(
        &self,
        message: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> [u8; xeddsa::SIGNATURE_LEN] {
        xeddsa::sign_with_rng(&self.private_bytes(), message, rng)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &Hex(&self.public))
            .field("private", &"<redacted>")
            .finish()
    }
}

/// Lower-case hex in `Debug` output, for public values only.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn debug_redacts_private_key() {
        let pair = KeyPair::from_private_bytes([0x42; 32]);
        let shown = format!("{pair:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let private_hex: String = pair
            .private_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&private_hex), "{shown}");
        assert!(shown.contains(&format!("{:?}", Hex(pair.public()))));
    }

    #[test]
    fn private_bytes_round_trip_and_dh_agrees() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let a = KeyPair::generate(&mut rng);
        let b = KeyPair::generate(&mut rng);
        let a2 = KeyPair::from_private_bytes(*a.private_bytes());
        assert_eq!(a.public(), a2.public());
        assert_eq!(a.diffie_hellman(b.public()), b.diffie_hellman(a.public()));
        // Low-order points give an all-zero secret: refused.
        assert!(a.diffie_hellman(&[0u8; 32]).is_none());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(a.diffie_hellman(&one).is_none());
    }

    #[test]
    fn rfc7748_public_key() {
        // RFC 7748 §6.1, Alice.
        let private: [u8; 32] =
            hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(KeyPair::from_private_bytes(private).public(), &public);
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }
}
