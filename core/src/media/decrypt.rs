//! A downloaded blob, opened in a stream and checked against the message
//! that referenced it: `fileEncSha256` (the blob is the one referenced),
//! the MAC (the key is right and nobody altered it), the padding,
//! `fileLength` and `fileSha256` (the plaintext is the one sent).
//!
//! Plaintext is released block by block as the blob arrives, before the
//! MAC at its end can be checked: the alternative (verify first, decrypt
//! after) holds the whole blob or fetches it twice, and a 16 MB video
//! must not cost 16 MB of memory. Only the last block (the padding) and
//! the MAC are held back. So plaintext out of [`MediaDecryptor::update`]
//! is unverified until [`MediaDecryptor::finish`] returns `Ok`: write it
//! to a temporary file and keep it only then, or drop it.

use std::fmt;

use aes::Aes256;
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::encrypt::{BLOCK_LEN, MAC_LEN, blob_len_for, hex_prefix, new_mac};
use super::keys::MediaKeys;

/// The last ciphertext block (padding) and the MAC stay held until the
/// end.
const HELD_BACK_LEN: usize = BLOCK_LEN + MAC_LEN;

/// What the message says the blob and its plaintext are.
#[derive(Clone, PartialEq, Eq)]
pub struct ExpectedMedia {
    pub file_sha256: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    /// `fileLength`; some senders leave it out, then the hashes decide
    /// alone.
    pub file_length: Option<u64>,
}

/// Which check a blob failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaDecryptError {
    #[error("media blob: more than the limit of {limit_bytes} bytes")]
    BlobTooLarge { limit_bytes: u64 },
    #[error("media blob: longer than the {max_len} bytes fileLength {file_length} allows")]
    BlobLongerThanDeclared { file_length: u64, max_len: u64 },
    #[error("media blob: {len} bytes, too short for one AES block and the 10-byte MAC")]
    BlobTooShort { len: u64 },
    #[error("media blob: {ciphertext_len} bytes of ciphertext are not whole 16-byte AES blocks")]
    NotBlockAligned { ciphertext_len: u64 },
    #[error("media blob: its SHA-256 is not the message's fileEncSha256")]
    FileEncSha256Mismatch,
    #[error("media blob: the MAC does not match (a wrong mediaKey or an altered blob)")]
    MacMismatch,
    #[error("media blob: the PKCS#7 padding of the last block is invalid")]
    BadPadding,
    #[error("media: the plaintext has {actual} bytes, the message's fileLength says {expected}")]
    FileLengthMismatch { expected: u64, actual: u64 },
    #[error("media: the plaintext's SHA-256 is not the message's fileSha256")]
    FileSha256Mismatch,
}

/// The checks all passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedMedia {
    pub file_length: u64,
}

/// Opens one blob chunk by chunk: [`MediaDecryptor::update`] for each
/// piece as it downloads, then [`MediaDecryptor::finish`]. After an
/// error the decryptor is spent: drop it and what it put out.
pub struct MediaDecryptor {
    cipher: cbc::Decryptor<Aes256>,
    mac: Hmac<Sha256>,
    plaintext_sha256: Sha256,
    blob_sha256: Sha256,
    expected: ExpectedMedia,
    blob_bytes_max: u64,
    blob_len: u64,
    /// The blob's tail not yet decrypted: the held-back block and MAC,
    /// plus up to 15 bytes short of a whole block.
    held: Vec<u8>,
}

impl MediaDecryptor {
    /// A decryptor for a blob of at most `blob_bytes_max` bytes.
    #[must_use]
    pub fn new(keys: &MediaKeys, expected: ExpectedMedia, blob_bytes_max: u64) -> MediaDecryptor {
        let mut mac = new_mac(keys);
        mac.update(keys.iv());
        MediaDecryptor {
            cipher: cbc::Decryptor::<Aes256>::new(keys.cipher_key().into(), keys.iv().into()),
            mac,
            plaintext_sha256: Sha256::new(),
            blob_sha256: Sha256::new(),
            expected,
            blob_bytes_max,
            blob_len: 0,
            held: Vec::with_capacity(HELD_BACK_LEN + BLOCK_LEN),
        }
    }

