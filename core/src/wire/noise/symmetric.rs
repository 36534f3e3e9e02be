//! The Noise CipherState and SymmetricState (Noise spec §5.1, §5.2) for
//! `Noise_XX_25519_AESGCM_SHA256`, with WhatsApp's nonce layout.
//!
//! Nonce: 12 bytes, eight zero bytes then a 32-bit big-endian counter
//! (Baileys' `generateIV`, whatsmeow's `generateIV`). Stock Noise uses
//! four zero bytes then a 64-bit counter: the same bytes while the counter
//! fits in 32 bits, so we interoperate with `snow` and refuse to go past
//! 2^32 - 1 instead of wrapping (a wrap would reuse a nonce).

use std::fmt;

use hkdf::Hkdf;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// `Noise_XX_25519_AESGCM_SHA256` padded with zeros to 32 bytes: being
/// exactly the hash length it is used as the initial h and ck unhashed.
pub const NOISE_PROTOCOL_NAME: &[u8; 32] = b"Noise_XX_25519_AESGCM_SHA256\0\0\0\0";

/// AES-GCM tag length: every ciphertext is its plaintext plus this.
pub const TAG_LEN: usize = 16;

/// Why a CipherState operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherError {
    /// The next nonce would exceed `u32::MAX`.
    CounterExhausted,
    /// Authentication failed (or the input is shorter than a tag).
    Open,
    /// Over AES-GCM's per-message limit (~64 GiB); ring refuses it.
    TooLong,
}

/// A key and its nonce counter. The counter is kept in a u64 so "used
/// every u32 nonce" is representable; it only moves on success.
pub(crate) struct CipherState {
    key: LessSafeKey,
    n: u64,
}

impl CipherState {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        // The only failure of `UnboundKey::new` is a wrong key length,
        // which the array type rules out.
        let unbound = match UnboundKey::new(&AES_256_GCM, key) {
            Ok(unbound) => unbound,
            Err(_) => unreachable!("AES-256 key is 32 bytes"),
        };
        CipherState {
            key: LessSafeKey::new(unbound),
            n: 0,
        }
    }

    /// The nonce the next operation will use (may be 2^32: exhausted).
    pub(crate) fn counter(&self) -> u64 {
        self.n
    }

    pub(crate) fn set_counter(&mut self, n: u64) {
        self.n = n;
    }

    fn nonce(&self) -> Result<Nonce, CipherError> {
        let n = u32::try_from(self.n).map_err(|_| CipherError::CounterExhausted)?;
        let mut iv = [0u8; 12];
        iv[8..].copy_from_slice(&n.to_be_bytes());
        Ok(Nonce::assume_unique_for_key(iv))
    }

    /// Encrypts `buf` in place and appends the tag.
    pub(crate) fn seal_append(&mut self, ad: &[u8], buf: &mut Vec<u8>) -> Result<(), CipherError> {
        let nonce = self.nonce()?;
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(ad), buf)
            .map_err(|_| CipherError::TooLong)?;
        self.n += 1;
        Ok(())
    }

    /// Encrypts `buf` in place and returns the tag separately.
    pub(crate) fn seal_detached(
        &mut self,
        ad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CipherError> {
        let nonce = self.nonce()?;
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(ad), buf)
            .map_err(|_| CipherError::TooLong)?;
        self.n += 1;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `buf` (ciphertext ‖ tag) in place; returns the plaintext
    /// prefix. On failure the counter stays put and `buf` is unspecified.
    pub(crate) fn open_in_place<'a>(
        &mut self,
        ad: &[u8],
        buf: &'a mut [u8],
    ) -> Result<&'a mut [u8], CipherError> {
        let nonce = self.nonce()?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(ad), buf)
            .map_err(|_| CipherError::Open)?;
        self.n += 1;
        Ok(plain)
    }
}

impl fmt::Debug for CipherState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherState")
            .field("counter", &self.n)
            .finish_non_exhaustive()
    }
}

/// HKDF-SHA256 with salt `ck`, empty info, 64 bytes out, split in two
/// (Noise's HKDF(ck, ikm, 2) is exactly RFC 5869 with these arguments).
fn hkdf2(ck: &[u8; 32], ikm: &[u8]) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let mut okm = Zeroizing::new([0u8; 64]);
    // 64 bytes is far below HKDF-SHA256's limit of 255 * 32.
    if Hkdf::<Sha256>::new(Some(ck), ikm)
        .expand(&[], okm.as_mut_slice())
        .is_err()
    {
        unreachable!("64 bytes is a valid HKDF-SHA256 output length");
    }
    let mut first = Zeroizing::new([0u8; 32]);
    let mut second = Zeroizing::new([0u8; 32]);
    first.copy_from_slice(&okm[..32]);
    second.copy_from_slice(&okm[32..]);
    (first, second)
}

/// Chaining key, handshake hash and the current handshake cipher.
pub(crate) struct SymmetricState {
    ck: [u8; 32],
    h: [u8; 32],
    cipher: Option<CipherState>,
}

