//! The mock contacts are real Signal peers. A device is linked with the
//! real client (through the pipe), then the test plays that device over a
//! hand-driven connection with the keys the client generated: it uploads
//! pre-keys, reads the contacts' messages, decrypts them with the core's
//! Signal functions and answers with receipts.

use std::collections::BTreeMap;
use std::time::Instant;

use blacksky_core::client::DisconnectReason;
use blacksky_core::crypto::{KEY_TYPE_DJB, KeyPair};
use blacksky_core::message::padding::unpad;
use blacksky_core::session::{Creds, PreKey, SignedPreKey, Write};
use blacksky_core::signal::group::{
    SenderKeyDistributionMessage, SenderKeyRecord, group_decrypt, process_distribution,
};
use blacksky_core::signal::{
    LocalPreKeys, PreKeySignalMessage, SessionRecord, decrypt_msg, decrypt_pkmsg,
};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{self, Node};
use blacksky_core::wire::frame::{
    FRAME_BYTES_MAX_DEFAULT, FrameDecoder, FrameEncoder, INTRO_HEADER,
};
use blacksky_core::wire::noise::{ClientHandshake, Transport};
use blacksky_proto::Message;
use blacksky_proto::wa::{self, ClientPayload};
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{
    ConnId, FakeServer, ONE_TIME_PRE_KEYS_PER_DEVICE_MAX, RETRIES_PER_MESSAGE_MAX, ReceiptKind,
    RetryOutcome, ServerConfig, ServerEvent, ServerOutput,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";
const GROUP: &str = "120363012345678901";

/// A server with one device linked by the real client (which never logs
/// in afterwards: the test plays it), and that device's creds.
fn linked(seed: u64) -> (FakeServer, Creds) {
    let server = FakeServer::new(ServerConfig::new(WALL), seed);
    let mut pipe = Pipe::new(server, Instant::now(), WALL, seed);
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let conn = pipe.connect(pipe.client_config(), creds);
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    pipe.server.scan_qr(&qr).expect("scan");
    pipe.run();
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    let creds = pipe.link(conn).stored.clone().expect("linked creds");
    (pipe.server, creds)
}

/// A decrypted end-to-end message.
#[derive(Debug)]
struct Opened {
    kind: String,
    message: wa::Message,
}

/// The linked device, played by hand over one connection.
struct Device {
    conn: ConnId,
    transport: Transport,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    creds: Creds,
    one_time: BTreeMap<u32, PreKey>,
    /// The session with the contact, as the device keeps it.
    session: Option<SessionRecord>,
    sender_keys: SenderKeyRecord,
    rng: ChaCha20Rng,
    /// Stanzas received, in order.
    received: Vec<Node>,
    events: Vec<ServerEvent>,
}

impl Device {
    fn login(server: &mut FakeServer, creds: Creds, seed: u64) -> Device {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Instant::now();
        let conn = server.connect(now);
        let mut decoder = FrameDecoder::client(FRAME_BYTES_MAX_DEFAULT);
        let mut encoder = FrameEncoder::client(None, FRAME_BYTES_MAX_DEFAULT).expect("no routing");
        let (hs, hello) = ClientHandshake::start(&INTRO_HEADER, &creds.noise_key, &mut rng);
        server.handle_bytes(conn, now, WALL, &encoder.encode(&hello).expect("fits"));
        for output in std::iter::from_fn(|| server.poll_output()) {
            if let ServerOutput::Transmit { bytes, .. } = output {
                decoder.push(&bytes);
            }
        }
        let reply = decoder
            .next_frame()
            .expect("framed")
            .expect("a server hello")
            .to_vec();
        let verified = hs
            .read_server_hello(&reply, &server.root_public_key(), WALL)
            .expect("our root");
        let me = creds.me.clone().expect("linked");
        let payload = ClientPayload {
            username: me.jid.user().parse().ok(),
            device: me.jid.device().map(u32::from),
            passive: Some(false),
            pull: Some(true),
            ..Default::default()
        }
        .encode_to_vec();
        let (finish, transport) = verified.finish(&payload).expect("finish");
        server.handle_bytes(conn, now, WALL, &encoder.encode(&finish).expect("fits"));
        let mut device = Device {
            conn,
            transport,
            encoder,
            decoder,
            creds,
            one_time: BTreeMap::new(),
            session: None,
            sender_keys: SenderKeyRecord::default(),
            rng,
            received: Vec::new(),
            events: Vec::new(),
        };
        device.pump(server);
        assert!(
            device.received.iter().any(|n| n.tag == "success"),
            "{:?}",
            device.events
        );
        device
    }

    /// Reads what the server sent since the last call.
    fn pump(&mut self, server: &mut FakeServer) -> Vec<Node> {
        let first = self.received.len();
        for output in std::iter::from_fn(|| server.poll_output()) {
            match output {
                ServerOutput::Transmit { conn, bytes } if conn == self.conn => {
                    self.decoder.push(&bytes);
                }
                ServerOutput::Event(event) => self.events.push(event),
                _ => {}
            }
        }
        while let Some(frame) = self.decoder.next_frame().expect("framing") {
            let plain = self.transport.decrypt(frame).expect("transport");
            self.received
                .push(binary::decode(&plain).expect("a stanza"));
        }
        self.received[first..].to_vec()
    }

    fn send(&mut self, server: &mut FakeServer, node: &Node) -> Vec<Node> {
        let mut buf = binary::encode(node).expect("encodes");
        self.transport.encrypt_in_place(&mut buf).expect("counter");
        let bytes = self.encoder.encode(&buf).expect("fits");
        server.handle_bytes(self.conn, Instant::now(), WALL, &bytes);
        self.pump(server)
    }

    /// Generates and uploads one-time pre-keys `ids`, as the client does.
    fn upload_pre_keys(&mut self, server: &mut FakeServer, ids: std::ops::Range<u32>) -> Node {
        let keys: Vec<PreKey> = ids
            .map(|id| PreKey {
                id,
                key_pair: KeyPair::generate(&mut self.rng),
            })
            .collect();
        let node = upload_iq("up.1", &self.creds, &keys);
        self.one_time
            .extend(keys.into_iter().map(|key| (key.id, key)));
        let answers = self.send(server, &node);
        answers
            .into_iter()
            .find(|n| n.tag == "iq" && n.attr("id") == Some("up.1"))
            .expect("an answer to the upload")
    }

    fn close(&mut self, server: &mut FakeServer) {
        server.handle_closed(self.conn);
        self.pump(server);
    }

    /// Decrypts one `<enc>` of a `<message>` as the device would, keeping
    /// the session and sender keys it leads to.
    fn open(&mut self, enc: &Node) -> Opened {
        let kind = enc.attr("type").expect("an enc type").to_owned();
        let bytes = enc.bytes().expect("enc bytes");
        let padded = match kind.as_str() {
            "pkmsg" => {
                let signed: [&SignedPreKey; 1] = [&self.creds.signed_pre_key];
                let pre_keys = LocalPreKeys {
                    signed: &signed,
                    one_time: &self.one_time,
                };
                let decrypted = decrypt_pkmsg(
                    self.session.as_ref(),
                    &self.creds.identity_key,
                    &pre_keys,
                    bytes,
                    &mut self.rng,
                )
                .expect("the pkmsg decrypts");
                if let Some(id) = decrypted.consumed_pre_key {
                    self.one_time.remove(&id);
                }
                self.session = Some(decrypted.record);
                decrypted.plaintext
            }
            "msg" => {
                let record = self.session.as_ref().expect("a session for a msg");
                let decrypted = decrypt_msg(record, &self.creds.identity_key, bytes, &mut self.rng)
                    .expect("the msg decrypts");
                self.session = Some(decrypted.record);
                decrypted.plaintext
            }
            "skmsg" => {
                let (plaintext, record) =
                    group_decrypt(&self.sender_keys, bytes).expect("the skmsg decrypts");
                self.sender_keys = record;
                plaintext
            }
            other => panic!("enc type {other}"),
        };
        let message =
            wa::Message::decode(unpad(&padded).expect("WhatsApp padding")).expect("a Message");
        if let Some(skdm) = &message.sender_key_distribution_message {
            let bytes = skdm
                .axolotl_sender_key_distribution_message
                .as_deref()
                .expect("axolotl bytes");
            self.sender_keys =
                process_distribution(&self.sender_keys, bytes).expect("a distribution message");
        }
        Opened { kind, message }
    }

    /// Every `<enc>` of a `<message>`, opened in order.
    fn open_all(&mut self, message: &Node) -> Vec<Opened> {
        message
            .children_named("enc")
            .cloned()
            .collect::<Vec<_>>()
            .iter()
            .map(|enc| self.open(enc))
            .collect()
    }

    fn ack(&mut self, server: &mut FakeServer, message: &Node) {
        let mut ack = Node::new("ack")
            .with_attr("class", "message")
            .with_attr("id", message.attr("id").expect("id").to_owned());
        if let Some(from) = message.attr_jid("from") {
            ack = ack.with_attr("to", from);
        }
        self.send(server, &ack);
    }

    /// `<receipt type=retry>` for `message`, with the device's keys (a
    /// fresh one-time pre-key `key_id`) or without.
    fn retry(
        &mut self,
        server: &mut FakeServer,
        message: &Node,
        count: u32,
        key_id: Option<u32>,
    ) -> Vec<Node> {
        let id = message.attr("id").expect("id").to_owned();
        let mut children = vec![
            Node::new("retry")
                .with_attr("count", count.to_string())
                .with_attr("id", id.clone())
                .with_attr("t", WALL.as_secs().to_string())
                .with_attr("v", "1"),
            Node::new("registration")
                .with_bytes(u32::from(self.creds.registration_id).to_be_bytes().to_vec()),
        ];
        if let Some(key_id) = key_id {
            let key = PreKey {
                id: key_id,
                key_pair: KeyPair::generate(&mut self.rng),
            };
            children.push(retry_keys(&self.creds, &key));
            self.one_time.insert(key_id, key);
        }
        let mut receipt = Node::new("receipt")
            .with_attr("id", id)
            .with_attr("type", "retry")
            .with_attr("to", message.attr_jid("from").expect("from"));
        if let Some(participant) = message.attr_jid("participant") {
            receipt = receipt.with_attr("participant", participant);
        }
        self.send(server, &receipt.with_children(children))
    }
}

fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

fn skey(creds: &Creds) -> Node {
    let spk = &creds.signed_pre_key;
    Node::new("skey").with_children(vec![
        Node::new("id").with_bytes(id3(spk.id)),
        Node::new("value").with_bytes(spk.key_pair.public().to_vec()),
        Node::new("signature").with_bytes(spk.signature.to_vec()),
    ])
}

fn upload_iq(id: &str, creds: &Creds, keys: &[PreKey]) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", "set")
        .with_attr("xmlns", "encrypt")
        .with_children(vec![
            Node::new("registration")
                .with_bytes(u32::from(creds.registration_id).to_be_bytes().to_vec()),
            Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
            Node::new("identity").with_bytes(creds.identity_key.public().to_vec()),
            Node::new("list").with_children(
                keys.iter()
                    .map(|k| {
                        Node::new("key").with_children(vec![
                            Node::new("id").with_bytes(id3(k.id)),
                            Node::new("value").with_bytes(k.key_pair.public().to_vec()),
                        ])
                    })
                    .collect(),
            ),
            skey(creds),
        ])
}

