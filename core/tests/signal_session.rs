//! blacksky's Signal sessions against themselves: set-up both ways, the
//! stored form, bounds, refusals that change nothing, out-of-order and
//! repeated delivery, previous sessions, and `Debug` that shows no secret.

#[path = "support/signal_party.rs"]
mod signal_party;

use blacksky_core::session::SignedPreKey;
use blacksky_core::signal::{
    self, FormatError, Handshake, Initiator, KeyError, MessageKind, PREVIOUS_SESSIONS_LEN_MAX,
    PreKeySignalMessage, RECEIVING_CHAINS_LEN_MAX, RecordError, SKIPPED_KEYS_LEN_MAX,
    SessionRecord, SignalError, SignalMessage,
};
use blacksky_core::wire::noise::KeyPair;
use blacksky_proto::Message as _;
use blacksky_proto::{store as pb, wa};
use proptest::prelude::*;
use signal_party::Party;

/// Alice starts from Bob's bundle (one-time pre-key 31); her pkmsg and
/// Bob's answer establish the session.
fn established(seed: u64) -> (Party, Party) {
    let mut alice = Party::new(seed);
    let mut bob = Party::new(seed + 1000);
    alice
        .start_session(&bob.bundle(Some(31)))
        .expect("bundle verifies");
    let (kind, body) = alice.encrypt(b"hello bob");
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(bob.decrypt(kind, &body).as_deref(), Ok(&b"hello bob"[..]));
    let (kind, body) = bob.encrypt(b"hello alice");
    assert_eq!(kind, MessageKind::Msg);
    assert_eq!(
        alice.decrypt(kind, &body).as_deref(),
        Ok(&b"hello alice"[..])
    );
    (alice, bob)
}

fn send(from: &mut Party, to: &mut Party, text: &str) {
    let (kind, body) = from.encrypt(text.as_bytes());
    assert_eq!(to.decrypt(kind, &body).as_deref(), Ok(text.as_bytes()));
}

fn counters(body: &[u8]) -> (u32, u32) {
    let message = SignalMessage::decode(body).expect("a msg");
    (message.counter, message.previous_counter)
}

#[test]
fn session_set_up_consumes_the_one_time_pre_key_once() {
    let (mut alice, mut bob) = established(1);
    assert!(!bob.one_time.contains_key(&31));
    assert_eq!(bob.one_time.len(), 2);
    assert_eq!(alice.state().initiator(), Initiator::Us);
    assert_eq!(bob.state().initiator(), Initiator::Them);
    assert_eq!(alice.state().base_key(), bob.state().base_key());
    assert_eq!(alice.state().handshake(), &Handshake::Established);
    assert_eq!(bob.state().remote_registration_id(), alice.registration_id);
    for turn in 0..4 {
        send(&mut alice, &mut bob, &format!("a{turn}"));
        send(&mut bob, &mut alice, &format!("b{turn}"));
    }
}

#[test]
fn without_a_one_time_pre_key_too() {
    let mut alice = Party::new(2);
    let mut bob = Party::new(3);
    alice.start_session(&bob.bundle(None)).expect("verifies");
    let (kind, body) = alice.encrypt(b"no one-time key");
    let pkmsg = PreKeySignalMessage::decode(&body).expect("a pkmsg");
    assert_eq!(pkmsg.pre_key_id, None);
    assert_eq!(
        bob.decrypt(kind, &body).as_deref(),
        Ok(&b"no one-time key"[..])
    );
    assert_eq!(bob.one_time.len(), 3, "nothing consumed");
    send(&mut bob, &mut alice, "answer");
}

