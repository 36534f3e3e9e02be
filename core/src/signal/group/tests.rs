//! Sender keys between two of our own records: order, bounds, refusals,
//! and that a refusal never changes the record it was given.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::crypto::xeddsa;
use crate::signal::{KeyError, PublicKey, SecretKey};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Our sender key, a member's record of it, and `count` messages sent.
fn sent(seed: u64, count: usize) -> (SenderKeyRecord, SenderKeyRecord, Vec<Vec<u8>>) {
    let mut rng = rng(seed);
    let (mut ours, distribution) = create_sender_key(&mut rng);
    let theirs =
        process_distribution(&SenderKeyRecord::default(), &distribution.to_bytes()).expect("skdm");
    let mut messages = Vec::with_capacity(count);
    for i in 0..count {
        let (bytes, next) =
            group_encrypt(&ours, format!("message {i}").as_bytes(), &mut rng).expect("encrypt");
        ours = next;
        messages.push(bytes);
    }
    (ours, theirs, messages)
}

fn decrypt(record: &mut SenderKeyRecord, bytes: &[u8]) -> Result<Vec<u8>, GroupError> {
    let (plaintext, next) = group_decrypt(record, bytes)?;
    *record = next;
    Ok(plaintext)
}

/// Re-signs a message with `ours`' key after `edit` changed its fields.
fn resigned(
    ours: &SenderKeyRecord,
    bytes: &[u8],
    edit: impl FnOnce(&mut u32, &mut u32, &mut Vec<u8>),
) -> Vec<u8> {
    let parsed = SenderKeyMessage::parse(bytes).expect("parse");
    let (mut key_id, mut iteration, mut ciphertext) = (
        parsed.key_id(),
        parsed.iteration(),
        parsed.ciphertext().to_vec(),
    );
    edit(&mut key_id, &mut iteration, &mut ciphertext);
    let Some(SigningKey::Own(pair)) = ours.states().next().map(|s| s.signing_key().clone()) else {
        panic!("our record signs");
    };
    SenderKeyMessage::new_signed(key_id, iteration, ciphertext, |signed| {
        xeddsa::sign(&pair.private_bytes(), signed, &[9; 64])
    })
    .to_bytes()
}

#[test]
fn in_order_messages_decrypt_with_iterations_from_zero() {
    let (ours, mut theirs, messages) = sent(1, 5);
    for (i, bytes) in messages.iter().enumerate() {
        let parsed = SenderKeyMessage::parse(bytes).expect("parse");
        assert_eq!(parsed.iteration(), i as u32);
        assert_eq!(bytes[0], 0x33);
        assert_eq!(
            decrypt(&mut theirs, bytes).expect("decrypt"),
            format!("message {i}").as_bytes()
        );
    }
    assert_eq!(ours.states().next().map(SenderKeyState::iteration), Some(5));
    assert_eq!(
        theirs.states().next().map(SenderKeyState::iteration),
        Some(5)
    );
    assert_eq!(theirs.skipped_keys_len(), 0);
}

#[test]
fn out_of_order_messages_decrypt_once_each() {
    let (_, mut theirs, messages) = sent(2, 10);
    assert_eq!(decrypt(&mut theirs, &messages[9]).expect("9"), b"message 9");
    assert_eq!(theirs.skipped_keys_len(), 9);
    for i in (0..9).rev() {
        assert_eq!(
            decrypt(&mut theirs, &messages[i]).expect("late"),
            format!("message {i}").as_bytes()
        );
    }
    assert_eq!(theirs.skipped_keys_len(), 0);
    for (i, bytes) in messages.iter().enumerate() {
        assert_eq!(
            decrypt(&mut theirs, bytes),
            Err(GroupError::DuplicateIteration {
                key_id: theirs.states().next().map_or(0, SenderKeyState::key_id),
                iteration: i as u32,
                chain_iteration: 10,
            })
        );
    }
}

