//! The receive path the product runs: the real `Client`, logged in over a
//! real Noise handshake, fed the server's encrypted frames of the shared
//! stanzas; each frame goes through the frame buffer, AES-256-GCM, the
//! reusable node decoder and the client's handling, out to its `Store`
//! batch (for a message), the store's answer, and the ack it then
//! encrypts. This is what `wire`'s `receive_path` measures piecewise.
//!
//! Frames are made ahead in batches by the server side of the same
//! transport (counters line up) and kept out of the timing; each message
//! gets an id of its own, as redeliveries are answered without a write.
//!
//! The message stanzas carry real end-to-end ciphertext, made (untimed)
//! by a contact's Signal stack for the bot's session, of the set's sizes:
//! a 1:1 `msg` (one in ten after a reply, so the bot takes a DH ratchet
//! step), the 64 KiB one, and a group `skmsg`; and a `pkmsg` row, each
//! from a new contact (a session built per message). What is timed is
//! what the product does: frame, AES-GCM, node, Signal, unpad, `Message`
//! decode, the store batch.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

use blacksky_benches::{Stanza, load_stanzas};
use blacksky_core::client::{Client, ClientConfig, Input, OpId, Output};
use blacksky_core::crypto::KeyPair;
use blacksky_core::message::padding::pad_with;
use blacksky_core::session::{self, Committed, Creds, Me};
use blacksky_core::signal::address::device_address;
use blacksky_core::signal::group::{self, SenderKeyRecord};
use blacksky_core::signal::{
    LocalPreKeys, PreKeyBundle, SessionRecord, decrypt_msg, decrypt_pkmsg, encrypt,
    session_from_bundle,
};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{Content, Jid, Node, Str, Value, encode};
use blacksky_core::wire::frame::{FrameDecoder, FrameEncoder, INTRO_HEADER};
use blacksky_core::wire::noise::{
    CertChainSpec, ServerHandshake, Transport, Validity, build_cert_chain,
};
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::HashMap;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);

/// A logged-in client and the server's half of its transport.
struct Session {
    client: Client,
    server: ServerSide,
    now: Instant,
}

/// What the server sends with: its transport keys and framer.
struct ServerSide {
    transport: Transport,
    framer: FrameEncoder,
}

impl ServerSide {
    fn frame(&mut self, plain: &[u8]) -> Vec<u8> {
        let ciphertext = self.transport.encrypt(plain).expect("encrypt");
        self.framer.encode(&ciphertext).expect("frame")
    }
}

/// Everything the client put out, dropped (the socket and store are not
/// what is measured); store batches are answered at once as committed.
fn drain(client: &mut Client, now: Instant) -> usize {
    let mut stored = 0;
    loop {
        let mut done = Vec::new();
        while let Some(output) = client.poll_output() {
            match output {
                Output::Store(op, writes) => {
                    stored += writes.len();
                    done.push(op);
                }
                other => drop(black_box(other)),
            }
        }
        if done.is_empty() {
            return stored;
        }
        for op in done {
            let result = Ok(Committed::default());
            let _ = client.handle_input(now, Input::StoreDone { op, result });
        }
    }
}

/// Frames out of the client's bytes (its intro first).
fn client_frames(client: &mut Client, decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while let Some(output) = client.poll_output() {
        if let Output::Transmit(bytes) = output {
            decoder.push(&bytes);
            while let Ok(Some(frame)) = decoder.next_frame() {
                frames.push(frame.to_vec());
            }
        }
    }
    frames
}

