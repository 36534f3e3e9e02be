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

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

use blacksky_benches::{Stanza, load_stanzas};
use blacksky_core::client::{Client, ClientConfig, Input, OpId, Output};
use blacksky_core::crypto::KeyPair;
use blacksky_core::session::{self, Committed, Creds, Me};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{Jid, Node, Str, Value, encode};
use blacksky_core::wire::frame::{FrameDecoder, FrameEncoder, INTRO_HEADER};
use blacksky_core::wire::noise::{
    CertChainSpec, ServerHandshake, Transport, Validity, build_cert_chain,
};
use blacksky_proto::Message as _;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

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

fn logged_in() -> Session {
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
    session
}

/// The stanza's bytes with message id number `n` (others unchanged).
fn with_id(stanza: &Stanza, n: u64) -> Vec<u8> {
    let mut node = stanza.node.clone();
    if let Some(slot) = node.attrs.iter_mut().find(|(key, _)| key.as_str() == "id") {
        slot.1 = Value::Str(Str::from(format!("3EB0{n:016X}")));
    }
    encode(&node).expect("encode")
}

fn client_receive(c: &mut Criterion) {
    let Session {
        client,
        mut server,
        now,
    } = logged_in();
    // Shared by the untimed set-up (answers the last store batches, makes
    // the next frame) and the timed routine.
    let client = RefCell::new(client);
    let pending = RefCell::new(Vec::<OpId>::new());
    let mut next_id = 0u64;
    let stanzas = load_stanzas();

    // Frame in → the store batch out: what the budget is about.
    let mut group = c.benchmark_group("client_receive");
    for stanza in &stanzas {
        group.throughput(throughput(stanza));
        group.bench_function(&stanza.name, |b| {
            b.iter_batched(
                || {
                    answer(&mut client.borrow_mut(), &mut pending.borrow_mut(), now);
                    next_id += 1;
                    server.frame(&with_id(stanza, next_id))
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
                    server.frame(&with_id(stanza, next_id))
                },
                |frame: Vec<u8>| {
                    let mut client = client.borrow_mut();
                    receive(&mut client, &frame, now);
                    let stored = drain(&mut client, now);
                    debug_assert!(!is_message || stored == 1);
                    stored
                },
                BatchSize::SmallInput,
            )
        });
        assert!(!client.borrow().is_closed(), "{}: closed", stanza.name);
    }
    group.finish();
}

fn throughput(stanza: &Stanza) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: 1,
        bytes: with_id(stanza, 0).len() as u64,
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

criterion_group!(benches, client_receive);
criterion_main!(benches);
