//! Interop with the npm `libsignal` package (6.0.0, the Signal library the
//! Node.js bots run), driven as a peer through `interop/peer.mjs`: sessions
//! built both ways with pkmsg, msg both ways with DH ratchet steps in both
//! directions, out-of-order delivery, the forward limit on both sides, and
//! tampered MACs refused without changing state.

#[path = "support/libsignal_peer.rs"]
mod libsignal_peer;
#[path = "support/node_peer.rs"]
mod node_peer;
#[path = "support/signal_party.rs"]
mod signal_party;

use blacksky_core::crypto::xeddsa;
use blacksky_core::signal::{
    self, MessageKind, SKIPPED_PER_MESSAGE_MAX, SignalError, SignalMessage,
};
use libsignal_peer::{
    US, b64, bundle_from_json, peer_decrypt, peer_encrypt, peer_encrypt_many, start_peer,
};
use node_peer::{NodePeer, bytes};
use serde_json::{Value, json};
use signal_party::Party as Us;

/// Our bundle as the server would hand it out (raw 32-byte keys).
fn bundle_json(us: &Us, one_time_id: Option<u32>) -> Value {
    let bundle = us.bundle(one_time_id);
    let mut json = json!({
        "registration_id": bundle.registration_id,
        "identity": b64(bundle.identity.raw()),
        "signed_pre_key": {
            "id": bundle.signed_pre_key.id,
            "public": b64(bundle.signed_pre_key.key.raw()),
            "signature": b64(&bundle.signed_pre_key.signature),
        },
    });
    if let Some(key) = bundle.one_time_pre_key {
        json["pre_key"] = json!({"id": key.id, "public": b64(key.key.raw())});
    }
    json
}

fn start_session(us: &mut Us, bundle: &Value) {
    us.start_session(&bundle_from_json(bundle))
        .expect("libsignal's bundle verifies");
}

/// Turns of `count` messages each way (ours first: the peer may still be
/// waiting for an answer to its pkmsg), checking every plaintext.
fn exchange(peer: &mut NodePeer, us: &mut Us, turns: usize, count: usize) {
    for turn in 0..turns {
        for i in 0..count {
            let text = format!("our turn {turn} message {i}");
            let (kind, body) = us.encrypt(text.as_bytes());
            assert_eq!(kind, MessageKind::Msg, "turn {turn}");
            assert_eq!(
                peer_decrypt(peer, kind, &body).as_deref(),
                Ok(text.as_bytes())
            );
        }
        for i in 0..count {
            let text = format!("peer turn {turn} message {i}");
            let (kind, body) = peer_encrypt(peer, text.as_bytes());
            assert_eq!(kind, MessageKind::Msg, "turn {turn}");
            assert_eq!(us.decrypt(kind, &body).as_deref(), Ok(text.as_bytes()));
        }
    }
}

/// A peer and us after libsignal's pkmsg and one exchange each way, or
/// `None` when the test is skipped (no node).
fn talking(seed: u64, one_time_id: u32) -> Option<(NodePeer, Us)> {
    let mut peer = start_peer()?;
    let mut us = Us::new(seed);
    let bundle = bundle_json(&us, Some(one_time_id));
    peer.ok(json!({"op": "process_bundle", "address": US, "bundle": bundle}));
    let (kind, body) = peer_encrypt(&mut peer, b"start");
    assert_eq!(us.decrypt(kind, &body).as_deref(), Ok(&b"start"[..]));
    exchange(&mut peer, &mut us, 1, 1);
    Some((peer, us))
}

/// One message from us: the peer's next message starts a new chain (a new
/// ratchet key, counter 0).
fn make_peer_ratchet(peer: &mut NodePeer, us: &mut Us) {
    let (kind, body) = us.encrypt(b"your turn to ratchet");
    assert_eq!(
        peer_decrypt(peer, kind, &body).as_deref(),
        Ok(&b"your turn to ratchet"[..])
    );
}

