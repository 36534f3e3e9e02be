//! The binary node decoder fed arbitrary frame payloads: it must never
//! panic, the reusable buffer must agree with the owned decoder, and
//! whatever decodes must re-encode to bytes that decode to the same node.
#![no_main]
use blacksky_core::wire::binary::{DecodeLimits, Decoded, decode_with_limits, encode};
use libfuzzer_sys::fuzz_target;

/// Small enough that bombs and deep nests fail fast.
const LIMITS: DecodeLimits = DecodeLimits {
    inflated_bytes_max: 1 << 20,
    depth_max: 64,
    items_max: 1 << 14,
};

fuzz_target!(|data: &[u8]| {
    let owned = decode_with_limits(data, &LIMITS);
    let mut buf = Decoded::new();
    let viewed = buf
        .decode_with_limits(data, &LIMITS)
        .map(|root| root.to_node());
    assert_eq!(owned, viewed);
    if let Ok(node) = owned {
        let again = encode(&node).expect("a decoded node encodes");
        let back = decode_with_limits(&again, &LIMITS).expect("our own bytes decode");
        assert_eq!(back, node);
        // Canonical bytes are a fixed point.
        assert_eq!(encode(&back).expect("encodes"), again);
    }
});
