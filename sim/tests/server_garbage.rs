//! Bad bytes from a client end that connection with a `ClientError` and a
//! close; they never panic the server or disturb other connections.

use std::time::Instant;

use blacksky_core::session::Creds;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{self, Node};
use blacksky_core::wire::frame::{
    FRAME_BYTES_MAX_DEFAULT, FrameDecoder, FrameEncoder, INTRO_HEADER,
};
use blacksky_core::wire::noise::{ClientHandshake, Transport};
use blacksky_proto::Message;
use blacksky_proto::wa::ClientPayload;
use blacksky_proto::wa::client_payload::DevicePairingRegistrationData;
use blacksky_sim::server::{ConnId, FakeServer, ServerConfig, ServerEvent, ServerOutput};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);

fn server(seed: u64) -> FakeServer {
    FakeServer::new(ServerConfig::new(WALL), seed)
}

fn drain(server: &mut FakeServer) -> Vec<ServerOutput> {
    std::iter::from_fn(|| server.poll_output()).collect()
}

fn client_error_then_close(outputs: &[ServerOutput], conn: ConnId) -> bool {
    let error = outputs.iter().position(|o| {
        matches!(o, ServerOutput::Event(ServerEvent::ClientError { conn: c, .. }) if *c == conn)
    });
    let close = outputs
        .iter()
        .position(|o| *o == ServerOutput::Close { conn });
    matches!((error, close), (Some(e), Some(c)) if e < c)
}

#[test]
fn garbage_instead_of_an_intro_is_a_client_error_and_a_close() {
    let now = Instant::now();
    let mut server = server(1);
    let bystander = server.connect(now);
    let conn = server.connect(now);
    drain(&mut server);
    server.handle_bytes(conn, now, WALL, b"GET / HTTP/1.1\r\n\r\n");
    let outputs = drain(&mut server);
    assert!(client_error_then_close(&outputs, conn), "{outputs:?}");
    assert!(!server.is_open(conn));
    assert!(server.is_open(bystander));
    let error = server.state().last_client_error.expect("recorded");
    assert!(error.contains("framing"), "{error}");
    // Later bytes for the closed connection are ignored.
    server.handle_bytes(conn, now, WALL, b"more");
    assert!(drain(&mut server).is_empty());
}

#[test]
fn a_frame_that_is_not_a_client_hello_is_a_client_error() {
    let now = Instant::now();
    let mut server = server(2);
    let conn = server.connect(now);
    drain(&mut server);
    let mut bytes = INTRO_HEADER.to_vec();
    bytes.extend_from_slice(&[0, 0, 3, 0xFF, 0xFF, 0xFF]);
    server.handle_bytes(conn, now, WALL, &bytes);
    let outputs = drain(&mut server);
    assert!(client_error_then_close(&outputs, conn), "{outputs:?}");
}

/// A hand-driven client: the handshake with a registration payload, then
/// whatever stanzas (or raw plaintext) a test wants to send.
struct RawClient {
    conn: ConnId,
    transport: Transport,
    encoder: FrameEncoder,
}