fn logged_in() -> (Session, Contacts) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let root = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let validity = Validity::starting_at(UnixMillis::from_secs(1_700_000_000), 100_000_000);
    let spec = CertChainSpec {
        intermediate_serial: 1,
        leaf_serial: 2,
        intermediate: validity,
        leaf: validity,
    };
    let chain = build_cert_chain(&root, server_static.public(), &spec, &mut rng).encode_to_vec();
    let mut creds = Creds::generate(&mut rng);
    creds.me = Some(Me {
        jid: Jid::ad("15550001111", Jid::DOMAIN_WHATSAPP, 7),
        lid: None,
        push_name: None,
    });
    let config = ClientConfig {
        root_public_key: *root.public(),
        ..ClientConfig::default()
    };
    let now = Instant::now();
    let mut session = session::Session::new(creds);
    session.login_confirmed = true;
    let contacts = Contacts::meet(&mut session, &load_stanzas(), &mut rng);
    let mut client = Client::new(config, session, [3; 32]);
    let _ = client.handle_input(now, Input::Connected { wall: WALL });
    let mut from_client = FrameDecoder::server(usize::MAX);
    let hello = client_frames(&mut client, &mut from_client);
    let (awaiting, reply) = ServerHandshake::new(&INTRO_HEADER, &server_static, chain)
        .read_client_hello(&hello[0], &mut rng)
        .expect("client hello");
    let mut framer = FrameEncoder::server(usize::MAX);
    let bytes = framer.encode(&reply).expect("frame");
    let _ = client.handle_input(
        now,
        Input::Received {
            bytes: &bytes,
            wall: WALL,
        },
    );
    let finish = client_frames(&mut client, &mut from_client);
    let accepted = awaiting
        .read_client_finish(&finish[0])
        .expect("client finish");
    let mut session = Session {
        client,
        server: ServerSide {
            transport: accepted.transport,
            framer,
        },
        now,
    };
    let success = Node::new("success").with_attr("t", "1750000000");
    let frame = session.server.frame(&encode(&success).expect("encode"));
    let _ = session.client.handle_input(
        now,
        Input::Received {
            bytes: &frame,
            wall: WALL,
        },
    );
    drain(&mut session.client, now);
    (session, contacts)
}

/// The node's bytes with message id number `n` (others unchanged).
fn with_id(node: &Node, n: u64) -> Vec<u8> {
    let mut node = node.clone();
    if let Some(slot) = node.attrs.iter_mut().find(|(key, _)| key.as_str() == "id") {
        slot.1 = Value::Str(Str::from(format!("3EB0{n:016X}")));
    }
    encode(&node).expect("encode")
}

fn client_receive(c: &mut Criterion) {
    let (
        Session {
            client,
            mut server,
            now,
        },
        mut contacts,
    ) = logged_in();
    // Shared by the untimed set-up (answers the last store batches, makes
    // the next frame) and the timed routine.
    let client = RefCell::new(client);
    let pending = RefCell::new(Vec::<OpId>::new());
    let mut next_id = 0u64;
    let mut stanzas = load_stanzas();
    stanzas.push(pkmsg_stanza(&stanzas));

    // Frame in → the store batch out: what the budget is about.
    let mut group = c.benchmark_group("client_receive");
    for stanza in &stanzas {
        group.throughput(throughput(stanza));
        group.bench_function(&stanza.name, |b| {
            b.iter_batched(
                || {
                    answer(&mut client.borrow_mut(), &mut pending.borrow_mut(), now);
                    next_id += 1;
                    let node = contacts.encrypted(stanza, &client.borrow());
                    server.frame(&with_id(&node, next_id))
                },
                |frame: Vec<u8>| {
                    let mut client = client.borrow_mut();
                    receive(&mut client, &frame, now);
                    let mut pending = pending.borrow_mut();
                    while let Some(output) = client.poll_output() {
                        match output {
                            Output::Store(op, writes) => {
                                pending.push(op);
                                drop(black_box(writes));
                            }
                            other => drop(black_box(other)),
                        }
                    }
                },
                BatchSize::SmallInput,
            )
        });
        assert!(!client.borrow().is_closed(), "{}: closed", stanza.name);
        // Every message opened: none asked for again.
        assert!(
            client.borrow().session().retries.is_empty(),
            "{}: a message did not decrypt",
            stanza.name
        );
    }
    group.finish();

    // The same, on to the store's answer and the ack it sends.
    let mut group = c.benchmark_group("client_receive_acked");
    answer(&mut client.borrow_mut(), &mut pending.borrow_mut(), now);
    for stanza in &stanzas {
        group.throughput(throughput(stanza));
        let is_message = stanza.node.tag.as_str() == "message";
        group.bench_function(&stanza.name, |b| {
            b.iter_batched(
                || {
                    next_id += 1;
                    let node = contacts.encrypted(stanza, &client.borrow());
                    server.frame(&with_id(&node, next_id))
                },
                |frame: Vec<u8>| {
                    let mut client = client.borrow_mut();
                    receive(&mut client, &frame, now);
                    let stored = drain(&mut client, now);
                    debug_assert!(!is_message || stored >= 1);
                    stored
                },
                BatchSize::SmallInput,
            )
        });
        assert!(!client.borrow().is_closed(), "{}: closed", stanza.name);
        // Every message opened: none asked for again.
        assert!(
            client.borrow().session().retries.is_empty(),
            "{}: a message did not decrypt",
            stanza.name
        );
    }
    group.finish();
}

