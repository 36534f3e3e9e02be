//! The streaming media cipher, property-tested: whatever the chunking on
//! either side, the blob is the one-shot blob, it opens to the plaintext,
//! and any flipped byte is refused.

use blacksky_core::media::{
    ExpectedMedia, MediaDecryptor, MediaEncryptor, MediaKeys, MediaType, blob_len_for,
    encrypt_media,
};
use blacksky_core::message::content::MediaKey;
use proptest::prelude::*;

fn media_type() -> impl Strategy<Value = MediaType> {
    proptest::sample::select(MediaType::ALL.to_vec())
}

/// Splits `bytes` at the (sorted, deduplicated) `cuts`.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for cut in cuts {
        pieces.push(&bytes[from..cut]);
        from = cut;
    }
    pieces.push(&bytes[from..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_chunking_round_trips(
        key in proptest::array::uniform32(any::<u8>()),
        kind in media_type(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..3000),
        plain_cuts in proptest::collection::vec(any::<usize>(), 0..12),
        blob_cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let keys = MediaKeys::expand(&MediaKey::from_bytes(key.to_vec()), kind).expect("32 bytes");
        let (one_shot, one_shot_summary) = encrypt_media(&keys, &plaintext);

        let mut blob = Vec::new();
        let mut encryptor = MediaEncryptor::new(&keys);
        for piece in split(&plaintext, &plain_cuts) {
            encryptor.update(piece, &mut blob);
        }
        let summary = encryptor.finish(&mut blob);
        prop_assert_eq!(&blob, &one_shot);
        prop_assert_eq!(&summary, &one_shot_summary);
        prop_assert_eq!(blob.len() as u64, blob_len_for(plaintext.len() as u64));

        let expected = ExpectedMedia {
            file_sha256: summary.file_sha256,
            file_enc_sha256: summary.file_enc_sha256,
            file_length: Some(summary.file_length),
        };
        let mut opened = Vec::new();
        let mut decryptor = MediaDecryptor::new(&keys, expected, blob.len() as u64);
        for piece in split(&blob, &blob_cuts) {
            decryptor.update(piece, &mut opened).expect("within the limit");
            // Never more plaintext out than the blocks before the held-back last one.
            prop_assert!(opened.len() <= plaintext.len());
        }
        let verified = decryptor.finish(&mut opened).expect("its own blob");
        prop_assert_eq!(verified.file_length, plaintext.len() as u64);
        prop_assert_eq!(opened, plaintext);
    }

    #[test]
    fn a_flipped_byte_is_refused(
        key in proptest::array::uniform32(any::<u8>()),
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let keys = MediaKeys::expand(&MediaKey::from_bytes(key.to_vec()), MediaType::Video).expect("32 bytes");
        let (mut blob, summary) = encrypt_media(&keys, &plaintext);
        let at = at % blob.len();
        blob[at] ^= 1 << bit;
        let expected = ExpectedMedia {
            file_sha256: summary.file_sha256,
            file_enc_sha256: summary.file_enc_sha256,
            file_length: Some(summary.file_length),
        };
        prop_assert!(blacksky_core::media::decrypt_media(&keys, expected, &blob).is_err());
    }
}
