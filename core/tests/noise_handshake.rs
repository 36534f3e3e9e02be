//! The WhatsApp Noise handshake end to end, client ↔ server, through the
//! public API only: it completes for any seed and payload, the transports
//! agree, and every way of breaking it fails with its own error.

use blacksky_core::crypto::KeyPair;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::noise::{
    AcceptedClient, CertChainSpec, CertLevel, ClientHandshake, Direction, HandshakeError,
    HandshakeStep, ServerHandshake, Transport, TransportError, Validity, WA_ROOT_PUBLIC_KEY,
    build_cert_chain,
};
use blacksky_proto::Message;
use blacksky_proto::wa::{CertChain, HandshakeMessage};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PROLOGUE: [u8; 4] = [0x57, 0x41, 0x06, 0x03];
const NOW: UnixMillis = UnixMillis(1_750_000_000_000);
const DAY_SECS: u64 = 86_400;

struct Fixture {
    rng: ChaCha20Rng,
    root: KeyPair,
    server_static: KeyPair,
    client_static: KeyPair,
}

impl Fixture {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let root = KeyPair::generate(&mut rng);
        let server_static = KeyPair::generate(&mut rng);
        let client_static = KeyPair::generate(&mut rng);
        Fixture {
            rng,
            root,
            server_static,
            client_static,
        }
    }

    fn chain(&mut self, spec: &CertChainSpec) -> CertChain {
        build_cert_chain(&self.root, self.server_static.public(), spec, &mut self.rng)
    }

    fn good_chain(&mut self) -> Vec<u8> {
        self.chain(&CertChainSpec::valid_from(NOW, DAY_SECS))
            .encode_to_vec()
    }

    /// Client hello → server hello, returning the server state, the
    /// client state and the encoded server hello.
    fn hello(
        &mut self,
        chain: Vec<u8>,
    ) -> (
        blacksky_core::wire::noise::ServerAwaitingFinish,
        ClientHandshake,
        Vec<u8>,
    ) {
        let (client, client_hello) =
            ClientHandshake::start(&PROLOGUE, &self.client_static, &mut self.rng);
        let server = ServerHandshake::new(&PROLOGUE, &self.server_static, chain);
        let (server, server_hello) = server
            .read_client_hello(&client_hello, &mut self.rng)
            .expect("server reads a good client hello");
        (server, client, server_hello)
    }

    /// The client's view of a server hello built from `chain`, checked
    /// against `root` at `now`.
    fn client_result(
        &mut self,
        chain: Vec<u8>,
        root: [u8; 32],
        now: UnixMillis,
    ) -> Result<(), HandshakeError> {
        let (_, client, server_hello) = self.hello(chain);
        client
            .read_server_hello(&server_hello, &root, now)
            .map(|_| ())
    }

    fn complete(&mut self, client_payload: &[u8]) -> (Transport, AcceptedClient) {
        let chain = self.good_chain();
        let (server, client, server_hello) = self.hello(chain);
        let client = client
            .read_server_hello(&server_hello, self.root.public(), NOW)
            .expect("client accepts the server");
        assert_eq!(client.server_static(), self.server_static.public());
        let (client_finish, client_transport) = client.finish(client_payload).expect("finish");
        let accepted = server
            .read_client_finish(&client_finish)
            .expect("server accepts the client");
        (client_transport, accepted)
    }
}

fn edit_message(bytes: &[u8], edit: impl FnOnce(&mut HandshakeMessage)) -> Vec<u8> {
    let mut message = HandshakeMessage::decode(bytes).expect("our own message decodes");
    edit(&mut message);
    message.encode_to_vec()
}

