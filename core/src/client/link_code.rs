//! Pairing by code, for hosts with no screen: the companion shows an
//! 8-character code, the user types it on the phone, and both sides derive
//! the ADV secret from two Diffie-Hellman exchanges whose ephemeral keys
//! were wrapped under a key stretched from the code.
//!
//! Both halves live here: the companion's (the client) and the phone's
//! (the fake server's mock phone), so the crypto stands in one place.

use aes::cipher::{KeyIvInit, StreamCipher};
use rand_core::CryptoRngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::crypto::{KeyPair, hkdf_sha256};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Crockford-like alphabet WhatsApp uses for codes (no 0, O, I, U).
const ALPHABET: &[u8; 32] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
/// PBKDF2-SHA256 rounds stretching the code (2 << 16).
pub const PBKDF2_ROUNDS: u32 = 131_072;
/// salt(32) ‖ iv(16) ‖ AES-CTR(ephemeral public)(32).
pub const WRAPPED_KEY_LEN: usize = 80;
const BUNDLE_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
const ADV_INFO: &[u8] = b"adv_secret";

/// What went wrong in the code exchange.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkCodeError {
    #[error("{field} is {len} bytes, expected {expected}")]
    BadLength {
        field: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("{0} is a weak key (all-zero shared secret)")]
    WeakKey(&'static str),
    #[error("the key bundle does not decrypt: wrong code or tampered bytes")]
    BundleDecryptFailed,
    #[error("the key bundle names identity keys other than the ones exchanged")]
    BundleMismatch,
}

/// Encodes 5 random bytes as the 8 code characters.
pub fn encode_code(bytes: [u8; 5]) -> String {
    let bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (0..8)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

/// `ABCD1234` → `ABCD-1234`, the way users read it.
pub fn display_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(4));
    format!("{a}-{b}")
}

/// Normalizes a typed code: drops dashes and spaces, uppercases.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_key(code: &str, salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(std::num::NonZeroU32::MIN),
        salt,
        code.as_bytes(),
        key.as_mut_slice(),
    );
    key
}

/// Wraps an ephemeral public key under the code.
fn wrap(code: &str, public: &[u8; 32], rng: &mut impl CryptoRngCore) -> [u8; WRAPPED_KEY_LEN] {
    let mut out = [0u8; WRAPPED_KEY_LEN];
    rng.fill_bytes(&mut out[..48]);
    out[48..].copy_from_slice(public);
    let key = code_key(code, &out[..32]);
    let (head, body) = out.split_at_mut(48);
    ctr_keystream(&key, &head[32..48], body);
    out
}

/// Unwraps a peer's ephemeral public key with the code.
fn unwrap(code: &str, wrapped: &[u8], field: &'static str) -> Result<[u8; 32], LinkCodeError> {
    if wrapped.len() != WRAPPED_KEY_LEN {
        return Err(LinkCodeError::BadLength {
            field,
            len: wrapped.len(),
            expected: WRAPPED_KEY_LEN,
        });
    }
    let key = code_key(code, &wrapped[..32]);
    let mut public = [0u8; 32];
    public.copy_from_slice(&wrapped[48..]);
    ctr_keystream(&key, &wrapped[32..48], &mut public);
    Ok(public)
}

fn ctr_keystream(key: &[u8; 32], iv: &[u8], data: &mut [u8]) {
    // Lengths are fixed by the callers (32-byte key, 16-byte IV).
    if let Ok(mut cipher) = Aes256Ctr::new_from_slices(key, iv) {
        cipher.apply_keystream(data);
    }
}

fn key32(bytes: &[u8], field: &'static str) -> Result<[u8; 32], LinkCodeError> {
    bytes.try_into().map_err(|_| LinkCodeError::BadLength {
        field,
        len: bytes.len(),
        expected: 32,
    })
}

fn gcm(key: &[u8; 32]) -> LessSafeKey {
    // A 32-byte key is always valid for AES-256-GCM.
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!("32-byte key")),
    )
}

fn adv_secret(
    ephemeral_shared: &[u8; 32],
    identity_shared: &[u8; 32],
    adv_random: &[u8],
) -> [u8; 32] {
    let mut ikm = Zeroizing::new(Vec::with_capacity(96));
    ikm.extend_from_slice(ephemeral_shared);
    ikm.extend_from_slice(identity_shared);
    ikm.extend_from_slice(adv_random);
    *hkdf_sha256::<32>(&ikm, None, ADV_INFO)
}