#[test]
fn the_forward_limit_is_2000_iterations() {
    let (_, theirs, messages) = sent(3, 2002);
    let key_id = theirs.states().next().map_or(0, SenderKeyState::key_id);
    assert_eq!(
        group_decrypt(&theirs, &messages[2001]).map(|_| ()),
        Err(GroupError::TooFarAhead {
            key_id,
            iteration: 2001,
            chain_iteration: 0,
            limit: FORWARD_ITERATIONS_MAX,
        })
    );
    let mut theirs = theirs;
    assert_eq!(
        decrypt(&mut theirs, &messages[2000]).expect("2000"),
        b"message 2000"
    );
    assert_eq!(theirs.skipped_keys_len(), 2000);
    // From there, 2001 is one step ahead and the skipped ones still work.
    assert_eq!(
        decrypt(&mut theirs, &messages[2001]).expect("2001"),
        b"message 2001"
    );
    assert_eq!(decrypt(&mut theirs, &messages[0]).expect("0"), b"message 0");
}

#[test]
fn skipped_keys_are_capped_per_record_oldest_first() {
    let (_, mut theirs, messages) = sent(4, 4001);
    decrypt(&mut theirs, &messages[2000]).expect("2000");
    decrypt(&mut theirs, &messages[4000]).expect("4000");
    // 2000 + 1999 skipped, capped at 2000: iterations 0..=1998 went.
    assert_eq!(theirs.skipped_keys_len(), SKIPPED_KEYS_LEN_MAX);
    assert!(matches!(
        group_decrypt(&theirs, &messages[1998]),
        Err(GroupError::DuplicateIteration {
            iteration: 1998,
            ..
        })
    ));
    assert_eq!(
        decrypt(&mut theirs, &messages[1999]).expect("1999"),
        b"message 1999"
    );
    assert_eq!(
        decrypt(&mut theirs, &messages[2001]).expect("2001"),
        b"message 2001"
    );
    assert_eq!(
        decrypt(&mut theirs, &messages[3999]).expect("3999"),
        b"message 3999"
    );
}