fn flip_last(bytes: &mut Option<Vec<u8>>) {
    let bytes = bytes.as_mut().expect("field present");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn handshake_then_transport_both_ways(
        seed: u64,
        client_payload in proptest::collection::vec(any::<u8>(), 0..2048),
        messages in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..1024)), 0..24),
    ) {
        let mut fixture = Fixture::new(seed);
        let (mut client, accepted) = fixture.complete(&client_payload);
        prop_assert_eq!(&accepted.client_static, fixture.client_static.public());
        prop_assert_eq!(&accepted.client_payload, &client_payload);
        let mut server = accepted.transport;

        let (mut sent_by_client, mut sent_by_server) = (0u64, 0u64);
        for (from_client, message) in &messages {
            let (sender, receiver) = if *from_client {
                sent_by_client += 1;
                (&mut client, &mut server)
            } else {
                sent_by_server += 1;
                (&mut server, &mut client)
            };
            let mut frame = sender.encrypt(message).expect("encrypt");
            prop_assert_eq!(frame.len(), message.len() + 16);
            let plain = receiver.decrypt_in_place(&mut frame).expect("decrypt");
            prop_assert_eq!(&*plain, message.as_slice());
        }
        prop_assert_eq!(client.write_counter(), sent_by_client);
        prop_assert_eq!(server.read_counter(), sent_by_client);
        prop_assert_eq!(server.write_counter(), sent_by_server);
        prop_assert_eq!(client.read_counter(), sent_by_server);
    }
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let mut fixture = Fixture::new(99);
        let chain = fixture.good_chain();
        let (_, _, server_hello) = fixture.hello(chain);
        server_hello
    };
    assert_eq!(run(), run());
}

#[test]
fn wrong_root_key() {
    let mut fixture = Fixture::new(1);
    let chain = fixture.good_chain();
    assert_eq!(
        fixture.client_result(chain, WA_ROOT_PUBLIC_KEY, NOW),
        Err(HandshakeError::CertSignatureInvalid {
            which: CertLevel::Intermediate
        })
    );
}

#[test]
fn leaf_key_is_not_the_server_static_key() {
    let mut fixture = Fixture::new(2);
    let other = KeyPair::generate(&mut fixture.rng);
    let spec = CertChainSpec::valid_from(NOW, DAY_SECS);
    let chain =
        build_cert_chain(&fixture.root, other.public(), &spec, &mut fixture.rng).encode_to_vec();
    let root = *fixture.root.public();
    assert_eq!(
        fixture.client_result(chain, root, NOW),
        Err(HandshakeError::CertKeyMismatch)
    );
}

#[test]
fn expired_certificates() {
    let mut fixture = Fixture::new(3);
    let root = *fixture.root.public();
    let past = Validity {
        not_before_secs: NOW.as_secs() - 2 * DAY_SECS,
        not_after_secs: NOW.as_secs() - DAY_SECS,
    };
    let mut spec = CertChainSpec::valid_from(NOW, DAY_SECS);
    spec.leaf = past;
    let chain = fixture.chain(&spec).encode_to_vec();
    assert_eq!(
        fixture.client_result(chain, root, NOW),
        Err(HandshakeError::CertExpired {
            which: CertLevel::Leaf,
            not_after: past.not_after_secs,
            now: NOW
        })
    );
    let mut spec = CertChainSpec::valid_from(NOW, DAY_SECS);
    spec.intermediate = past;
    let chain = fixture.chain(&spec).encode_to_vec();
    assert!(matches!(
        fixture.client_result(chain, root, NOW),
        Err(HandshakeError::CertExpired {
            which: CertLevel::Intermediate,
            ..
        })
    ));
    // A good chain read with a clock far in the future is expired too.
    let chain = fixture.good_chain();
    let later = NOW.saturating_add_millis(2 * DAY_SECS * 1000);
    assert!(matches!(
        fixture.client_result(chain, root, later),
        Err(HandshakeError::CertExpired { .. })
    ));
}

