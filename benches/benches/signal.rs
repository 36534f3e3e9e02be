//! The Signal layer for 1:1 chats, as the Node.js bots' bench measures it
//! (the Node.js figures quoted in the README): receive msg with 1
//! in 10 messages carrying a new ratchet key (the peer sends 10, the bot
//! answers 1), receive pkmsg (a session built for a new contact each time),
//! and send (1 in 10 sends starting a new chain). Only the bot's call is
//! timed; the peer's side runs outside the clock.
//!
//! `recv_msg` keeps the record decoded between messages; `recv_msg_stored`
//! also decodes the record from its stored bytes and encodes the new one,
//! as the client does around each message (Baileys' figure includes its
//! record (de)serialisation too). Each reports time per message.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use blacksky_core::crypto::KeyPair;
use blacksky_core::session::{PreKey, SignedPreKey};
use blacksky_core::signal::{
    self, IdentityKey, LocalPreKeys, MessageKind, OneTimePreKeyPublic, PreKeyBundle, PublicKey,
    SessionRecord, SignedPreKeyPublic,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A WhatsApp text after padding: `Message{conversation: "hello <n>"}` is
/// 11–14 bytes, and 1–16 bytes of padding make it 16 or 32 bytes of
/// ciphertext, as in the Node.js bench.
const PLAINTEXT: &[u8] = b"\x0a\x0bhello 12345\x05\x05\x05\x05\x05";
/// The peer sends this many, then the bot answers once.
const TURN_LEN: u64 = 10;

/// One side of a conversation: identity and record.
struct Side {
    identity: KeyPair,
    record: SessionRecord,
}

impl Side {
    fn encrypt(&mut self) -> (MessageKind, Vec<u8>) {
        let (encrypted, record) =
            signal::encrypt(&self.record, &self.identity, PLAINTEXT).expect("encrypt");
        self.record = record;
        (encrypted.kind, encrypted.bytes)
    }

    fn decrypt(&mut self, body: &[u8], rng: &mut ChaCha20Rng) {
        let decrypted =
            signal::decrypt_msg(&self.record, &self.identity, body, rng).expect("decrypt");
        self.record = decrypted.record;
    }
}

/// The bot's keys: identity, a signed pre-key, and one-time pre-keys.
struct Bot {
    identity: KeyPair,
    signed: SignedPreKey,
    one_time: BTreeMap<u32, PreKey>,
}

impl Bot {
    fn new(one_time_len: u32, rng: &mut ChaCha20Rng) -> Bot {
        let identity = KeyPair::generate(rng);
        let signed = SignedPreKey::generate(&identity, 1, rng);
        let one_time = (1..=one_time_len)
            .map(|id| {
                let key_pair = KeyPair::generate(rng);
                (id, PreKey { id, key_pair })
            })
            .collect();
        Bot {
            identity,
            signed,
            one_time,
        }
    }

    fn bundle(&self, one_time_id: u32) -> PreKeyBundle {
        PreKeyBundle {
            registration_id: 1,
            identity: IdentityKey::of(&self.identity),
            signed_pre_key: SignedPreKeyPublic {
                id: self.signed.id,
                key: PublicKey::of(&self.signed.key_pair),
                signature: self.signed.signature,
            },
            one_time_pre_key: Some(OneTimePreKeyPublic {
                id: one_time_id,
                key: PublicKey::of(&self.one_time[&one_time_id].key_pair),
            }),
        }
    }

    /// A new contact's first pkmsg to the bot.
    fn pkmsg_from_new_contact(&self, one_time_id: u32, rng: &mut ChaCha20Rng) -> Vec<u8> {
        let contact = KeyPair::generate(rng);
        let record = signal::session_from_bundle(None, &contact, 2, &self.bundle(one_time_id), rng)
            .expect("bundle verifies");
        signal::encrypt(&record, &contact, PLAINTEXT)
            .expect("encrypt")
            .0
            .bytes
    }

    fn decrypt_pkmsg(&self, body: &[u8], rng: &mut ChaCha20Rng) -> SessionRecord {
        let signed = [&self.signed];
        let pre_keys = LocalPreKeys {
            signed: &signed,
            one_time: &self.one_time,
        };
        signal::decrypt_pkmsg(None, &self.identity, &pre_keys, body, rng)
            .expect("pkmsg")
            .record
    }
}

/// An established session: the peer's pkmsg, the bot's answer.
fn conversation(rng: &mut ChaCha20Rng) -> (Side, Side) {
    let bot_keys = Bot::new(1, rng);
    let peer_identity = KeyPair::generate(rng);
    let record = signal::session_from_bundle(None, &peer_identity, 2, &bot_keys.bundle(1), rng)
        .expect("bundle verifies");
    let mut peer = Side {
        identity: peer_identity,
        record,
    };
    let (kind, first) = peer.encrypt();
    assert_eq!(kind, MessageKind::PreKeyMsg);
    let mut bot = Side {
        record: bot_keys.decrypt_pkmsg(&first, rng),
        identity: bot_keys.identity,
    };
    let (_, answer) = bot.encrypt();
    peer.decrypt(&answer, rng);
    (peer, bot)
}

/// Times `iters` bot receptions; every [`TURN_LEN`]th the bot answers and
/// the peer reads it (untimed), so the next message has a new ratchet key.
fn receive(iters: u64, stored: bool) -> Duration {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (mut peer, mut bot) = conversation(&mut rng);
    let mut bot_bytes = bot.record.encode();
    let mut timed = Duration::ZERO;
    for i in 0..iters {
        let (_, body) = peer.encrypt();
        let start = Instant::now();
        if stored {
            let record = SessionRecord::decode(&bot_bytes).expect("stored record");
            let decrypted =
                signal::decrypt_msg(&record, &bot.identity, &body, &mut rng).expect("decrypt");
            bot_bytes = decrypted.record.encode();
            black_box(&decrypted.plaintext);
        } else {
            let decrypted =
                signal::decrypt_msg(&bot.record, &bot.identity, &body, &mut rng).expect("decrypt");
            bot.record = decrypted.record;
            black_box(&decrypted.plaintext);
        }
        timed += start.elapsed();
        if i % TURN_LEN == TURN_LEN - 1 {
            if stored {
                bot.record = SessionRecord::decode(&bot_bytes).expect("stored record");
            }
            let (_, answer) = bot.encrypt();
            bot_bytes = bot.record.encode();
            peer.decrypt(&answer, &mut rng);
        }
    }
    timed
}

fn receive_msg(c: &mut Criterion) {
    let mut group = c.benchmark_group("signal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("recv_msg", |b| b.iter_custom(|iters| receive(iters, false)));
    group.bench_function("recv_msg_stored", |b| {
        b.iter_custom(|iters| receive(iters, true))
    });
    group.finish();
}

/// A new contact's pkmsg each time: X3DH, a DH ratchet step, one message.
fn receive_pkmsg(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let bot = Bot::new(1, &mut rng);
    let mut group = c.benchmark_group("signal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("recv_pkmsg", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let body = bot.pkmsg_from_new_contact(1, &mut rng);
                let start = Instant::now();
                black_box(bot.decrypt_pkmsg(&body, &mut rng));
                timed += start.elapsed();
            }
            timed
        })
    });
    group.finish();
}

