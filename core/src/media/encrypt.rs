//! The uploaded blob, made in a stream: AES-256-CBC with PKCS#7 padding
//! over the plaintext, then the first 10 bytes of HMAC-SHA256(macKey,
//! iv ‖ ciphertext) appended. The encryptor holds at most one partial
//! block of plaintext, never the file.

use std::fmt;

use aes::Aes256;
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::keys::MediaKeys;

pub(crate) const BLOCK_LEN: usize = 16;
/// The HMAC-SHA256 is cut to its first 10 bytes.
pub const MAC_LEN: usize = 10;

/// Encrypts one media file chunk by chunk: [`MediaEncryptor::update`] for
/// each piece of plaintext, then [`MediaEncryptor::finish`] once. The
/// ciphertext goes out as it is made; the caller uploads (or writes)
/// it and may clear its buffer between calls.
pub struct MediaEncryptor {
    cipher: cbc::Encryptor<Aes256>,
    mac: Hmac<Sha256>,
    plaintext_sha256: Sha256,
    blob_sha256: Sha256,
    /// Plaintext short of a whole block, waiting for the next chunk.
    partial: [u8; BLOCK_LEN],
    partial_len: usize,
    file_length: u64,
}

/// What the message that references an uploaded blob says about it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedMedia {
    /// SHA-256 of the plaintext (`fileSha256`).
    pub file_sha256: [u8; 32],
    /// SHA-256 of the whole uploaded blob, MAC included (`fileEncSha256`).
    pub file_enc_sha256: [u8; 32],
    /// Plaintext bytes (`fileLength`).
    pub file_length: u64,
    /// The 10 bytes at the blob's end.
    pub mac: [u8; MAC_LEN],
}

impl MediaEncryptor {
    #[must_use]
    pub fn new(keys: &MediaKeys) -> MediaEncryptor {
        let mut mac = new_mac(keys);
        mac.update(keys.iv());
        MediaEncryptor {
            cipher: cbc::Encryptor::<Aes256>::new(keys.cipher_key().into(), keys.iv().into()),
            mac,
            plaintext_sha256: Sha256::new(),
            blob_sha256: Sha256::new(),
            partial: [0; BLOCK_LEN],
            partial_len: 0,
            file_length: 0,
        }
    }

    /// Encrypts `plaintext`, appending every whole block of ciphertext it
    /// completes to `blob_out` (up to 15 bytes wait for the next call).
    pub fn update(&mut self, mut plaintext: &[u8], blob_out: &mut Vec<u8>) {
        self.plaintext_sha256.update(plaintext);
        self.file_length += plaintext.len() as u64;
        let start = blob_out.len();
        if self.partial_len > 0 {
            let take = (BLOCK_LEN - self.partial_len).min(plaintext.len());
            self.partial[self.partial_len..self.partial_len + take]
                .copy_from_slice(&plaintext[..take]);
            self.partial_len += take;
            plaintext = &plaintext[take..];
            if self.partial_len < BLOCK_LEN {
                return;
            }
            blob_out.extend_from_slice(&self.partial);
            self.partial_len = 0;
        }
        let whole = plaintext.len() - plaintext.len() % BLOCK_LEN;
        blob_out.extend_from_slice(&plaintext[..whole]);
        let rest = &plaintext[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
        self.encrypt_in_place(&mut blob_out[start..]);
    }

    /// Pads and encrypts the last block, appends it and the MAC to
    /// `blob_out`, and says what the message must carry.
    #[must_use]
    pub fn finish(mut self, blob_out: &mut Vec<u8>) -> EncryptedMedia {
        let start = blob_out.len();
        let pad = BLOCK_LEN - self.partial_len;
        blob_out.extend_from_slice(&self.partial[..self.partial_len]);
        blob_out.extend(std::iter::repeat_n(pad as u8, pad));
        self.encrypt_in_place(&mut blob_out[start..]);

        let tag = self.mac.finalize().into_bytes();
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&tag[..MAC_LEN]);
        self.blob_sha256.update(mac);
        blob_out.extend_from_slice(&mac);
        EncryptedMedia {
            file_sha256: self.plaintext_sha256.finalize().into(),
            file_enc_sha256: self.blob_sha256.finalize().into(),
            file_length: self.file_length,
            mac,
        }
    }

    /// Encrypts whole blocks in place and feeds them to the MAC and the
    /// blob hash.
    fn encrypt_in_place(&mut self, blocks: &mut [u8]) {
        for block in blocks.chunks_exact_mut(BLOCK_LEN) {
            self.cipher
                .encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        self.mac.update(blocks);
        self.blob_sha256.update(&*blocks);
    }
}

/// Encrypts a whole file held in memory (small media, tests).
#[must_use]
pub fn encrypt_media(keys: &MediaKeys, plaintext: &[u8]) -> (Vec<u8>, EncryptedMedia) {
    let mut blob = Vec::with_capacity(blob_len_for(plaintext.len() as u64) as usize);
    let mut encryptor = MediaEncryptor::new(keys);
    encryptor.update(plaintext, &mut blob);
    let summary = encryptor.finish(&mut blob);
    (blob, summary)
}

/// The blob's size for `file_length` bytes of plaintext: padded to the
/// next whole block (a full block of padding when already aligned), plus
/// the MAC.
#[must_use]
pub fn blob_len_for(file_length: u64) -> u64 {
    (file_length / BLOCK_LEN as u64 + 1) * BLOCK_LEN as u64 + MAC_LEN as u64
}

pub(crate) fn new_mac(keys: &MediaKeys) -> Hmac<Sha256> {
    // HMAC takes a key of any length; 32 bytes cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(keys.mac_key()).expect("HMAC takes any key length")
}

impl fmt::Debug for MediaEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaEncryptor")
            .field("file_length", &self.file_length)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for EncryptedMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedMedia")
            .field("file_length", &self.file_length)
            .field("file_enc_sha256", &hex_prefix(&self.file_enc_sha256))
            .finish_non_exhaustive()
    }
}

/// The first bytes of a hash, enough to tell files apart in a log.
pub(crate) fn hex_prefix(hash: &[u8; 32]) -> String {
    hash[..4].iter().map(|b| format!("{b:02x}")).collect()
}
