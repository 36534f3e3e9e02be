//! Interop with the npm `libsignal` package (6.0.0, what the Node.js bots
//! run), driven as a peer through `interop/peer.mjs`.

#[path = "support/node_peer.rs"]
mod node_peer;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::wire::xeddsa;
use node_peer::NodePeer;
use serde_json::json;

fn bytes(value: &serde_json::Value, field: &str) -> Vec<u8> {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing"));
    B64.decode(text)
        .unwrap_or_else(|e| panic!("{field} is not base64: {e}"))
}

#[test]
fn libsignal_signed_pre_key_signature_verifies_with_our_xeddsa() {
    let Some(mut peer) = NodePeer::start("peer.mjs") else {
        return;
    };
    peer.ok(json!({"op": "init", "pre_keys": 2}));
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
    assert!(peer.ok(json!({"op": "bundle"}))["pre_key"].is_null());
    let refused = peer.call(json!({"op": "nonsense"}));
    assert!(refused.is_err(), "{refused:?}");
}
