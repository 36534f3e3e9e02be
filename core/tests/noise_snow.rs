//! Interop with a Noise implementation we did not write: `snow` with
//! `Noise_XX_25519_AESGCM_SHA256` and the WhatsApp prologue, against our
//! raw XX layer (the same code the WhatsApp handshake runs, minus the
//! protobuf envelope). snow follows the spec and MixHashes message 1's
//! empty payload; WhatsApp does not, so these runs set
//! `mix_empty_first_payload`, and one test shows that without it the
//! handshakes part ways exactly there.
//!
//! XX message 2 is `e ‖ enc(s) ‖ enc(payload)` (32 + 48 + n + 16 bytes),
//! message 3 is `enc(s) ‖ enc(payload)` (48 + n + 16).

use blacksky_core::crypto::KeyPair;
use blacksky_core::wire::noise::{
    HandshakeError, HandshakeStep, Transport, XxInitiator, XxOptions, XxResponder,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PROLOGUE: [u8; 4] = [0x57, 0x41, 0x06, 0x03];
const PATTERN: &str = "Noise_XX_25519_AESGCM_SHA256";
const STOCK: XxOptions = XxOptions {
    mix_empty_first_payload: true,
};

fn snow_builder<'a>(private: &'a [u8]) -> snow::Builder<'a> {
    let params = PATTERN.parse().expect("snow knows the pattern");
    snow::Builder::new(params)
        .local_private_key(private)
        .prologue(&PROLOGUE)
}

fn snow_write(state: &mut snow::HandshakeState, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 65_535];
    let len = state.write_message(payload, &mut buf).expect("snow writes");
    buf.truncate(len);
    buf
}

fn snow_read(state: &mut snow::HandshakeState, message: &[u8]) -> Result<Vec<u8>, snow::Error> {
    let mut buf = vec![0u8; 65_535];
    let len = state.read_message(message, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

/// Frames both ways, several each, interleaved.
fn exchange(ours: &mut Transport, theirs: &mut snow::TransportState, messages: &[Vec<u8>]) {
    let mut buf = vec![0u8; 65_535];
    for (i, message) in messages.iter().enumerate() {
        // ours → snow
        let frame = ours.encrypt(message).expect("we encrypt");
        let len = theirs
            .read_message(&frame, &mut buf)
            .expect("snow decrypts ours");
        assert_eq!(&buf[..len], message.as_slice(), "ours → snow #{i}");
        // snow → ours
        let len = theirs
            .write_message(message, &mut buf)
            .expect("snow encrypts");
        let plain = ours.decrypt(&buf[..len]).expect("we decrypt snow's");
        assert_eq!(&plain, message, "snow → ours #{i}");
    }
    let n = messages.len() as u64;
    assert_eq!((ours.write_counter(), ours.read_counter()), (n, n));
    assert_eq!((theirs.sending_nonce(), theirs.receiving_nonce()), (n, n));
}

fn our_initiator_with_snow_responder(
    seed: u64,
    server_payload: &[u8],
    client_payload: &[u8],
    messages: &[Vec<u8>],
) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let client_static = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let server_private = server_static.private_bytes();
    let mut snow = snow_builder(&server_private[..])
        .build_responder()
        .expect("snow responder");

    let (mut ours, e) = XxInitiator::start(
        &PROLOGUE,
        &client_static,
        KeyPair::generate(&mut rng),
        STOCK,
    );
    assert!(
        snow_read(&mut snow, &e)
            .expect("snow reads message 1")
            .is_empty()
    );

    let message2 = snow_write(&mut snow, server_payload);
    assert_eq!(message2.len(), 32 + 48 + server_payload.len() + 16);
    let (re, rest) = message2.split_at(32);
    let (enc_s, enc_payload) = rest.split_at(48);
    let (rs, payload) = ours
        .read_message2(re, enc_s, enc_payload)
        .expect("we read snow's message 2");
    assert_eq!(&rs, server_static.public());
    assert_eq!(payload, server_payload);

    let (enc_s, enc_payload) = ours
        .write_message3(client_payload)
        .expect("we write message 3");
    let message3 = [enc_s, enc_payload].concat();
    assert_eq!(
        snow_read(&mut snow, &message3).expect("snow reads message 3"),
        client_payload
    );
    assert_eq!(snow.get_remote_static(), Some(&client_static.public()[..]));
    assert_eq!(snow.get_handshake_hash(), &ours.handshake_hash()[..]);

    let mut theirs = snow.into_transport_mode().expect("snow transport");
    let mut ours = ours.into_transport().expect("our transport");
    exchange(&mut ours, &mut theirs, messages);
}

fn our_responder_with_snow_initiator(
    seed: u64,
    server_payload: &[u8],
    client_payload: &[u8],
    messages: &[Vec<u8>],
) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let client_static = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let client_private = client_static.private_bytes();
    let mut snow = snow_builder(&client_private[..])
        .build_initiator()
        .expect("snow initiator");

    let mut ours = XxResponder::new(&PROLOGUE, &server_static, STOCK);
    let message1 = snow_write(&mut snow, &[]);
    assert_eq!(message1.len(), 32);
    ours.read_message1(&message1).expect("we read message 1");

    let m2 = ours
        .write_message2(KeyPair::generate(&mut rng), server_payload)
        .expect("we write message 2");
    let message2 = [&m2.e[..], &m2.enc_s, &m2.enc_payload].concat();
    assert_eq!(
        snow_read(&mut snow, &message2).expect("snow reads message 2"),
        server_payload
    );
    assert_eq!(snow.get_remote_static(), Some(&server_static.public()[..]));

    let message3 = snow_write(&mut snow, client_payload);
    let (enc_s, enc_payload) = message3.split_at(48);
    let (rs, payload) = ours
        .read_message3(enc_s, enc_payload)
        .expect("we read snow's message 3");
    assert_eq!(&rs, client_static.public());
    assert_eq!(payload, client_payload);
    assert_eq!(snow.get_handshake_hash(), &ours.handshake_hash()[..]);

    let mut theirs = snow.into_transport_mode().expect("snow transport");
    let mut ours = ours.into_transport().expect("our transport");
    exchange(&mut ours, &mut theirs, messages);
}