#[test]
fn repeated_pkmsgs_in_any_order_decrypt_and_consume_nothing_more() {
    let mut alice = Party::new(4);
    let mut bob = Party::new(5);
    alice
        .start_session(&bob.bundle(Some(32)))
        .expect("verifies");
    let sent: Vec<_> = (0..3)
        .map(|i| alice.encrypt(format!("early {i}").as_bytes()))
        .collect();
    assert!(sent.iter().all(|(kind, _)| *kind == MessageKind::PreKeyMsg));
    for index in [2, 0, 1] {
        let (kind, body) = &sent[index];
        assert_eq!(
            bob.decrypt(*kind, body).as_deref(),
            Ok(format!("early {index}").as_bytes())
        );
    }
    assert_eq!(bob.one_time.len(), 2);
    assert_eq!(bob.record.as_ref().map(|r| r.previous().len()), Some(0));
    // A pkmsg seen already is a duplicate, not a new session.
    assert_eq!(
        bob.decrypt(sent[1].0, &sent[1].1),
        Err(SignalError::DuplicateMessage { counter: 1 })
    );
    send(&mut bob, &mut alice, "answer");
    let (kind, _) = alice.encrypt(b"now msg");
    assert_eq!(kind, MessageKind::Msg);
}

#[test]
fn previous_counter_is_the_last_index_sent() {
    let (mut alice, mut bob) = established(6);
    for i in 0..3 {
        let (kind, body) = alice.encrypt(format!("m{i}").as_bytes());
        assert_eq!(counters(&body).0, i);
        bob.decrypt(kind, &body).expect("decrypts");
    }
    send(&mut bob, &mut alice, "your turn");
    let (_, body) = alice.encrypt(b"new chain");
    assert_eq!(counters(&body), (0, 2));
}

#[test]
fn the_stored_form_round_trips_and_keeps_working() {
    let (mut alice, mut bob) = established(7);
    // Some skipped keys and several chains make every field count.
    let skipped: Vec<_> = (0..4)
        .map(|i| alice.encrypt(format!("s{i}").as_bytes()))
        .collect();
    bob.decrypt(skipped[3].0, &skipped[3].1).expect("decrypts");
    send(&mut bob, &mut alice, "turn");
    alice
        .start_session(&bob.bundle(Some(33)))
        .expect("a second session");
    for party in [&mut alice, &mut bob] {
        let bytes = party.record_bytes();
        let decoded = SessionRecord::decode(&bytes).expect("reads back");
        assert_eq!(decoded.encode(), bytes);
        party.record = Some(decoded);
    }
    assert_eq!(bob.state().skipped_keys_len(), 3);
    assert_eq!(alice.record.as_ref().map(|r| r.previous().len()), Some(1));
    for index in [1, 0, 2] {
        bob.decrypt(skipped[index].0, &skipped[index].1)
            .expect("skipped keys survive the round trip");
    }
    // Alice's open session is the new one: Bob takes its pkmsg.
    let (kind, body) = alice.encrypt(b"new session");
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(bob.decrypt(kind, &body).as_deref(), Ok(&b"new session"[..]));
    assert!(!bob.one_time.contains_key(&33));
}

#[test]
fn stored_form_errors_name_the_field() {
    let (alice, _) = established(8);
    let mut stored = pb::SignalRecord::decode(&alice.record_bytes()[..]).expect("protobuf");
    assert!(matches!(
        SessionRecord::decode(b"\xff\xff\xff"),
        Err(RecordError::Protobuf(_))
    ));
    assert_eq!(
        SessionRecord::decode(&[]).map(|_| ()),
        Err(RecordError::Missing("current"))
    );
    let current = stored.current.as_mut().expect("current");
    current.root_key.pop();
    assert_eq!(
        SessionRecord::decode(&stored.encode_to_vec()).map(|_| ()),
        Err(RecordError::Key(KeyError::Length {
            field: "root_key",
            len: 31,
            expected: 32
        }))
    );
    let mut stored = pb::SignalRecord::decode(&alice.record_bytes()[..]).expect("protobuf");
    let current = stored.current.clone().expect("current");
    stored.previous = vec![current; PREVIOUS_SESSIONS_LEN_MAX + 1];
    assert_eq!(
        SessionRecord::decode(&stored.encode_to_vec()).map(|_| ()),
        Err(RecordError::OverLimit {
            field: "previous",
            len: PREVIOUS_SESSIONS_LEN_MAX + 1,
            max: PREVIOUS_SESSIONS_LEN_MAX
        })
    );
}

