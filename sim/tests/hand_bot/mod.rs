//! A linked bot device played by hand over one connection to the fake
//! server, with the core's Signal functions: log in, send stanzas and
//! iqs, read what the server says, fetch device lists and bundles, and
//! keep sessions. For tests that check the server's side stanza by stanza.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Instant;

use blacksky_core::client::DisconnectReason;
use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::message::padding::pad;
use blacksky_core::session::Creds;
use blacksky_core::signal::{
    self, IdentityKey, MessageKind, OneTimePreKeyPublic, PreKeyBundle, PublicKey, SessionRecord,
    SignedPreKeyPublic,
};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{self, Jid, Node};
use blacksky_core::wire::frame::{
    FRAME_BYTES_MAX_DEFAULT, FrameDecoder, FrameEncoder, INTRO_HEADER,
};
use blacksky_core::wire::noise::{ClientHandshake, Transport};
use blacksky_proto::Message;
use blacksky_proto::wa::ClientPayload;
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{ConnId, FakeServer, ServerConfig, ServerEvent, ServerOutput};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
pub const OWN: &str = blacksky_sim::server::DEFAULT_PHONE;

/// A server with one device linked by the real client, and its creds.
pub fn linked(seed: u64) -> (FakeServer, Creds) {
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

pub struct Bot {
    pub conn: ConnId,
    transport: Transport,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    pub creds: Creds,
    /// By the peer device's JID in text form.
    pub sessions: BTreeMap<String, SessionRecord>,
    pub rng: ChaCha20Rng,
    next_iq: u32,
    /// What the server sent at login (`<success>`, the offline batch).
    pub at_login: Vec<Node>,
    /// The server's events seen while pumping.
    pub events: Vec<ServerEvent>,
}

impl Bot {
    pub fn login(server: &mut FakeServer, creds: Creds, seed: u64) -> Bot {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Instant::now();
        let conn = server.connect(now);
        let mut decoder = FrameDecoder::client(FRAME_BYTES_MAX_DEFAULT);
        let mut encoder = FrameEncoder::client(None, FRAME_BYTES_MAX_DEFAULT).expect("no routing");
        let (hs, hello) = ClientHandshake::start(&INTRO_HEADER, &creds.noise_key, &mut rng);
        server.handle_bytes(conn, now, WALL, &encoder.encode(&hello).expect("fits"));
        for output in std::iter::from_fn(|| server.poll_output()) {
            if let ServerOutput::Transmit { conn: to, bytes } = output
                && to == conn
            {
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
            sessions: BTreeMap::new(),
            rng,
            next_iq: 0,
            at_login: Vec::new(),
            events: Vec::new(),
        };
        let got = bot.pump(server);
        assert!(got.iter().any(|n| n.tag == "success"), "{got:?}");
        bot.at_login = got;
        bot
    }

    pub fn device(&self) -> u8 {
        let jid = &self.creds.me.as_ref().expect("linked").jid;
        u8::try_from(jid.device().expect("a device")).expect("small")
    }

    /// Stanzas the server sent this connection since the last call.
    pub fn pump(&mut self, server: &mut FakeServer) -> Vec<Node> {
        for output in std::iter::from_fn(|| server.poll_output()) {
            match output {
                ServerOutput::Transmit { conn, bytes } if conn == self.conn => {
                    self.decoder.push(&bytes);
                }
                ServerOutput::Event(event) => self.events.push(event),
                _ => {}
            }
        }
        let mut nodes = Vec::new();
        while let Some(frame) = self.decoder.next_frame().expect("framing") {
            let plain = self.transport.decrypt(frame).expect("transport");
            nodes.push(binary::decode(&plain).expect("a stanza"));
        }
        nodes
    }

    pub fn send(&mut self, server: &mut FakeServer, node: &Node) -> Vec<Node> {
        let mut buf = binary::encode(node).expect("encodes");
        self.transport.encrypt_in_place(&mut buf).expect("counter");
        let bytes = self.encoder.encode(&buf).expect("fits");
        server.handle_bytes(self.conn, Instant::now(), WALL, &bytes);
        self.pump(server)
    }

    /// Sends `<iq type xmlns to>child</iq>`; returns its answer and every
    /// other stanza that came with it.
    pub fn iq_to(
        &mut self,
        server: &mut FakeServer,
        kind: &str,
        xmlns: &str,
        to: Jid,
        child: Node,
    ) -> (Node, Vec<Node>) {
        self.next_iq += 1;
        let id = format!("t.{}", self.next_iq);
        let iq = Node::new("iq")
            .with_attr("id", id.clone())
            .with_attr("type", kind.to_owned())
            .with_attr("xmlns", xmlns.to_owned())
            .with_attr("to", to)
            .with_children(vec![child]);
        let mut got = self.send(server, &iq);
        let at = got
            .iter()
            .position(|n| n.tag == "iq" && n.attr("id") == Some(id.as_str()))
            .expect("an answer");
        let answer = got.remove(at);
        (answer, got)
    }

    pub fn iq(&mut self, server: &mut FakeServer, xmlns: &str, child: Node) -> Node {
        self.iq_to(server, "get", xmlns, Jid::at("s.whatsapp.net"), child)
            .0
    }

    /// The device ids usync lists for each of `users`.
    pub fn devices(&mut self, server: &mut FakeServer, users: &[Jid]) -> Vec<Vec<u8>> {
        let usync = Node::new("usync")
            .with_attr("sid", "sid.1")
            .with_attr("context", "message")
            .with_attr("mode", "query")
            .with_children(vec![
                Node::new("query")
                    .with_children(vec![Node::new("devices").with_attr("version", "2")]),
                Node::new("list").with_children(
                    users
                        .iter()
                        .map(|u| Node::new("user").with_attr("jid", u.clone()))
                        .collect(),
                ),
            ]);
        let answer = self.iq(server, "usync", usync);
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
                            .filter_map(|d| d.attr("id").and_then(|i| i.parse().ok()))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Sessions with `devices` from their bundles.
    pub fn start_sessions(&mut self, server: &mut FakeServer, devices: &[Jid]) {
        let key = Node::new("key").with_children(
            devices
                .iter()
                .map(|d| Node::new("user").with_attr("jid", d.clone()))
                .collect(),
        );
        let answer = self.iq(server, "encrypt", key);
        assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
        let list = answer.child("list").expect("a list");
        for (user, device) in list.children_named("user").zip(devices) {
            let bundle = read_bundle(user);
            let record = signal::session_from_bundle(
                None,
                &self.creds.identity_key,
                u32::from(self.creds.registration_id),
                &bundle,
                &mut self.rng,
            )
            .expect("a verified bundle");
            self.sessions.insert(device.to_string(), record);
        }
    }

    /// `plaintext` padded and encrypted for `device` on its session.
    pub fn encrypt(&mut self, device: &Jid, plaintext: &[u8]) -> (MessageKind, Vec<u8>) {
        let padded = pad(plaintext, &mut self.rng);
        let record = self.sessions.get(&device.to_string()).expect("a session");
        let (encrypted, record) =
            signal::encrypt(record, &self.creds.identity_key, &padded).expect("encrypts");
        self.sessions.insert(device.to_string(), record);
        (encrypted.kind, encrypted.bytes)
    }

    pub fn account(&self) -> Vec<u8> {
        self.creds.account.clone().expect("an account identity")
    }
}

fn child_bytes<'a>(node: &'a Node, tag: &str) -> &'a [u8] {
    node.child(tag)
        .and_then(Node::bytes)
        .unwrap_or_else(|| panic!("<{tag}> bytes in {node:?}"))
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))
}

