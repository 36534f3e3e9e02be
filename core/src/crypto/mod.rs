//! Key material shared by every layer that needs it: X25519 key pairs
//! (Noise, pairing, Signal), XEdDSA signatures with libsignal's sign-bit
//! convention, Signal's `0x05` public-key prefix, and HKDF-SHA256.

mod keys;
pub mod x25519;
pub mod xeddsa;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

pub(crate) use keys::Hex;
pub use keys::KeyPair;

/// The type byte Signal puts in front of 32-byte Curve25519 public keys
/// (`0x05`, "DJB"): in Signal messages and signed data, never in XMPP nodes.
pub const KEY_TYPE_DJB: u8 = 0x05;

/// `0x05 ‖ public`: the form Signal signs, sends and uploads.
#[must_use]
pub fn prefixed_public(key_pair: &KeyPair) -> [u8; 33] {
    prefixed(key_pair.public())
}

/// `0x05 ‖ key` for a raw 32-byte public key.
#[must_use]
pub fn prefixed(public: &[u8; 32]) -> [u8; 33] {
    let mut out = [KEY_TYPE_DJB; 33];
    out[1..].copy_from_slice(public);
    out
}

/// HKDF-SHA256 filling `N` bytes (RFC 5869). Every caller asks for a
/// length HKDF-SHA256 can give (≤ 255 × 32), so expand cannot fail.
#[must_use]
pub fn hkdf_sha256<const N: usize>(
    ikm: &[u8],
    salt: Option<&[u8]>,
    info: &[u8],
) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32) };
    let mut out = Zeroizing::new([0u8; N]);
    let _ = Hkdf::<Sha256>::new(salt, ikm).expand(info, out.as_mut_slice());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf_sha256::<42>(&ikm, Some(&salt), &info);
        assert_eq!(
            hex::encode(okm.as_slice()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn the_prefix_goes_in_front() {
        let key = [7u8; 32];
        let out = prefixed(&key);
        assert_eq!(out[0], 0x05);
        assert_eq!(&out[1..], &key);
    }
}
