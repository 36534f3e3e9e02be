//! The send path's pure part: `seal()` (the product's, from
//! `core::client::send::seal`) making the `<message>` stanza of one text
//! for its devices, and the stanza encoded to the bytes that are committed
//! and sent (`wire::binary::encode`), as the client does for each outbound
//! message. The store commit and the socket are not in it.
//!
//! - `msg_one_device`: a contact with one device and an established session
//!   (it has answered, so each copy is a `msg`).
//! - `pkmsg_one_device`: a contact with no session yet: X3DH from its
//!   pre-key bundle (signature check included), then the `pkmsg`.
//! - `msg_three_devices_plus_dsm`: a contact with two devices, and our
//!   phone getting the device-sent copy, all on established sessions
//!   (this device, also listed, gets none).
//!
//! The contacts are Signal stacks of our own (blacksky's functions), made
//! untimed before the clock starts. Between timed seals, the seal's writes
//! are applied to the session (untimed), as the store's commit does, so
//! each message goes out on the next counter. Each reports messages/s.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use blacksky_core::client::send::seal::{Outgoing, Sealed, seal};
use blacksky_core::crypto::KeyPair;
use blacksky_core::message::padding::{pad, unpad};
use blacksky_core::session::{Creds, Me, PreKey, Replaces, Session, Write};
use blacksky_core::signal::address::device_address;
use blacksky_core::signal::{
    LocalPreKeys, MessageKind, PreKeyBundle, SessionRecord, decrypt_msg, decrypt_pkmsg, encrypt,
};
use blacksky_core::wire::binary::{Jid, Node, encode};
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// This device: our account's linked device 7.
const BOT: &str = "491556123456:7@s.whatsapp.net";
const OWN_USER: &str = "491556123456";
const CONTACT: &str = "4915112345678";
const ONE_TIME_ID: u32 = 31;

/// A text as a bot answers: `Message { conversation }`, 6 bytes of text.
fn text() -> Vec<u8> {
    wa::Message {
        conversation: Some("pong 1".to_owned()),
        ..Default::default()
    }
    .encode_to_vec()
}

fn device(user: &str, id: u8) -> Jid {
    Jid::ad(user.to_owned(), Jid::DOMAIN_WHATSAPP, id)
}

fn bot(rng: &mut ChaCha20Rng) -> Session {
    let mut creds = Creds::generate(rng);
    creds.me = Some(Me {
        jid: Jid::parse(BOT).expect("jid"),
        lid: None,
        push_name: None,
    });
    // An ADVSignedDeviceIdentity is about this big.
    creds.account = Some(vec![7; 170]);
    Session::new(creds)
}

/// A device at the other end: its keys and its session with the bot.
struct Contact {
    jid: Jid,
    creds: Creds,
    one_time: BTreeMap<u32, PreKey>,
    record: Option<SessionRecord>,
}

impl Contact {
    fn new(jid: Jid, rng: &mut ChaCha20Rng) -> Contact {
        let key_pair = KeyPair::generate(rng);
        Contact {
            jid,
            creds: Creds::generate(rng),
            one_time: BTreeMap::from([(
                ONE_TIME_ID,
                PreKey {
                    id: ONE_TIME_ID,
                    key_pair,
                },
            )]),
            record: None,
        }
    }

    fn address(&self) -> String {
        device_address(&self.jid).expect("a device address")
    }

    fn bundle(&self) -> PreKeyBundle {
        PreKeyBundle::of_own(&self.creds, self.one_time.get(&ONE_TIME_ID))
    }

    /// Opens this device's copy in `stanza`.
    fn open(&mut self, stanza: &Node, rng: &mut ChaCha20Rng) -> MessageKind {
        let to = stanza
            .child("participants")
            .expect("participants")
            .children_named("to")
            .find(|to| to.attr_jid("jid").as_ref() == Some(&self.jid))
            .expect("a copy for this device");
        let enc = to.child("enc").expect("enc");
        let body = enc.bytes().expect("bytes");
        let (kind, padded) = if enc.attr("type") == Some("pkmsg") {
            let signed = [&self.creds.signed_pre_key];
            let keys = LocalPreKeys {
                signed: &signed,
                one_time: &self.one_time,
            };
            let opened = decrypt_pkmsg(
                self.record.as_ref(),
                &self.creds.identity_key,
                &keys,
                body,
                rng,
            )
            .expect("pkmsg opens");
            self.record = Some(opened.record);
            (MessageKind::PreKeyMsg, opened.plaintext)
        } else {
            let record = self.record.as_ref().expect("a session");
            let opened =
                decrypt_msg(record, &self.creds.identity_key, body, rng).expect("msg opens");
            self.record = Some(opened.record);
            (MessageKind::Msg, opened.plaintext)
        };
        unpad(&padded).expect("padding");
        kind
    }

