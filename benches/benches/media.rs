//! The media cipher (`blacksky_core::media`): a file encrypted into its
//! upload blob and a blob opened and checked, in 64 KiB pieces as the
//! shell streams them, against raw AES-256-CBC as the physical reference
//! (CBC encryption is serial; the MAC and two SHA-256s ride along).

use std::hint::black_box;

use aes::Aes256;
use blacksky_core::media::{
    ExpectedMedia, MediaDecryptor, MediaEncryptor, MediaKeys, MediaType, encrypt_media,
};
use blacksky_core::message::content::MediaKey;
use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PIECE: usize = 64 * 1024;

fn media(c: &mut Criterion) {
    let keys =
        MediaKeys::expand(&MediaKey::from_bytes(vec![7; 32]), MediaType::Video).expect("32 bytes");
    let mut group = c.benchmark_group("media");
    for (name, len) in [("1 MiB", 1usize << 20), ("16 MiB", 16 << 20)] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (blob, summary) = encrypt_media(&keys, &plaintext);
        let expected = ExpectedMedia {
            file_sha256: summary.file_sha256,
            file_enc_sha256: summary.file_enc_sha256,
            file_length: Some(summary.file_length),
        };
        group.throughput(Throughput::Bytes(len as u64));
        group.sample_size(10);

        group.bench_function(format!("encrypt {name}"), |b| {
            let mut out = Vec::with_capacity(PIECE + 32);
            b.iter(|| {
                let mut encryptor = MediaEncryptor::new(&keys);
                for piece in plaintext.chunks(PIECE) {
                    out.clear();
                    encryptor.update(piece, &mut out);
                    black_box(&out);
                }
                out.clear();
                black_box(encryptor.finish(&mut out))
            });
        });
        group.bench_function(format!("decrypt and check {name}"), |b| {
            let mut out = Vec::with_capacity(PIECE + 32);
            b.iter(|| {
                let mut decryptor = MediaDecryptor::new(&keys, expected.clone(), blob.len() as u64);
                for piece in blob.chunks(PIECE) {
                    out.clear();
                    decryptor.update(piece, &mut out).expect("its own blob");
                    black_box(&out);
                }
                out.clear();
                black_box(decryptor.finish(&mut out).expect("checks pass"))
            });
        });
        group.bench_function(format!("raw AES-256-CBC {name}"), |b| {
            b.iter(|| {
                black_box(
                    cbc::Encryptor::<Aes256>::new(keys.cipher_key().into(), keys.iv().into())
                        .encrypt_padded_vec_mut::<Pkcs7>(&plaintext),
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, media);
criterion_main!(benches);
