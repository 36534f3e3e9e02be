//! The encrypt/decode path on the stanza set
//! (`benches/fixtures/stanzas.json`), stanza by stanza: node encode, node
//! decode, frame encrypt, frame decrypt, and the whole receive path
//! (frame → AES-256-GCM → node) as Baileys' socket does it.
//! Plus the physical reference: raw AES-256-GCM decrypt of 64 KiB frames.
//!
//! Frames are processed in batches of `BATCH` with a fresh receiver per
//! batch (counters must line up), so per-batch setup stays out of the
//! timing; throughput is reported per stanza (nodes/s) and in bytes/s.

use std::hint::black_box;

use blacksky_benches::{Stanza, load_stanzas};
use blacksky_core::wire::binary::{Decoded, decode, encode, encode_into};
use blacksky_core::wire::frame::{FrameDecoder, FrameEncoder};
use blacksky_core::wire::noise::Transport;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 64;
const WRITE_KEY: [u8; 32] = [7; 32];
const READ_KEY: [u8; 32] = [9; 32];

fn sender() -> Transport {
    Transport::from_raw_keys(&WRITE_KEY, &READ_KEY)
}

fn receiver() -> Transport {
    Transport::from_raw_keys(&READ_KEY, &WRITE_KEY)
}

fn plaintext(stanza: &Stanza) -> Vec<u8> {
    encode(&stanza.node).unwrap_or_else(|err| panic!("{}: {err}", stanza.name))
}

/// `BATCH` consecutive ciphertexts (counters 0..BATCH) of the stanza.
fn ciphertexts(stanza: &Stanza) -> Vec<Vec<u8>> {
    let mut tx = sender();
    let plain = plaintext(stanza);
    (0..BATCH)
        .map(|_| tx.encrypt(&plain).unwrap_or_else(|err| panic!("{err}")))
        .collect()
}

/// The same as the server would put on the socket: 3-byte lengths + ciphertexts.
fn wire_bytes(stanza: &Stanza) -> Vec<u8> {
    let mut framer = FrameEncoder::server(usize::MAX);
    let mut out = Vec::new();
    for ct in ciphertexts(stanza) {
        framer
            .encode_into(&ct, &mut out)
            .unwrap_or_else(|err| panic!("{err}"));
    }
    out
}

fn nodes_and_bytes(nodes: usize, bytes: usize) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: nodes as u64,
        bytes: bytes as u64,
    }
}

fn node_codec(c: &mut Criterion) {
    for stanza in load_stanzas() {
        let bytes = plaintext(&stanza);
        let mut group = c.benchmark_group("node_encode");
        group.throughput(nodes_and_bytes(1, bytes.len()));
        let mut out = Vec::with_capacity(bytes.len());
        group.bench_function(&stanza.name, |b| {
            b.iter(|| {
                out.clear();
                encode_into(black_box(&stanza.node), &mut out)
                    .unwrap_or_else(|err| panic!("{err}"));
            })
        });
        group.finish();

        // The receive path's decoder: a reused flat buffer read through views.
        let mut group = c.benchmark_group("node_decode");
        group.throughput(nodes_and_bytes(1, bytes.len()));
        let mut decoded = Decoded::new();
        group.bench_function(&stanza.name, |b| {
            b.iter(|| {
                black_box(
                    decoded
                        .decode(black_box(&bytes))
                        .unwrap_or_else(|err| panic!("{err}")),
                );
            })
        });
        group.finish();

        // An owned `Node` tree: what builders and tests use.
        let mut group = c.benchmark_group("node_decode_owned");
        group.throughput(nodes_and_bytes(1, bytes.len()));
        group.bench_function(&stanza.name, |b| {
            b.iter(|| decode(black_box(&bytes)).unwrap_or_else(|err| panic!("{err}")))
        });
        group.finish();
    }
}

fn frame_crypto(c: &mut Criterion) {
    for stanza in load_stanzas() {
        let plain = plaintext(&stanza);
        let mut group = c.benchmark_group("frame_encrypt");
        group.throughput(nodes_and_bytes(1, plain.len()));
        let mut tx = sender();
        let mut framer = FrameEncoder::server(usize::MAX);
        let (mut buf, mut out) = (
            Vec::with_capacity(plain.len() + 16),
            Vec::with_capacity(plain.len() + 19),
        );
        group.bench_function(&stanza.name, |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&plain);
                tx.encrypt_in_place(&mut buf)
                    .unwrap_or_else(|err| panic!("{err}"));
                out.clear();
                framer
                    .encode_into(&buf, &mut out)
                    .unwrap_or_else(|err| panic!("{err}"));
            })
        });
        group.finish();

        let cts = ciphertexts(&stanza);
        let mut group = c.benchmark_group("frame_decrypt");
        group.throughput(nodes_and_bytes(BATCH, cts.iter().map(Vec::len).sum()));
        group.bench_function(&stanza.name, |b| {
            b.iter_batched(
                || (receiver(), cts.clone()),
                |(mut rx, mut frames)| {
                    for frame in &mut frames {
                        black_box(
                            rx.decrypt_in_place(frame)
                                .unwrap_or_else(|err| panic!("{err}")),
                        );
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn receive_path(c: &mut Criterion) {
    for stanza in load_stanzas() {
        let wire = wire_bytes(&stanza);
        let mut group = c.benchmark_group("receive_path");
        group.throughput(nodes_and_bytes(BATCH, wire.len()));
        let mut decoded = Decoded::new();
        group.bench_function(&stanza.name, |b| {
            b.iter_batched(
                || (receiver(), FrameDecoder::client(usize::MAX)),
                |(mut rx, mut frames)| {
                    frames.push(&wire);
                    while let Some(frame) =
                        frames.next_frame().unwrap_or_else(|err| panic!("{err}"))
                    {
                        let plain = rx
                            .decrypt_in_place(frame)
                            .unwrap_or_else(|err| panic!("{err}"));
                        black_box(decoded.decode(plain).unwrap_or_else(|err| panic!("{err}")));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// The physical reference: ring's AES-256-GCM alone on 64 KiB frames.
fn aes_gcm_reference(c: &mut Criterion) {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    const LEN: usize = 64 * 1024;
    let key = || {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &READ_KEY).unwrap_or_else(|_| unreachable!()),
        )
    };
    let nonce = |i: usize| {
        let mut n = [0u8; 12];
        n[8..].copy_from_slice(&(i as u32).to_be_bytes());
        Nonce::assume_unique_for_key(n)
    };
    let sealed: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            let mut buf = vec![0xA5u8; LEN];
            key()
                .seal_in_place_append_tag(nonce(i), Aad::empty(), &mut buf)
                .unwrap_or_else(|_| unreachable!());
            buf
        })
        .collect();
    let mut group = c.benchmark_group("aes_gcm_reference");
    group.throughput(Throughput::Bytes((BATCH * (LEN + 16)) as u64));
    group.bench_function("decrypt_64KiB", |b| {
        b.iter_batched(
            || sealed.clone(),
            |mut frames| {
                let key = key();
                for (i, frame) in frames.iter_mut().enumerate() {
                    black_box(
                        key.open_in_place(nonce(i), Aad::empty(), frame)
                            .unwrap_or_else(|_| unreachable!()),
                    );
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    receive_path,
    node_codec,
    frame_crypto,
    aes_gcm_reference
);
criterion_main!(benches);