/// A `<user>` of a bundle answer.
fn read_bundle(user: &Node) -> PreKeyBundle {
    assert_eq!(child_bytes(user, "type"), [KEY_TYPE_DJB]);
    let skey = user.child("skey").expect("skey");
    let one_time = user.child("key").map(|key| OneTimePreKeyPublic {
        id: be(child_bytes(key, "id")),
        key: PublicKey::from_raw(child_bytes(key, "value"), "key").expect("32 bytes"),
    });
    PreKeyBundle {
        registration_id: be(child_bytes(user, "registration")),
        identity: IdentityKey::from_raw(child_bytes(user, "identity"), "identity")
            .expect("32 bytes"),
        signed_pre_key: SignedPreKeyPublic::from_raw(
            be(child_bytes(skey, "id")),
            child_bytes(skey, "value"),
            child_bytes(skey, "signature"),
        )
        .expect("a signed pre-key"),
        one_time_pre_key: one_time,
    }
}

pub fn pn(phone: &str) -> Jid {
    Jid::new(phone.to_owned(), "s.whatsapp.net")
}

/// Device `device` of `user`; device 0 as the plain user JID.
pub fn device_jid(user: &Jid, device: u8) -> Jid {
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

/// `<to jid><enc v=2 type/></to>`.
pub fn to_node(device: &Jid, kind: MessageKind, bytes: Vec<u8>) -> Node {
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
