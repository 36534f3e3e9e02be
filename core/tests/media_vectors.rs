//! Known answers from the Node.js bots' own media code: Baileys'
//! `getMediaKeys`, `hkdf` and `encryptedStream` made every vector in
//! `tests/vectors/media.json` (`interop/media-vectors.mjs`). Both ways:
//! our encryptor makes Baileys' blob byte for byte (its fileEncSha256 pins
//! every byte, the stored blob shows them), and our decryptor opens it and
//! accepts Baileys' hashes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::media::{
    ExpectedMedia, MediaDecryptError, MediaDecryptor, MediaEncryptor, MediaKeys, MediaType,
    blob_len_for, decrypt_media, encrypt_media,
};
use blacksky_core::message::content::MediaKey;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(include_str!("vectors/media.json")).expect("JSON");
    let vectors = file["vectors"].as_array().expect("vectors").clone();
    assert!(vectors.len() >= 20, "the vector file lost its vectors");
    vectors
}

fn bytes(vector: &Value, field: &str) -> Vec<u8> {
    let text = vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {vector}"));
    B64.decode(text).unwrap_or_else(|e| panic!("{field}: {e}"))
}

fn hash(vector: &Value, field: &str) -> [u8; 32] {
    bytes(vector, field)
        .try_into()
        .unwrap_or_else(|_| panic!("{field}: 32 bytes"))
}

/// Baileys' media type names, as ours.
fn media_type(vector: &Value) -> MediaType {
    match vector["media_type"].as_str().expect("media_type") {
        "image" => MediaType::Image,
        "video" => MediaType::Video,
        "gif" => MediaType::Gif,
        "audio" => MediaType::Audio,
        "ptt" => MediaType::VoiceNote,
        "document" => MediaType::Document,
        "sticker" => MediaType::Sticker,
        other => panic!("no vector type {other}"),
    }
}

/// The script's plaintext rule: byte i = (i * 31 + len) & 0xff.
fn plaintext(vector: &Value) -> Vec<u8> {
    let len = vector["plaintext_len"].as_u64().expect("plaintext_len") as usize;
    (0..len).map(|i| ((i * 31 + len) & 0xff) as u8).collect()
}

fn keys(vector: &Value) -> MediaKeys {
    MediaKeys::expand(
        &MediaKey::from_bytes(bytes(vector, "media_key")),
        media_type(vector),
    )
    .expect("32-byte key")
}

fn expected(vector: &Value) -> ExpectedMedia {
    ExpectedMedia {
        file_sha256: hash(vector, "file_sha256"),
        file_enc_sha256: hash(vector, "file_enc_sha256"),
        file_length: vector["file_length"].as_u64(),
    }
}

fn name(vector: &Value) -> String {
    format!("{}/{}", vector["media_type"], vector["plaintext_len"])
}

#[test]
fn key_expansion_matches_baileys() {
    for vector in vectors() {
        let keys = keys(&vector);
        assert_eq!(
            media_type(&vector).hkdf_info(),
            vector["hkdf_info"].as_str().expect("hkdf_info"),
            "{}",
            name(&vector)
        );
        assert_eq!(
            keys.iv().as_slice(),
            bytes(&vector, "iv"),
            "{}",
            name(&vector)
        );
        assert_eq!(
            keys.cipher_key().as_slice(),
            bytes(&vector, "cipher_key"),
            "{}",
            name(&vector)
        );
        assert_eq!(
            keys.mac_key().as_slice(),
            bytes(&vector, "mac_key"),
            "{}",
            name(&vector)
        );
        assert_eq!(
            keys.ref_key().as_slice(),
            bytes(&vector, "ref_key"),
            "{}",
            name(&vector)
        );
    }
}

#[test]
fn upload_paths_match_baileys_where_it_has_one() {
    for vector in vectors() {
        if let Some(path) = vector["upload_path"].as_str() {
            assert_eq!(
                format!("/mms/{}", media_type(&vector).mms_type()),
                path,
                "{}",
                name(&vector)
            );
        }
    }
}

#[test]
fn our_blob_is_baileys_blob() {
    for vector in vectors() {
        let (blob, summary) = encrypt_media(&keys(&vector), &plaintext(&vector));
        let name = name(&vector);
        assert_eq!(
            blob.len() as u64,
            vector["blob_len"].as_u64().expect("blob_len"),
            "{name}"
        );
        assert_eq!(
            blob.len() as u64,
            blob_len_for(summary.file_length),
            "{name}"
        );
        if vector.get("blob").is_some() {
            assert_eq!(blob, bytes(&vector, "blob"), "{name}");
        }
        assert_eq!(
            summary.file_enc_sha256,
            hash(&vector, "file_enc_sha256"),
            "{name}"
        );
        assert_eq!(summary.file_sha256, hash(&vector, "file_sha256"), "{name}");
        assert_eq!(summary.mac.as_slice(), bytes(&vector, "mac"), "{name}");
        assert_eq!(
            Some(summary.file_length),
            vector["file_length"].as_u64(),
            "{name}"
        );
    }
}

#[test]
fn we_open_baileys_blob() {
    for vector in vectors() {
        let name = name(&vector);
        // The stored blob where there is one, else ours (shown equal to
        // Baileys' by its hash in `our_blob_is_baileys_blob`).
        let blob = if vector.get("blob").is_some() {
            bytes(&vector, "blob")
        } else {
            encrypt_media(&keys(&vector), &plaintext(&vector)).0
        };
        let opened = decrypt_media(&keys(&vector), expected(&vector), &blob)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(opened, plaintext(&vector), "{name}");
    }
}