#[test]
fn not_yet_valid_certificate() {
    let mut fixture = Fixture::new(4);
    let root = *fixture.root.public();
    let mut spec = CertChainSpec::valid_from(NOW, DAY_SECS);
    spec.leaf = Validity::starting_at(NOW.saturating_add_millis(60_000), DAY_SECS);
    let chain = fixture.chain(&spec).encode_to_vec();
    assert_eq!(
        fixture.client_result(chain, root, NOW),
        Err(HandshakeError::CertNotYetValid {
            which: CertLevel::Leaf,
            not_before: NOW.as_secs() + 60,
            now: NOW
        })
    );
}

#[test]
fn tampered_certificate_signatures() {
    let mut fixture = Fixture::new(5);
    let root = *fixture.root.public();
    for which in [CertLevel::Intermediate, CertLevel::Leaf] {
        let mut chain = fixture.chain(&CertChainSpec::valid_from(NOW, DAY_SECS));
        let cert = match which {
            CertLevel::Intermediate => chain.intermediate.as_mut(),
            CertLevel::Leaf => chain.leaf.as_mut(),
        }
        .expect("built");
        flip_last(&mut cert.signature);
        assert_eq!(
            fixture.client_result(chain.encode_to_vec(), root, NOW),
            Err(HandshakeError::CertSignatureInvalid { which })
        );
        // Tampered details under an intact signature fail the same way.
        let mut chain = fixture.chain(&CertChainSpec::valid_from(NOW, DAY_SECS));
        let cert = match which {
            CertLevel::Intermediate => chain.intermediate.as_mut(),
            CertLevel::Leaf => chain.leaf.as_mut(),
        }
        .expect("built");
        flip_last(&mut cert.details);
        assert_eq!(
            fixture.client_result(chain.encode_to_vec(), root, NOW),
            Err(HandshakeError::CertSignatureInvalid { which })
        );
    }
}