#[test]
fn libsignal_signed_pre_key_signature_verifies_with_our_xeddsa() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let bundle = peer.ok(json!({"op": "bundle"}));
    let identity = bytes(&bundle, "identity");
    let signed = &bundle["signed_pre_key"];
    let mut message = vec![0x05];
    message.extend(bytes(signed, "public"));
    let signature = bytes(signed, "signature");
    assert_eq!(identity.len(), 32);
    assert_eq!(xeddsa::verify(&identity, &message, &signature), Ok(()));
    let mut bad = signature.clone();
    bad[5] ^= 1;
    assert!(xeddsa::verify(&identity, &message, &bad).is_err());
    // Each bundle hands out the next one-time pre-key, then none.
    assert_eq!(bundle["pre_key"]["id"], 1);
    assert_eq!(peer.ok(json!({"op": "bundle"}))["pre_key"]["id"], 2);
    assert_eq!(peer.ok(json!({"op": "bundle"}))["pre_key"]["id"], 3);
    assert!(peer.ok(json!({"op": "bundle"}))["pre_key"].is_null());
    let refused = peer.call(json!({"op": "nonsense"}));
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn libsignal_starts_with_pkmsg_and_both_sides_ratchet() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let mut us = Us::new(1);
    peer.ok(json!({"op": "process_bundle", "address": US, "bundle": bundle_json(&us, Some(32))}));

    // Until we answer, libsignal repeats the pkmsg; each decrypts, and only
    // the first consumes our one-time pre-key.
    for i in 0..3 {
        let text = format!("hello {i}");
        let (kind, body) = peer_encrypt(&mut peer, text.as_bytes());
        assert_eq!(kind, MessageKind::PreKeyMsg);
        assert_eq!(us.decrypt(kind, &body).as_deref(), Ok(text.as_bytes()));
        assert!(!us.one_time.contains_key(&32), "pre-key 32 consumed");
    }
    assert_eq!(us.one_time.len(), 2);
    let record = us.record.as_ref().expect("a session");
    assert_eq!(record.previous().len(), 0, "one session, not three");
    assert_eq!(record.current().remote_registration_id(), 777);

    // Our answer is a msg; from then on the peer sends msg too. Every turn
    // brings a new ratchet key each way.
    exchange(&mut peer, &mut us, 6, 3);
    let state = us.state();
    assert_eq!(
        state.receiving_chains_len(),
        signal::RECEIVING_CHAINS_LEN_MAX
    );
    assert_eq!(state.skipped_keys_len(), 0);
}

#[test]
fn we_start_with_pkmsg_and_both_sides_ratchet() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let mut us = Us::new(2);
    let bundle = peer.ok(json!({"op": "bundle"}));
    start_session(&mut us, &bundle);

    for i in 0..2 {
        let text = format!("first {i}");
        let (kind, body) = us.encrypt(text.as_bytes());
        assert_eq!(kind, MessageKind::PreKeyMsg);
        assert_eq!(
            peer_decrypt(&mut peer, kind, &body).as_deref(),
            Ok(text.as_bytes())
        );
    }
    // The peer's answer ends our pkmsg phase.
    let (kind, body) = peer_encrypt(&mut peer, b"answer");
    assert_eq!(kind, MessageKind::Msg);
    assert_eq!(us.decrypt(kind, &body).as_deref(), Ok(&b"answer"[..]));
    let (kind, body) = us.encrypt(b"now a msg");
    assert_eq!(kind, MessageKind::Msg);
    assert_eq!(
        peer_decrypt(&mut peer, kind, &body).as_deref(),
        Ok(&b"now a msg"[..])
    );

    exchange(&mut peer, &mut us, 5, 2);
    // Without a one-time pre-key (the server ran out) it works the same.
    let mut us_again = Us::new(3);
    let mut peer_again = start_peer().expect("node ran a moment ago");
    let mut bundle = peer_again.ok(json!({"op": "bundle"}));
    bundle["pre_key"] = Value::Null;
    start_session(&mut us_again, &bundle);
    let (kind, body) = us_again.encrypt(b"no one-time key");
    assert_eq!(
        peer_decrypt(&mut peer_again, kind, &body).as_deref(),
        Ok(&b"no one-time key"[..])
    );
    let (kind, body) = peer_encrypt(&mut peer_again, b"answer");
    assert_eq!(us_again.decrypt(kind, &body).as_deref(), Ok(&b"answer"[..]));
    exchange(&mut peer_again, &mut us_again, 2, 2);
}