#[test]
fn refusals_leave_the_record_unchanged() {
    let (ours, theirs, messages) = sent(5, 3);
    let mut advanced = theirs.clone();
    decrypt(&mut advanced, &messages[1]).expect("1");
    let before = advanced.encode();
    let key_id = advanced.states().next().map_or(0, SenderKeyState::key_id);

    let mut bad_signature = messages[2].clone();
    let last = bad_signature.len() - 1;
    bad_signature[last - 10] ^= 0x01;
    let mut bad_body = messages[2].clone();
    bad_body[5] ^= 0x01;
    let unknown_key = resigned(&ours, &messages[2], |id, _, _| *id ^= 1);
    let bad_ciphertext = resigned(&ours, &messages[2], |_, _, c| c[0] ^= 0x80);
    let too_far = resigned(&ours, &messages[2], |_, i, _| *i = 5000);

    let cases: [(&[u8], GroupError); 7] = [
        (
            &bad_signature,
            GroupError::BadSignature {
                key_id,
                iteration: 2,
            },
        ),
        (
            &messages[1],
            GroupError::DuplicateIteration {
                key_id,
                iteration: 1,
                chain_iteration: 2,
            },
        ),
        (
            &unknown_key,
            GroupError::UnknownKeyId { key_id: key_id ^ 1 },
        ),
        (
            &bad_ciphertext,
            GroupError::BadCiphertext {
                key_id,
                iteration: 2,
            },
        ),
        (
            &too_far,
            GroupError::TooFarAhead {
                key_id,
                iteration: 5000,
                chain_iteration: 2,
                limit: FORWARD_ITERATIONS_MAX,
            },
        ),
        (
            &messages[2][..40],
            GroupError::Wire(WireError::TooShort {
                kind: MessageKind::SenderKeyMessage,
                len: 40,
                min: 65,
            }),
        ),
        (
            &[0x23; 80],
            GroupError::Wire(WireError::UnsupportedVersion {
                kind: MessageKind::SenderKeyMessage,
                version: 2,
                byte: 0x23,
            }),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(group_decrypt(&advanced, bytes).map(|_| ()), Err(expected));
        assert_eq!(advanced.encode(), before, "the record moved");
    }
    // A flipped protobuf byte is caught by the signature (or the parse).
    assert!(group_decrypt(&advanced, &bad_body).is_err());
    assert_eq!(advanced.encode(), before);
    // And after all that, the real messages still decrypt.
    assert_eq!(
        decrypt(&mut advanced, &messages[0]).expect("0"),
        b"message 0"
    );
    assert_eq!(
        decrypt(&mut advanced, &messages[2]).expect("2"),
        b"message 2"
    );
}

#[test]
fn a_distribution_message_sent_again_does_not_rewind_the_chain() {
    let mut rng = rng(6);
    let (ours, distribution) = create_sender_key(&mut rng);
    let mut theirs =
        process_distribution(&SenderKeyRecord::default(), &distribution.to_bytes()).expect("skdm");
    let (first, ours) = group_encrypt(&ours, b"one", &mut rng).expect("encrypt");
    let (_, _ours) = group_encrypt(&ours, b"two", &mut rng).expect("encrypt");
    decrypt(&mut theirs, &first).expect("first");
    let again = process_distribution(&theirs, &distribution.to_bytes()).expect("again");
    assert_eq!(again.encode(), theirs.encode());
    assert!(matches!(
        group_decrypt(&again, &first),
        Err(GroupError::DuplicateIteration { iteration: 0, .. })
    ));
}

#[test]
fn at_most_five_keys_newest_first_and_a_new_signing_key_replaces() {
    let mut rng = rng(7);
    let mut theirs = SenderKeyRecord::default();
    let mut firsts = Vec::new();
    for _ in 0..7 {
        let (ours, distribution) = create_sender_key(&mut rng);
        theirs = process_distribution(&theirs, &distribution.to_bytes()).expect("skdm");
        firsts.push(group_encrypt(&ours, b"hi", &mut rng).expect("encrypt").0);
    }
    assert_eq!(theirs.states().count(), STATES_LEN_MAX);
    for (i, message) in firsts.iter().enumerate() {
        let result = group_decrypt(&theirs, message).map(|(p, _)| p);
        if i < 2 {
            assert!(
                matches!(result, Err(GroupError::UnknownKeyId { .. })),
                "{i}"
            );
        } else {
            assert_eq!(result.expect("kept"), b"hi");
        }
    }

    // Same key id, another signing key: the old state goes.
    let newest = theirs.states().next().map_or(0, SenderKeyState::key_id);
    let forged = SenderKeyDistributionMessage::new(
        newest,
        0,
        SecretKey::from([1; 32]),
        PublicKey::of(&crate::crypto::KeyPair::generate(&mut rng)),
    );
    let replaced = process_distribution(&theirs, &forged.to_bytes()).expect("skdm");
    assert_eq!(replaced.states().count(), STATES_LEN_MAX);
    assert_eq!(
        replaced.states().filter(|s| s.key_id() == newest).count(),
        1
    );
    assert!(matches!(
        group_decrypt(&replaced, &firsts[6]),
        Err(GroupError::BadSignature { .. })
    ));
}

#[test]
fn a_members_record_cannot_encrypt_nor_distribute() {
    let (_, theirs, _) = sent(8, 0);
    assert_eq!(
        group_encrypt(&theirs, b"x", &mut rng(0)).map(|_| ()),
        Err(GroupError::NoOwnKey)
    );
    assert_eq!(
        distribution_message(&theirs).map(|_| ()),
        Err(GroupError::NoOwnKey)
    );
    assert_eq!(
        group_encrypt(&SenderKeyRecord::default(), b"x", &mut rng(0)).map(|_| ()),
        Err(GroupError::NoOwnKey)
    );
}

#[test]
fn a_late_member_gets_the_chain_where_it_is() {
    let (ours, _, messages) = sent(9, 3);
    let late = distribution_message(&ours).expect("ours");
    assert_eq!(late.iteration(), 3);
    let mut member =
        process_distribution(&SenderKeyRecord::default(), &late.to_bytes()).expect("skdm");
    assert!(matches!(
        group_decrypt(&member, &messages[2]),
        Err(GroupError::DuplicateIteration { iteration: 2, .. })
    ));
    let (next, _) = group_encrypt(&ours, b"welcome", &mut rng(1)).expect("encrypt");
    assert_eq!(decrypt(&mut member, &next).expect("3"), b"welcome");
}

#[test]
fn records_round_trip_through_their_bytes() {
    let (ours, mut theirs, messages) = sent(10, 6);
    decrypt(&mut theirs, &messages[4]).expect("4");
    for record in [&ours, &theirs] {
        let back = SenderKeyRecord::decode(&record.encode()).expect("decode");
        assert_eq!(back.encode(), record.encode());
    }
    let mut back = SenderKeyRecord::decode(&theirs.encode()).expect("decode");
    assert_eq!(decrypt(&mut back, &messages[2]).expect("2"), b"message 2");
    let ours_back = SenderKeyRecord::decode(&ours.encode()).expect("decode");
    let (bytes, _) = group_encrypt(&ours_back, b"after restart", &mut rng(2)).expect("encrypt");
    assert_eq!(decrypt(&mut back, &bytes).expect("6"), b"after restart");
    assert!(SenderKeyRecord::decode(&[]).expect("empty").is_empty());
}

#[test]
fn malformed_records_are_typed_errors() {
    use blacksky_proto::Message as _;
    use blacksky_proto::group as pb;

    assert!(matches!(
        SenderKeyRecord::decode(&[0xFF, 0xFF]),
        Err(RecordError::Protobuf { .. })
    ));
    let (ours, _, _) = sent(11, 1);
    let mut proto = pb::SenderKeyRecordStructure::decode(ours.encode().as_slice()).expect("pb");
    let state = proto.sender_key_states[0].clone();

    let mut six = proto.clone();
    six.sender_key_states = vec![state.clone(); 6];
    assert_eq!(
        SenderKeyRecord::decode(&six.encode_to_vec()).map(|_| ()),
        Err(RecordError::TooManyStates { len: 6, max: 5 })
    );

    let mut mismatch = proto.clone();
    if let Some(key) = mismatch.sender_key_states[0].sender_signing_key.as_mut() {
        key.public = Some(vec![9; 32]);
    }
    assert_eq!(
        SenderKeyRecord::decode(&mismatch.encode_to_vec()).map(|_| ()),
        Err(RecordError::SigningKeyMismatch { state: 0 })
    );

    let mut short_seed = proto.clone();
    if let Some(chain) = short_seed.sender_key_states[0].sender_chain_key.as_mut() {
        chain.seed = Some(vec![1; 31]);
    }
    assert_eq!(
        SenderKeyRecord::decode(&short_seed.encode_to_vec()).map(|_| ()),
        Err(RecordError::Key {
            state: 0,
            source: KeyError::Length {
                field: "sender_chain_key.seed",
                len: 31,
                expected: 32,
            },
        })
    );

    let mut ahead = proto.clone();
    ahead.sender_key_states[0].skipped_iterations = vec![1];
    ahead.sender_key_states[0].skipped_seeds = Some(vec![0; 32]);
    assert_eq!(
        SenderKeyRecord::decode(&ahead.encode_to_vec()).map(|_| ()),
        Err(RecordError::SkippedKeyOutOfOrder {
            state: 0,
            iteration: 1,
            chain_iteration: 1,
        })
    );

    let mut short_seeds = proto.clone();
    short_seeds.sender_key_states[0].skipped_iterations = vec![0];
    short_seeds.sender_key_states[0].skipped_seeds = Some(vec![0; 31]);
    assert_eq!(
        SenderKeyRecord::decode(&short_seeds.encode_to_vec()).map(|_| ()),
        Err(RecordError::SkippedSeedsLength {
            state: 0,
            iterations: 1,
            seeds_len: 31,
        })
    );

    proto.sender_key_states[0].sender_key_id = None;
    assert_eq!(
        SenderKeyRecord::decode(&proto.encode_to_vec()).map(|_| ()),
        Err(RecordError::MissingField {
            state: 0,
            field: "sender_key_id",
        })
    );
}

#[test]
fn debug_shows_no_key_material() {
    let (ours, theirs, _) = sent(12, 1);
    let distribution = distribution_message(&ours).expect("ours");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let chain_hex = hex(distribution.chain_key().expose());
    let Some(SigningKey::Own(pair)) = ours.states().next().map(|s| s.signing_key().clone()) else {
        panic!("ours");
    };
    let private_hex = hex(pair.private_bytes().as_slice());
    for shown in [
        format!("{ours:?}"),
        format!("{theirs:?}"),
        format!("{distribution:?}"),
        format!(
            "{:?}",
            ours.states()
                .next()
                .map(|s| super::message_key::SenderMessageKey::of(&s.chain))
        ),
    ] {
        assert!(!shown.contains(&chain_hex), "{shown}");
        assert!(!shown.contains(&private_hex), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}

#[test]
fn distribution_messages_parse_strictly() {
    let (_, distribution) = create_sender_key(&mut rng(13));
    let bytes = distribution.to_bytes();
    assert_eq!(bytes[0], 0x33);
    let back = SenderKeyDistributionMessage::parse(&bytes).expect("parse");
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(
        SenderKeyDistributionMessage::parse(&[]).map(|_| ()),
        Err(WireError::TooShort {
            kind: MessageKind::SenderKeyDistributionMessage,
            len: 0,
            min: 1
        })
    );
    assert_eq!(
        SenderKeyDistributionMessage::parse(&[0x33]).map(|_| ()),
        Err(WireError::MissingField {
            kind: MessageKind::SenderKeyDistributionMessage,
            field: "chainKey"
        })
    );
    let mut v4 = bytes.clone();
    v4[0] = 0x44;
    assert!(matches!(
        SenderKeyDistributionMessage::parse(&v4),
        Err(WireError::UnsupportedVersion { version: 4, .. })
    ));

    // The signing key must carry its 0x05 type byte.
    use blacksky_proto::Message as _;
    let with_signing_key = |key: Vec<u8>| {
        let proto = blacksky_proto::group::SenderKeyDistributionMessage {
            id: Some(1),
            iteration: Some(0),
            chain_key: Some(vec![0; 32]),
            signing_key: Some(key),
        };
        let mut bytes = vec![0x33];
        bytes.extend(proto.encode_to_vec());
        SenderKeyDistributionMessage::parse(&bytes).map(|_| ())
    };
    assert_eq!(with_signing_key([vec![5], vec![9; 32]].concat()), Ok(()));
    assert_eq!(
        with_signing_key(vec![9; 32]),
        Err(WireError::Key {
            kind: MessageKind::SenderKeyDistributionMessage,
            source: KeyError::Length {
                field: "signingKey",
                len: 32,
                expected: 33
            }
        })
    );
    assert_eq!(
        with_signing_key([vec![6], vec![9; 32]].concat()),
        Err(WireError::Key {
            kind: MessageKind::SenderKeyDistributionMessage,
            source: KeyError::Type {
                field: "signingKey",
                type_byte: 6
            }
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_plaintext_round_trips(
        seed: u64,
        plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut rng = rng(seed);
        let (ours, distribution) = create_sender_key(&mut rng);
        let theirs = process_distribution(&SenderKeyRecord::default(), &distribution.to_bytes())
            .expect("skdm");
        let (bytes, _) = group_encrypt(&ours, &plaintext, &mut rng).expect("encrypt");
        let (back, _) = group_decrypt(&theirs, &bytes).expect("decrypt");
        prop_assert_eq!(back, plaintext);
    }

    /// Any delivery order within the window: each message decrypts
    /// exactly once, and a second delivery of any is refused.
    #[test]
    fn any_order_decrypts_each_once(
        seed: u64,
        order in (1usize..40).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
    ) {
        let (_, mut theirs, messages) = sent(seed, order.len());
        for &i in &order {
            let plaintext = decrypt(&mut theirs, &messages[i]).expect("first delivery");
            prop_assert_eq!(plaintext, format!("message {i}").into_bytes());
        }
        prop_assert_eq!(theirs.skipped_keys_len(), 0);
        for &i in &order {
            let refused = matches!(
                group_decrypt(&theirs, &messages[i]),
                Err(GroupError::DuplicateIteration { .. })
            );
            prop_assert!(refused);
        }
    }
}