impl SymmetricState {
    /// InitializeSymmetric(name) then MixHash(prologue).
    pub(crate) fn new(prologue: &[u8]) -> Self {
        let mut state = SymmetricState {
            ck: *NOISE_PROTOCOL_NAME,
            h: *NOISE_PROTOCOL_NAME,
            cipher: None,
        };
        state.mix_hash(prologue);
        state
    }

    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut hash = Sha256::new();
        hash.update(self.h);
        hash.update(data);
        self.h = hash.finalize().into();
    }

    /// ck, k = HKDF(ck, ikm); the new key starts at nonce 0.
    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, k) = hkdf2(&self.ck, ikm);
        self.ck = *ck;
        self.cipher = Some(CipherState::new(&k));
    }

    /// Before the first MixKey this is MixHash(plaintext) and returns the
    /// plaintext, as the Noise spec says; XX never encrypts that early.
    pub(crate) fn encrypt_and_hash(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        if let Some(cipher) = self.cipher.as_mut() {
            cipher.seal_append(&self.h, &mut buf)?;
        }
        self.mix_hash(&buf);
        Ok(buf)
    }

    pub(crate) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut buf = ciphertext.to_vec();
        let len = match self.cipher.as_mut() {
            Some(cipher) => cipher.open_in_place(&self.h, &mut buf)?.len(),
            None => buf.len(),
        };
        buf.truncate(len);
        self.mix_hash(ciphertext);
        Ok(buf)
    }

    /// The two transport keys: (initiator → responder, responder → initiator).
    pub(crate) fn split(&self) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
        hkdf2(&self.ck, &[])
    }

    pub(crate) fn handshake_hash(&self) -> [u8; 32] {
        self.h
    }
}

impl Drop for SymmetricState {
    fn drop(&mut self) {
        self.ck.zeroize();
    }
}

impl fmt::Debug for SymmetricState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymmetricState")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    type HmacSha256 = Hmac<Sha256>;

    fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Noise §4.3 defines HKDF through HMAC; check RFC 5869 agrees.
    #[test]
    fn hkdf_matches_noise_definition() {
        let ck = [0x11u8; 32];
        for ikm in [&b""[..], &[0x22; 32][..]] {
            let temp = hmac(&ck, &[ikm]);
            let out1 = hmac(&temp, &[&[1]]);
            let out2 = hmac(&temp, &[&out1, &[2]]);
            let (a, b) = hkdf2(&ck, ikm);
            assert_eq!(*a, out1);
            assert_eq!(*b, out2);
        }
    }

    #[test]
    fn initial_state_is_name_then_prologue() {
        let state = SymmetricState::new(&[0x57, 0x41, 0x06, 0x03]);
        let expected: [u8; 32] = Sha256::new()
            .chain_update(NOISE_PROTOCOL_NAME)
            .chain_update([0x57, 0x41, 0x06, 0x03])
            .finalize()
            .into();
        assert_eq!(state.handshake_hash(), expected);
        assert_eq!(&state.ck, NOISE_PROTOCOL_NAME);
    }

    #[test]
    fn nonce_layout_is_eight_zeros_then_be_u32() {
        // Seal with our CipherState at counter 0x01020304, open with a
        // ring key and the nonce built by hand.
        let key = [9u8; 32];
        let mut cipher = CipherState::new(&key);
        cipher.set_counter(0x0102_0304);
        let mut buf = b"frame".to_vec();
        cipher.seal_append(b"", &mut buf).expect("seal");
        let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("key"));
        let iv = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let plain = raw
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut buf)
            .expect("open with hand-built nonce");
        assert_eq!(plain, b"frame");
        assert_eq!(cipher.counter(), 0x0102_0305);
    }

    #[test]
    fn counter_stops_at_u32_max() {
        let mut cipher = CipherState::new(&[1; 32]);
        cipher.set_counter(u64::from(u32::MAX));
        let mut buf = vec![1, 2, 3];
        assert_eq!(cipher.seal_append(b"", &mut buf), Ok(()));
        let mut buf = vec![1, 2, 3];
        assert_eq!(
            cipher.seal_append(b"", &mut buf),
            Err(CipherError::CounterExhausted)
        );
        assert_eq!(
            cipher.seal_detached(b"", &mut buf),
            Err(CipherError::CounterExhausted)
        );
        assert_eq!(cipher.counter(), 1 << 32);
    }

    #[test]
    fn encrypt_and_hash_round_trip_binds_h() {
        let mut a = SymmetricState::new(b"p");
        let mut b = SymmetricState::new(b"p");
        a.mix_key(b"dh");
        b.mix_key(b"dh");
        let ct = a.encrypt_and_hash(b"secret").expect("encrypt");
        assert_eq!(ct.len(), 6 + TAG_LEN);
        assert_eq!(b.decrypt_and_hash(&ct).expect("decrypt"), b"secret");
        assert_eq!(a.handshake_hash(), b.handshake_hash());
        // A peer with a different transcript cannot decrypt.
        let mut c = SymmetricState::new(b"q");
        c.mix_key(b"dh");
        let ct = a.encrypt_and_hash(b"more").expect("encrypt");
        assert_eq!(c.decrypt_and_hash(&ct), Err(CipherError::Open));
        assert_eq!(c.decrypt_and_hash(&[0; 5]), Err(CipherError::Open));
    }
}