#[test]
fn out_of_order_both_ways_and_across_ratchet_steps() {
    let Some((mut peer, mut us)) = talking(4, 31) else {
        return;
    };

    // Five from the peer, delivered shuffled; a repeat is a duplicate.
    let batch = peer_encrypt_many(&mut peer, b"shuffled", 5);
    for index in [4, 0, 3, 1, 2] {
        let (kind, body) = &batch[index];
        assert_eq!(
            us.decrypt(*kind, body).as_deref(),
            Ok(&b"shuffled"[..]),
            "#{index}"
        );
    }
    let (kind, body) = &batch[1];
    let counter = SignalMessage::decode(body).expect("a msg").counter;
    let before = us.record_bytes();
    assert_eq!(
        us.decrypt(*kind, body),
        Err(SignalError::DuplicateMessage { counter })
    );
    assert_eq!(
        us.record_bytes(),
        before,
        "a refused message changes nothing"
    );

    // Five from us, delivered shuffled to libsignal.
    let ours: Vec<_> = (0..5)
        .map(|i| us.encrypt(format!("ours {i}").as_bytes()))
        .collect();
    for index in [3, 4, 0, 2, 1] {
        let (kind, body) = &ours[index];
        assert_eq!(
            peer_decrypt(&mut peer, *kind, body).as_deref(),
            Ok(format!("ours {index}").as_bytes())
        );
    }

    // Across a ratchet step: the peer's old chain arrives after its new one.
    let old_chain = peer_encrypt_many(&mut peer, b"old chain", 3);
    let (kind, body) = us.encrypt(b"makes the peer ratchet");
    peer_decrypt(&mut peer, kind, &body).expect("peer decrypts");
    let new_chain = peer_encrypt_many(&mut peer, b"new chain", 2);
    for (kind, body) in new_chain.iter().rev().chain(old_chain.iter().rev()) {
        let plaintext = us.decrypt(*kind, body).expect("late or early, it decrypts");
        assert!(plaintext.ends_with(b"chain"));
    }
    // And ours: libsignal gets our new chain before the end of the old one.
    let our_old = [us.encrypt(b"our old 0"), us.encrypt(b"our old 1")];
    assert!(peer_decrypt(&mut peer, our_old[0].0, &our_old[0].1).is_ok());
    let (kind, body) = peer_encrypt(&mut peer, b"makes us ratchet");
    us.decrypt(kind, &body).expect("we decrypt");
    let (kind, body) = us.encrypt(b"our new");
    assert_eq!(
        peer_decrypt(&mut peer, kind, &body).as_deref(),
        Ok(&b"our new"[..])
    );
    assert_eq!(
        peer_decrypt(&mut peer, our_old[1].0, &our_old[1].1).as_deref(),
        Ok(&b"our old 1"[..])
    );
}

#[test]
fn forward_limit_is_the_same_on_both_sides() {
    let Some((mut peer, mut us)) = talking(5, 33) else {
        return;
    };
    let max = usize::try_from(SKIPPED_PER_MESSAGE_MAX).expect("fits");
    make_peer_ratchet(&mut peer, &mut us);

    // The peer's new chain: a message skipping max + 1 is refused, one
    // skipping max is taken, and then the refused one is next in line.
    let burst = peer_encrypt_many(&mut peer, b"burst", max + 2);
    let (kind, too_far) = &burst[max + 1];
    let before = us.record_bytes();
    assert!(matches!(
        us.decrypt(*kind, too_far),
        Err(SignalError::TooFarAhead { counter, next: 0, .. }) if counter as usize == max + 1
    ));
    assert_eq!(us.record_bytes(), before);
    let (kind, furthest) = &burst[max];
    assert_eq!(us.decrypt(*kind, furthest).as_deref(), Ok(&b"burst"[..]));
    assert_eq!(us.decrypt(*kind, too_far).as_deref(), Ok(&b"burst"[..]));
    let state = us.state();
    assert_eq!(state.skipped_keys_len(), max);
    assert_eq!(
        us.decrypt(burst[0].0, &burst[0].1).as_deref(),
        Ok(&b"burst"[..])
    );

    // Our new chain (we ratcheted on the burst), to libsignal: the same
    // two answers.
    let ours: Vec<_> = (0..max + 2).map(|_| us.encrypt(b"ours")).collect();
    let refused = peer_decrypt(&mut peer, ours[max + 1].0, &ours[max + 1].1);
    let refused = refused.expect_err("libsignal refuses too far ahead");
    assert!(
        refused.log.contains("Over 2000 messages into the future"),
        "{refused}: {}",
        refused.log
    );
    assert_eq!(
        peer_decrypt(&mut peer, ours[max].0, &ours[max].1).as_deref(),
        Ok(&b"ours"[..])
    );
    assert_eq!(
        peer_decrypt(&mut peer, ours[max + 1].0, &ours[max + 1].1).as_deref(),
        Ok(&b"ours"[..])
    );
}

