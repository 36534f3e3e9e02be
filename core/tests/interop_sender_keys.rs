//! Sender keys both ways with Baileys' own sender-key code (7.0.0-rc13,
//! what the Node.js bots run), driven as a group member through
//! `interop/group-peer.mjs`.

#[path = "support/node_peer.rs"]
mod node_peer;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::message::padding;
use blacksky_core::signal::group::{
    GroupError, SenderKeyMessage, SenderKeyRecord, create_sender_key, group_decrypt, group_encrypt,
    process_distribution,
};
use node_peer::{NodePeer, bytes};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;

const GROUP: &str = "120363000000000001@g.us";

/// A member record of `sender`'s Baileys-made key, from its SKDM.
fn baileys_sender(peer: &mut NodePeer, sender: &str) -> SenderKeyRecord {
    let created = peer.ok(json!({"op": "create", "group": GROUP, "sender": sender}));
    process_distribution(&SenderKeyRecord::default(), &bytes(&created, "skdm"))
        .expect("Baileys' SKDM")
}

/// `count` skmsgs from Baileys, plaintexts "<prefix> <i>".
fn baileys_messages(peer: &mut NodePeer, sender: &str, prefix: &str, count: usize) -> Vec<Vec<u8>> {
    let plaintexts: Vec<String> = (0..count)
        .map(|i| B64.encode(format!("{prefix} {i}")))
        .collect();
    let answer = peer.ok(json!({
        "op": "encrypt_many", "group": GROUP, "sender": sender, "plaintexts": plaintexts,
    }));
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| bytes(m, "body"))
        .collect()
}

fn decrypt(record: &mut SenderKeyRecord, body: &[u8]) -> Result<String, GroupError> {
    let (plaintext, next) = group_decrypt(record, body)?;
    *record = next;
    Ok(String::from_utf8(plaintext).expect("utf-8"))
}

#[test]
fn we_decrypt_baileys_in_order_out_of_order_and_after_a_gap() {
    let Some(mut peer) = NodePeer::start("group-peer.mjs") else {
        return;
    };
    let mut record = baileys_sender(&mut peer, "alice.0");

    let in_order = baileys_messages(&mut peer, "alice.0", "in order", 5);
    for (i, body) in in_order.iter().enumerate() {
        assert_eq!(
            decrypt(&mut record, body).expect("in order"),
            format!("in order {i}")
        );
    }

    let late = baileys_messages(&mut peer, "alice.0", "late", 10);
    for (i, body) in late.iter().enumerate().rev() {
        assert_eq!(
            decrypt(&mut record, body).expect("out of order"),
            format!("late {i}")
        );
    }
    for body in in_order.iter().chain(&late) {
        assert!(matches!(
            group_decrypt(&record, body),
            Err(GroupError::DuplicateIteration { .. })
        ));
    }

    // Baileys uses every other iteration: 300 messages take its chain ~600
    // iterations on (its pure-JS signatures make more slow to produce; the
    // 2,000 limit itself is tested on our own messages). Deliver only the
    // last, then some of the skipped ones.
    let gap = baileys_messages(&mut peer, "alice.0", "gap", 300);
    let before = SenderKeyMessage::parse(&late[9])
        .expect("parse")
        .iteration();
    let after = SenderKeyMessage::parse(&gap[299])
        .expect("parse")
        .iteration();
    assert!(after - before >= 600, "{before} → {after}");
    assert_eq!(
        decrypt(&mut record, &gap[299]).expect("after the gap"),
        "gap 299"
    );
    for i in [0, 1, 150, 298] {
        assert_eq!(
            decrypt(&mut record, &gap[i]).expect("skipped"),
            format!("gap {i}")
        );
    }
    assert!(record.skipped_keys_len() <= blacksky_core::signal::group::SKIPPED_KEYS_LEN_MAX);
}