fn sample_messages() -> Vec<Vec<u8>> {
    vec![vec![], b"ping".to_vec(), vec![0xAB; 1000], vec![7; 16]]
}

#[test]
fn our_initiator_completes_with_snow_responder() {
    our_initiator_with_snow_responder(
        1,
        b"certificate chain",
        b"client payload",
        &sample_messages(),
    );
}

#[test]
fn our_responder_completes_with_snow_initiator() {
    our_responder_with_snow_initiator(
        2,
        b"certificate chain",
        b"client payload",
        &sample_messages(),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn interop_any_payloads(
        seed: u64,
        server_payload in proptest::collection::vec(any::<u8>(), 0..600),
        client_payload in proptest::collection::vec(any::<u8>(), 0..600),
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..8),
    ) {
        our_initiator_with_snow_responder(seed, &server_payload, &client_payload, &messages);
        our_responder_with_snow_initiator(seed, &server_payload, &client_payload, &messages);
    }
}

/// WhatsApp's mode (the default) against stock Noise: the transcripts
/// differ from message 1 on, so the first encrypted field fails.
#[test]
fn whatsapp_mode_does_not_talk_to_stock_noise() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let client_static = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let server_private = server_static.private_bytes();
    let mut snow = snow_builder(&server_private[..])
        .build_responder()
        .expect("snow responder");
    let (mut ours, e) = XxInitiator::start(
        &PROLOGUE,
        &client_static,
        KeyPair::generate(&mut rng),
        XxOptions::default(),
    );
    snow_read(&mut snow, &e).expect("snow reads message 1");
    let message2 = snow_write(&mut snow, b"x");
    assert_eq!(
        ours.read_message2(&message2[..32], &message2[32..80], &message2[80..]),
        Err(HandshakeError::DecryptFailed {
            step: HandshakeStep::ServerStatic
        })
    );

    // And the other way round: snow cannot read our message 2.
    let client_private = client_static.private_bytes();
    let mut snow = snow_builder(&client_private[..])
        .build_initiator()
        .expect("snow initiator");
    let mut ours = XxResponder::new(&PROLOGUE, &server_static, XxOptions::default());
    ours.read_message1(&snow_write(&mut snow, &[]))
        .expect("message 1");
    let m2 = ours
        .write_message2(KeyPair::generate(&mut rng), b"x")
        .expect("message 2");
    assert!(snow_read(&mut snow, &[&m2.e[..], &m2.enc_s, &m2.enc_payload].concat()).is_err());
}