#[test]
fn a_refused_message_changes_nothing() {
    let (mut alice, mut bob) = established(9);
    send(
        &mut bob,
        &mut alice,
        "so that Alice's next message has a new ratchet key",
    );
    let (kind, good) = alice.encrypt(b"the real one");
    let record = bob.record.clone().expect("a session");
    let before = record.encode();
    let mut bad_mac = good.clone();
    let last = bad_mac.len() - 1;
    bad_mac[last] ^= 0x40;
    let mut bad_body = good.clone();
    bad_body[last - 12] ^= 0x01;
    let mut refused = Vec::new();
    for bytes in [
        &bad_mac[..],
        &bad_body[..],
        &good[..good.len() - 3],
        b"\x33",
    ] {
        let result = signal::decrypt_msg(&record, &bob.identity, bytes, &mut bob.rng);
        refused.push(result.map(|d| d.plaintext));
        assert_eq!(record.encode(), before, "the input record is untouched");
    }
    assert_eq!(refused[0], Err(SignalError::BadMac { counter: 0 }));
    assert!(refused.iter().all(Result::is_err), "{refused:?}");
    assert_eq!(
        bob.decrypt(kind, &good).as_deref(),
        Ok(&b"the real one"[..])
    );
    // Once taken, the same message is a duplicate, and changes nothing.
    let after = bob.record_bytes();
    assert_eq!(
        bob.decrypt(kind, &good),
        Err(SignalError::DuplicateMessage { counter: 0 })
    );
    assert_eq!(bob.record_bytes(), after);
}

#[test]
fn receiving_chains_are_bounded_and_a_message_on_a_dropped_one_fails() {
    let (mut alice, mut bob) = established(10);
    let late = alice.encrypt(b"late");
    for turn in 0..RECEIVING_CHAINS_LEN_MAX + 2 {
        send(&mut bob, &mut alice, &format!("b{turn}"));
        send(&mut alice, &mut bob, &format!("a{turn}"));
    }
    assert_eq!(bob.state().receiving_chains_len(), RECEIVING_CHAINS_LEN_MAX);
    let before = bob.record_bytes();
    assert!(bob.decrypt(late.0, &late.1).is_err());
    assert_eq!(bob.record_bytes(), before);
}

#[test]
fn skipped_keys_are_bounded_oldest_first() {
    let (mut alice, mut bob) = established(11);
    send(&mut bob, &mut alice, "so that Alice starts a new chain");
    let first: Vec<_> = (0..1_500).map(|_| alice.encrypt(b"first chain")).collect();
    bob.decrypt(first[1_499].0, &first[1_499].1)
        .expect("1,499 skipped");
    assert_eq!(bob.state().skipped_keys_len(), 1_499);
    send(&mut bob, &mut alice, "turn");
    let second: Vec<_> = (0..1_500).map(|_| alice.encrypt(b"second chain")).collect();
    bob.decrypt(second[1_499].0, &second[1_499].1)
        .expect("1,499 more");
    assert_eq!(bob.state().skipped_keys_len(), SKIPPED_KEYS_LEN_MAX);
    // The first chain's oldest 998 keys went; its newer ones stayed.
    assert_eq!(
        bob.decrypt(first[0].0, &first[0].1),
        Err(SignalError::DuplicateMessage { counter: 0 })
    );
    assert_eq!(
        bob.decrypt(first[997].0, &first[997].1),
        Err(SignalError::DuplicateMessage { counter: 997 })
    );
    assert!(bob.decrypt(first[998].0, &first[998].1).is_ok());
    assert!(bob.decrypt(second[0].0, &second[0].1).is_ok());
}