#[test]
fn tampered_server_hello() {
    let mut fixture = Fixture::new(6);
    let root = *fixture.root.public();
    type Edit = fn(&mut HandshakeMessage);
    let cases: [(Edit, HandshakeStep); 3] = [
        (
            |m| flip_last(&mut m.server_hello.as_mut().expect("hello").r#static),
            HandshakeStep::ServerStatic,
        ),
        (
            |m| flip_last(&mut m.server_hello.as_mut().expect("hello").payload),
            HandshakeStep::ServerPayload,
        ),
        // A different ephemeral changes every key after it.
        (
            |m| flip_last(&mut m.server_hello.as_mut().expect("hello").ephemeral),
            HandshakeStep::ServerStatic,
        ),
    ];
    for (edit, step) in cases {
        let chain = fixture.good_chain();
        let (_, client, server_hello) = fixture.hello(chain);
        let tampered = edit_message(&server_hello, edit);
        assert_eq!(
            client.read_server_hello(&tampered, &root, NOW).map(|_| ()),
            Err(HandshakeError::DecryptFailed { step })
        );
    }
}

#[test]
fn tampered_client_finish() {
    let mut fixture = Fixture::new(7);
    type Edit = fn(&mut HandshakeMessage);
    let cases: [(Edit, HandshakeStep); 2] = [
        (
            |m| flip_last(&mut m.client_finish.as_mut().expect("finish").r#static),
            HandshakeStep::ClientStatic,
        ),
        (
            |m| flip_last(&mut m.client_finish.as_mut().expect("finish").payload),
            HandshakeStep::ClientPayload,
        ),
    ];
    for (edit, step) in cases {
        let chain = fixture.good_chain();
        let (server, client, server_hello) = fixture.hello(chain);
        let client = client
            .read_server_hello(&server_hello, fixture.root.public(), NOW)
            .expect("good hello");
        let (client_finish, _) = client.finish(b"payload").expect("finish");
        let tampered = edit_message(&client_finish, edit);
        assert_eq!(
            server.read_client_finish(&tampered).map(|_| ()),
            Err(HandshakeError::DecryptFailed { step })
        );
    }
}

#[test]
fn tampered_and_replayed_transport_frames() {
    let mut fixture = Fixture::new(8);
    let (mut client, accepted) = fixture.complete(b"payload");
    let mut server = accepted.transport;

    let frame = client.encrypt(b"first").expect("encrypt");
    let mut tampered = frame.clone();
    tampered[2] ^= 0x80;
    assert_eq!(
        server.decrypt(&tampered),
        Err(TransportError::DecryptFailed { counter: 0 })
    );
    let mut tag_tampered = frame.clone();
    *tag_tampered.last_mut().expect("tag") ^= 1;
    assert_eq!(
        server.decrypt(&tag_tampered),
        Err(TransportError::DecryptFailed { counter: 0 })
    );
    assert_eq!(server.decrypt(&frame).expect("untouched frame"), b"first");
    // The same frame again: the counter has moved on.
    assert_eq!(
        server.decrypt(&frame),
        Err(TransportError::DecryptFailed { counter: 1 })
    );
    // Reordered: frame 2 arrives before frame 1.
    let one = client.encrypt(b"one").expect("encrypt");
    let two = client.encrypt(b"two").expect("encrypt");
    assert_eq!(
        server.decrypt(&two),
        Err(TransportError::DecryptFailed { counter: 1 })
    );
    assert_eq!(server.decrypt(&one).expect("in order"), b"one");
    assert_eq!(server.decrypt(&two).expect("in order"), b"two");
    // A server frame is not a client frame: directions have their own keys.
    let from_server = server.encrypt(b"down").expect("encrypt");
    assert!(server.decrypt(&from_server).is_err());
    assert_eq!(
        client.decrypt(&from_server).expect("right direction"),
        b"down"
    );
}

#[test]
fn counter_exhaustion() {
    let mut fixture = Fixture::new(9);
    let (mut client, accepted) = fixture.complete(b"payload");
    let mut server = accepted.transport;
    let last = u64::from(u32::MAX);
    client.set_counters_for_test(last, 0);
    server.set_counters_for_test(0, last);

    // Nonce 2^32 - 1 is still usable, once.
    let frame = client.encrypt(b"last").expect("last nonce");
    assert_eq!(server.decrypt(&frame).expect("last nonce"), b"last");
    assert_eq!(
        client.encrypt(b"one too many"),
        Err(TransportError::CounterExhausted {
            direction: Direction::Write
        })
    );
    let mut buf = b"x".to_vec();
    assert_eq!(
        client.encrypt_in_place(&mut buf),
        Err(TransportError::CounterExhausted {
            direction: Direction::Write
        })
    );
    assert_eq!(
        server.decrypt(&[0u8; 32]),
        Err(TransportError::CounterExhausted {
            direction: Direction::Read
        })
    );
    assert_eq!(
        (client.write_counter(), server.read_counter()),
        (1 << 32, 1 << 32)
    );
}

#[test]
fn garbage_protobuf() {
    let mut fixture = Fixture::new(10);
    let garbage = [0xff, 0xff, 0xff, 0xff];
    let chain = fixture.good_chain();
    let server = ServerHandshake::new(&PROLOGUE, &fixture.server_static, chain);
    assert!(matches!(
        server.read_client_hello(&garbage, &mut fixture.rng),
        Err(HandshakeError::BadProtobuf {
            what: "HandshakeMessage",
            ..
        })
    ));

    let chain = fixture.good_chain();
    let (server, client, server_hello) = fixture.hello(chain);
    let root = *fixture.root.public();
    let (client2, _) = ClientHandshake::start(&PROLOGUE, &fixture.client_static, &mut fixture.rng);
    assert!(matches!(
        client2.read_server_hello(&garbage, &root, NOW),
        Err(HandshakeError::BadProtobuf { .. })
    ));
    // Valid protobuf, wrong message: a client hello where a server hello belongs.
    let (client3, client_hello) =
        ClientHandshake::start(&PROLOGUE, &fixture.client_static, &mut fixture.rng);
    assert_eq!(
        client3
            .read_server_hello(&client_hello, &root, NOW)
            .map(|_| ()),
        Err(HandshakeError::MissingField("server_hello"))
    );
    // A server hello whose payload decrypts fine but is not a CertChain.
    let server2 = ServerHandshake::new(&PROLOGUE, &fixture.server_static, garbage.to_vec());
    let (client4, client_hello) =
        ClientHandshake::start(&PROLOGUE, &fixture.client_static, &mut fixture.rng);
    let (_, hello) = server2
        .read_client_hello(&client_hello, &mut fixture.rng)
        .expect("hello");
    assert!(matches!(
        client4.read_server_hello(&hello, &root, NOW),
        Err(HandshakeError::BadProtobuf {
            what: "CertChain",
            ..
        })
    ));

    let client = client
        .read_server_hello(&server_hello, &root, NOW)
        .expect("good hello");
    let _ = client;
    assert!(matches!(
        server.read_client_finish(&garbage),
        Err(HandshakeError::BadProtobuf { .. })
    ));
}

#[test]
fn missing_and_malformed_fields() {
    let mut fixture = Fixture::new(11);
    let chain = fixture.good_chain();
    let root = *fixture.root.public();

    let server = ServerHandshake::new(&PROLOGUE, &fixture.server_static, chain.clone());
    assert_eq!(
        server.read_client_hello(&[], &mut fixture.rng).map(|_| ()),
        Err(HandshakeError::MissingField("client_hello"))
    );
    let (_, client_hello) =
        ClientHandshake::start(&PROLOGUE, &fixture.client_static, &mut fixture.rng);
    for (edit, expected) in [
        (
            (|m: &mut HandshakeMessage| m.client_hello.as_mut().expect("hello").ephemeral = None)
                as fn(&mut HandshakeMessage),
            HandshakeError::MissingField("client_hello.ephemeral"),
        ),
        (
            |m| m.client_hello.as_mut().expect("hello").ephemeral = Some(vec![9; 33]),
            HandshakeError::WrongKeyLength {
                field: "client ephemeral",
                len: 33,
            },
        ),
        (
            |m| m.client_hello.as_mut().expect("hello").r#static = Some(vec![1; 48]),
            HandshakeError::UnexpectedField("client_hello.static"),
        ),
    ] {
        let server = ServerHandshake::new(&PROLOGUE, &fixture.server_static, chain.clone());
        assert_eq!(
            server
                .read_client_hello(&edit_message(&client_hello, edit), &mut fixture.rng)
                .map(|_| ()),
            Err(expected)
        );
    }

    let (_, client, server_hello) = fixture.hello(chain.clone());
    let no_payload = edit_message(&server_hello, |m| {
        m.server_hello.as_mut().expect("hello").payload = None
    });
    assert_eq!(
        client
            .read_server_hello(&no_payload, &root, NOW)
            .map(|_| ()),
        Err(HandshakeError::MissingField("server_hello.payload"))
    );

    let (server, client, server_hello) = fixture.hello(chain);
    let client = client
        .read_server_hello(&server_hello, &root, NOW)
        .expect("hello");
    let (finish, _) = client.finish(b"p").expect("finish");
    let no_static = edit_message(&finish, |m| {
        m.client_finish.as_mut().expect("finish").r#static = None
    });
    assert_eq!(
        server.read_client_finish(&no_static).map(|_| ()),
        Err(HandshakeError::MissingField("client_finish.static"))
    );
}

#[test]
fn debug_output_redacts_secrets() {
    let mut fixture = Fixture::new(12);
    let (client, accepted) = fixture.complete(b"+15551234567");
    let shown = format!("{client:?} {accepted:?} {:?}", fixture.client_static);
    let private: String = fixture
        .client_static
        .private_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&private), "{shown}");
    assert!(!shown.contains("15551234567"), "{shown}");
}
