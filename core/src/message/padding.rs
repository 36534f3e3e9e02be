//! WhatsApp's padding of the end-to-end plaintext: before encryption the
//! sender appends n bytes of value n, n drawn from 1..=16 (Baileys'
//! `writeRandomPadMax16`: the low nibble of a random byte, plus one);
//! the receiver checks the last byte is in 1..=16, that many bytes are
//! there, and that every one of them is n, then strips them.
//!
//! Baileys checks only that n is not more than the length; we refuse
//! anything a WhatsApp client does not send, so a wrong key or a forged
//! body shows up as bad padding instead of a garbled protobuf.

use rand_core::RngCore;
use thiserror::Error;

/// The largest padding a sender appends.
pub const PADDING_LEN_MAX: u8 = 16;

/// Why a decrypted plaintext does not end in valid padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PaddingError {
    #[error("padding: the plaintext is empty")]
    Empty,
    #[error("padding: the last byte says {pad_len}, outside 1..=16")]
    BadLength { pad_len: u8 },
    #[error("padding: {pad_len} bytes of padding but the plaintext is {len} bytes")]
    LongerThanPlaintext { pad_len: u8, len: usize },
    #[error("padding: byte {offset} is {found:#04x}, expected {pad_len:#04x}")]
    BadByte {
        pad_len: u8,
        offset: usize,
        found: u8,
    },
}

/// `plaintext` with 1..=16 bytes of padding, the count drawn from `rng`.
#[must_use]
pub fn pad(plaintext: &[u8], rng: &mut impl RngCore) -> Vec<u8> {
    let mut random = [0u8; 1];
    rng.fill_bytes(&mut random);
    pad_with(plaintext, (random[0] & 0x0F) + 1)
}

/// `plaintext` with `pad_len` bytes of value `pad_len` (1..=16).
#[must_use]
pub fn pad_with(plaintext: &[u8], pad_len: u8) -> Vec<u8> {
    debug_assert!((1..=PADDING_LEN_MAX).contains(&pad_len));
    let mut padded = Vec::with_capacity(plaintext.len() + usize::from(pad_len));
    padded.extend_from_slice(plaintext);
    padded.resize(plaintext.len() + usize::from(pad_len), pad_len);
    padded
}

/// The plaintext without its padding, after checking every padding byte.
pub fn unpad(padded: &[u8]) -> Result<&[u8], PaddingError> {
    let &pad_len = padded.last().ok_or(PaddingError::Empty)?;
    if !(1..=PADDING_LEN_MAX).contains(&pad_len) {
        return Err(PaddingError::BadLength { pad_len });
    }
    let len = padded.len();
    let body_len = len
        .checked_sub(usize::from(pad_len))
        .ok_or(PaddingError::LongerThanPlaintext { pad_len, len })?;
    if let Some(offset) = padded[body_len..].iter().position(|&b| b != pad_len) {
        return Err(PaddingError::BadByte {
            pad_len,
            offset: body_len + offset,
            found: padded[body_len + offset],
        });
    }
    Ok(&padded[..body_len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn known_shapes() {
        assert_eq!(pad_with(b"hi", 3), b"hi\x03\x03\x03");
        assert_eq!(unpad(b"hi\x03\x03\x03"), Ok(&b"hi"[..]));
        assert_eq!(unpad(&[16u8; 16]), Ok(&[][..]));
        assert_eq!(unpad(b"x\x01"), Ok(&b"x"[..]));
    }

    #[test]
    fn refusals_are_typed() {
        assert_eq!(unpad(b""), Err(PaddingError::Empty));
        assert_eq!(
            unpad(b"abc\x00"),
            Err(PaddingError::BadLength { pad_len: 0 })
        );
        assert_eq!(
            unpad(b"abc\x11"),
            Err(PaddingError::BadLength { pad_len: 17 })
        );
        assert_eq!(
            unpad(b"\x04\x04\x04"),
            Err(PaddingError::LongerThanPlaintext { pad_len: 4, len: 3 })
        );
        // Baileys would accept this (it reads only the last byte).
        assert_eq!(
            unpad(b"hi\x03\x02\x03"),
            Err(PaddingError::BadByte {
                pad_len: 3,
                offset: 3,
                found: 2
            })
        );
    }

    #[test]
    fn the_rng_chooses_every_length_from_1_to_16() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut seen = [false; 17];
        for _ in 0..1000 {
            let padded = pad(b"m", &mut rng);
            let pad_len = padded.len() - 1;
            assert!((1..=16).contains(&pad_len), "{pad_len}");
            seen[pad_len] = true;
        }
        assert!(seen[1..].iter().all(|&s| s), "{seen:?}");
    }

    proptest! {
        #[test]
        fn round_trip(
            plaintext in proptest::collection::vec(any::<u8>(), 0..200),
            seed: u64,
        ) {
            let padded = pad(&plaintext, &mut ChaCha20Rng::seed_from_u64(seed));
            let added = padded.len() - plaintext.len();
            prop_assert!((1..=16).contains(&added));
            prop_assert!(padded[plaintext.len()..].iter().all(|&b| usize::from(b) == added));
            prop_assert_eq!(unpad(&padded), Ok(plaintext.as_slice()));
        }

        /// A changed padding byte before the last is always caught; a
        /// changed last byte never gives the plaintext back.
        #[test]
        fn any_changed_padding_byte_is_caught(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            pad_len in 1u8..=16,
            at: prop::sample::Index,
            value: u8,
        ) {
            prop_assume!(value != pad_len);
            let padded = pad_with(&plaintext, pad_len);
            let mut changed = padded.clone();
            let offset = plaintext.len() + at.index(usize::from(pad_len));
            changed[offset] = value;
            if offset + 1 < padded.len() {
                prop_assert!(unpad(&changed).is_err());
            } else {
                prop_assert_ne!(unpad(&changed), Ok(plaintext.as_slice()));
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(body) = unpad(&bytes) {
                let pad_len = bytes.len() - body.len();
                prop_assert!((1..=16).contains(&pad_len));
                prop_assert!(bytes[body.len()..].iter().all(|&b| usize::from(b) == pad_len));
            }
        }
    }
}