fn throughput(stanza: &Stanza) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: 1,
        bytes: with_id(&stanza.node, 0).len() as u64,
    }
}

/// Hands the client one frame from the socket.
fn receive(client: &mut Client, frame: &[u8], now: Instant) {
    let _ = client.handle_input(
        now,
        Input::Received {
            bytes: frame,
            wall: WALL,
        },
    );
}

/// Answers the batches the routine collected as committed, untimed.
fn answer(client: &mut Client, pending: &mut Vec<OpId>, now: Instant) {
    for op in pending.drain(..) {
        let result = Ok(Committed::default());
        let _ = client.handle_input(now, Input::StoreDone { op, result });
    }
    drain(client, now);
}

/// The 1:1 text stanza as the first message of a new contact: a pkmsg.
fn pkmsg_stanza(stanzas: &[Stanza]) -> Stanza {
    let mut stanza = stanzas
        .iter()
        .find(|s| s.name.starts_with("a_"))
        .expect("the set has its 1:1 text")
        .clone();
    stanza.name = "f_pkmsg_new_contact".into();
    if let Some(enc) = first_enc(&mut stanza.node) {
        for (key, value) in &mut enc.attrs {
            if key.as_str() == "type" {
                *value = Value::Str(Str::from("pkmsg"));
            }
        }
    }
    stanza
}

fn first_enc(node: &mut Node) -> Option<&mut Node> {
    match &mut node.content {
        Some(Content::Nodes(children)) => children.iter_mut().find(|c| c.tag.as_str() == "enc"),
        _ => None,
    }
}

/// A padded `Message` whose ciphertext is about `len` bytes, as the set's.
fn body_of_len(len: usize) -> Vec<u8> {
    let text = "x".repeat(len.saturating_sub(60).max(1));
    let message = wa::Message {
        conversation: Some(text),
        ..Default::default()
    };
    pad_with(&message.encode_to_vec(), 5)
}

/// A contact with a session open both ways with the bot.
struct Pair {
    identity: KeyPair,
    record: SessionRecord,
    address: String,
    /// Messages since the bot last answered; at ten it answers, and the
    /// contact's next message moves the ratchet on.
    since_reply: u32,
}

/// A group member whose sender key the bot holds.
struct Member {
    sender_key: SenderKeyRecord,
}

/// The contacts who write to the bot, each with its own Signal stack
/// (the core's, run as the other side).
struct Contacts {
    rng: ChaCha20Rng,
    pairs: HashMap<String, Pair>,
    members: HashMap<String, Member>,
}

impl Contacts {
    /// Opens sessions between the bot (`bot`, before it connects) and the
    /// senders of the set's messages, as a first pkmsg and a reply would,
    /// and hands the bot each group sender's key.
    fn meet(bot: &mut session::Session, stanzas: &[Stanza], rng: &mut ChaCha20Rng) -> Contacts {
        let mut contacts = Contacts {
            rng: ChaCha20Rng::seed_from_u64(11),
            pairs: HashMap::new(),
            members: HashMap::new(),
        };
        for stanza in stanzas {
            let node = &stanza.node;
            let (Some(from), Some(kind)) = (node.attr_jid("from"), enc_type(node)) else {
                continue;
            };
            match kind.as_str() {
                "msg" => {
                    let pair = contacts.pair_with(bot, &from, rng);
                    contacts.pairs.insert(from.to_string(), pair);
                }
                "skmsg" => {
                    let participant = node.attr_jid("participant").expect("a group author");
                    let (record, skdm) = group::create_sender_key(rng);
                    let address = device_address(&participant).expect("a user");
                    let held =
                        group::process_distribution(&SenderKeyRecord::default(), &skdm.to_bytes())
                            .expect("processes");
                    bot.sender_keys
                        .insert((from.to_string(), address), held.encode());
                    contacts
                        .members
                        .insert(from.to_string(), Member { sender_key: record });
                }
                _ => {}
            }
        }
        contacts
    }

