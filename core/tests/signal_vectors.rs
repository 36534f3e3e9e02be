//! Known-answer vectors, restated as data in `tests/vectors/`, run through
//! the functions the Signal code uses: X25519 (RFC 7748) through
//! `KeyPair`, HKDF-SHA256 (RFC 5869) through `signal::kdf`, libsignal's
//! ratcheting-session vectors through `signal::x3dh` and `signal::kdf`, and
//! libsignal's XEdDSA vector through `PreKeyBundle::verify`.

use blacksky_core::signal::kdf::{ChainKey, MessageKeys, hkdf_sha256};
use blacksky_core::signal::x3dh::{initiator_secrets, responder_secrets};
use blacksky_core::signal::{
    IdentityKey, PreKeyBundle, PublicKey, SecretKey, SignalError, SignedPreKeyPublic,
};
use blacksky_core::wire::noise::KeyPair;
use serde_json::Value;

fn vectors(json: &str) -> Value {
    serde_json::from_str(json).expect("vector file is JSON")
}

fn hex_of(value: &Value, field: &str) -> Vec<u8> {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing"));
    hex::decode(text).unwrap_or_else(|e| panic!("{field}: {e}"))
}

fn hex32(value: &Value, field: &str) -> [u8; 32] {
    hex_of(value, field)
        .try_into()
        .unwrap_or_else(|_| panic!("{field}: 32 bytes"))
}

/// X25519(k, u) as the Signal code computes it.
fn x25519(scalar: [u8; 32], u: &[u8; 32]) -> [u8; 32] {
    *KeyPair::from_private_bytes(scalar)
        .diffie_hellman(u)
        .expect("a contributory result")
}

#[test]
fn rfc7748_scalar_multiplication_and_diffie_hellman() {
    let v = vectors(include_str!("vectors/rfc7748_x25519.json"));
    let cases = v["scalar_mult"].as_array().expect("cases");
    assert_eq!(cases.len(), 2);
    for case in cases {
        assert_eq!(
            x25519(hex32(case, "scalar"), &hex32(case, "u")),
            hex32(case, "output")
        );
    }
    let dh = &v["diffie_hellman"];
    let alice = KeyPair::from_private_bytes(hex32(dh, "alice_private"));
    let bob = KeyPair::from_private_bytes(hex32(dh, "bob_private"));
    assert_eq!(alice.public(), &hex32(dh, "alice_public"));
    assert_eq!(bob.public(), &hex32(dh, "bob_public"));
    let shared = hex32(dh, "shared");
    assert_eq!(alice.diffie_hellman(bob.public()).map(|s| *s), Some(shared));
    assert_eq!(bob.diffie_hellman(alice.public()).map(|s| *s), Some(shared));
}

fn iterate(start: [u8; 32], times: usize) -> [u8; 32] {
    let (mut k, mut u) = (start, start);
    for _ in 0..times {
        let next = x25519(k, &u);
        u = k;
        k = next;
    }
    k
}

#[test]
fn rfc7748_iterated_1_and_1000() {
    let v = vectors(include_str!("vectors/rfc7748_x25519.json"));
    let it = &v["iterated"];
    let start = hex32(it, "start");
    assert_eq!(iterate(start, 1), hex32(it, "after_1"));
    assert_eq!(iterate(start, 1000), hex32(it, "after_1000"));
}

#[test]
#[ignore = "a million X25519s (about two minutes): run with --ignored"]
fn rfc7748_iterated_1000000() {
    let v = vectors(include_str!("vectors/rfc7748_x25519.json"));
    let it = &v["iterated"];
    assert_eq!(
        iterate(hex32(it, "start"), 1_000_000),
        hex32(it, "after_1000000")
    );
}

#[test]
fn rfc5869_hkdf_sha256_cases_1_to_3() {
    let v = vectors(include_str!("vectors/rfc5869_hkdf_sha256.json"));
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    for case in cases {
        let (ikm, salt, info) = (
            hex_of(case, "ikm"),
            hex_of(case, "salt"),
            hex_of(case, "info"),
        );
        let okm = hex_of(case, "okm");
        let got: Vec<u8> = match okm.len() {
            42 => hkdf_sha256::<42>(&salt, &ikm, &info).to_vec(),
            82 => hkdf_sha256::<82>(&salt, &ikm, &info).to_vec(),
            other => panic!("no case has {other} bytes"),
        };
        assert_eq!(got, okm, "{}", case["name"]);
    }
}

fn key_pair(value: &Value, private: &str, public: &str) -> KeyPair {
    let pair = KeyPair::from_private_bytes(hex32(value, private));
    assert_eq!(
        PublicKey::of(&pair),
        PublicKey::from_prefixed(&hex_of(value, public), "vector").expect("05-prefixed"),
        "{private} gives {public}"
    );
    pair
}

#[test]
fn libsignal_ratcheting_session_as_bob() {
    let v = vectors(include_str!("vectors/libsignal_ratchet.json"));
    let b = &v["as_bob"];
    let bob_identity = key_pair(b, "bob_identity_private", "bob_identity_public");
    let bob_signed = key_pair(b, "bob_signed_pre_key_private", "bob_signed_pre_key_public");
    let alice_identity =
        IdentityKey::from_prefixed(&hex_of(b, "alice_identity_public"), "vector").expect("key");
    let alice_base =
        PublicKey::from_prefixed(&hex_of(b, "alice_base_public"), "vector").expect("key");
    let (_, chain) = responder_secrets(
        &bob_identity,
        &bob_signed,
        None,
        &alice_identity,
        &alice_base,
    )
    .expect("valid keys");
    assert_eq!(chain.key().expose(), &hex32(b, "sender_chain_key"));
    assert_eq!(chain.index(), 0);
}