/// The companion's state between "code shown" and "phone answered".
/// `Debug` shows neither the code nor the private key.
#[derive(Clone)]
pub struct CompanionCode {
    /// The 8 characters, without the dash.
    pub code: String,
    ephemeral: KeyPair,
}

impl std::fmt::Debug for CompanionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanionCode")
            .field("code", &"<redacted>")
            .field("ephemeral", &self.ephemeral)
            .finish()
    }
}

impl CompanionCode {
    /// A new code and the wrapped ephemeral to send in `companion_hello`.
    pub fn start(rng: &mut impl CryptoRngCore) -> (CompanionCode, [u8; WRAPPED_KEY_LEN]) {
        let mut raw = [0u8; 5];
        rng.fill_bytes(&mut raw);
        let code = encode_code(raw);
        let ephemeral = KeyPair::generate(rng);
        let wrapped = wrap(&code, ephemeral.public(), rng);
        (CompanionCode { code, ephemeral }, wrapped)
    }

    /// Answers the phone's `primary_hello`: returns the ADV secret to keep
    /// and the wrapped key bundle to send in `companion_finish`.
    pub fn finish(
        &self,
        identity: &KeyPair,
        wrapped_primary_ephemeral: &[u8],
        primary_identity_public: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<([u8; 32], Vec<u8>), LinkCodeError> {
        let primary_ephemeral = unwrap(
            &self.code,
            wrapped_primary_ephemeral,
            "wrapped primary ephemeral",
        )?;
        let primary_identity = key32(primary_identity_public, "primary identity")?;
        let ephemeral_shared = self
            .ephemeral
            .diffie_hellman(&primary_ephemeral)
            .ok_or(LinkCodeError::WeakKey("primary ephemeral"))?;
        let identity_shared = identity
            .diffie_hellman(&primary_identity)
            .ok_or(LinkCodeError::WeakKey("primary identity"))?;
        let mut salt_nonce_random = Zeroizing::new([0u8; 32 + 12 + 32]);
        rng.fill_bytes(salt_nonce_random.as_mut_slice());
        let (salt, rest) = salt_nonce_random.split_at(32);
        let (nonce, adv_random) = rest.split_at(12);
        let bundle_key = hkdf_sha256::<32>(ephemeral_shared.as_slice(), Some(salt), BUNDLE_INFO);
        let mut bundle = Vec::with_capacity(32 + 12 + 96 + 16);
        bundle.extend_from_slice(salt);
        bundle.extend_from_slice(nonce);
        let mut sealed = [identity.public().as_slice(), &primary_identity, adv_random].concat();
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| LinkCodeError::BundleDecryptFailed)?;
        gcm(&bundle_key)
            .seal_in_place_append_tag(nonce, Aad::empty(), &mut sealed)
            .map_err(|_| LinkCodeError::BundleDecryptFailed)?;
        bundle.extend_from_slice(&sealed);
        Ok((
            adv_secret(&ephemeral_shared, &identity_shared, adv_random),
            bundle,
        ))
    }
}

/// The phone's half: after the user typed the code. `Debug` shows neither
/// the code nor the private key.
#[derive(Clone)]
pub struct PrimaryCode {
    code: String,
    ephemeral: KeyPair,
    companion_ephemeral: [u8; 32],
}

