//! XEdDSA: Ed25519-style signatures made and checked with X25519
//! (Montgomery) keys, so one key pair serves Diffie-Hellman and signing.
//!
//! This is the variant libsignal (Rust, Java, C) and therefore WhatsApp
//! use, which differs from the paper
//! (<https://signal.org/docs/specifications/xeddsa/>) in one place: the
//! signer does not negate its scalar to force the Edwards sign bit to 0;
//! it puts that sign bit in the top bit of signature byte 63 (always 0 in
//! a valid `s`), and the verifier reads it back from there. Signatures
//! made the paper's way (top bit 0) verify here too.
//!
//! Written by hand on purpose: it is ~80 lines over curve25519-dalek and
//! sha2, and no maintained crate takes caller-provided randomness, which
//! our determinism rule (the RNG is passed in) needs.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha512};
use thiserror::Error;
use zeroize::Zeroizing;

use super::KEY_TYPE_DJB;

/// Length of a signature: R (32) ‖ s (32), with the sign bit in byte 63.
pub const SIGNATURE_LEN: usize = 64;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum XeddsaError {
    #[error("public key must be 32 bytes, or 33 starting with 0x05; got {len} bytes")]
    BadPublicKey { len: usize },
    #[error("signature must be 64 bytes; got {len}")]
    BadSignatureLength { len: usize },
    #[error("signature does not verify")]
    InvalidSignature,
}

/// Signs `message` with the X25519 private key `private_key` (clamped
/// here, as X25519 does), using 64 bytes of fresh randomness. Same inputs,
/// same signature: byte-identical to libsignal's `calculate_signature`.
#[must_use]
pub fn sign(private_key: &[u8; 32], message: &[u8], random: &[u8; 64]) -> [u8; SIGNATURE_LEN] {
    sign_parts(private_key, &[message], random)
}

/// [`sign`] with the randomness drawn from `rng`.
#[must_use]
pub fn sign_with_rng(
    private_key: &[u8; 32],
    message: &[u8],
    rng: &mut impl CryptoRngCore,
) -> [u8; SIGNATURE_LEN] {
    let mut random = Zeroizing::new([0u8; 64]);
    rng.fill_bytes(random.as_mut_slice());
    sign(private_key, message, &random)
}

/// [`sign`] over the concatenation of `parts`, without building it.
#[must_use]
pub fn sign_parts(
    private_key: &[u8; 32],
    parts: &[&[u8]],
    random: &[u8; 64],
) -> [u8; SIGNATURE_LEN] {
    let k = Zeroizing::new(clamp_integer(*private_key));
    let a = Zeroizing::new(Scalar::from_bytes_mod_order(*k));
    let cap_a = EdwardsPoint::mul_base(&a).compress();
    let sign_bit = cap_a.as_bytes()[31] & 0x80;

    // r = hash1(k ‖ M ‖ Z): hash_i prefixes 2^256 - 1 - i, little-endian.
    let mut prefix = [0xFFu8; 32];
    prefix[0] = 0xFE;
    let mut nonce_hash = Sha512::new();
    nonce_hash.update(prefix);
    nonce_hash.update(k.as_slice());
    for part in parts {
        nonce_hash.update(part);
    }
    nonce_hash.update(random);
    let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(
        &nonce_hash.finalize().into(),
    ));
    let cap_r = EdwardsPoint::mul_base(&r).compress();

    let h = challenge(&cap_r, &cap_a, parts);
    let s = h * *a + *r;

    let mut signature = [0u8; SIGNATURE_LEN];
    signature[..32].copy_from_slice(cap_r.as_bytes());
    signature[32..].copy_from_slice(s.as_bytes());
    signature[63] = (signature[63] & 0x7F) | sign_bit;
    signature
}

/// Checks `signature` over `message` against a Montgomery public key given
/// as 32 raw bytes or 33 bytes with the 0x05 type prefix.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), XeddsaError> {
    verify_parts(public_key, &[message], signature)
}