#[test]
fn large_vectors_stream_in_odd_chunks() {
    let vector = vectors()
        .into_iter()
        .find(|v| v["plaintext_len"].as_u64() == Some(65539))
        .expect("a 64 KiB + 3 vector");
    let keys = keys(&vector);
    let plaintext = plaintext(&vector);

    let mut blob = Vec::new();
    let mut encryptor = MediaEncryptor::new(&keys);
    for piece in plaintext.chunks(1000) {
        encryptor.update(piece, &mut blob);
    }
    let summary = encryptor.finish(&mut blob);
    assert_eq!(summary.file_enc_sha256, hash(&vector, "file_enc_sha256"));

    let mut opened = Vec::new();
    let mut decryptor = MediaDecryptor::new(&keys, expected(&vector), 1 << 20);
    for piece in blob.chunks(777) {
        decryptor.update(piece, &mut opened).expect("within limits");
    }
    let verified = decryptor.finish(&mut opened).expect("all checks pass");
    assert_eq!(verified.file_length, 65539);
    assert_eq!(opened, plaintext);
}

/// Each check fails on its own culprit and says which.
#[test]
fn each_check_names_what_failed() {
    let vector = vectors()
        .into_iter()
        .find(|v| v["media_type"] == "video" && v["plaintext_len"].as_u64() == Some(17))
        .expect("video/17");
    let keys = keys(&vector);
    let blob = bytes(&vector, "blob");

    let mut altered = blob.clone();
    altered[3] ^= 1;
    assert_eq!(
        decrypt_media(&keys, expected(&vector), &altered),
        Err(MediaDecryptError::FileEncSha256Mismatch)
    );
    // The altered blob under its own hash: the MAC still catches it.
    let mut rehashed = expected(&vector);
    rehashed.file_enc_sha256 = sha256(&altered);
    assert_eq!(
        decrypt_media(&keys, rehashed, &altered),
        Err(MediaDecryptError::MacMismatch)
    );

    let wrong_key =
        MediaKeys::expand(&MediaKey::from_bytes(vec![0; 32]), MediaType::Video).expect("32 bytes");
    assert_eq!(
        decrypt_media(&wrong_key, expected(&vector), &blob),
        Err(MediaDecryptError::MacMismatch)
    );
    // Keys of the wrong type are wrong keys.
    let as_image = MediaKeys::expand(
        &MediaKey::from_bytes(bytes(&vector, "media_key")),
        MediaType::Image,
    )
    .expect("32 bytes");
    assert_eq!(
        decrypt_media(&as_image, expected(&vector), &blob),
        Err(MediaDecryptError::MacMismatch)
    );

    let mut wrong_plain_hash = expected(&vector);
    wrong_plain_hash.file_sha256[0] ^= 1;
    assert_eq!(
        decrypt_media(&keys, wrong_plain_hash, &blob),
        Err(MediaDecryptError::FileSha256Mismatch)
    );

    let mut wrong_length = expected(&vector);
    wrong_length.file_length = Some(18);
    assert_eq!(
        decrypt_media(&keys, wrong_length, &blob),
        Err(MediaDecryptError::FileLengthMismatch {
            expected: 18,
            actual: 17
        })
    );

    let mut too_long_declared = expected(&vector);
    too_long_declared.file_length = Some(3);
    assert!(matches!(
        decrypt_media(&keys, too_long_declared, &blob),
        Err(MediaDecryptError::BlobLongerThanDeclared { file_length: 3, .. })
    ));

    let truncated = &blob[..blob.len() - 16];
    let mut truncated_expected = expected(&vector);
    truncated_expected.file_enc_sha256 = sha256(truncated);
    assert_eq!(
        decrypt_media(&keys, truncated_expected.clone(), &truncated[..20]),
        Err(MediaDecryptError::BlobTooShort { len: 20 })
    );
    assert_eq!(
        decrypt_media(&keys, truncated_expected, &blob[..blob.len() - 1]),
        Err(MediaDecryptError::NotBlockAligned { ciphertext_len: 31 })
    );

    let mut decryptor = MediaDecryptor::new(&keys, expected(&vector), 40);
    let err = decryptor
        .update(&blob, &mut Vec::new())
        .expect_err("42 > 40");
    assert_eq!(err, MediaDecryptError::BlobTooLarge { limit_bytes: 40 });
    assert!(err.to_string().contains("40 bytes"));
}

/// A blob whose MAC and hashes are right but whose padding is not: made
/// with the right keys by hand, so only the padding check can refuse it.
#[test]
fn bad_padding_is_refused() {
    use aes::Aes256;
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    use hmac::{Hmac, Mac};

    let keys = MediaKeys::expand(&MediaKey::from_bytes(vec![5; 32]), MediaType::Document)
        .expect("32 bytes");
    let mut last = [0x11u8; 16];
    last[15] = 0; // a padding byte of 0 is never valid
    let mut blob = cbc::Encryptor::<Aes256>::new(keys.cipher_key().into(), keys.iv().into())
        .encrypt_padded_vec_mut::<NoPadding>(&last);
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(keys.mac_key()).expect("key");
    mac.update(keys.iv());
    mac.update(&blob);
    blob.extend_from_slice(&mac.finalize().into_bytes()[..10]);
    let expected = ExpectedMedia {
        file_sha256: [0; 32],
        file_enc_sha256: sha256(&blob),
        file_length: None,
    };
    assert_eq!(
        decrypt_media(&keys, expected, &blob),
        Err(MediaDecryptError::BadPadding)
    );
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