fn registration(creds: &Creds) -> Vec<u8> {
    let spk = &creds.signed_pre_key;
    ClientPayload {
        passive: Some(false),
        pull: Some(false),
        device_pairing_data: Some(DevicePairingRegistrationData {
            e_regid: Some(u32::from(creds.registration_id).to_be_bytes().to_vec()),
            e_keytype: Some(vec![5]),
            e_ident: Some(creds.identity_key.public().to_vec()),
            e_skey_id: Some(spk.id.to_be_bytes()[1..].to_vec()),
            e_skey_val: Some(spk.key_pair.public().to_vec()),
            e_skey_sig: Some(spk.signature.to_vec()),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn handshake(server: &mut FakeServer, now: Instant, seed: u64) -> RawClient {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let creds = Creds::generate(&mut rng);
    let conn = server.connect(now);
    drain(server);
    let (hs, hello) = ClientHandshake::start(&INTRO_HEADER, &creds.noise_key, &mut rng);
    let mut encoder = FrameEncoder::client(None, FRAME_BYTES_MAX_DEFAULT).expect("no routing");
    server.handle_bytes(conn, now, WALL, &encoder.encode(&hello).expect("fits"));
    let mut decoder = FrameDecoder::client(FRAME_BYTES_MAX_DEFAULT);
    for output in drain(server) {
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
    let (finish, transport) = verified.finish(&registration(&creds)).expect("finish");
    server.handle_bytes(conn, now, WALL, &encoder.encode(&finish).expect("fits"));
    let outputs = drain(server);
    assert!(
        outputs.contains(&ServerOutput::Event(ServerEvent::QrRefsIssued {
            conn,
            count: 6
        })),
        "{outputs:?}"
    );
    RawClient {
        conn,
        transport,
        encoder,
    }
}

impl RawClient {
    fn send_plain(&mut self, server: &mut FakeServer, now: Instant, plain: &[u8]) {
        let mut buf = plain.to_vec();
        self.transport.encrypt_in_place(&mut buf).expect("counter");
        let bytes = self.encoder.encode(&buf).expect("fits");
        server.handle_bytes(self.conn, now, WALL, &bytes);
    }
}

#[test]
fn an_undecodable_stanza_is_a_client_error() {
    let now = Instant::now();
    let mut server = server(3);
    let mut client = handshake(&mut server, now, 30);
    client.send_plain(&mut server, now, &[0, 0xF8, 0xFF]);
    let outputs = drain(&mut server);
    assert!(
        client_error_then_close(&outputs, client.conn),
        "{outputs:?}"
    );
}

#[test]
fn a_tampered_frame_is_a_client_error() {
    let now = Instant::now();
    let mut server = server(4);
    let client = handshake(&mut server, now, 40);
    server.handle_bytes(
        client.conn,
        now,
        WALL,
        &[
            0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        ],
    );
    let outputs = drain(&mut server);
    assert!(
        client_error_then_close(&outputs, client.conn),
        "{outputs:?}"
    );
    assert!(server.state().pending_pairings.is_empty());
}

#[test]
fn an_unknown_iq_is_answered_with_an_error_and_the_connection_stays() {
    let now = Instant::now();
    let mut server = server(5);
    let mut client = handshake(&mut server, now, 50);
    let iq = Node::new("iq")
        .with_attr("id", "q.1")
        .with_attr("type", "get")
        .with_attr("xmlns", "usync");
    client.send_plain(&mut server, now, &binary::encode(&iq).expect("encodes"));
    let outputs = drain(&mut server);
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(server.is_open(client.conn));
}

fn node_strategy() -> impl Strategy<Value = Node> {
    let word = prop::sample::select(vec![
        "iq",
        "ack",
        "message",
        "receipt",
        "ping",
        "count",
        "list",
        "key",
        "skey",
        "id",
        "value",
        "signature",
        "registration",
        "type",
        "identity",
        "active",
        "passive",
        "link_code_companion_reg",
        "pair-device-sign",
        "device-identity",
        "error",
        "link_code_pairing_wrapped_key_bundle",
        "companion_identity_public",
        "link_code_pairing_ref",
        "link_code_pairing_wrapped_companion_ephemeral_pub",
        "companion_server_auth_key_pub",
    ]);
    let attr_key = prop::sample::select(vec![
        "id",
        "type",
        "xmlns",
        "class",
        "stage",
        "jid",
        "key-index",
        "to",
    ]);
    let attr_value = prop::sample::select(vec![
        "get",
        "set",
        "result",
        "error",
        "w:p",
        "encrypt",
        "passive",
        "md",
        "message",
        "companion_hello",
        "companion_finish",
        "100001",
        "100002",
        "1",
        "x",
        "491556123456@s.whatsapp.net",
    ]);
    let leaf = (
        word.clone(),
        prop::collection::vec((attr_key.clone(), attr_value.clone()), 0..4),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..100)),
    )
        .prop_map(|(tag, attrs, bytes)| {
            let mut node = Node::new(tag);
            for (k, v) in attrs {
                node = node.with_attr(k, v);
            }
            match bytes {
                Some(bytes) => node.with_bytes(bytes),
                None => node,
            }
        });
    leaf.prop_recursive(3, 24, 4, move |inner| {
        (
            word.clone(),
            prop::collection::vec((attr_key.clone(), attr_value.clone()), 0..4),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(tag, attrs, children)| {
                let mut node = Node::new(tag);
                for (k, v) in attrs {
                    node = node.with_attr(k, v);
                }
                node.with_children(children)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes, in any chunking, into a fresh connection: no panic, and
    /// the connection ends with a client error or waits for more.
    #[test]
    fn arbitrary_bytes_into_a_fresh_connection_never_panic(
        with_intro in any::<bool>(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..6),
    ) {
        let now = Instant::now();
        let mut server = server(9);
        let conn = server.connect(now);
        if with_intro {
            server.handle_bytes(conn, now, WALL, &INTRO_HEADER);
        }
        for chunk in &chunks {
            server.handle_bytes(conn, now, WALL, chunk);
        }
        let outputs = drain(&mut server);
        if !server.is_open(conn) {
            prop_assert!(client_error_then_close(&outputs, conn), "{outputs:?}");
        }
        let _ = server.state();
    }
}

proptest! {
    // Each case runs a full handshake (four XEdDSA operations): fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After a real handshake, any plaintext: no panic.
    #[test]
    fn arbitrary_plaintext_after_the_handshake_never_panics(
        plains in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4),
    ) {
        let now = Instant::now();
        let mut server = server(10);
        let mut client = handshake(&mut server, now, 100);
        for plain in &plains {
            client.send_plain(&mut server, now, plain);
        }
        drain(&mut server);
        let _ = server.state();
    }

    /// After a real handshake, any stanza from the protocol's vocabulary:
    /// no panic, and the controls still work on what is left.
    #[test]
    fn arbitrary_stanzas_after_the_handshake_never_panic(
        nodes in prop::collection::vec(node_strategy(), 1..6),
    ) {
        let now = Instant::now();
        let mut server = server(11);
        let mut client = handshake(&mut server, now, 110);
        for node in &nodes {
            if let Ok(bytes) = binary::encode(node) {
                client.send_plain(&mut server, now, &bytes);
            }
        }
        let _ = server.enter_code("ABCD-EFGH");
        let _ = server.send_text("1", "x");
        server.kick(blacksky_sim::server::Target::AllLive, 515);
        drain(&mut server);
        prop_assert!(server.connections().is_empty());
    }
}
