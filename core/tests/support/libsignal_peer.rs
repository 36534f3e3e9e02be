//! The npm `libsignal` peer of `interop/peer.mjs` (one device, its own
//! keys and sessions) and the requests the 1:1 interop tests make of it.
//! Include it after the Node.js runner it drives:
//!
//! ```ignore
//! #[path = "support/node_peer.rs"]
//! mod node_peer;
//! #[path = "support/libsignal_peer.rs"]
//! mod libsignal_peer;
//! ```
#![allow(dead_code)] // each test binary uses a different part of it

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::signal::{
    IdentityKey, MessageKind, OneTimePreKeyPublic, PreKeyBundle, PublicKey, SignedPreKeyPublic,
};
use serde_json::{Value, json};

use crate::node_peer::{NodePeer, PeerRefused, bytes};

/// How the peer knows us (a libsignal address, name.device): the key of
/// its session with us.
pub const US: &str = "blacksky.1";

/// The peer's registration id.
pub const PEER_REGISTRATION_ID: u32 = 777;

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn kind_of(value: &Value) -> MessageKind {
    match value["type"].as_str() {
        Some("pkmsg") => MessageKind::PreKeyMsg,
        Some("msg") => MessageKind::Msg,
        other => panic!("peer gave message type {other:?}"),
    }
}

/// The peer's bundle, read as we read a server's `<user>` node.
pub fn bundle_from_json(bundle: &Value) -> PreKeyBundle {
    let id = |value: &Value| u32::try_from(value.as_u64().expect("an id")).expect("u32");
    let signed = &bundle["signed_pre_key"];
    PreKeyBundle {
        registration_id: id(&bundle["registration_id"]),
        identity: IdentityKey::from_raw(&bytes(bundle, "identity"), "identity")
            .expect("32-byte identity"),
        signed_pre_key: SignedPreKeyPublic::from_raw(
            id(&signed["id"]),
            &bytes(signed, "public"),
            &bytes(signed, "signature"),
        )
        .expect("signed pre-key"),
        one_time_pre_key: (!bundle["pre_key"].is_null()).then(|| OneTimePreKeyPublic {
            id: id(&bundle["pre_key"]["id"]),
            key: PublicKey::from_raw(&bytes(&bundle["pre_key"], "public"), "pre_key")
                .expect("32-byte pre-key"),
        }),
    }
}

/// A fresh peer with three one-time pre-keys, or `None` when the test is
/// skipped (no node).
pub fn start_peer() -> Option<NodePeer> {
    let mut peer = NodePeer::start("peer.mjs")?;
    peer.ok(json!({"op": "init", "pre_keys": 3, "registration_id": PEER_REGISTRATION_ID}));
    Some(peer)
}

pub fn peer_encrypt(peer: &mut NodePeer, plaintext: &[u8]) -> (MessageKind, Vec<u8>) {
    let answer = peer.ok(json!({"op": "encrypt", "address": US, "plaintext": b64(plaintext)}));
    (kind_of(&answer), bytes(&answer, "body"))
}

pub fn peer_encrypt_many(
    peer: &mut NodePeer,
    plaintext: &[u8],
    count: usize,
) -> Vec<(MessageKind, Vec<u8>)> {
    let answer = peer.ok(json!({
        "op": "encrypt_many", "address": US, "plaintext": b64(plaintext), "count": count,
    }));
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (kind_of(m), bytes(m, "body")))
        .collect()
}

pub fn peer_decrypt(
    peer: &mut NodePeer,
    kind: MessageKind,
    body: &[u8],
) -> Result<Vec<u8>, PeerRefused> {
    peer.call(json!({"op": "decrypt", "address": US, "type": kind.enc_type(), "body": b64(body)}))
        .map(|answer| bytes(&answer, "plaintext"))
}