#[test]
fn tampered_mac_is_refused_and_changes_nothing() {
    let Some((mut peer, mut us)) = talking(6, 31) else {
        return;
    };
    make_peer_ratchet(&mut peer, &mut us);

    // A msg on a new ratchet key (so decrypting steps our ratchet), its
    // MAC, then its ciphertext, altered: refused, record unchanged.
    let (kind, good) = peer_encrypt(&mut peer, b"the real one");
    let before = us.record_bytes();
    let mut bad_mac = good.clone();
    let last = bad_mac.len() - 1;
    bad_mac[last] ^= 0x01;
    assert_eq!(
        us.decrypt(kind, &bad_mac),
        Err(SignalError::BadMac { counter: 0 })
    );
    assert_eq!(us.record_bytes(), before);
    let mut bad_body = good.clone();
    bad_body[last - 10] ^= 0x80;
    assert!(us.decrypt(kind, &bad_body).is_err());
    assert_eq!(us.record_bytes(), before);
    // The good one still decrypts.
    assert_eq!(us.decrypt(kind, &good).as_deref(), Ok(&b"the real one"[..]));

    // libsignal refuses our tampered MAC and takes the good one after.
    let (kind, good) = us.encrypt(b"ours, real");
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let refused = peer_decrypt(&mut peer, kind, &bad).expect_err("bad MAC refused");
    assert!(
        refused.log.contains("Bad MAC"),
        "{refused}: {}",
        refused.log
    );
    assert_eq!(
        peer_decrypt(&mut peer, kind, &good).as_deref(),
        Ok(&b"ours, real"[..])
    );
    exchange(&mut peer, &mut us, 1, 2);
}

#[test]
fn either_side_starts_over_and_the_talk_goes_on() {
    let Some((mut peer, mut us)) = talking(7, 32) else {
        return;
    };
    // We start over from a fresh bundle (as after a retry receipt):
    // libsignal closes its open session for our pkmsg's new one.
    let bundle = peer.ok(json!({"op": "bundle"}));
    start_session(&mut us, &bundle);
    let (kind, body) = us.encrypt(b"starting over");
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(
        peer_decrypt(&mut peer, kind, &body).as_deref(),
        Ok(&b"starting over"[..])
    );
    let (kind, body) = peer_encrypt(&mut peer, b"on the new session");
    assert_eq!(
        us.decrypt(kind, &body).as_deref(),
        Ok(&b"on the new session"[..])
    );
    assert_eq!(us.record.as_ref().map(|r| r.previous().len()), Some(1));
    exchange(&mut peer, &mut us, 2, 2);

    // libsignal starts over from our bundle: we archive ours for its.
    let bundle = bundle_json(&us, Some(33));
    peer.ok(json!({"op": "process_bundle", "address": US, "bundle": bundle}));
    let (kind, body) = peer_encrypt(&mut peer, b"its turn to start over");
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(
        us.decrypt(kind, &body).as_deref(),
        Ok(&b"its turn to start over"[..])
    );
    assert!(!us.one_time.contains_key(&33));
    assert_eq!(us.record.as_ref().map(|r| r.previous().len()), Some(2));
    exchange(&mut peer, &mut us, 2, 2);
}
