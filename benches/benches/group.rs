//! Group messages (sender keys, skmsg), per message on one core, shaped
//! like the Node.js figures quoted in the README:
//!
//! - `skmsg_decrypt` / `skmsg_encrypt`: the Signal step alone, on a
//!   record in memory;
//! - `grp_recv`: what a received group message costs end to end at this
//!   layer: the stored record decoded, the skmsg checked and decrypted,
//!   the new record encoded for the store, the padding checked and the
//!   `Message` viewed (Node's grp-recv: 9,859 µs);
//! - `grp_recv_saturated`: the same from a Baileys sender (every other
//!   iteration) whose record holds 2,000 skipped keys (Node: 50,183 µs);
//! - `grp_send`: a `Message` encoded and padded, the record decoded, the
//!   skmsg encrypted and signed, the record encoded (Node: 6,449 µs).
//!
//! Messages go in batches of `BATCH` consecutive ones from a fresh copy of
//! the record, so the chain lines up; only the batch is timed.

use std::hint::black_box;

use blacksky_core::message::content::Content;
use blacksky_core::message::padding;
use blacksky_core::signal::group::{
    SenderKeyRecord, create_sender_key, group_decrypt, group_encrypt, process_distribution,
};
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const BATCH: usize = 32;

/// `proto.Message{conversation: "hello <n>"}`, padded, as the Node bench.
fn padded_message(n: usize, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let message = wa::Message {
        conversation: Some(format!("hello {n}")),
        ..Default::default()
    };
    padding::pad(&message.encode_to_vec(), rng)
}

/// Our sender key, a member's record of it after `warm_up` messages
/// (`stride` 2: a Baileys sender, one iteration skipped per message),
/// and the next `BATCH` skmsgs.
fn stream(warm_up: usize, stride: usize) -> (SenderKeyRecord, SenderKeyRecord, Vec<Vec<u8>>) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (mut ours, distribution) = create_sender_key(&mut rng);
    let mut member = process_distribution(&SenderKeyRecord::default(), &distribution.to_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut messages = Vec::new();
    for n in 0..(warm_up + BATCH) * stride {
        let (body, next) = group_encrypt(&ours, &padded_message(n, &mut rng), &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        ours = next;
        if n % stride == stride - 1 || n == 0 {
            messages.push(body);
        }
    }
    let batch = messages.split_off(messages.len() - BATCH);
    for body in &messages {
        member = group_decrypt(&member, body)
            .unwrap_or_else(|e| panic!("{e}"))
            .1;
    }
    (ours, member, batch)
}

fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("group");
    group.throughput(Throughput::Elements(BATCH as u64));

    let (_, member, batch) = stream(10, 1);
    group.bench_function("skmsg_decrypt", |b| {
        b.iter_batched(
            || member.clone(),
            |mut record| {
                for body in &batch {
                    let (plaintext, next) =
                        group_decrypt(&record, body).unwrap_or_else(|e| panic!("{e}"));
                    black_box(plaintext);
                    record = next;
                }
            },
            BatchSize::SmallInput,
        );
    });

    for (name, warm_up, stride) in [("grp_recv", 10, 1), ("grp_recv_saturated", 2100, 2)] {
        let (_, member, batch) = stream(warm_up, stride);
        if stride == 2 {
            assert_eq!(member.skipped_keys_len(), 2000, "a saturated record");
        }
        let stored = member.encode();
        group.bench_function(name, |b| {
            b.iter_batched(
                || stored.clone(),
                |mut stored| {
                    for body in &batch {
                        let record =
                            SenderKeyRecord::decode(&stored).unwrap_or_else(|e| panic!("{e}"));
                        let (padded, next) =
                            group_decrypt(&record, body).unwrap_or_else(|e| panic!("{e}"));
                        stored = next.encode();
                        let message = padding::unpad(&padded).unwrap_or_else(|e| panic!("{e}"));
                        black_box(Content::decode(message).unwrap_or_else(|e| panic!("{e}")));
                    }
                    stored
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn send(c: &mut Criterion) {
    let mut group = c.benchmark_group("group");
    group.throughput(Throughput::Elements(BATCH as u64));
    let (ours, _, _) = stream(10, 1);

    group.bench_function("skmsg_encrypt", |b| {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let plaintext = padded_message(7, &mut rng);
        b.iter_batched(
            || ours.clone(),
            |mut record| {
                for _ in 0..BATCH {
                    let (body, next) = group_encrypt(&record, &plaintext, &mut rng)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(body);
                    record = next;
                }
            },
            BatchSize::SmallInput,
        );
    });

    let stored = ours.encode();
    group.bench_function("grp_send", |b| {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        b.iter_batched(
            || stored.clone(),
            |mut stored| {
                for n in 0..BATCH {
                    let plaintext = padded_message(n, &mut rng);
                    let record = SenderKeyRecord::decode(&stored).unwrap_or_else(|e| panic!("{e}"));
                    let (body, next) = group_encrypt(&record, &plaintext, &mut rng)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(body);
                    stored = next.encode();
                }
                stored
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, receive, send);
criterion_main!(benches);