impl std::fmt::Debug for PrimaryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrimaryCode")
            .field("code", &"<redacted>")
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl PrimaryCode {
    /// The phone reads the companion's wrapped ephemeral with the typed
    /// code and answers with its own (for `primary_hello`).
    pub fn start(
        typed_code: &str,
        wrapped_companion_ephemeral: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(PrimaryCode, [u8; WRAPPED_KEY_LEN]), LinkCodeError> {
        let code = normalize_code(typed_code);
        let companion_ephemeral = unwrap(
            &code,
            wrapped_companion_ephemeral,
            "wrapped companion ephemeral",
        )?;
        let ephemeral = KeyPair::generate(rng);
        let wrapped = wrap(&code, ephemeral.public(), rng);
        Ok((
            PrimaryCode {
                code,
                ephemeral,
                companion_ephemeral,
            },
            wrapped,
        ))
    }

    /// Opens the companion's key bundle and derives the same ADV secret.
    /// A wrong code shows up here, as a bundle that does not decrypt.
    pub fn finish(
        &self,
        primary_identity: &KeyPair,
        companion_identity_public: &[u8],
        wrapped_bundle: &[u8],
    ) -> Result<[u8; 32], LinkCodeError> {
        let companion_identity = key32(companion_identity_public, "companion identity")?;
        if wrapped_bundle.len() != 32 + 12 + 96 + 16 {
            return Err(LinkCodeError::BadLength {
                field: "key bundle",
                len: wrapped_bundle.len(),
                expected: 156,
            });
        }
        let ephemeral_shared = self
            .ephemeral
            .diffie_hellman(&self.companion_ephemeral)
            .ok_or(LinkCodeError::WeakKey("companion ephemeral"))?;
        let (salt, rest) = wrapped_bundle.split_at(32);
        let (nonce, sealed) = rest.split_at(12);
        let bundle_key = hkdf_sha256::<32>(ephemeral_shared.as_slice(), Some(salt), BUNDLE_INFO);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| LinkCodeError::BundleDecryptFailed)?;
        let mut opened = sealed.to_vec();
        let plain = gcm(&bundle_key)
            .open_in_place(nonce, Aad::empty(), &mut opened)
            .map_err(|_| LinkCodeError::BundleDecryptFailed)?;
        let (ids, adv_random) = plain.split_at(64);
        if ids[..32] != companion_identity || ids[32..] != primary_identity.public()[..] {
            return Err(LinkCodeError::BundleMismatch);
        }
        let identity_shared = primary_identity
            .diffie_hellman(&companion_identity)
            .ok_or(LinkCodeError::WeakKey("companion identity"))?;
        Ok(adv_secret(&ephemeral_shared, &identity_shared, adv_random))
    }

    /// The code the phone used (normalized).
    pub fn code(&self) -> &str {
        &self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn code_uses_the_alphabet_and_reads_with_a_dash() {
        assert_eq!(encode_code([0; 5]), "11111111");
        assert_eq!(encode_code([0xFF; 5]), "ZZZZZZZZ");
        assert_eq!(display_code("ABCD2345"), "ABCD-2345");
        assert_eq!(normalize_code("abcd-2345"), "ABCD2345");
    }

    #[test]
    fn both_sides_derive_the_same_adv_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let companion_identity = KeyPair::generate(&mut rng);
        let phone_identity = KeyPair::generate(&mut rng);
        let (companion, wrapped_c) = CompanionCode::start(&mut rng);
        let (phone, wrapped_p) = PrimaryCode::start(
            &display_code(&companion.code).to_lowercase(),
            &wrapped_c,
            &mut rng,
        )
        .expect("80 bytes");
        let (adv_c, bundle) = companion
            .finish(
                &companion_identity,
                &wrapped_p,
                phone_identity.public(),
                &mut rng,
            )
            .expect("valid");
        let adv_p = phone
            .finish(&phone_identity, companion_identity.public(), &bundle)
            .expect("same code");
        assert_eq!(adv_c, adv_p);
    }

    #[test]
    fn a_wrong_code_is_caught_by_the_bundle() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let companion_identity = KeyPair::generate(&mut rng);
        let phone_identity = KeyPair::generate(&mut rng);
        let (companion, wrapped_c) = CompanionCode::start(&mut rng);
        let (phone, wrapped_p) =
            PrimaryCode::start("ZZZZZZZZ", &wrapped_c, &mut rng).expect("80 bytes");
        match companion.finish(
            &companion_identity,
            &wrapped_p,
            phone_identity.public(),
            &mut rng,
        ) {
            // The companion may still derive something; the phone's check fails.
            Ok((_, bundle)) => assert_eq!(
                phone.finish(&phone_identity, companion_identity.public(), &bundle),
                Err(LinkCodeError::BundleDecryptFailed)
            ),
            Err(err) => assert!(matches!(err, LinkCodeError::WeakKey(_)), "{err}"),
        }
    }

    #[test]
    fn short_inputs_are_named() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let err = PrimaryCode::start("ABCD1234", &[0; 10], &mut rng).expect_err("short");
        assert_eq!(
            err,
            LinkCodeError::BadLength {
                field: "wrapped companion ephemeral",
                len: 10,
                expected: 80
            }
        );
    }
}
