//! fake-wa as the recipient of what the bot sends. A device is linked with
//! the real client (through the pipe); the test then plays the bot's
//! sending side by hand over one connection, with the core's Signal
//! functions: usync for the device lists, the `encrypt` iq for bundles,
//! sessions from them, and `<message>` stanzas as WhatsApp clients write
//! them. It checks what the contacts' devices (and our own phone) read,
//! the server's ack and the receipts, and that each fault a real server
//! or contact would hold against the bot is recorded as a violation.

use std::collections::BTreeMap;
use std::time::Instant;

use blacksky_core::client::DisconnectReason;
use blacksky_core::crypto::{KEY_TYPE_DJB, KeyPair};
use blacksky_core::message::padding::{pad, pad_with, unpad};
use blacksky_core::session::{Creds, PreKey, SignedPreKey};
use blacksky_core::signal::{
    self, IdentityKey, LocalPreKeys, MessageKind, OneTimePreKeyPublic, PreKeyBundle, PublicKey,
    SessionRecord, SignedPreKeyPublic,
};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{self, Jid, Node};
use blacksky_core::wire::frame::{
    FRAME_BYTES_MAX_DEFAULT, FrameDecoder, FrameEncoder, INTRO_HEADER,
};
use blacksky_core::wire::noise::{ClientHandshake, Transport};
use blacksky_proto::Message;
use blacksky_proto::wa::{self, ClientPayload};
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{
    ConnId, FakeServer, Owner, ServerConfig, ServerOutput, Violation, ViolationKind,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";
const OWN: &str = blacksky_sim::server::DEFAULT_PHONE;

/// A server with one device linked by the real client, and its creds.
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

/// The bot's linked device, played by hand: its connection and the
/// sessions it keeps (by the peer device's JID).
struct Bot {
    conn: ConnId,
    transport: Transport,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    creds: Creds,
    one_time: BTreeMap<u32, PreKey>,
    sessions: BTreeMap<String, SessionRecord>,
    rng: ChaCha20Rng,
    next_iq: u32,
}

impl Bot {
    fn login(server: &mut FakeServer, creds: Creds, seed: u64) -> Bot {
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
        let mut bot = Bot {
            conn,
            transport,
            encoder,
            decoder,
            creds,
            one_time: BTreeMap::new(),
            sessions: BTreeMap::new(),
            rng,
            next_iq: 0,
        };
        let got = bot.pump(server);
        assert!(got.iter().any(|n| n.tag == "success"), "{got:?}");
        bot
    }

    fn device(&self) -> u8 {
        let jid = &self.creds.me.as_ref().expect("linked").jid;
        u8::try_from(jid.device().expect("a device")).expect("small")
    }

    /// Stanzas the server sent since the last call.
    fn pump(&mut self, server: &mut FakeServer) -> Vec<Node> {
        for output in std::iter::from_fn(|| server.poll_output()) {
            if let ServerOutput::Transmit { conn, bytes } = output
                && conn == self.conn
            {
                self.decoder.push(&bytes);
            }
        }
        let mut nodes = Vec::new();
        while let Some(frame) = self.decoder.next_frame().expect("framing") {
            let plain = self.transport.decrypt(frame).expect("transport");
            nodes.push(binary::decode(&plain).expect("a stanza"));
        }
        nodes
    }

    fn send(&mut self, server: &mut FakeServer, node: &Node) -> Vec<Node> {
        let mut buf = binary::encode(node).expect("encodes");
        self.transport.encrypt_in_place(&mut buf).expect("counter");
        let bytes = self.encoder.encode(&buf).expect("fits");
        server.handle_bytes(self.conn, Instant::now(), WALL, &bytes);
        self.pump(server)
    }

    /// Sends an iq and returns its answer.
    fn iq(&mut self, server: &mut FakeServer, xmlns: &str, child: Node) -> Node {
        self.next_iq += 1;
        let id = format!("t.{}", self.next_iq);
        let iq = Node::new("iq")
            .with_attr("id", id.clone())
            .with_attr("type", "get")
            .with_attr("xmlns", xmlns.to_owned())
            .with_attr("to", Jid::at("s.whatsapp.net"))
            .with_children(vec![child]);
        self.send(server, &iq)
            .into_iter()
            .find(|n| n.tag == "iq" && n.attr("id") == Some(id.as_str()))
            .expect("an answer")
    }

    /// `<usync context=message mode=query>` for `users`, with `<lid/>`.
    fn usync(&mut self, server: &mut FakeServer, users: &[Jid]) -> Node {
        let usync = Node::new("usync")
            .with_attr("sid", "sid.1")
            .with_attr("context", "message")
            .with_attr("mode", "query")
            .with_attr("index", "0")
            .with_attr("last", "true")
            .with_children(vec![
                Node::new("query").with_children(vec![
                    Node::new("devices").with_attr("version", "2"),
                    Node::new("lid"),
                ]),
                Node::new("list").with_children(
                    users
                        .iter()
                        .map(|u| Node::new("user").with_attr("jid", u.clone()))
                        .collect(),
                ),
            ]);
        self.iq(server, "usync", usync)
    }

    /// The bundles of `devices`, read as whatsmeow reads them; `None` for
    /// a device the server answered with an error.
    fn bundles(&mut self, server: &mut FakeServer, devices: &[Jid]) -> Vec<Option<PreKeyBundle>> {
        let key = Node::new("key").with_children(
            devices
                .iter()
                .map(|d| {
                    Node::new("user")
                        .with_attr("jid", d.clone())
                        .with_attr("reason", "identity")
                })
                .collect(),
        );
        let answer = self.iq(server, "encrypt", key);
        assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
        let list = answer.child("list").expect("a list");
        let users: Vec<&Node> = list.children_named("user").collect();
        assert_eq!(users.len(), devices.len());
        users
            .iter()
            .zip(devices)
            .map(|(user, jid)| {
                assert_eq!(user.attr_jid("jid").as_ref(), Some(jid));
                user.child("error").is_none().then(|| read_bundle(user))
            })
            .collect()
    }

    /// A session with `device` from `bundle`.
    fn start_session(&mut self, device: &Jid, bundle: &PreKeyBundle) {
        let record = signal::session_from_bundle(
            None,
            &self.creds.identity_key,
            u32::from(self.creds.registration_id),
            bundle,
            &mut self.rng,
        )
        .expect("a verified bundle");
        self.sessions.insert(device.to_string(), record);
    }

    /// `plaintext` padded and encrypted for `device`, advancing its session.
    fn encrypt(&mut self, device: &Jid, plaintext: &[u8]) -> (MessageKind, Vec<u8>) {
        let padded = pad(plaintext, &mut self.rng);
        self.encrypt_padded(device, &padded)
    }

    fn encrypt_padded(&mut self, device: &Jid, padded: &[u8]) -> (MessageKind, Vec<u8>) {
        let record = self.sessions.get(&device.to_string()).expect("a session");
        let (encrypted, record) =
            signal::encrypt(record, &self.creds.identity_key, padded).expect("encrypts");
        self.sessions.insert(device.to_string(), record);
        (encrypted.kind, encrypted.bytes)
    }

    /// Fetches bundles and starts sessions with every device of `users`
    /// (as listed by usync), skipping our own sending device.
    fn sessions_with(&mut self, server: &mut FakeServer, users: &[Jid]) -> Vec<Jid> {
        let answer = self.usync(server, users);
        let mut devices = Vec::new();
        for (user, listed) in users.iter().zip(usync_devices(&answer)) {
            for (device, _) in listed {
                if user.user() == OWN && device == self.device() {
                    continue;
                }
                devices.push(device_jid(user, device));
            }
        }
        let bundles = self.bundles(server, &devices);
        for (device, bundle) in devices.iter().zip(bundles) {
            if device.user() == OWN && device.device().unwrap_or(0) != 0 {
                continue;
            }
            self.start_session(device, &bundle.expect("a bundle"));
        }
        devices
    }

    /// A fan-out `<message>` of `text` to `to`: `Message{conversation}` for
    /// the chat's devices, the DSM for our own phone; `<device-identity>`
    /// when any enc is a pkmsg.
    fn text_message(&mut self, id: &str, to: &Jid, devices: &[Jid], text: &str) -> Node {
        let content = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        let dsm = wa::Message {
            device_sent_message: Some(Box::new(wa::message::DeviceSentMessage {
                destination_jid: Some(to.to_string()),
                message: Some(Box::new(content.clone())),
                phash: None,
            })),
            ..Default::default()
        };
        let mut any_pkmsg = false;
        let mut participants = Vec::new();
        for device in devices {
            if device.user() == OWN && device.device().unwrap_or(0) != 0 {
                continue;
            }
            let plaintext = if device.user() == OWN {
                dsm.encode_to_vec()
            } else {
                content.encode_to_vec()
            };
            let (kind, bytes) = self.encrypt(device, &plaintext);
            any_pkmsg |= kind == MessageKind::PreKeyMsg;
            participants.push(to_node(device, kind, bytes));
        }
        message_node(id, to, participants, any_pkmsg.then(|| self.account()))
    }

    fn account(&self) -> Vec<u8> {
        self.creds.account.clone().expect("an account identity")
    }

    /// Generates and uploads one-time pre-keys `ids` (for contacts that
    /// start a session with the bot).
    fn upload_pre_keys(&mut self, server: &mut FakeServer, ids: std::ops::Range<u32>) {
        let keys: Vec<PreKey> = ids
            .map(|id| PreKey {
                id,
                key_pair: KeyPair::generate(&mut self.rng),
            })
            .collect();
        let node = upload_iq(&self.creds, &keys);
        self.one_time
            .extend(keys.into_iter().map(|key| (key.id, key)));
        let answers = self.send(server, &node);
        assert!(
            answers
                .iter()
                .any(|n| n.attr("id") == Some("up.1") && n.attr("type") == Some("result")),
            "{answers:?}"
        );
    }

    /// Opens a contact's `<enc>` on the session with `device`.
    fn open(&mut self, device: &Jid, enc: &Node) -> wa::Message {
        let bytes = enc.bytes().expect("enc bytes");
        let key = device.to_string();
        let padded = match enc.attr("type") {
            Some("pkmsg") => {
                let signed: [&SignedPreKey; 1] = [&self.creds.signed_pre_key];
                let pre_keys = LocalPreKeys {
                    signed: &signed,
                    one_time: &self.one_time,
                };
                let opened = signal::decrypt_pkmsg(
                    self.sessions.get(&key),
                    &self.creds.identity_key,
                    &pre_keys,
                    bytes,
                    &mut self.rng,
                )
                .expect("the pkmsg opens");
                self.sessions.insert(key, opened.record);
                opened.plaintext
            }
            Some("msg") => {
                let record = self.sessions.get(&key).expect("a session");
                let opened =
                    signal::decrypt_msg(record, &self.creds.identity_key, bytes, &mut self.rng)
                        .expect("the msg opens");
                self.sessions.insert(key, opened.record);
                opened.plaintext
            }
            other => panic!("enc type {other:?}"),
        };
        wa::Message::decode(unpad(&padded).expect("padding")).expect("a Message")
    }
}

fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))
}