    /// An answer to the bot: a msg on the session its pkmsg built.
    fn answer(&mut self, rng: &mut ChaCha20Rng) -> Vec<u8> {
        let record = self.record.as_ref().expect("a session");
        let (encrypted, record) =
            encrypt(record, &self.creds.identity_key, &pad(&text(), rng)).expect("encrypt");
        assert_eq!(encrypted.kind, MessageKind::Msg);
        self.record = Some(record);
        encrypted.bytes
    }
}

/// What is timed: the seal and the stanza's bytes.
fn seal_and_encode(
    session: &Session,
    out: &Outgoing<'_>,
    bundles: &BTreeMap<String, PreKeyBundle>,
    rng: &mut ChaCha20Rng,
) -> (Sealed, Vec<u8>) {
    let sealed = seal(session, out, bundles, rng).expect("sealed");
    let bytes = encode(&sealed.stanza).expect("the stanza encodes");
    (sealed, bytes)
}

fn commit(session: &mut Session, sealed: &Sealed) {
    for write in &sealed.writes {
        session.apply(write);
    }
}

/// A bot whose sessions with every device of `devices` but this one are
/// established: its pkmsgs opened, each device answered, the answers read
/// as receiving reads them.
fn established(devices: &[Jid], rng: &mut ChaCha20Rng) -> Session {
    let mut session = bot(rng);
    let this = Jid::parse(BOT).expect("jid");
    let mut contacts: Vec<Contact> = devices
        .iter()
        .filter(|jid| **jid != this)
        .map(|jid| Contact::new(jid.clone(), rng))
        .collect();
    let bundles = contacts.iter().map(|c| (c.address(), c.bundle())).collect();
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let message = text();
    let out = Outgoing {
        id: "3EB0SETUP",
        to: &to,
        message: &message,
        devices,
    };
    let (sealed, _) = seal_and_encode(&session, &out, &bundles, rng);
    assert!(sealed.left_out.is_empty());
    commit(&mut session, &sealed);
    for contact in &mut contacts {
        assert_eq!(contact.open(&sealed.stanza, rng), MessageKind::PreKeyMsg);
        let answer = contact.answer(rng);
        let address = contact.address();
        let record = SessionRecord::decode(&session.sessions[&address]).expect("record");
        let opened = decrypt_msg(&record, &session.creds.identity_key, &answer, rng)
            .expect("the answer opens");
        session.apply(&Write::SignalSession {
            address,
            record: opened.record.encode(),
            replaces: Replaces::Anything,
        });
    }
    // From now on every copy is a msg, and each device opens its own.
    let (sealed, _) = seal_and_encode(&session, &out, &BTreeMap::new(), rng);
    assert!(sealed.stanza.child("device-identity").is_none());
    commit(&mut session, &sealed);
    for contact in &mut contacts {
        assert_eq!(contact.open(&sealed.stanza, rng), MessageKind::Msg);
    }
    session
}

/// Times `iters` seals of a text on `session`'s established sessions,
/// committing each seal's writes untimed.
fn seal_msgs(devices: &[Jid], iters: u64) -> Duration {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut session = established(devices, &mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let message = text();
    let no_bundles = BTreeMap::new();
    let mut timed = Duration::ZERO;
    for _ in 0..iters {
        let out = Outgoing {
            id: "3EB0C0FFEE0123456789",
            to: &to,
            message: &message,
            devices,
        };
        let start = Instant::now();
        let (sealed, bytes) = seal_and_encode(&session, &out, &no_bundles, &mut rng);
        timed += start.elapsed();
        black_box(bytes);
        commit(&mut session, &sealed);
    }
    timed
}

fn seal_bench(c: &mut Criterion) {
    let this = Jid::parse(BOT).expect("jid");
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1));

    let one = [device(CONTACT, 0), this.clone()];
    group.bench_function("msg_one_device", |b| {
        b.iter_custom(|iters| seal_msgs(&one, iters))
    });

    // No session: each seal starts one from the bundle (a new contact).
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let session = bot(&mut rng);
    let contact = Contact::new(device(CONTACT, 0), &mut rng);
    let bundles = BTreeMap::from([(contact.address(), contact.bundle())]);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let message = text();
    let out = Outgoing {
        id: "3EB0C0FFEE0123456789",
        to: &to,
        message: &message,
        devices: &one,
    };
    let (sealed, _) = seal_and_encode(&session, &out, &bundles, &mut rng);
    assert!(sealed.stanza.child("device-identity").is_some(), "a pkmsg");
    group.bench_function("pkmsg_one_device", |b| {
        b.iter(|| black_box(seal_and_encode(&session, &out, &bundles, &mut rng)))
    });

    let three_plus_dsm = [
        device(CONTACT, 0),
        device(CONTACT, 12),
        device(OWN_USER, 0),
        this,
    ];
    group.bench_function("msg_three_devices_plus_dsm", |b| {
        b.iter_custom(|iters| seal_msgs(&three_plus_dsm, iters))
    });
    group.finish();
}

criterion_group!(benches, seal_bench);
criterion_main!(benches);