#[test]
fn too_far_ahead_is_refused_at_the_libsignal_bound() {
    let (mut alice, mut bob) = established(12);
    send(&mut bob, &mut alice, "so that Alice starts a new chain");
    let burst: Vec<_> = (0..2_001).map(|_| alice.encrypt(b"x")).collect();
    let before = bob.record_bytes();
    assert_eq!(
        bob.decrypt(burst[2_000].0, &burst[2_000].1),
        Err(SignalError::TooFarAhead {
            counter: 2_000,
            next: 0,
            skipped: 2_000,
            max: 1_999
        })
    );
    assert_eq!(bob.record_bytes(), before);
    assert!(bob.decrypt(burst[1_999].0, &burst[1_999].1).is_ok());
    assert!(bob.decrypt(burst[2_000].0, &burst[2_000].1).is_ok());
}

#[test]
fn previous_sessions_are_bounded() {
    let mut alice = Party::new(13);
    let bob = Party::new(14);
    for _ in 0..PREVIOUS_SESSIONS_LEN_MAX + 5 {
        alice.start_session(&bob.bundle(None)).expect("verifies");
    }
    let record = alice.record.as_ref().expect("a record");
    assert_eq!(record.previous().len(), PREVIOUS_SESSIONS_LEN_MAX);
    let bytes = record.encode();
    assert_eq!(
        SessionRecord::decode(&bytes).map(|r| r.previous().len()),
        Ok(PREVIOUS_SESSIONS_LEN_MAX)
    );
}

#[test]
fn a_previous_session_still_decrypts_and_opens_again() {
    let (mut alice, mut bob) = established(15);
    // Alice starts over (say, after a retry receipt) while Bob keeps
    // sending on the session he has.
    alice
        .start_session(&bob.bundle(Some(32)))
        .expect("verifies");
    assert_eq!(alice.encrypt(b"pkmsg").0, MessageKind::PreKeyMsg);
    let (kind, body) = bob.encrypt(b"on the old session");
    assert_eq!(
        alice.decrypt(kind, &body).as_deref(),
        Ok(&b"on the old session"[..])
    );
    // The old session is open again, the new one archived.
    assert_eq!(alice.record.as_ref().map(|r| r.previous().len()), Some(1));
    let (kind, body) = alice.encrypt(b"back on it");
    assert_eq!(kind, MessageKind::Msg);
    assert_eq!(bob.decrypt(kind, &body).as_deref(), Ok(&b"back on it"[..]));
}

#[test]
fn pkmsg_refusals_name_the_missing_key() {
    let mut bob = Party::new(16);
    let mut alice = Party::new(17);
    alice
        .start_session(&bob.bundle(Some(31)))
        .expect("verifies");
    let (kind, first) = alice.encrypt(b"first");

    // Bob has rotated his signed pre-key: without the previous one kept,
    // the pkmsg is refused; with it (grace period) it decrypts.
    let old = bob.signed.clone();
    bob.signed = SignedPreKey::generate(&bob.identity, 8, &mut bob.rng);
    assert_eq!(
        bob.decrypt(kind, &first),
        Err(SignalError::UnknownSignedPreKey { id: 7 })
    );
    bob.previous_signed = Some(old);
    assert!(bob.decrypt(kind, &first).is_ok());

    // A second initiator given the same one-time pre-key (already used).
    let mut carol = Party::new(18);
    let mut bundle = bob.bundle(Some(32));
    bundle.one_time_pre_key = Some(signal::OneTimePreKeyPublic {
        id: 31,
        key: signal::PublicKey::from([9; 32]),
    });
    carol.start_session(&bundle).expect("verifies");
    let (kind, body) = carol.encrypt(b"hi");
    assert_eq!(
        bob.decrypt(kind, &body),
        Err(SignalError::UnknownPreKey { id: 31 })
    );

    // A pkmsg naming Alice's session but carrying another identity key.
    let mut forged = wa::PreKeyWhisperMessage::decode(&first[1..]).expect("protobuf");
    let mut other = carol.bundle(None).identity.prefixed().to_vec();
    other[5] ^= 1;
    forged.identity_key = Some(other);
    let mut bytes = vec![0x33];
    bytes.extend(forged.encode_to_vec());
    assert_eq!(
        bob.decrypt(MessageKind::PreKeyMsg, &bytes),
        Err(SignalError::IdentityMismatch)
    );
}

