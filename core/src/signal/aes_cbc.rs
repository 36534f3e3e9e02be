//! AES-256-CBC with PKCS#7 padding, the body cipher of Signal messages.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

const BLOCK_LEN: usize = 16;

/// Encrypts `plaintext` (any length; PKCS#7 pads it to whole blocks).
#[must_use]
pub fn encrypt(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// Decrypts and unpads; `None` when `ciphertext` is not whole blocks or its
/// padding is wrong (what a wrong key gives, once the MAC passed).
#[must_use]
pub fn decrypt(key: &[u8; 32], iv: &[u8; 16], ciphertext: &[u8]) -> Option<Vec<u8>> {
    if ciphertext.is_empty() || ciphertext.len() % BLOCK_LEN != 0 {
        return None;
    }
    cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_pads_to_whole_blocks() {
        let key = [3u8; 32];
        let iv = [9u8; 16];
        for len in [0usize, 1, 15, 16, 17, 100] {
            let plaintext = vec![0x42u8; len];
            let ciphertext = encrypt(&key, &iv, &plaintext);
            assert_eq!(ciphertext.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt(&key, &iv, &ciphertext), Some(plaintext));
        }
    }

    /// NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt), first block; the
    /// PKCS#7 block that follows is ours.
    #[test]
    fn nist_cbc_aes256_first_block() {
        let key: [u8; 32] =
            hex32("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv: [u8; 16] = hex16("000102030405060708090a0b0c0d0e0f");
        let plaintext = hex16("6bc1bee22e409f96e93d7e117393172a");
        let expected = hex16("f58c4c04d6e5f1ba779eabfb5f7bfbd6");
        assert_eq!(encrypt(&key, &iv, &plaintext)[..16], expected);
    }

    #[test]
    fn refuses_partial_blocks_and_bad_padding() {
        let key = [3u8; 32];
        let iv = [9u8; 16];
        assert_eq!(decrypt(&key, &iv, &[]), None);
        assert_eq!(decrypt(&key, &iv, &[0; 15]), None);
        let ciphertext = encrypt(&key, &iv, b"hello");
        // Flipping an IV bit flips that plaintext bit: the last padding
        // byte becomes 0x0a among 0x0b's.
        let mut other_iv = iv;
        other_iv[15] ^= 0x01;
        assert_eq!(decrypt(&key, &other_iv, &ciphertext), None);
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex_into(s, &mut out);
        out
    }

    fn hex16(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        hex_into(s, &mut out);
        out
    }

    fn hex_into(s: &str, out: &mut [u8]) {
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
    }
}