#[test]
fn libsignal_ratcheting_session_as_alice() {
    let v = vectors(include_str!("vectors/libsignal_ratchet.json"));
    let a = &v["as_alice"];
    let alice_identity = key_pair(a, "alice_identity_private", "alice_identity_public");
    let alice_base = KeyPair::from_private_bytes(hex32(a, "alice_base_private"));
    let bob_identity =
        IdentityKey::from_prefixed(&hex_of(a, "bob_identity_public"), "vector").expect("key");
    let bob_signed =
        PublicKey::from_prefixed(&hex_of(a, "bob_signed_pre_key_public"), "vector").expect("key");
    let (_, chain) = initiator_secrets(
        &alice_identity,
        &alice_base,
        &bob_identity,
        &bob_signed,
        None,
    )
    .expect("valid keys");
    assert_eq!(chain.key().expose(), &hex32(a, "receiver_chain_key"));
}

/// The two roles of one X3DH agree, with and without a one-time pre-key,
/// on the vectors' keys (as_bob's, with Alice's base key pair made whole).
#[test]
fn initiator_and_responder_agree() {
    let v = vectors(include_str!("vectors/libsignal_ratchet.json"));
    let b = &v["as_bob"];
    let a = &v["as_alice"];
    let bob_identity = key_pair(b, "bob_identity_private", "bob_identity_public");
    let bob_signed = key_pair(b, "bob_signed_pre_key_private", "bob_signed_pre_key_public");
    let alice_identity = key_pair(a, "alice_identity_private", "alice_identity_public");
    let alice_base = KeyPair::from_private_bytes(hex32(a, "alice_base_private"));
    let one_time = KeyPair::from_private_bytes([0x31; 32]);
    for bob_one_time in [None, Some(&one_time)] {
        let (alice_root, alice_chain) = initiator_secrets(
            &alice_identity,
            &alice_base,
            &IdentityKey::of(&bob_identity),
            &PublicKey::of(&bob_signed),
            bob_one_time.map(PublicKey::of).as_ref(),
        )
        .expect("valid keys");
        let (bob_root, bob_chain) = responder_secrets(
            &bob_identity,
            &bob_signed,
            bob_one_time,
            &IdentityKey::of(&alice_identity),
            &PublicKey::of(&alice_base),
        )
        .expect("valid keys");
        assert_eq!(alice_root.secret().expose(), bob_root.secret().expose());
        assert_eq!(alice_chain.key().expose(), bob_chain.key().expose());
    }
    // The one-time pre-key changes the secret.
    let without = initiator_secrets(
        &alice_identity,
        &alice_base,
        &IdentityKey::of(&bob_identity),
        &PublicKey::of(&bob_signed),
        None,
    )
    .expect("keys");
    let with = initiator_secrets(
        &alice_identity,
        &alice_base,
        &IdentityKey::of(&bob_identity),
        &PublicKey::of(&bob_signed),
        Some(&PublicKey::of(&one_time)),
    )
    .expect("keys");
    assert_ne!(without.1.key().expose(), with.1.key().expose());
}

#[test]
fn libsignal_chain_key_v3_message_keys_and_next_key() {
    let v = vectors(include_str!("vectors/libsignal_ratchet.json"));
    let c = &v["chain_key_v3"];
    let chain = ChainKey::new(SecretKey::from(hex32(c, "chain_key")), 0);
    let keys = MessageKeys::from_seed(&chain.message_seed());
    assert_eq!(keys.cipher_key(), &hex32(c, "message_cipher_key"));
    assert_eq!(keys.mac_key(), &hex32(c, "message_mac_key"));
    let next = chain.next().expect("index 1 exists");
    assert_eq!(next.key().expose(), &hex32(c, "next_chain_key"));
    assert_eq!(next.index(), 1);
    // The last index has no successor: a chain ends, it does not wrap.
    assert!(
        ChainKey::new(SecretKey::from([0; 32]), u32::MAX)
            .next()
            .is_none()
    );
}

#[test]
fn libsignal_xeddsa_vector_verifies_as_a_signed_pre_key() {
    let v = vectors(include_str!("vectors/libsignal_xeddsa.json"));
    let identity = KeyPair::from_private_bytes(hex32(&v, "identity_private"));
    assert_eq!(identity.public(), &hex32(&v, "identity_public"));
    let signed = hex_of(&v, "signed_message");
    let signature = hex_of(&v, "signature");
    let bundle = PreKeyBundle {
        registration_id: 1,
        identity: IdentityKey::from_raw(&hex_of(&v, "identity_public"), "identity")
            .expect("32 bytes"),
        signed_pre_key: SignedPreKeyPublic::from_raw(9, &signed[1..], &signature)
            .expect("32-byte key, 64-byte signature"),
        one_time_pre_key: None,
    };
    assert_eq!(bundle.verify(), Ok(()));
    for bit in 0..signature.len() * 8 {
        let mut bad = bundle.clone();
        bad.signed_pre_key.signature[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            bad.verify(),
            Err(SignalError::BadSignedPreKeySignature { id: 9 }),
            "bit {bit}"
        );
    }
    let mut other_key = bundle.clone();
    other_key.signed_pre_key.key = PublicKey::from(*identity.public());
    assert!(other_key.verify().is_err());
}