/// The bot sends; every [`TURN_LEN`]th send the peer answers and the bot
/// reads it (untimed), so the bot's next send starts a new chain.
fn send(c: &mut Criterion) {
    let mut group = c.benchmark_group("signal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("send_msg", |b| {
        b.iter_custom(|iters| {
            let mut rng = ChaCha20Rng::seed_from_u64(3);
            let (mut peer, mut bot) = conversation(&mut rng);
            let mut timed = Duration::ZERO;
            for i in 0..iters {
                let start = Instant::now();
                let (encrypted, record) =
                    signal::encrypt(&bot.record, &bot.identity, PLAINTEXT).expect("encrypt");
                timed += start.elapsed();
                bot.record = record;
                peer.decrypt(&encrypted.bytes, &mut rng);
                if i % TURN_LEN == TURN_LEN - 1 {
                    let (_, answer) = peer.encrypt();
                    bot.decrypt(&answer, &mut rng);
                }
            }
            timed
        })
    });
    group.finish();
}

/// The asymmetric primitives under it, as the Node.js bench lists them:
/// an X25519 agreement and a key-pair generation.
fn primitives(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let ours = KeyPair::generate(&mut rng);
    let theirs = *KeyPair::generate(&mut rng).public();
    let mut group = c.benchmark_group("signal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("x25519_agreement", |b| {
        b.iter(|| black_box(ours.diffie_hellman(black_box(&theirs))))
    });
    group.bench_function("key_pair_generation", |b| {
        b.iter(|| black_box(KeyPair::generate(&mut rng)))
    });
    group.finish();
}

criterion_group!(benches, receive_msg, receive_pkmsg, send, primitives);
criterion_main!(benches);