#[test]
fn baileys_decrypts_ours() {
    let Some(mut peer) = NodePeer::start("group-peer.mjs") else {
        return;
    };
    let mut rng = ChaCha20Rng::seed_from_u64(15);
    let (mut ours, distribution) = create_sender_key(&mut rng);
    peer.ok(json!({
        "op": "process", "group": GROUP, "sender": "bot.0",
        "skdm": B64.encode(distribution.to_bytes()),
    }));
    let mut sent = Vec::new();
    for i in 0..6 {
        let (body, next) =
            group_encrypt(&ours, format!("from us {i}").as_bytes(), &mut rng).expect("encrypt");
        ours = next;
        sent.push(body);
    }
    // In order, and a gap (iteration 3 never arrives). Not out of order:
    // Baileys rc13 cannot use a skipped key once its record went through
    // its own store (the seed comes back from JSON as an object, not a
    // Buffer: "Expected Buffer instead of: Object"), from us or anyone.
    for i in [0, 1, 2, 4, 5] {
        let answer = peer.ok(json!({
            "op": "decrypt", "group": GROUP, "sender": "bot.0", "body": B64.encode(&sent[i]),
        }));
        assert_eq!(
            bytes(&answer, "plaintext"),
            format!("from us {i}").as_bytes()
        );
    }
    // Baileys refuses a replay and a flipped signature of ours.
    let replay = peer.call(json!({
        "op": "decrypt", "group": GROUP, "sender": "bot.0", "body": B64.encode(&sent[0]),
    }));
    assert!(replay.is_err(), "{replay:?}");
    let (mut tampered, _) = group_encrypt(&ours, b"tampered", &mut rng).expect("encrypt");
    let last = tampered.len() - 1;
    tampered[last - 3] ^= 0x04;
    let refused = peer
        .call(json!({
            "op": "decrypt", "group": GROUP, "sender": "bot.0", "body": B64.encode(&tampered),
        }))
        .expect_err("a bad signature");
    assert!(refused.message.contains("signature"), "{refused}");

    // A padded Message from us reads the same to Baileys.
    let padded = padding::pad(b"\x0a\x02hi", &mut rng);
    let (body, _) = group_encrypt(&ours, &padded, &mut rng).expect("encrypt");
    let answer = peer.ok(json!({
        "op": "decrypt", "group": GROUP, "sender": "bot.0", "body": B64.encode(&body),
    }));
    assert_eq!(bytes(&answer, "plaintext"), padded);
}

#[test]
fn a_tampered_signature_is_refused_and_changes_nothing() {
    let Some(mut peer) = NodePeer::start("group-peer.mjs") else {
        return;
    };
    let record = baileys_sender(&mut peer, "carol.0");
    let messages = baileys_messages(&mut peer, "carol.0", "signed", 1);
    let before = record.encode();
    for at in [1, messages[0].len() - 64, messages[0].len() - 1] {
        let mut tampered = messages[0].clone();
        tampered[at] ^= 0x01;
        let refused = group_decrypt(&record, &tampered).map(|_| ());
        assert!(
            matches!(
                refused,
                Err(GroupError::BadSignature { .. } | GroupError::Wire(_))
            ),
            "byte {at}: {refused:?}"
        );
        assert_eq!(record.encode(), before, "byte {at} moved the record");
    }
    let mut record = record;
    assert_eq!(
        decrypt(&mut record, &messages[0]).expect("the real one"),
        "signed 0"
    );
}

#[test]
fn a_baileys_text_message_reads_as_text() {
    let Some(mut peer) = NodePeer::start("group-peer.mjs") else {
        return;
    };
    let record = baileys_sender(&mut peer, "dave.0");
    let answer = peer.ok(json!({
        "op": "encrypt_text", "group": GROUP, "sender": "dave.0", "text": "hello group",
    }));
    let (padded, _) = group_decrypt(&record, &bytes(&answer, "body")).expect("decrypt");
    let message = padding::unpad(&padded).expect("Baileys' padding");
    // Message{conversation = 1}: tag 0x0a, length, text.
    assert_eq!(message, b"\x0a\x0bhello group");
}
