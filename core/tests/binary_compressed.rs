//! Payloads whose flags byte has bit 0x02 set carry a zlib stream: they
//! decode to the same node as the plain payload.

mod binary_common;

use std::io::Write;

use binary_common::load_stanzas;
use blacksky_core::wire::binary::{Decoded, Node, decode, encode};
use flate2::Compression;
use flate2::write::ZlibEncoder;

fn compressed(flags: u8, node_bytes: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(vec![flags], Compression::default());
    z.write_all(node_bytes).unwrap_or_default();
    z.finish().unwrap_or_default()
}

#[test]
fn compressed_stanzas_decode_like_plain_ones() {
    let mut buf = Decoded::new();
    for s in load_stanzas() {
        let plain = s.bytes();
        let packed = compressed(0x02, &plain[1..]);
        assert_eq!(decode(&packed).as_ref(), Ok(&s.node), "{}", s.name);
        let view = buf.decode(&packed).map(|r| r.to_node());
        assert_eq!(view.as_ref(), Ok(&s.node), "{}", s.name);
        // Re-encoding writes the plain form Baileys writes.
        assert_eq!(encode(&s.node).ok(), Some(plain), "{}", s.name);
    }
}

#[test]
fn only_bit_two_of_the_flags_matters() {
    let node = Node::new("iq")
        .with_attr("id", "1234")
        .with_bytes(vec![9; 1000]);
    let plain = encode(&node).unwrap_or_default();
    for flags in [0x02, 0x03, 0x06, 0xff] {
        assert_eq!(
            decode(&compressed(flags, &plain[1..])).as_ref(),
            Ok(&node),
            "{flags:#x}"
        );
    }
    for flags in [0x00, 0x01, 0x04, 0xfd] {
        let mut p = plain.clone();
        p[0] = flags;
        assert_eq!(decode(&p).as_ref(), Ok(&node), "{flags:#x}");
    }
}