    /// Takes the next piece of the blob and appends the plaintext of the
    /// blocks it completes to `plaintext_out` (unverified until
    /// [`MediaDecryptor::finish`]).
    pub fn update(
        &mut self,
        blob_chunk: &[u8],
        plaintext_out: &mut Vec<u8>,
    ) -> Result<(), MediaDecryptError> {
        self.blob_len += blob_chunk.len() as u64;
        if self.blob_len > self.blob_bytes_max {
            return Err(MediaDecryptError::BlobTooLarge {
                limit_bytes: self.blob_bytes_max,
            });
        }
        if let Some(file_length) = self.expected.file_length {
            let max_len = blob_len_for(file_length);
            if self.blob_len > max_len {
                return Err(MediaDecryptError::BlobLongerThanDeclared {
                    file_length,
                    max_len,
                });
            }
        }
        let available = self.held.len() + blob_chunk.len();
        if available <= HELD_BACK_LEN {
            self.held.extend_from_slice(blob_chunk);
            return Ok(());
        }
        let ready = (available - HELD_BACK_LEN) / BLOCK_LEN * BLOCK_LEN;
        let start = plaintext_out.len();
        let from_held = ready.min(self.held.len());
        let from_chunk = ready - from_held;
        plaintext_out.extend_from_slice(&self.held[..from_held]);
        plaintext_out.extend_from_slice(&blob_chunk[..from_chunk]);
        self.held.drain(..from_held);
        self.held.extend_from_slice(&blob_chunk[from_chunk..]);
        self.decrypt_in_place(&mut plaintext_out[start..]);
        Ok(())
    }

    /// Checks the blob's end, appends the last plaintext to
    /// `plaintext_out`, and says whether everything matched.
    pub fn finish(
        mut self,
        plaintext_out: &mut Vec<u8>,
    ) -> Result<VerifiedMedia, MediaDecryptError> {
        if self.blob_len < HELD_BACK_LEN as u64 {
            return Err(MediaDecryptError::BlobTooShort { len: self.blob_len });
        }
        if self.held.len() != HELD_BACK_LEN {
            return Err(MediaDecryptError::NotBlockAligned {
                ciphertext_len: self.blob_len - MAC_LEN as u64,
            });
        }
        let (last_block, mac) = self.held.split_at(BLOCK_LEN);
        self.blob_sha256.update(&self.held);
        let blob_sha256: [u8; 32] = self.blob_sha256.finalize().into();
        if blob_sha256 != self.expected.file_enc_sha256 {
            return Err(MediaDecryptError::FileEncSha256Mismatch);
        }
        self.mac.update(last_block);
        // Constant time: the MAC is the one secret-dependent comparison.
        self.mac
            .verify_truncated_left(mac)
            .map_err(|_| MediaDecryptError::MacMismatch)?;

        let mut block = [0u8; BLOCK_LEN];
        block.copy_from_slice(last_block);
        self.cipher
            .decrypt_block_mut(GenericArray::from_mut_slice(&mut block));
        let pad = usize::from(block[BLOCK_LEN - 1]);
        if pad == 0
            || pad > BLOCK_LEN
            || block[BLOCK_LEN - pad..]
                .iter()
                .any(|&b| usize::from(b) != pad)
        {
            return Err(MediaDecryptError::BadPadding);
        }
        let tail = &block[..BLOCK_LEN - pad];
        self.plaintext_sha256.update(tail);
        plaintext_out.extend_from_slice(tail);

        // Every block but the last was whole plaintext.
        let file_length = self.blob_len - HELD_BACK_LEN as u64 + tail.len() as u64;
        if let Some(expected) = self.expected.file_length
            && expected != file_length
        {
            return Err(MediaDecryptError::FileLengthMismatch {
                expected,
                actual: file_length,
            });
        }
        let plaintext_sha256: [u8; 32] = self.plaintext_sha256.finalize().into();
        if plaintext_sha256 != self.expected.file_sha256 {
            return Err(MediaDecryptError::FileSha256Mismatch);
        }
        Ok(VerifiedMedia { file_length })
    }

    fn decrypt_in_place(&mut self, blocks: &mut [u8]) {
        self.mac.update(blocks);
        self.blob_sha256.update(&*blocks);
        for block in blocks.chunks_exact_mut(BLOCK_LEN) {
            self.cipher
                .decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        self.plaintext_sha256.update(&*blocks);
    }
}

/// Opens a whole blob held in memory (small media, tests).
pub fn decrypt_media(
    keys: &MediaKeys,
    expected: ExpectedMedia,
    blob: &[u8],
) -> Result<Vec<u8>, MediaDecryptError> {
    let mut plaintext = Vec::with_capacity(blob.len());
    let mut decryptor = MediaDecryptor::new(keys, expected, blob.len() as u64);
    decryptor.update(blob, &mut plaintext)?;
    decryptor.finish(&mut plaintext)?;
    Ok(plaintext)
}

impl fmt::Debug for MediaDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaDecryptor")
            .field("blob_len", &self.blob_len)
            .field("blob_bytes_max", &self.blob_bytes_max)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ExpectedMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpectedMedia")
            .field("file_enc_sha256", &hex_prefix(&self.file_enc_sha256))
            .field("file_length", &self.file_length)
            .finish_non_exhaustive()
    }
}