fn child_bytes<'a>(node: &'a Node, tag: &str) -> &'a [u8] {
    node.child(tag)
        .and_then(Node::bytes)
        .unwrap_or_else(|| panic!("<{tag}> bytes in {node:?}"))
}

/// A `<user>` of a bundle answer, with WhatsApp's byte formats checked.
fn read_bundle(user: &Node) -> PreKeyBundle {
    let registration = child_bytes(user, "registration");
    assert_eq!(registration.len(), 4, "registration is 4 bytes");
    assert_eq!(child_bytes(user, "type"), [KEY_TYPE_DJB]);
    let identity = child_bytes(user, "identity");
    assert_eq!(identity.len(), 32, "a raw identity key");
    let skey = user.child("skey").expect("skey");
    assert_eq!(child_bytes(skey, "id").len(), 3, "3-byte ids");
    assert_eq!(child_bytes(skey, "value").len(), 32);
    assert_eq!(child_bytes(skey, "signature").len(), 64);
    let one_time = user.child("key").map(|key| {
        assert_eq!(child_bytes(key, "id").len(), 3, "3-byte ids");
        OneTimePreKeyPublic {
            id: be(child_bytes(key, "id")),
            key: PublicKey::from_raw(child_bytes(key, "value"), "key").expect("32 bytes"),
        }
    });
    let bundle = PreKeyBundle {
        registration_id: be(registration),
        identity: IdentityKey::from_raw(identity, "identity").expect("32 bytes"),
        signed_pre_key: SignedPreKeyPublic::from_raw(
            be(child_bytes(skey, "id")),
            child_bytes(skey, "value"),
            child_bytes(skey, "signature"),
        )
        .expect("a signed pre-key"),
        one_time_pre_key: one_time,
    };
    bundle
        .verify()
        .expect("the identity signed the signed pre-key");
    bundle
}