#[test]
fn bundles_that_do_not_verify_or_hold_weak_keys_are_refused() {
    let mut alice = Party::new(19);
    let bob = Party::new(20);
    let mut bundle = bob.bundle(Some(31));
    bundle.signed_pre_key.signature[0] ^= 1;
    assert_eq!(
        alice.start_session(&bundle),
        Err(SignalError::BadSignedPreKeySignature { id: 7 })
    );
    assert!(alice.record.is_none());
    // A low-order signed pre-key, validly signed: X3DH refuses it.
    let mut bundle = bob.bundle(None);
    bundle.signed_pre_key.key = signal::PublicKey::from([0; 32]);
    bundle.signed_pre_key.signature = bob
        .identity
        .sign(&bundle.signed_pre_key.key.prefixed(), &mut alice.rng);
    assert_eq!(
        alice.start_session(&bundle),
        Err(SignalError::WeakKey {
            key: "their signed pre-key"
        })
    );
}

#[test]
fn malformed_messages_are_format_errors() {
    let (mut alice, bob) = established(21);
    let (_, good) = alice.encrypt(b"x");
    let record = bob.record.as_ref().expect("session");
    let mut rng = bob.rng.clone();
    let mut decrypt = |bytes: &[u8]| {
        signal::decrypt_msg(record, &bob.identity, bytes, &mut rng).map(|d| d.plaintext)
    };
    assert_eq!(
        decrypt(&good[..8]),
        Err(SignalError::Format(FormatError::TooShort {
            kind: MessageKind::Msg,
            len: 8
        }))
    );
    let mut v2 = good.clone();
    v2[0] = 0x22;
    assert_eq!(
        decrypt(&v2),
        Err(SignalError::Format(FormatError::Version {
            kind: MessageKind::Msg,
            version: 2
        }))
    );
    let mut no_key = wa::WhisperMessage::decode(&good[1..good.len() - 8]).expect("protobuf");
    no_key.ratchet_key = None;
    let mut bytes = vec![0x33];
    bytes.extend(no_key.encode_to_vec());
    bytes.extend([0; 8]);
    assert_eq!(
        decrypt(&bytes),
        Err(SignalError::Format(FormatError::Missing {
            kind: MessageKind::Msg,
            field: "ratchet_key"
        }))
    );
    let mut wrong_type = wa::WhisperMessage::decode(&good[1..good.len() - 8]).expect("protobuf");
    if let Some(key) = wrong_type.ratchet_key.as_mut() {
        key[0] = 0x08;
    }
    let mut bytes = vec![0x33];
    bytes.extend(wrong_type.encode_to_vec());
    bytes.extend([0; 8]);
    assert_eq!(
        decrypt(&bytes),
        Err(SignalError::Format(FormatError::Key {
            kind: MessageKind::Msg,
            source: KeyError::Type {
                field: "ratchet_key",
                type_byte: 0x08
            }
        }))
    );
    assert!(matches!(
        PreKeySignalMessage::decode(&[]),
        Err(FormatError::TooShort { len: 0, .. })
    ));
    assert!(matches!(
        PreKeySignalMessage::decode(&[0x33, 0xff]),
        Err(FormatError::Protobuf { .. })
    ));
}

#[test]
fn errors_name_their_culprit() {
    let shown = |e: SignalError| e.to_string();
    assert_eq!(
        shown(SignalError::TooFarAhead {
            counter: 2_500,
            next: 3,
            skipped: 2_497,
            max: 1_999
        }),
        "msg counter 2500 would skip 2497 messages after the next expected one (3); at most 1999 may be skipped"
    );
    assert_eq!(
        shown(SignalError::UnknownPreKey { id: 31 }),
        "pkmsg names one-time pre-key 31, which this device does not have (used already?)"
    );
    assert_eq!(
        shown(SignalError::Format(FormatError::Missing {
            kind: MessageKind::PreKeyMsg,
            field: "base_key"
        })),
        "pkmsg: field base_key is missing"
    );
}