fn retry_keys(creds: &Creds, key: &PreKey) -> Node {
    Node::new("keys").with_children(vec![
        Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
        Node::new("identity").with_bytes(creds.identity_key.public().to_vec()),
        Node::new("key").with_children(vec![
            Node::new("id").with_bytes(id3(key.id)),
            Node::new("value").with_bytes(key.key_pair.public().to_vec()),
        ]),
        skey(creds),
        Node::new("device-identity").with_bytes(creds.account.clone().unwrap_or_default()),
    ])
}

fn messages(nodes: &[Node]) -> Vec<Node> {
    nodes
        .iter()
        .filter(|n| n.tag == "message")
        .cloned()
        .collect()
}

fn enc_bytes(message: &Node) -> Vec<(String, Vec<u8>)> {
    message
        .children_named("enc")
        .map(|e| {
            (
                e.attr("type").unwrap_or_default().to_owned(),
                e.bytes().unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

fn base_key(enc: &Node) -> [u8; 32] {
    let pkmsg = PreKeySignalMessage::decode(enc.bytes().expect("bytes")).expect("a pkmsg");
    *pkmsg.base_key.raw()
}

fn pre_key_id(enc: &Node) -> Option<u32> {
    PreKeySignalMessage::decode(enc.bytes().expect("bytes"))
        .expect("a pkmsg")
        .pre_key_id
}

fn text(opened: &Opened) -> Option<&str> {
    opened.message.conversation.as_deref()
}

/// Linked, logged in by hand, `keys` one-time pre-keys uploaded.
fn online_with_keys(seed: u64, keys: u32) -> (FakeServer, Device) {
    let (mut server, creds) = linked(seed);
    let mut device = Device::login(&mut server, creds, seed + 1000);
    if keys > 0 {
        let answer = device.upload_pre_keys(&mut server, 1..keys + 1);
        assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    }
    assert_eq!(server.state().devices[0].pre_keys, keys);
    (server, device)
}

// ---- 1:1 ----

#[test]
fn a_text_decrypts_to_what_was_sent_and_uses_one_pre_key() {
    let (mut server, mut device) = online_with_keys(1, 10);
    let id = server.send_text(CONTACT, "hello there").expect("sent");
    assert_eq!(server.sent_text(&id), Some("hello there"));
    let got = messages(&device.pump(&mut server));
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(message.attr("id"), Some(id.as_str()));
    assert_eq!(
        message.attr_jid("from").map(|j| j.to_string()),
        Some(format!("{CONTACT}@s.whatsapp.net"))
    );
    assert_eq!(message.attr("participant"), None);
    let enc = message.child("enc").expect("an enc");
    assert_eq!(enc.attr("v"), Some("2"));
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    // The lowest id goes out first, and only once.
    assert_eq!(pre_key_id(enc), Some(1));
    let opened = device.open_all(message);
    assert_eq!(opened.len(), 1);
    assert_eq!(text(&opened[0]), Some("hello there"));
    assert_eq!(server.state().devices[0].pre_keys, 9);
    assert!(!device.one_time.contains_key(&1), "the device used key 1");
}

#[test]
fn a_new_session_repeats_its_pkmsg_base_key_until_answered() {
    let (mut server, mut device) = online_with_keys(2, 10);
    let texts = ["one", "two", "three"];
    for t in texts {
        server.send_text(CONTACT, t).expect("sent");
    }
    let got = messages(&device.pump(&mut server));
    assert_eq!(got.len(), 3);
    let encs: Vec<&Node> = got.iter().map(|m| m.child("enc").expect("enc")).collect();
    assert!(encs.iter().all(|e| e.attr("type") == Some("pkmsg")));
    assert!(encs.iter().all(|e| base_key(e) == base_key(encs[0])));
    assert!(encs.iter().all(|e| pre_key_id(e) == Some(1)));
    let opened: Vec<String> = got
        .iter()
        .flat_map(|m| device.open_all(m))
        .filter_map(|o| o.message.conversation)
        .collect();
    assert_eq!(opened, texts);
    // One fetch for the contact, however many messages.
    assert_eq!(server.state().devices[0].pre_keys, 9);
    // A second contact fetches the next key.
    server.send_text("4915199999999", "hi").expect("sent");
    let got = messages(&device.pump(&mut server));
    assert_eq!(pre_key_id(got[0].child("enc").expect("enc")), Some(2));
    assert_eq!(server.state().devices[0].pre_keys, 8);
}

#[test]
fn with_no_one_time_key_left_the_session_still_starts() {
    let (mut server, mut device) = online_with_keys(3, 0);
    server.send_text(CONTACT, "no pre-key").expect("sent");
    let got = messages(&device.pump(&mut server));
    let enc = got[0].child("enc").expect("enc");
    assert_eq!(pre_key_id(enc), None);
    assert_eq!(text(&device.open(enc)), Some("no pre-key"));
}

#[test]
fn a_redelivery_is_byte_identical() {
    let (mut server, mut device) = online_with_keys(4, 10);
    let id = server.send_text(CONTACT, "again and again").expect("sent");
    let first = messages(&device.pump(&mut server));
    // Not acked: the next login gets it again, from the offline queue.
    let creds = device.creds.clone();
    device.close(&mut server);
    let mut again = Device::login(&mut server, creds, 44);
    let second = messages(&again.received);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attr("id"), Some(id.as_str()));
    assert_eq!(second[0].attr("offline"), Some("1"));
    assert_eq!(enc_bytes(&first[0]), enc_bytes(&second[0]));
    again.one_time = device.one_time.clone();
    assert_eq!(
        text(&again.open_all(&second[0])[0]),
        Some("again and again")
    );
    again.ack(&mut server, &second[0]);
    let state = server.state().messages;
    assert_eq!((state.delivered, state.acked, state.queued), (2, 1, 0));
    // Acked: no third delivery, and no key was fetched for the redelivery.
    again.close(&mut server);
    let third = Device::login(&mut server, device.creds.clone(), 45);
    assert!(messages(&third.received).is_empty());
    assert_eq!(server.state().devices[0].pre_keys, 9);
}

// ---- pre-keys ----

#[test]
fn a_fetch_below_the_low_water_is_notified_once_per_drop() {
    let (mut server, mut device) = online_with_keys(5, 7);
    let notifications = |nodes: &[Node]| -> Vec<String> {
        nodes
            .iter()
            .filter(|n| n.tag == "notification" && n.attr("type") == Some("encrypt"))
            .map(|n| {
                assert_eq!(
                    n.attr_jid("from").map(|j| j.to_string()),
                    Some("@s.whatsapp.net".into())
                );
                assert!(n.attr("id").is_some());
                n.child("count")
                    .and_then(|c| c.attr("value"))
                    .expect("a count")
                    .to_owned()
            })
            .collect()
    };
    let mut seen = Vec::new();
    for i in 0..5u32 {
        server
            .send_text(&format!("49151000000{i}"), "hi")
            .expect("sent");
        seen.extend(notifications(&device.pump(&mut server)));
    }
    // 7 → 2 keys: one notification, when the count went from 5 to 4.
    assert_eq!(seen, ["4"]);
    assert_eq!(server.state().devices[0].pre_keys, 2);
    assert!(device.events.contains(&ServerEvent::PreKeysLow {
        conn: device.conn,
        count: 4
    }));
    // A refill, then a new drop: told again.
    let answer = device.upload_pre_keys(&mut server, 100..105);
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(server.state().devices[0].pre_keys, 7);
    server.use_pre_keys(3);
    assert_eq!(notifications(&device.pump(&mut server)), ["3"]);
    assert_eq!(server.state().devices[0].pre_keys, 3);
}

#[test]
fn used_pre_keys_are_gone_from_bundles() {
    let (mut server, mut device) = online_with_keys(6, 10);
    server.use_pre_keys(2);
    assert_eq!(server.state().devices[0].pre_keys, 2);
    server.send_text(CONTACT, "late").expect("sent");
    let got = messages(&device.pump(&mut server));
    // Keys 1..=8 were handed out to others: the next is 9.
    assert_eq!(pre_key_id(got[0].child("enc").expect("enc")), Some(9));
    assert_eq!(text(&device.open_all(&got[0])[0]), Some("late"));
}

#[test]
fn an_upload_past_the_bound_is_refused_whole() {
    let (mut server, mut device) = online_with_keys(7, 10);
    let max = ONE_TIME_PRE_KEYS_PER_DEVICE_MAX as u32;
    let answer = device.upload_pre_keys(&mut server, 100..100 + max - 9);
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    assert_eq!(server.state().devices[0].pre_keys, 10);
    // Up to the bound is fine (ids uploaded again count once).
    let answer = device.upload_pre_keys(&mut server, 1..max + 1);
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    assert_eq!(server.state().devices[0].pre_keys, max);
}

// ---- groups ----

#[test]
fn a_group_message_brings_the_sender_key_first_then_the_skmsg() {
    let (mut server, mut device) = online_with_keys(8, 10);
    let first = server
        .send_group_text(GROUP, CONTACT, "hello group")
        .expect("sent");
    assert_eq!(server.sent_text(&first), Some("hello group"));
    let got = messages(&device.pump(&mut server));
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(
        message.attr_jid("from").map(|j| j.to_string()),
        Some(format!("{GROUP}@g.us"))
    );
    assert_eq!(
        message.attr_jid("participant").map(|j| j.to_string()),
        Some(format!("{CONTACT}@s.whatsapp.net"))
    );
    let kinds: Vec<String> = enc_bytes(message).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["pkmsg", "skmsg"]);
    let opened = device.open_all(message);
    let skdm = opened[0]
        .message
        .sender_key_distribution_message
        .as_ref()
        .expect("the sender key, 1:1");
    assert_eq!(
        skdm.group_id.as_deref(),
        Some(format!("{GROUP}@g.us").as_str())
    );
    assert_eq!(text(&opened[0]), None);
    assert_eq!(opened[1].kind, "skmsg");
    assert_eq!(text(&opened[1]), Some("hello group"));

    // The next one is the skmsg alone.
    server
        .send_group_text(GROUP, CONTACT, "second")
        .expect("sent");
    let got = messages(&device.pump(&mut server));
    let kinds: Vec<String> = enc_bytes(&got[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["skmsg"]);
    assert_eq!(text(&device.open_all(&got[0])[0]), Some("second"));

    // A 1:1 text from the same contact goes on the session the sender
    // key opened (still a pkmsg: the device never answered).
    server.send_text(CONTACT, "direct").expect("sent");
    let got = messages(&device.pump(&mut server));
    assert_eq!(
        got[0].child("enc").and_then(|e| e.attr("type")),
        Some("pkmsg")
    );
    assert_eq!(text(&device.open_all(&got[0])[0]), Some("direct"));
    assert_eq!(server.state().devices[0].pre_keys, 9);
    let state = server.state();
    assert_eq!(
        state.messages.list[0].group.as_deref(),
        Some(GROUP),
        "{:?}",
        state.messages.list
    );
    assert_eq!(state.messages.list[0].from, CONTACT);
}

/// Links one more device on `server` with the real client.
fn link_another(server: FakeServer, seed: u64) -> (FakeServer, Creds) {
    let mut pipe = Pipe::new(server, Instant::now(), WALL, seed);
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let conn = pipe.connect(pipe.client_config(), creds);
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    pipe.server.scan_qr(&qr).expect("scan");
    pipe.run();
    let creds = pipe.link(conn).stored.clone().expect("linked creds");
    (pipe.server, creds)
}

#[test]
fn a_device_linked_later_gets_the_sender_key_at_its_current_iteration() {
    let (mut server, mut first) = online_with_keys(9, 10);
    for t in ["m0", "m1"] {
        server.send_group_text(GROUP, CONTACT, t).expect("sent");
    }
    let got = messages(&first.pump(&mut server));
    let texts: Vec<String> = got
        .iter()
        .flat_map(|m| first.open_all(m))
        .filter_map(|o| o.message.conversation)
        .collect();
    assert_eq!(texts, ["m0", "m1"]);
    for m in &got {
        first.ack(&mut server, m);
    }
    first.close(&mut server);

    let (mut server, creds) = link_another(server, 90);
    let mut second = Device::login(&mut server, creds, 91);
    second.upload_pre_keys(&mut server, 1..11);
    let id = server.send_group_text(GROUP, CONTACT, "m2").expect("sent");
    let got = messages(&second.pump(&mut server));
    assert_eq!(got.len(), 1, "only the message sent after it was linked");
    let kinds: Vec<String> = enc_bytes(&got[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["pkmsg", "skmsg"]);
    let opened = second.open_all(&got[0]);
    let axolotl = opened[0]
        .message
        .sender_key_distribution_message
        .as_ref()
        .and_then(|d| d.axolotl_sender_key_distribution_message.clone())
        .expect("the sender key");
    let distribution = SenderKeyDistributionMessage::parse(&axolotl).expect("parses");
    assert_eq!(distribution.iteration(), 2);
    assert_eq!(text(&opened[1]), Some("m2"));

    // The first device gets the skmsg alone, at its next login.
    let keys = first.one_time.clone();
    let sessions = first.session.clone();
    let sender_keys = first.sender_keys.clone();
    let mut first = Device::login(&mut server, first.creds.clone(), 92);
    (first.one_time, first.session, first.sender_keys) = (keys, sessions, sender_keys);
    let got = messages(&first.received.clone());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attr("id"), Some(id.as_str()));
    let kinds: Vec<String> = enc_bytes(&got[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["skmsg"]);
    assert_eq!(text(&first.open_all(&got[0])[0]), Some("m2"));
}

// ---- receipts and retries ----

#[test]
fn delivery_and_read_receipts_are_recorded_and_acked() {
    let (mut server, mut device) = online_with_keys(10, 10);
    let id = server.send_text(CONTACT, "read me").expect("sent");
    device.pump(&mut server);
    let to = format!("{CONTACT}@s.whatsapp.net");
    for kind in [None, Some("read")] {
        let mut receipt = Node::new("receipt").with_attr("id", id.clone()).with_attr(
            "to",
            blacksky_core::wire::binary::Jid::parse(&to).expect("jid"),
        );
        if let Some(kind) = kind {
            receipt = receipt.with_attr("type", kind);
        }
        let answers = device.send(&mut server, &receipt);
        assert!(
            answers.iter().any(|n| n.tag == "ack"
                && n.attr("class") == Some("receipt")
                && n.attr("id") == Some(id.as_str())),
            "{answers:?}"
        );
    }
    let receipts: Vec<&ReceiptKind> = device
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Receipt { id: i, kind, .. } if *i == id => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(receipts, [&ReceiptKind::Delivery, &ReceiptKind::Read]);
}

fn retry_outcomes(device: &Device) -> Vec<RetryOutcome> {
    device
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Retry { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_retry_with_keys_is_answered_on_a_new_session() {
    let (mut server, mut device) = online_with_keys(11, 10);
    let id = server.send_text(CONTACT, "lost").expect("sent");
    let first = messages(&device.pump(&mut server));
    // The device could not decrypt it (say it lost the session) and asks
    // again with its keys, a fresh one-time key among them.
    let answers = device.retry(&mut server, &first[0], 1, Some(5000));
    let again = messages(&answers);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attr("id"), Some(id.as_str()));
    let enc = again[0].child("enc").expect("enc");
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    assert_eq!(pre_key_id(enc), Some(5000));
    assert_ne!(base_key(enc), base_key(first[0].child("enc").expect("enc")));
    device.session = None;
    assert_eq!(text(&device.open(enc)), Some("lost"));
    assert_eq!(
        retry_outcomes(&device),
        [RetryOutcome::Resent {
            fresh_session: true
        }]
    );
    // The server's own keys were not touched by the retry.
    assert_eq!(server.state().devices[0].pre_keys, 9);
    // Later texts go on the new session.
    server.send_text(CONTACT, "after").expect("sent");
    let got = messages(&device.pump(&mut server));
    let enc = got[0].child("enc").expect("enc");
    assert_eq!(base_key(enc), base_key(again[0].child("enc").expect("enc")));
    assert_eq!(text(&device.open(enc)), Some("after"));
    let entry = &server.state().messages.list[0];
    assert_eq!((entry.retries, entry.delivered), (1, 2));
}

#[test]
fn a_retry_without_keys_is_answered_on_the_existing_session() {
    let (mut server, mut device) = online_with_keys(12, 10);
    server.send_text(CONTACT, "garbled").expect("sent");
    let first = messages(&device.pump(&mut server));
    assert_eq!(text(&device.open_all(&first[0])[0]), Some("garbled"));
    let again = messages(&device.retry(&mut server, &first[0], 1, None));
    let enc = again[0].child("enc").expect("enc");
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    assert_eq!(base_key(enc), base_key(first[0].child("enc").expect("enc")));
    assert_ne!(enc_bytes(&again[0]), enc_bytes(&first[0]));
    assert_eq!(text(&device.open(enc)), Some("garbled"));
    assert_eq!(
        retry_outcomes(&device),
        [RetryOutcome::Resent {
            fresh_session: false
        }]
    );
}

#[test]
fn retries_are_bounded_per_message_and_device() {
    let (mut server, mut device) = online_with_keys(13, 10);
    server.send_text(CONTACT, "stubborn").expect("sent");
    let first = messages(&device.pump(&mut server));
    let mut resent = 0;
    for count in 1..=RETRIES_PER_MESSAGE_MAX + 2 {
        resent += messages(&device.retry(&mut server, &first[0], count, None)).len();
    }
    assert_eq!(resent, RETRIES_PER_MESSAGE_MAX as usize);
    let outcomes = retry_outcomes(&device);
    assert_eq!(outcomes.len(), RETRIES_PER_MESSAGE_MAX as usize + 2);
    assert_eq!(
        outcomes.last(),
        Some(&RetryOutcome::TooManyRetries {
            retries: RETRIES_PER_MESSAGE_MAX
        })
    );
}

#[test]
fn a_retry_with_forged_keys_or_for_an_unknown_message_is_refused() {
    let (mut server, mut device) = online_with_keys(14, 10);
    server.send_text(CONTACT, "x").expect("sent");
    let first = messages(&device.pump(&mut server));
    // The signed pre-key's signature does not verify.
    device.creds.signed_pre_key.signature[0] ^= 1;
    assert!(messages(&device.retry(&mut server, &first[0], 1, Some(6000))).is_empty());
    device.creds.signed_pre_key.signature[0] ^= 1;
    let unknown = Node::new("message")
        .with_attr("id", "3EB0000000000000000000")
        .with_attr("from", first[0].attr_jid("from").expect("from"));
    assert!(messages(&device.retry(&mut server, &unknown, 1, None)).is_empty());
    let outcomes = retry_outcomes(&device);
    assert!(
        matches!(&outcomes[0], RetryOutcome::BadKeys { what } if what.contains("signed pre-key")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], RetryOutcome::UnknownMessage);
    // The connection stays.
    assert!(server.is_open(device.conn));
}

#[test]
fn a_group_retry_resends_the_text_with_the_sender_key_one_to_one() {
    let (mut server, mut device) = online_with_keys(15, 10);
    let id = server
        .send_group_text(GROUP, CONTACT, "group, again")
        .expect("sent");
    let first = messages(&device.pump(&mut server));
    let again = messages(&device.retry(&mut server, &first[0], 1, Some(7000)));
    assert_eq!(again[0].attr("id"), Some(id.as_str()));
    assert_eq!(
        again[0].attr_jid("participant").map(|j| j.to_string()),
        Some(format!("{CONTACT}@s.whatsapp.net"))
    );
    let kinds: Vec<String> = enc_bytes(&again[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["pkmsg"]);
    let opened = device.open_all(&again[0]);
    assert_eq!(text(&opened[0]), Some("group, again"));
    assert!(opened[0].message.sender_key_distribution_message.is_some());
    // With that key the next skmsg reads.
    server
        .send_group_text(GROUP, CONTACT, "next")
        .expect("sent");
    let got = messages(&device.pump(&mut server));
    assert_eq!(text(&device.open_all(&got[0])[0]), Some("next"));
}

// ---- the real client ----

#[test]
fn the_real_client_stores_a_text_its_own_keys_decrypt() {
    let server = FakeServer::new(ServerConfig::new(WALL), 16);
    let mut pipe = Pipe::new(server, Instant::now(), WALL, 16);
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(16));
    let conn = pipe
        .pair_and_login(pipe.client_config(), creds)
        .expect("online");
    let id = pipe.server.send_text(CONTACT, "stored").expect("sent");
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(link.inbox.len(), 1);
    let stanza = binary::decode(&link.inbox[0].stanza).expect("the stored stanza");
    assert_eq!(stanza.attr("id"), Some(id.as_str()));
    // The keys the client generated (the first batch keeps its ids).
    let one_time: BTreeMap<u32, PreKey> = link
        .stores
        .iter()
        .flatten()
        .filter_map(|w| match w {
            Write::FreshPreKeys(keys) => Some(keys.clone()),
            _ => None,
        })
        .flatten()
        .map(|k| (k.id, k))
        .collect();
    assert_eq!(one_time.len(), 812);
    let creds = link.stored.clone().expect("creds");
    let signed = [&creds.signed_pre_key];
    let decrypted = decrypt_pkmsg(
        None,
        &creds.identity_key,
        &LocalPreKeys {
            signed: &signed,
            one_time: &one_time,
        },
        stanza.child("enc").and_then(Node::bytes).expect("enc"),
        &mut ChaCha20Rng::seed_from_u64(0),
    )
    .expect("decrypts");
    assert_eq!(decrypted.consumed_pre_key, Some(1));
    let message =
        wa::Message::decode(unpad(&decrypted.plaintext).expect("padding")).expect("Message");
    assert_eq!(message.conversation.as_deref(), pipe.server.sent_text(&id));
    assert_eq!(pipe.server.state().devices[0].pre_keys, 811);
}

// ---- determinism ----

fn ciphertexts(seed: u64) -> Vec<Vec<(String, Vec<u8>)>> {
    let (mut server, mut device) = online_with_keys(seed, 10);
    server.send_text(CONTACT, "a").expect("sent");
    server.send_group_text(GROUP, CONTACT, "b").expect("sent");
    server.send_text("4915199999999", "c").expect("sent");
    let got = messages(&device.pump(&mut server));
    let mut all: Vec<_> = got.iter().map(enc_bytes).collect();
    let again = messages(&device.retry(&mut server, &got[0], 1, Some(9000)));
    all.extend(again.iter().map(enc_bytes));
    all
}

#[test]
fn same_seed_same_ciphertexts() {
    let a = ciphertexts(17);
    assert_eq!(a.len(), 4);
    assert_eq!(a, ciphertexts(17));
    assert_ne!(a, ciphertexts(18));
}