/// Each `<user>`'s device ids and key indexes from a usync answer.
fn usync_devices(answer: &Node) -> Vec<Vec<(u8, Option<String>)>> {
    let list = answer
        .child("usync")
        .and_then(|u| u.child("list"))
        .expect("usync list");
    list.children_named("user")
        .map(|user| {
            user.child("devices")
                .and_then(|d| d.child("device-list"))
                .map(|l| {
                    l.children_named("device")
                        .map(|d| {
                            (
                                d.attr("id").and_then(|i| i.parse().ok()).expect("an id"),
                                d.attr("key-index").map(str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

fn pn(phone: &str) -> Jid {
    Jid::new(phone.to_owned(), "s.whatsapp.net")
}

/// Device `device` of `user`; device 0 as the plain user JID (the wire
/// writes it so).
fn device_jid(user: &Jid, device: u8) -> Jid {
    if device == 0 {
        return Jid::new(user.user().to_owned(), user.server().to_owned());
    }
    let domain = if user.server() == "lid" {
        Jid::DOMAIN_LID
    } else {
        Jid::DOMAIN_WHATSAPP
    };
    Jid::ad(user.user().to_owned(), domain, device)
}

fn to_node(device: &Jid, kind: MessageKind, bytes: Vec<u8>) -> Node {
    let kind = match kind {
        MessageKind::PreKeyMsg => "pkmsg",
        MessageKind::Msg => "msg",
    };
    Node::new("to")
        .with_attr("jid", device.clone())
        .with_children(vec![
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", kind)
                .with_bytes(bytes),
        ])
}

fn message_node(id: &str, to: &Jid, participants: Vec<Node>, identity: Option<Vec<u8>>) -> Node {
    let mut children = vec![Node::new("participants").with_children(participants)];
    if let Some(identity) = identity {
        children.push(Node::new("device-identity").with_bytes(identity));
    }
    Node::new("message")
        .with_attr("id", id.to_owned())
        .with_attr("to", to.clone())
        .with_attr("type", "text")
        .with_children(children)
}

fn skey(creds: &Creds) -> Node {
    let spk = &creds.signed_pre_key;
    Node::new("skey").with_children(vec![
        Node::new("id").with_bytes(id3(spk.id)),
        Node::new("value").with_bytes(spk.key_pair.public().to_vec()),
        Node::new("signature").with_bytes(spk.signature.to_vec()),
    ])
}

fn upload_iq(creds: &Creds, keys: &[PreKey]) -> Node {
    Node::new("iq")
        .with_attr("id", "up.1")
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

fn jid_attr(node: &Node, key: &str) -> Option<String> {
    node.attr_jid(key).map(|j| j.to_string())
}

/// Linked, logged in, the contact with devices 0 and 3.
fn online(seed: u64) -> (FakeServer, Bot) {
    let (mut server, creds) = linked(seed);
    let bot = Bot::login(&mut server, creds, seed + 1000);
    server
        .set_contact_devices(CONTACT, &[3])
        .expect("two devices");
    (server, bot)
}

fn kinds(violations: &[Violation]) -> Vec<&ViolationKind> {
    violations.iter().map(|v| &v.kind).collect()
}

// ---- usync and bundles ----

#[test]
fn usync_lists_every_device_of_a_contact_and_of_our_account_with_lids() {
    let (mut server, mut bot) = online(1);
    let answer = bot.usync(&mut server, &[pn(CONTACT), pn(OWN)]);
    assert_eq!(answer.attr("type"), Some("result"));
    let usync = answer.child("usync").expect("usync");
    assert_eq!(
        usync.attr("sid"),
        Some("sid.1"),
        "the query's sid comes back"
    );
    assert_eq!(usync.attr("context"), Some("message"));
    let result = usync.child("result").expect("a result");
    assert!(result.child("devices").is_some() && result.child("lid").is_some());
    let users: Vec<&Node> = usync
        .child("list")
        .expect("list")
        .children_named("user")
        .collect();
    assert_eq!(
        jid_attr(users[0], "jid"),
        Some(format!("{CONTACT}@s.whatsapp.net"))
    );
    let devices = usync_devices(&answer);
    assert_eq!(devices[0], vec![(0, None), (3, Some("3".to_owned()))]);
    // Our account: the phone, and the bot's device with its key index.
    assert_eq!(devices[1].len(), 2);
    assert_eq!(devices[1][0], (0, None));
    assert_eq!(devices[1][1].0, bot.device());
    assert!(devices[1][1].1.is_some(), "a companion has a key index");
    let lid = users[0]
        .child("lid")
        .and_then(|l| l.attr_jid("val"))
        .expect("the contact's LID");
    assert_eq!(lid.server(), "lid");
    assert_eq!(
        lid.user(),
        server.contact_lid(CONTACT).expect("the same LID")
    );
    let own_lid = users[1].child("lid").and_then(|l| l.attr_jid("val"));
    assert_eq!(
        own_lid.map(|j| j.user().to_owned()),
        Some(server.config().lid_user.clone())
    );

    // Asked by its LID, the contact has the same devices; an unknown LID
    // gets an error.
    let by_lid = bot.usync(&mut server, &[lid.clone(), Jid::new("999", "lid")]);
    let devices = usync_devices(&by_lid);
    assert_eq!(devices[0], vec![(0, None), (3, Some("3".to_owned()))]);
    let unknown = by_lid
        .child("usync")
        .and_then(|u| u.child("list"))
        .and_then(|l| l.children_named("user").nth(1))
        .and_then(|u| u.child("devices"))
        .and_then(|d| d.child("error"))
        .expect("an error for an unknown LID");
    assert_eq!(unknown.attr("code"), Some("404"));
}

#[test]
fn bundles_are_whatsapps_bytes_each_device_its_own_identity_and_one_time_keys_go_out_once() {
    let (mut server, mut bot) = online(2);
    let devices = [
        pn(CONTACT),
        device_jid(&pn(CONTACT), 3),
        pn(OWN),
        device_jid(&pn(CONTACT), 7),
    ];
    let first = bot.bundles(&mut server, &devices);
    let (phone, companion, own_phone) = (
        first[0].clone().expect("device 0"),
        first[1].clone().expect("device 3"),
        first[2].clone().expect("our phone"),
    );
    assert!(first[3].is_none(), "device 7 does not exist: an error");
    assert_ne!(
        phone.identity, companion.identity,
        "each device its own identity"
    );
    assert_ne!(phone.registration_id, companion.registration_id);
    assert_eq!(
        own_phone.identity.raw(),
        &server.account_public_key(),
        "the phone's identity is the account key"
    );
    let second = bot.bundles(&mut server, &devices[..1]);
    let again = second[0].clone().expect("device 0");
    assert_eq!(again.identity, phone.identity);
    assert_eq!(again.signed_pre_key, phone.signed_pre_key);
    let ids = |b: &PreKeyBundle| b.one_time_pre_key.as_ref().map(|k| k.id);
    assert!(ids(&phone).is_some() && ids(&again).is_some());
    assert_ne!(ids(&phone), ids(&again), "a one-time pre-key goes out once");
}

// ---- the bot's messages ----

#[test]
fn a_text_opens_on_every_device_of_the_contact_and_as_a_dsm_on_our_phone() {
    let (mut server, mut bot) = online(3);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    assert_eq!(devices.len(), 3, "{devices:?}");
    let message = bot.text_message("3EB0AAAA0001", &to, &devices, "hello contact");
    let answers = bot.send(&mut server, &message);

    let ack = &answers[0];
    assert_eq!(ack.tag, "ack", "{answers:?}");
    assert_eq!(ack.attr("class"), Some("message"));
    assert_eq!(ack.attr("id"), Some("3EB0AAAA0001"));
    assert_eq!(jid_attr(ack, "from"), Some(to.to_string()));
    assert_eq!(ack.attr("t"), Some(WALL.as_secs().to_string().as_str()));
    assert_eq!(ack.attr("error"), None);

    let receipts: Vec<&Node> = answers.iter().filter(|n| n.tag == "receipt").collect();
    let from: Vec<Option<String>> = receipts.iter().map(|r| jid_attr(r, "from")).collect();
    assert_eq!(
        from,
        vec![
            Some(format!("{CONTACT}@s.whatsapp.net")),
            Some(format!("{CONTACT}:3@s.whatsapp.net")),
            Some(format!("{OWN}@s.whatsapp.net")),
        ]
    );
    assert_eq!(receipts[0].attr("type"), None, "a delivery receipt");
    assert_eq!(receipts[2].attr("type"), Some("sender"));
    assert_eq!(jid_attr(receipts[2], "recipient"), Some(to.to_string()));

    let got = server.received_texts(CONTACT);
    let seen: Vec<(&str, &str, u8)> = got
        .iter()
        .map(|r| (r.id.as_str(), r.text.as_str(), r.device))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("3EB0AAAA0001", "hello contact", 0),
            ("3EB0AAAA0001", "hello contact", 3)
        ]
    );
    let dsm = server.received_texts(OWN);
    assert_eq!(dsm.len(), 1);
    assert_eq!(dsm[0].text, "hello contact");
    assert_eq!(dsm[0].dsm_destination, Some(to.to_string()));
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    // The next message goes on the same sessions (pkmsg until the
    // contact answers, as libsignal sends) and opens too.
    let message = bot.text_message("3EB0AAAA0002", &to, &devices, "second");
    bot.send(&mut server, &message);
    assert_eq!(server.received_texts(CONTACT).len(), 4);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn a_message_key_used_twice_with_other_bytes_is_caught_and_a_resend_is_not() {
    let (mut server, mut bot) = online(4);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    let before = bot.sessions.clone();
    let message = bot.text_message("3EB0BBBB0001", &to, &devices, "first");
    bot.send(&mut server, &message);
    // The same stanza again (a resend after a reconnect): only receipts.
    let again = bot.send(&mut server, &message);
    assert_eq!(again.iter().filter(|n| n.tag == "receipt").count(), 3);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    assert_eq!(
        server.received_texts(CONTACT).len(),
        2,
        "read once per device"
    );

    // A crash that lost the ratchet's advance: the same keys, new text.
    bot.sessions = before;
    let reused = bot.text_message("3EB0BBBB0002", &to, &devices, "other");
    bot.send(&mut server, &reused);
    let violations = server.violations();
    assert_eq!(violations.len(), 3, "{violations:?}");
    assert!(
        violations
            .iter()
            .all(|v| matches!(v.kind, ViolationKind::KeyReused { counter: 0 })),
        "{violations:?}"
    );
    assert_eq!(violations[0].id, "3EB0BBBB0002");
    assert!(
        server
            .received_texts(CONTACT)
            .iter()
            .all(|r| r.text == "first")
    );
}

#[test]
fn a_pkmsg_without_a_valid_device_identity_is_caught_and_not_read() {
    let (mut server, mut bot) = online(5);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    let mut message = bot.text_message("3EB0CCCC0001", &to, &devices, "no identity");
    let identity = message
        .children()
        .iter()
        .position(|n| n.tag == "device-identity")
        .expect("a device-identity");
    let valid = message.children()[identity].clone();
    let mut children = message.children().to_vec();
    children.remove(identity);
    message = message.with_children(children.clone());
    let answers = bot.send(&mut server, &message);
    assert!(answers.iter().any(|n| n.tag == "ack"));
    assert!(
        !answers.iter().any(|n| n.tag == "receipt"),
        "nobody read it"
    );
    assert_eq!(
        kinds(&server.violations()),
        vec![&ViolationKind::MissingDeviceIdentity]
    );
    assert!(server.received_texts(CONTACT).is_empty());

    // One bit off in the signed identity: refused as well.
    let mut bytes = valid.bytes().expect("bytes").to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    children.push(Node::new("device-identity").with_bytes(bytes));
    let forged = message.clone().with_children(children);
    bot.send(&mut server, &forged);
    let violations = server.violations();
    assert!(
        matches!(violations[1].kind, ViolationKind::BadDeviceIdentity { .. }),
        "{violations:?}"
    );
    assert!(server.received_texts(CONTACT).is_empty());
}

#[test]
fn devices_left_out_or_made_up_and_bad_padding_are_caught() {
    let (mut server, mut bot) = online(6);
    let to = pn(CONTACT);
    bot.sessions_with(&mut server, std::slice::from_ref(&to));
    // Only device 0, and a device 9 the contact does not have.
    let phone = device_jid(&to, 0);
    let content = wa::Message {
        conversation: Some("partial".into()),
        ..Default::default()
    }
    .encode_to_vec();
    let (kind, bytes) = bot.encrypt(&phone, &content);
    let made_up = to_node(&device_jid(&to, 9), MessageKind::Msg, vec![0x33; 40]);
    let message = message_node(
        "3EB0DDDD0001",
        &to,
        vec![to_node(&phone, kind, bytes), made_up],
        Some(bot.account()),
    );
    bot.send(&mut server, &message);
    let violations = server.violations();
    let left_out: Vec<(Option<Owner>, Option<u8>)> = violations
        .iter()
        .filter(|v| matches!(v.kind, ViolationKind::DeviceLeftOut { .. }))
        .map(|v| (v.owner, v.device))
        .collect();
    assert_eq!(
        left_out,
        vec![(Some(Owner::Contact), Some(3)), (Some(Owner::Own), Some(0))],
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.kind == ViolationKind::UnknownDevice { device: 9 }),
        "{violations:?}"
    );
    assert_eq!(server.received_texts(CONTACT).len(), 1, "device 0 read it");

    // Padding of 0 bytes is not WhatsApp's (1 to 16 of value n).
    let mut padded = pad_with(&content, 1);
    *padded.last_mut().expect("a byte") = 0;
    let (kind, bytes) = bot.encrypt_padded(&phone, &padded);
    let message = message_node(
        "3EB0DDDD0002",
        &to,
        vec![to_node(&phone, kind, bytes)],
        Some(bot.account()),
    );
    bot.send(&mut server, &message);
    assert!(
        server
            .violations()
            .iter()
            .any(|v| v.id == "3EB0DDDD0002" && matches!(v.kind, ViolationKind::BadPadding { .. })),
        "{:?}",
        server.violations()
    );
}

// ---- retry receipts ----

#[test]
fn a_contact_asks_again_with_whatsapps_retry_receipt_and_reads_the_answer() {
    let (mut server, mut bot) = online(7);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    let message = bot.text_message("3EB0EEEE0001", &to, &devices, "again please");
    bot.send(&mut server, &message);

    // The first retry: no keys.
    assert_eq!(server.request_retry(CONTACT, "3EB0EEEE0001"), Ok(2));
    let receipts = bot.pump(&mut server);
    assert_eq!(receipts.len(), 2, "one per device that read it");
    let first = &receipts[0];
    assert_eq!(first.tag, "receipt");
    assert_eq!(first.attr("type"), Some("retry"));
    assert_eq!(first.attr("id"), Some("3EB0EEEE0001"));
    assert_eq!(
        jid_attr(first, "from"),
        Some(format!("{CONTACT}@s.whatsapp.net"))
    );
    assert_eq!(
        jid_attr(&receipts[1], "from"),
        Some(format!("{CONTACT}:3@s.whatsapp.net"))
    );
    let retry = first.child("retry").expect("<retry>");
    assert_eq!(retry.attr("count"), Some("1"));
    assert_eq!(retry.attr("id"), Some("3EB0EEEE0001"));
    assert_eq!(retry.attr("v"), Some("1"));
    assert_eq!(retry.attr("t"), Some(WALL.as_secs().to_string().as_str()));
    assert_eq!(child_bytes(first, "registration").len(), 4);
    assert!(
        first.child("keys").is_none(),
        "keys from the second retry on"
    );

    // The bot answers on its old session: the device dropped it, so it
    // asks again by itself, now with its keys.
    let phone = device_jid(&to, 0);
    let content = wa::Message {
        conversation: Some("again please".into()),
        ..Default::default()
    }
    .encode_to_vec();
    let (kind, bytes) = bot.encrypt(&phone, &content);
    let direct = Node::new("message")
        .with_attr("id", "3EB0EEEE0001")
        .with_attr("to", phone.clone())
        .with_attr("type", "text")
        .with_attr("device_fanout", "false")
        .with_children(vec![
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr(
                    "type",
                    if kind == MessageKind::PreKeyMsg {
                        "pkmsg"
                    } else {
                        "msg"
                    },
                )
                .with_attr("count", "1")
                .with_bytes(bytes),
            Node::new("device-identity").with_bytes(bot.account()),
        ]);
    let answers = bot.send(&mut server, &direct);
    let second = answers
        .iter()
        .find(|n| n.tag == "receipt" && n.attr("type") == Some("retry"))
        .expect("a second retry receipt");
    assert_eq!(
        second.child("retry").and_then(|r| r.attr("count")),
        Some("2")
    );
    let keys = second.child("keys").expect("keys on the second retry");
    assert_eq!(child_bytes(keys, "type"), [KEY_TYPE_DJB]);
    assert_eq!(child_bytes(keys, "identity").len(), 32);
    let key = keys.child("key").expect("a one-time pre-key");
    assert_eq!(child_bytes(key, "id").len(), 3);
    let skey = keys.child("skey").expect("the signed pre-key");
    assert_eq!(child_bytes(skey, "signature").len(), 64);
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    // A new session from the receipt's keys: the answer opens.
    let bundle = PreKeyBundle {
        registration_id: be(child_bytes(second, "registration")),
        identity: IdentityKey::from_raw(child_bytes(keys, "identity"), "identity").expect("key"),
        signed_pre_key: SignedPreKeyPublic::from_raw(
            be(child_bytes(skey, "id")),
            child_bytes(skey, "value"),
            child_bytes(skey, "signature"),
        )
        .expect("skey"),
        one_time_pre_key: Some(OneTimePreKeyPublic {
            id: be(child_bytes(key, "id")),
            key: PublicKey::from_raw(child_bytes(key, "value"), "key").expect("key"),
        }),
    };
    bot.start_session(&phone, &bundle);
    let (kind, bytes) = bot.encrypt(&phone, &content);
    assert_eq!(kind, MessageKind::PreKeyMsg);
    let answer = direct.clone().with_children(vec![
        Node::new("enc")
            .with_attr("v", "2")
            .with_attr("type", "pkmsg")
            .with_attr("count", "2")
            .with_bytes(bytes),
        Node::new("device-identity").with_bytes(bot.account()),
    ]);
    let answers = bot.send(&mut server, &answer);
    assert!(
        answers
            .iter()
            .any(|n| n.tag == "receipt" && n.attr("type").is_none()),
        "{answers:?}"
    );
    let read = server.received_texts(CONTACT);
    assert_eq!((read[0].device, read[0].copies), (0, 2), "{read:?}");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    assert!(server.request_retry(CONTACT, "3EB0NOTSENT0").is_err());
}

// ---- pkmsg → msg ----

#[test]
fn a_contact_sends_msg_once_the_bot_answered_its_session() {
    let (mut server, mut bot) = online(8);
    bot.upload_pre_keys(&mut server, 1..6);
    let phone = device_jid(&pn(CONTACT), 0);
    let texts = |bot: &mut Bot, server: &mut FakeServer, text: &str| {
        server.send_text(CONTACT, text).expect("sent");
        let message = bot
            .pump(server)
            .into_iter()
            .find(|n| n.tag == "message")
            .expect("the contact's message");
        let enc = message.child("enc").expect("an enc").clone();
        let opened = bot.open(&phone, &enc);
        assert_eq!(opened.conversation.as_deref(), Some(text));
        enc.attr("type").map(str::to_owned)
    };
    assert_eq!(
        texts(&mut bot, &mut server, "one").as_deref(),
        Some("pkmsg")
    );
    assert_eq!(
        texts(&mut bot, &mut server, "two").as_deref(),
        Some("pkmsg"),
        "no answer yet"
    );

    // The bot answers on the session the contact started: a msg.
    let content = wa::Message {
        conversation: Some("pong".into()),
        ..Default::default()
    }
    .encode_to_vec();
    let (kind, bytes) = bot.encrypt(&phone, &content);
    assert_eq!(kind, MessageKind::Msg);
    let direct = Node::new("message")
        .with_attr("id", "3EB0FFFF0001")
        .with_attr("to", phone.clone())
        .with_attr("type", "text")
        .with_children(vec![
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", "msg")
                .with_bytes(bytes),
        ]);
    bot.send(&mut server, &direct);
    assert_eq!(server.received_texts(CONTACT)[0].text, "pong");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    assert_eq!(
        texts(&mut bot, &mut server, "three").as_deref(),
        Some("msg")
    );
}

#[test]
fn a_contact_whose_session_the_bot_started_sends_msg_at_once() {
    let (mut server, mut bot) = online(9);
    bot.upload_pre_keys(&mut server, 1..6);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    let message = bot.text_message("3EB0ABCD0001", &to, &devices, "hi first");
    bot.send(&mut server, &message);
    server.send_text(CONTACT, "hi back").expect("sent");
    let message = bot
        .pump(&mut server)
        .into_iter()
        .find(|n| n.tag == "message")
        .expect("the contact's message");
    let enc = message.child("enc").expect("an enc").clone();
    assert_eq!(
        enc.attr("type"),
        Some("msg"),
        "the bot's pkmsg started the session"
    );
    let opened = bot.open(&device_jid(&to, 0), &enc);
    assert_eq!(opened.conversation.as_deref(), Some("hi back"));
}

// ---- media_conn ----

#[test]
fn media_conn_answers_the_hosts_an_auth_the_media_host_takes_and_a_ttl() {
    let (mut server, mut bot) = online(10);
    let iq = Node::new("iq")
        .with_attr("id", "m.1")
        .with_attr("type", "set")
        .with_attr("xmlns", "w:m")
        .with_attr("to", Jid::at("s.whatsapp.net"))
        .with_children(vec![Node::new("media_conn")]);
    let answer = bot
        .send(&mut server, &iq)
        .into_iter()
        .find(|n| n.tag == "iq" && n.attr("id") == Some("m.1"))
        .expect("an answer");
    assert_eq!(answer.attr("type"), Some("result"));
    let media_conn = answer.child("media_conn").expect("<media_conn>");
    assert_eq!(media_conn.attr("auth"), Some(server.media_auth().as_str()));
    assert_eq!(media_conn.attr("ttl"), Some("300"));
    let hosts: Vec<_> = media_conn
        .children_named("host")
        .filter_map(|h| h.attr("hostname"))
        .collect();
    assert_eq!(hosts, ["mmg.whatsapp.net", "media-fra5-1.cdn.whatsapp.net"]);
}

// ---- the control API ----

/// A blocking HTTP/1.1 request; returns the status and the body.
fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("control port");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: fake-wa\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_shows_what_contacts_read_and_the_violations() {
    let (mut server, mut bot) = online(10);
    let to = pn(CONTACT);
    let devices = bot.sessions_with(&mut server, &[to.clone(), pn(OWN)]);
    let message = bot.text_message("3EB0C0C00001", &to, &devices, "over http");
    bot.send(&mut server, &message);
    let partial = message_node("3EB0C0C00002", &to, Vec::new(), None);
    bot.send(&mut server, &partial);

    let any = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let fake = blacksky_sim::net::FakeWa::start(server, any, any)
        .await
        .expect("bind");
    let control = fake.control_addr;
    let answers = tokio::task::spawn_blocking(move || {
        [
            http(control, "GET", &format!("/received?from={CONTACT}")),
            http(control, "GET", &format!("/received?from={OWN}")),
            http(control, "GET", "/violations"),
            http(
                control,
                "POST",
                &format!("/retry?from={CONTACT}&id=3EB0NOPE"),
            ),
            http(control, "POST", "/retry?from=49x&id=3EB0C0C00001"),
            http(
                control,
                "POST",
                &format!("/devices?phone={CONTACT}&ids=3,300"),
            ),
            http(
                control,
                "POST",
                &format!("/retry?from={CONTACT}&id=3EB0C0C00001"),
            ),
        ]
    })
    .await
    .expect("joined");
    let (status, received) = &answers[0];
    assert_eq!(*status, 200);
    let rows: Vec<(String, String, u64)> = received
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["text"].as_str().unwrap_or_default().to_owned(),
                r["device"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("3EB0C0C00001".into(), "over http".into(), 0),
            ("3EB0C0C00001".into(), "over http".into(), 3)
        ]
    );
    assert_eq!(answers[1].1[0]["dsm_destination"], to.to_string());
    let (status, violations) = &answers[2];
    assert_eq!(*status, 200);
    assert_eq!(violations[0]["id"], "3EB0C0C00002");
    assert_eq!(violations[0]["kind"], "malformed", "{violations}");
    assert_eq!(
        (answers[3].0, &answers[3].1["error"]),
        (404, &"unknown_message".into())
    );
    assert_eq!(answers[4].0, 400);
    assert_eq!(answers[5].0, 400, "300 is no device id");
    // The bot's device is not on a socket of this shell, yet the receipts
    // go to its (sans-I/O) connection.
    assert_eq!((answers[6].0, &answers[6].1["receipts"]), (200, &2.into()));
}
