//! Rough timings, not a benchmark (benches/ has the criterion ones):
//! `cargo test -p blacksky-core --release --test noise_perf -- --ignored --nocapture`

use std::hint::black_box;
use std::time::{Duration, Instant};

use blacksky_core::crypto::KeyPair;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::noise::{
    CertChainSpec, ClientHandshake, ServerHandshake, TAG_LEN, Transport, build_cert_chain,
};
use blacksky_proto::Message;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const PROLOGUE: [u8; 4] = [0x57, 0x41, 0x06, 0x03];
const NOW: UnixMillis = UnixMillis(1_750_000_000_000);
const FRAME: usize = 64 * 1024;
const BUDGET: Duration = Duration::from_millis(1500);

#[test]
#[ignore = "timing: run with --release --ignored --nocapture"]
fn handshakes_per_second() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let root = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let client_static = KeyPair::generate(&mut rng);
    let spec = CertChainSpec::valid_from(NOW, 86_400);
    let chain = build_cert_chain(&root, server_static.public(), &spec, &mut rng).encode_to_vec();

    let start = Instant::now();
    let mut count = 0u32;
    while start.elapsed() < BUDGET {
        let (client, hello) = ClientHandshake::start(&PROLOGUE, &client_static, &mut rng);
        let server = ServerHandshake::new(&PROLOGUE, &server_static, chain.clone());
        let (server, server_hello) = server.read_client_hello(&hello, &mut rng).expect("hello");
        let client = client
            .read_server_hello(&server_hello, root.public(), NOW)
            .expect("server hello");
        let (finish, _) = client.finish(&[0u8; 200]).expect("finish");
        black_box(server.read_client_finish(&finish).expect("client finish"));
        count += 1;
    }
    let per_sec = f64::from(count) / start.elapsed().as_secs_f64();
    println!("full handshakes (both sides, cert chain verified): {per_sec:.0}/s");
}

#[test]
#[ignore = "timing: run with --release --ignored --nocapture"]
fn transport_decrypt_64k() {
    let (k1, k2) = ([1u8; 32], [2u8; 32]);
    let mut sender = Transport::from_raw_keys(&k1, &k2);
    let mut receiver = Transport::from_raw_keys(&k2, &k1);
    // Pre-seal a batch so the loop times decryption only.
    let batch: Vec<Vec<u8>> = (0..256)
        .map(|i| sender.encrypt(&vec![i as u8; FRAME]).expect("encrypt"))
        .collect();
    let mut work = vec![0u8; FRAME + TAG_LEN];

    let mut bytes = 0u64;
    let mut busy = Duration::ZERO;
    let wall = Instant::now();
    'outer: while wall.elapsed() < BUDGET {
        let mut fresh = Transport::from_raw_keys(&k2, &k1);
        std::mem::swap(&mut fresh, &mut receiver);
        for frame in &batch {
            work.copy_from_slice(frame);
            let t = Instant::now();
            let plain = receiver.decrypt_in_place(&mut work).expect("decrypt");
            busy += t.elapsed();
            bytes += plain.len() as u64;
            if wall.elapsed() > BUDGET {
                break 'outer;
            }
        }
    }
    let ours = bytes as f64 / busy.as_secs_f64() / 1e6;

    // The same work on ring directly: the ceiling we are measured against.
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k1).expect("key"));
    let mut raw_bytes = 0u64;
    let mut raw_busy = Duration::ZERO;
    let wall = Instant::now();
    while wall.elapsed() < BUDGET {
        for (n, frame) in batch.iter().enumerate() {
            work.copy_from_slice(frame);
            let mut iv = [0u8; 12];
            iv[8..].copy_from_slice(&(n as u32).to_be_bytes());
            let t = Instant::now();
            let plain = key
                .open_in_place(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut work)
                .expect("raw decrypt");
            raw_busy += t.elapsed();
            raw_bytes += plain.len() as u64;
        }
    }
    let raw = raw_bytes as f64 / raw_busy.as_secs_f64() / 1e6;
    println!(
        "transport decrypt_in_place, 64 KiB frames: {ours:.0} MB/s (raw ring AES-256-GCM: {raw:.0} MB/s, {:.0} %)",
        100.0 * ours / raw
    );
}
