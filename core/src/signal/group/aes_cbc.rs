//! AES-256-CBC with PKCS#7 padding, the body cipher of Signal messages.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use super::chain::CipherKeys;

/// The ciphertext could not be decrypted: its length is not a positive
/// multiple of 16, or the padding is wrong (a wrong key looks the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadCiphertext;

#[must_use]
pub fn encrypt(keys: &CipherKeys, plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(keys.key.as_ref().into(), &keys.iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

pub fn decrypt(keys: &CipherKeys, ciphertext: &[u8]) -> Result<Vec<u8>, BadCiphertext> {
    if ciphertext.is_empty() {
        return Err(BadCiphertext);
    }
    cbc::Decryptor::<Aes256>::new(keys.key.as_ref().into(), &keys.iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| BadCiphertext)
}