    /// A session from `jid` to the bot: built from the bot's bundle (no
    /// one-time key), opened by the bot, answered once.
    fn pair_with(&mut self, bot: &mut session::Session, jid: &Jid, rng: &mut ChaCha20Rng) -> Pair {
        let identity = KeyPair::generate(rng);
        let record = session_from_bundle(
            None,
            &identity,
            7,
            &PreKeyBundle::of_own(&bot.creds, None),
            rng,
        )
        .expect("bundle");
        let (first, record) = encrypt(&record, &identity, &body_of_len(100)).expect("encrypts");
        let signed = [&bot.creds.signed_pre_key];
        let keys = LocalPreKeys {
            signed: &signed,
            one_time: &bot.pre_keys,
        };
        let opened = decrypt_pkmsg(None, &bot.creds.identity_key, &keys, &first.bytes, rng)
            .expect("the bot opens the pkmsg");
        let address = device_address(jid).expect("a user");
        bot.sessions.insert(address.clone(), opened.record.encode());
        let mut pair = Pair {
            identity,
            record,
            address,
            since_reply: 0,
        };
        self.reply(bot, &mut pair);
        pair
    }

    /// The bot answers `pair` (on a copy of its record: its own sending
    /// chain is not what is measured), so the contact's next message
    /// carries a new ratchet key.
    fn reply(&mut self, bot: &session::Session, pair: &mut Pair) {
        let bytes = bot.sessions.get(&pair.address).expect("the bot's record");
        let record = SessionRecord::decode(bytes).expect("reads");
        let (reply, _) = encrypt(&record, &bot.creds.identity_key, &body_of_len(40)).expect("enc");
        // Criterion makes a batch of frames before the bot reads any: when
        // the bot has not yet taken the contact's last step, this reply is
        // its previous one again, and the contact (rightly) refuses it.
        if let Ok(opened) = decrypt_msg(&pair.record, &pair.identity, &reply.bytes, &mut self.rng) {
            pair.record = opened.record;
        }
        pair.since_reply = 0;
    }

    /// `stanza` with fresh ciphertext in its `<enc>` for the bot as
    /// `client` holds it now.
    fn encrypted(&mut self, stanza: &Stanza, client: &Client) -> Node {
        let mut node = stanza.node.clone();
        let Some(kind) = enc_type(&node) else {
            return node;
        };
        let from = node.attr_jid("from").expect("a sender").to_string();
        let len = first_enc(&mut node)
            .and_then(|enc| match &enc.content {
                Some(Content::Bytes(bytes)) => Some(bytes.len()),
                _ => None,
            })
            .unwrap_or(150);
        let bot = client.session();
        let bytes = match kind.as_str() {
            "msg" => {
                let mut pair = self.pairs.remove(&from).expect("met");
                if pair.since_reply == 9 {
                    self.reply(bot, &mut pair);
                }
                let (sent, record) =
                    encrypt(&pair.record, &pair.identity, &body_of_len(len)).expect("encrypts");
                pair.record = record;
                pair.since_reply += 1;
                self.pairs.insert(from, pair);
                sent.bytes
            }
            "pkmsg" => {
                // A new contact each time (its own number): a session built
                // per message.
                let identity = KeyPair::generate(&mut self.rng);
                let record = session_from_bundle(
                    None,
                    &identity,
                    7,
                    &PreKeyBundle::of_own(&bot.creds, None),
                    &mut self.rng,
                )
                .expect("bundle");
                let n = self.rng.next_u64() % 1_000_000_000;
                let jid = Jid::new(format!("1{n:09}"), "s.whatsapp.net");
                for (key, value) in &mut node.attrs {
                    if key.as_str() == "from" {
                        *value = Value::Jid(jid.clone());
                    }
                }
                encrypt(&record, &identity, &body_of_len(len))
                    .expect("encrypts")
                    .0
                    .bytes
            }
            "skmsg" => {
                let member = self.members.get_mut(&from).expect("met");
                let (bytes, next) =
                    group::group_encrypt(&member.sender_key, &body_of_len(len), &mut self.rng)
                        .expect("encrypts");
                member.sender_key = next;
                bytes
            }
            _ => return node,
        };
        if let Some(enc) = first_enc(&mut node) {
            enc.content = Some(Content::Bytes(bytes));
        }
        node
    }
}

fn enc_type(node: &Node) -> Option<String> {
    let Some(Content::Nodes(children)) = &node.content else {
        return None;
    };
    children
        .iter()
        .find(|c| c.tag.as_str() == "enc")
        .and_then(|enc| enc.attr("type"))
        .map(str::to_owned)
}

criterion_group!(benches, client_receive);
criterion_main!(benches);