/// [`verify`] over the concatenation of `parts`.
pub fn verify_parts(
    public_key: &[u8],
    parts: &[&[u8]],
    signature: &[u8],
) -> Result<(), XeddsaError> {
    let u: [u8; 32] = match public_key {
        [KEY_TYPE_DJB, rest @ ..] if rest.len() == 32 => rest.try_into(),
        _ => public_key.try_into(),
    }
    .map_err(|_| XeddsaError::BadPublicKey {
        len: public_key.len(),
    })?;
    let signature: &[u8; SIGNATURE_LEN] =
        signature
            .try_into()
            .map_err(|_| XeddsaError::BadSignatureLength {
                len: signature.len(),
            })?;

    let sign_bit = signature[63] >> 7;
    let a_point = MontgomeryPoint(u)
        .to_edwards(sign_bit)
        .ok_or(XeddsaError::InvalidSignature)?;
    let mut cap_r = [0u8; 32];
    cap_r.copy_from_slice(&signature[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    s[31] &= 0x7F;
    // Same bound as libsignal and ref10: s must be below 2^253.
    if s[31] & 0xE0 != 0 {
        return Err(XeddsaError::InvalidSignature);
    }

    let cap_r = CompressedEdwardsY(cap_r);
    let h = challenge(&cap_r, &a_point.compress(), parts);
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &h,
        &-a_point,
        &Scalar::from_bytes_mod_order(s),
    );
    if check.compress() == cap_r {
        Ok(())
    } else {
        Err(XeddsaError::InvalidSignature)
    }
}

/// h = SHA-512(R ‖ A ‖ M) mod ℓ, as in Ed25519.
fn challenge(cap_r: &CompressedEdwardsY, cap_a: &CompressedEdwardsY, parts: &[&[u8]]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(cap_r.as_bytes());
    hash.update(cap_a.as_bytes());
    for part in parts {
        hash.update(part);
    }
    Scalar::from_bytes_mod_order_wide(&hash.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};
    use x25519_dalek::{PublicKey, StaticSecret};

    fn public_of(private: [u8; 32]) -> [u8; 32] {
        PublicKey::from(&StaticSecret::from(private)).to_bytes()
    }

    // libsignal rust/core/src/curve/curve25519.rs `test_signature`: a
    // signature made by libsignal-java over a 0x05-prefixed key.
    const ALICE_PRIVATE: [u8; 32] = [
        0xc0, 0x97, 0x24, 0x84, 0x12, 0xe5, 0x8b, 0xf0, 0x5d, 0xf4, 0x87, 0x96, 0x82, 0x05, 0x13,
        0x27, 0x94, 0x17, 0x8e, 0x36, 0x76, 0x37, 0xf5, 0x81, 0x8f, 0x81, 0xe0, 0xe6, 0xce, 0x73,
        0xe8, 0x65,
    ];
    const ALICE_PUBLIC: [u8; 32] = [
        0xab, 0x7e, 0x71, 0x7d, 0x4a, 0x16, 0x3b, 0x7d, 0x9a, 0x1d, 0x80, 0x71, 0xdf, 0xe9, 0xdc,
        0xf8, 0xcd, 0xcd, 0x1c, 0xea, 0x33, 0x39, 0xb6, 0x35, 0x6b, 0xe8, 0x4d, 0x88, 0x7e, 0x32,
        0x2c, 0x64,
    ];
    const ALICE_MESSAGE: [u8; 33] = [
        0x05, 0xed, 0xce, 0x9d, 0x9c, 0x41, 0x5c, 0xa7, 0x8c, 0xb7, 0x25, 0x2e, 0x72, 0xc2, 0xc4,
        0xa5, 0x54, 0xd3, 0xeb, 0x29, 0x48, 0x5a, 0x0e, 0x1d, 0x50, 0x31, 0x18, 0xd1, 0xa8, 0x2d,
        0x99, 0xfb, 0x4a,
    ];
    const ALICE_SIGNATURE: [u8; 64] = [
        0x5d, 0xe8, 0x8c, 0xa9, 0xa8, 0x9b, 0x4a, 0x11, 0x5d, 0xa7, 0x91, 0x09, 0xc6, 0x7c, 0x9c,
        0x74, 0x64, 0xa3, 0xe4, 0x18, 0x02, 0x74, 0xf1, 0xcb, 0x8c, 0x63, 0xc2, 0x98, 0x4e, 0x28,
        0x6d, 0xfb, 0xed, 0xe8, 0x2d, 0xeb, 0x9d, 0xcd, 0x9f, 0xae, 0x0b, 0xfb, 0xb8, 0x21, 0x56,
        0x9b, 0x3d, 0x90, 0x01, 0xbd, 0x81, 0x30, 0xcd, 0x11, 0xd4, 0x86, 0xce, 0xf0, 0x47, 0xbd,
        0x60, 0xb8, 0x6e, 0x88,
    ];

    #[test]
    fn libsignal_vector_verifies_and_every_bit_flip_fails() {
        assert_eq!(public_of(ALICE_PRIVATE), ALICE_PUBLIC);
        assert_eq!(
            verify(&ALICE_PUBLIC, &ALICE_MESSAGE, &ALICE_SIGNATURE),
            Ok(())
        );
        let mut prefixed = vec![KEY_TYPE_DJB];
        prefixed.extend_from_slice(&ALICE_PUBLIC);
        assert_eq!(verify(&prefixed, &ALICE_MESSAGE, &ALICE_SIGNATURE), Ok(()));
        for bit in 0..SIGNATURE_LEN * 8 {
            let mut bad = ALICE_SIGNATURE;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                verify(&ALICE_PUBLIC, &ALICE_MESSAGE, &bad),
                Err(XeddsaError::InvalidSignature),
                "bit {bit}"
            );
        }
    }

    /// The ref10 "curvesigs" vectors of libsignal-protocol-c / curve25519-java
    /// (tests.c): private key all zero but byte 8 = 189, clamped; message
    /// 200 zero bytes; randomness 64 zero bytes.
    fn curvesigs_key() -> [u8; 32] {
        let mut private = [0u8; 32];
        private[8] = 189;
        clamp_integer(private)
    }

    #[test]
    fn curvesigs_sign_vector() {
        let expected: [u8; 64] = [
            0xcf, 0x87, 0x3d, 0x03, 0x79, 0xac, 0x20, 0xe8, 0x89, 0x3e, 0x55, 0x67, 0xee, 0x0f,
            0x89, 0x51, 0xf8, 0xdb, 0x84, 0x0d, 0x26, 0xb2, 0x43, 0xb4, 0x63, 0x52, 0x66, 0x89,
            0xd0, 0x1c, 0xa7, 0x18, 0xac, 0x18, 0x9f, 0xb1, 0x67, 0x85, 0x74, 0xeb, 0xdd, 0xe5,
            0x69, 0x33, 0x06, 0x59, 0x44, 0x8b, 0x0b, 0xd6, 0xc1, 0x97, 0x3f, 0x7d, 0x78, 0x0a,
            0xb3, 0x95, 0x18, 0x62, 0x68, 0x03, 0xd7, 0x82,
        ];
        let private = curvesigs_key();
        let message = [0u8; 200];
        let signature = sign(&private, &message, &[0u8; 64]);
        assert_eq!(signature, expected);
        assert_eq!(verify(&public_of(private), &message, &signature), Ok(()));
    }

    /// The same test file's "xeddsa" vector is made the paper's way (scalar
    /// negated, sign bit 0): our verifier must accept it too.
    #[test]
    fn paper_variant_vector_verifies() {
        let paper: [u8; 64] = [
            0x11, 0xc7, 0xf3, 0xe6, 0xc4, 0xdf, 0x9e, 0x8a, 0x51, 0x50, 0xe1, 0xdb, 0x3b, 0x30,
            0xf9, 0x2d, 0xe3, 0xa3, 0xb3, 0xaa, 0x43, 0x86, 0x56, 0x54, 0x5f, 0xa7, 0x39, 0x0f,
            0x4b, 0xcc, 0x7b, 0xb2, 0x6c, 0x43, 0x1d, 0x9e, 0x90, 0x64, 0x3e, 0x4f, 0x0e, 0xaa,
            0x0e, 0x9c, 0x55, 0x77, 0x66, 0xfa, 0x69, 0xad, 0xa5, 0x76, 0xd6, 0x3d, 0xca, 0xf2,
            0xac, 0x32, 0x6c, 0x11, 0xd0, 0xb9, 0x77, 0x02,
        ];
        let public = public_of(curvesigs_key());
        assert_eq!(verify(&public, &[0u8; 200], &paper), Ok(()));
        let mut bad = paper;
        bad[0] ^= 1;
        assert!(verify(&public, &[0u8; 200], &bad).is_err());
    }

    /// tests.c `curvesigs_slow_test`: 10,000 chained sign/verify/tamper
    /// rounds must land on a known signature. Slow in debug builds.
    #[test]
    #[cfg_attr(debug_assertions, ignore = "10k signatures: run with --release")]
    fn curvesigs_10k_chain() {
        let expected: [u8; 64] = [
            0xfc, 0xba, 0x55, 0xc4, 0x85, 0x4a, 0x42, 0x25, 0x19, 0xab, 0x08, 0x8d, 0xfe, 0xb5,
            0x13, 0xb6, 0x0d, 0x24, 0xbb, 0x16, 0x27, 0x55, 0x71, 0x48, 0xdd, 0x20, 0xb1, 0xcd,
            0x2a, 0xd6, 0x7e, 0x35, 0xef, 0x33, 0x4c, 0x7b, 0x6d, 0x94, 0x6f, 0x52, 0xec, 0x43,
            0xd7, 0xe6, 0x35, 0x24, 0xcd, 0x5b, 0x5d, 0xdc, 0xb2, 0x32, 0xc6, 0x22, 0x53, 0xf3,
            0x38, 0x02, 0xf8, 0x28, 0x28, 0xc5, 0x65, 0x05,
        ];
        let mut signature = [0u8; 64];
        let mut message = [0u8; 200];
        for count in 1..=10_000usize {
            let b: [u8; 64] = Sha512::digest(signature).into();
            let mut private = [0u8; 32];
            private.copy_from_slice(&b[..32]);
            let b: [u8; 64] = Sha512::digest(private).into();
            let private = clamp_integer(private);
            let public = public_of(private);
            signature = sign(&private, &message, &b);
            assert_eq!(
                verify(&public, &message, &signature),
                Ok(()),
                "round {count}"
            );
            if b[63] & 1 == 1 {
                signature[count % 64] ^= 1;
            } else {
                message[count % 200] ^= 1;
            }
            assert!(
                verify(&public, &message, &signature).is_err(),
                "round {count}"
            );
        }
        assert_eq!(signature, expected);
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let private = curvesigs_key();
        let public = public_of(private);
        let signature = sign(&private, b"m", &[7; 64]);
        assert_eq!(
            verify(&public[..31], b"m", &signature),
            Err(XeddsaError::BadPublicKey { len: 31 })
        );
        let mut wrong_prefix = vec![0x06];
        wrong_prefix.extend_from_slice(&public);
        assert_eq!(
            verify(&wrong_prefix, b"m", &signature),
            Err(XeddsaError::BadPublicKey { len: 33 })
        );
        assert_eq!(
            verify(&public, b"m", &signature[..63]),
            Err(XeddsaError::BadSignatureLength { len: 63 })
        );
        // s ≥ 2^253 is refused before any curve arithmetic.
        let mut big_s = signature;
        big_s[63] |= 0x60;
        assert_eq!(
            verify(&public, b"m", &big_s),
            Err(XeddsaError::InvalidSignature)
        );
        // u = p - 1 has no Edwards image.
        let mut minus_one = [0xFFu8; 32];
        minus_one[0] = 0xEC;
        minus_one[31] = 0x7F;
        assert_eq!(
            verify(&minus_one, b"m", &signature),
            Err(XeddsaError::InvalidSignature)
        );
        assert_eq!(
            verify(&[0u8; 32], b"m", &signature),
            Err(XeddsaError::InvalidSignature)
        );
    }

    #[test]
    fn parts_equal_concatenation() {
        let private = curvesigs_key();
        let whole = sign(&private, b"hello world", &[3; 64]);
        assert_eq!(
            sign_parts(&private, &[b"hello", b" ", b"world"], &[3; 64]),
            whole
        );
        assert_eq!(
            verify_parts(&public_of(private), &[b"hello ", b"world"], &whole),
            Ok(())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip_tamper_and_wrong_key(
            seed: [u8; 32],
            message in proptest::collection::vec(any::<u8>(), 0..300),
            flip in 0usize..(64 * 8),
            message_flip: prop::sample::Index,
        ) {
            let mut rng = ChaCha20Rng::from_seed(seed);
            let mut private = [0u8; 32];
            rng.fill_bytes(&mut private);
            let public = public_of(private);
            let signature = sign_with_rng(&private, &message, &mut rng);
            prop_assert_eq!(verify(&public, &message, &signature), Ok(()));

            let mut prefixed = vec![KEY_TYPE_DJB];
            prefixed.extend_from_slice(&public);
            prop_assert_eq!(verify(&prefixed, &message, &signature), Ok(()));

            let mut bad = signature;
            bad[flip / 8] ^= 1 << (flip % 8);
            prop_assert!(verify(&public, &message, &bad).is_err());

            if !message.is_empty() {
                let mut other = message.clone();
                other[message_flip.index(message.len())] ^= 0x01;
                prop_assert!(verify(&public, &other, &signature).is_err());
            }

            let mut other_private = [0u8; 32];
            rng.fill_bytes(&mut other_private);
            prop_assert!(verify(&public_of(other_private), &message, &signature).is_err());
        }
    }
}