/// Every secret of the record, as `Debug` might print it: lower-case hex,
/// and Rust's decimal list of its first bytes.
fn secret_renderings(record: &SessionRecord) -> Vec<String> {
    let stored = pb::SignalRecord::decode(&record.encode()[..]).expect("protobuf");
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for state in stored.current.iter().chain(stored.previous.iter()) {
        secrets.push(state.root_key.clone());
        if let Some(sending) = &state.sending {
            secrets.push(sending.ratchet_private.clone());
            secrets.push(sending.chain_key.clone());
        }
        for chain in &state.receiving {
            secrets.push(chain.chain_key.clone());
            secrets.extend(chain.skipped.iter().map(|k| k.seed.clone()));
        }
    }
    assert!(secrets.len() > 6, "the record holds secrets to look for");
    secrets
        .iter()
        .flat_map(|secret| {
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            let decimal = format!("{:?}", &secret[..6]);
            [hex, decimal.trim_end_matches(']').to_owned()]
        })
        .collect()
}

#[test]
fn debug_never_shows_key_material_or_plaintext() {
    let (mut alice, mut bob) = established(22);
    let skipped: Vec<_> = (0..3).map(|_| alice.encrypt(b"s")).collect();
    bob.decrypt(skipped[2].0, &skipped[2].1).expect("decrypts");
    let (kind, body) = alice.encrypt(b"TOP-SECRET-PLAINTEXT");
    let record = bob.record.clone().expect("session");
    let decrypted =
        signal::decrypt_msg(&record, &bob.identity, &body, &mut bob.rng).expect("decrypts");
    assert_eq!(kind, MessageKind::Msg);
    let stored = pb::SignalRecord::decode(&record.encode()[..]).expect("protobuf");
    let shown = [
        format!("{record:?}"),
        format!("{:?}", record.current()),
        format!("{decrypted:?}"),
        format!("{stored:?}"),
        format!("{:?}", SignalMessage::decode(&body).expect("msg")),
    ];
    for secret in secret_renderings(&record) {
        for text in &shown {
            assert!(!text.contains(&secret), "{secret} in {text}");
        }
    }
    assert!(shown.iter().all(|t| !t.contains("TOP-SECRET")));
    assert!(shown[0].contains("<redacted>"));
    // Public keys stay visible: they tell sessions apart.
    let base: String = record
        .current()
        .base_key()
        .raw()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(shown[0].contains(&base), "{}", shown[0]);
    let identity = KeyPair::from_private_bytes([1; 32]);
    assert!(!format!("{identity:?}").contains("0101010101"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Alice sends turns of messages, Bob answering between turns; Bob gets
    /// each turn's messages shuffled and some twice: every message decrypts
    /// once, every repeat is a duplicate and changes nothing.
    #[test]
    fn shuffled_and_repeated_delivery(
        seed in 0u64..1_000_000,
        turns in proptest::collection::vec((1usize..8, any::<proptest::sample::Index>()), 1..5),
        repeats in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    ) {
        let (mut alice, mut bob) = established(seed);
        let mut sent = Vec::new();
        for (turn, (count, rotation)) in turns.iter().enumerate() {
            let batch: Vec<_> = (0..*count)
                .map(|i| (format!("t{turn} m{i}"), alice.encrypt(format!("t{turn} m{i}").as_bytes())))
                .collect();
            let offset = rotation.index(batch.len());
            let mut order: Vec<usize> = (0..batch.len()).collect();
            order.rotate_left(offset);
            order.reverse();
            for index in order {
                let (text, (kind, body)) = &batch[index];
                let plaintext = bob.decrypt(*kind, body);
                prop_assert_eq!(plaintext.as_deref(), Ok(text.as_bytes()));
            }
            sent.extend(batch);
            send(&mut bob, &mut alice, "answer");
        }
        for repeat in repeats {
            let (_, (kind, body)) = &sent[repeat.index(sent.len())];
            let before = bob.record_bytes();
            let result = bob.decrypt(*kind, body);
            prop_assert!(
                matches!(result, Err(SignalError::DuplicateMessage { .. })),
                "{:?}", result
            );
            prop_assert_eq!(bob.record_bytes(), before);
        }
    }
}
