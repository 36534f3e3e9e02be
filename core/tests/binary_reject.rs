//! Bad bytes: every one is a typed error that names the fault and its
//! offset (frame payload positions, flags byte = 0), never a panic, and
//! never an allocation the input does not justify.

mod binary_common;

use std::io::Write;

use binary_common::load_stanzas;
use blacksky_core::wire::binary::{
    Content, DecodeError, DecodeLimits, Decoded, Field, Jid, Node, Str, Value, decode,
    decode_with_limits, encode,
};
use flate2::Compression;
use flate2::write::ZlibEncoder;

/// A payload: flags byte 0, then `node`.
fn p(node: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(node);
    v
}

/// A node with every wire form in it.
fn everything() -> Node {
    Node::new("iq")
        .with_attr("id", "3EB021DD5531B9DC518971")
        .with_attr("t", "1732291200")
        .with_attr("odd", "12345")
        .with_attr("type", "pn")
        .with_attr("text", "plain text")
        .with_attr("long", Str::from("x".repeat(300)))
        .with_attr("to", Jid::at("s.whatsapp.net"))
        .with_attr("from", Jid::new("491556123456", "s.whatsapp.net"))
        .with_attr(
            "participant",
            Jid::ad("203947561028000", Jid::DOMAIN_LID, 7),
        )
        .with_attr(
            "fb",
            Value::Jid(Jid::Fb {
                user: "1000".into(),
                device: 300,
                server: "msgr".into(),
            }),
        )
        .with_attr(
            "io",
            Value::Jid(Jid::Interop {
                user: "5551234".into(),
                device: 2,
                integrator: 7,
                server: "interop".into(),
            }),
        )
        .with_children(vec![
            Node::new("enc")
                .with_attr("v", "2")
                .with_bytes(vec![7; 300]),
            Node::new("list").with_children(vec![]),
            Node::new("item").with_text("ABCDEF"),
            Node::new("jid").with_content(Jid::new("120363025246125486", "g.us")),
            Node::new("wide").with_children(vec![Node::new("x"); 300]),
        ])
}

fn check_truncations(name: &str, bytes: &[u8]) {
    let cuts: Vec<usize> = if bytes.len() <= 4096 {
        (0..bytes.len()).collect()
    } else {
        (0..bytes.len())
            .filter(|&c| c < 512 || c > bytes.len() - 512 || c % 97 == 0)
            .collect()
    };
    let mut buf = Decoded::new();
    for cut in cuts {
        let result = decode(&bytes[..cut]);
        match &result {
            Err(DecodeError::Empty) => assert_eq!(cut, 0, "{name}"),
            Err(DecodeError::Truncated { offset, needed }) => {
                assert_eq!(*offset, cut, "{name}: cut at {cut}");
                assert!(*needed >= 1, "{name}: cut at {cut}");
            }
            Err(DecodeError::LengthOverrun {
                offset,
                len,
                remaining,
            }) => {
                assert!(
                    *offset < cut && len > remaining,
                    "{name}: cut at {cut}: {result:?}"
                );
            }
            other => panic!("{name}: cut at {cut}: {other:?}"),
        }
        // The reusable buffer says the same, and is left empty.
        assert_eq!(buf.decode(&bytes[..cut]).err(), result.err(), "{name}");
        assert!(buf.root().is_none());
    }
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let bytes = encode(&everything()).unwrap_or_default();
    check_truncations("everything", &bytes);
    for s in load_stanzas() {
        check_truncations(&s.name, &s.bytes());
    }
}

#[test]
fn the_rich_node_round_trips() {
    let node = everything();
    let bytes = encode(&node).unwrap_or_default();
    assert_eq!(decode(&bytes), Ok(node));
}

#[test]
fn length_prefixes_past_the_end() {
    // <iq> with BINARY_8 content of 9 bytes, 1 there.
    assert_eq!(
        decode(&p(&[0xf8, 2, 25, 0xfc, 9, 1])),
        Err(DecodeError::LengthOverrun {
            offset: 4,
            len: 9,
            remaining: 1
        })
    );
    // BINARY_20 and BINARY_32 at their maxima: no allocation, an error.
    assert_eq!(
        decode(&p(&[0xf8, 2, 25, 0xfd, 0x0f, 0xff, 0xff, 1, 2])),
        Err(DecodeError::LengthOverrun {
            offset: 4,
            len: (1 << 20) - 1,
            remaining: 2
        })
    );
    assert_eq!(
        decode(&p(&[0xf8, 2, 25, 0xfe, 0xff, 0xff, 0xff, 0xff, 1])),
        Err(DecodeError::LengthOverrun {
            offset: 4,
            len: u32::MAX as usize,
            remaining: 1
        })
    );
    // The same as an attribute value and as a JID user.
    assert_eq!(
        decode(&p(&[0xf8, 3, 25, 8, 0xfe, 0x10, 0, 0, 0])),
        Err(DecodeError::LengthOverrun {
            offset: 5,
            len: 0x1000_0000,
            remaining: 0
        })
    );
    assert_eq!(
        decode(&p(&[0xf8, 3, 25, 8, 0xfa, 0xfc, 200, 3])),
        Err(DecodeError::LengthOverrun {
            offset: 6,
            len: 200,
            remaining: 1
        })
    );
    // A packed string longer than its bytes.
    assert_eq!(
        decode(&p(&[0xf8, 3, 25, 8, 0xff, 0x05, 0x12])),
        Err(DecodeError::LengthOverrun {
            offset: 5,
            len: 5,
            remaining: 1
        })
    );
    // Lists that claim more than the input holds end as truncated input,
    // with nothing reserved beyond what the bytes left could hold.
    assert_eq!(
        decode(&p(&[0xf8, 2, 25, 0xf9, 0xff, 0xff, 0xf8, 1, 25])),
        Err(DecodeError::Truncated {
            offset: 10,
            needed: 1
        })
    );
    assert_eq!(
        decode(&p(&[0xf9, 0xff, 0xff, 25, 8, 8])),
        Err(DecodeError::Truncated {
            offset: 7,
            needed: 1
        })
    );
}

#[test]
fn bad_tags() {
    use DecodeError::{EmptyJidServer, EmptyNode, EmptyTag, UnexpectedTag, UnknownTag};
    let cases: Vec<(&[u8], DecodeError)> = vec![
        // The node itself.
        (
            &[0xf0],
            UnknownTag {
                offset: 1,
                tag: 0xf0,
            },
        ),
        (
            &[3],
            UnexpectedTag {
                offset: 1,
                tag: 3,
                field: Field::Node,
            },
        ),
        (
            &[0xfc, 1, 1],
            UnexpectedTag {
                offset: 1,
                tag: 0xfc,
                field: Field::Node,
            },
        ),
        (&[0], EmptyNode { offset: 1 }),
        (&[0xf8, 0], EmptyNode { offset: 1 }),
        (&[0xf9, 0, 0], EmptyNode { offset: 1 }),
        // Its tag (a string; a JID too, see binary_forms.rs).
        (
            &[0xf8, 1, 0xf8, 1, 25],
            UnexpectedTag {
                offset: 3,
                tag: 0xf8,
                field: Field::Tag,
            },
        ),
        (&[0xf8, 1, 0xfc, 0], EmptyTag { offset: 3 }),
        (&[0xf8, 1, 0], EmptyTag { offset: 3 }),
        (
            &[0xf8, 1, 0xf4],
            UnknownTag {
                offset: 3,
                tag: 0xf4,
            },
        ),
        // Attributes (keys are strings, JIDs too: see binary_forms.rs).
        (
            &[0xf8, 3, 25, 0xf8, 1, 25, 8],
            UnexpectedTag {
                offset: 4,
                tag: 0xf8,
                field: Field::AttrKey,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xf8, 1, 25],
            UnexpectedTag {
                offset: 5,
                tag: 0xf8,
                field: Field::AttrValue,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xf3],
            UnknownTag {
                offset: 5,
                tag: 0xf3,
            },
        ),
        // Content.
        (
            &[0xf8, 2, 25, 0xf1],
            UnknownTag {
                offset: 4,
                tag: 0xf1,
            },
        ),
        // JID parts: a user is a string (a JID too, see binary_forms.rs),
        // a server a string that is no JID and never empty.
        (
            &[0xf8, 3, 25, 8, 0xfa, 0xf8, 1, 3],
            UnexpectedTag {
                offset: 6,
                tag: 0xf8,
                field: Field::JidUser,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xfa, 0, 0xf7, 0, 0, 0],
            UnexpectedTag {
                offset: 7,
                tag: 0xf7,
                field: Field::JidServer,
            },
        ),
        (&[0xf8, 3, 25, 8, 0xfa, 0, 0], EmptyJidServer { offset: 7 }),
        (
            &[0xf8, 3, 25, 8, 0xfa, 0, 0xfc, 0],
            EmptyJidServer { offset: 7 },
        ),
        (
            &[0xf8, 3, 25, 8, 0xf6, 0, 0, 1, 0],
            EmptyJidServer { offset: 9 },
        ),
    ];
    for (node, want) in cases {
        assert_eq!(decode(&p(node)), Err(want.clone()), "{node:02x?}");
        // The message names the offset.
        let offset = match &want {
            UnknownTag { offset, .. }
            | UnexpectedTag { offset, .. }
            | EmptyNode { offset }
            | EmptyTag { offset }
            | EmptyJidServer { offset } => *offset,
            _ => 0,
        };
        assert!(
            want.to_string().contains(&format!("byte {offset}")),
            "{want}"
        );
    }
}

#[test]
fn packed_strings() {
    use DecodeError::InvalidNibble;
    let cases: Vec<(&[u8], DecodeError)> = vec![
        // 12..=14 are no nibble characters, even in the dropped half of an
        // odd string. (15 reads as NUL, "" and up to 254 characters are
        // read: see binary_forms.rs.)
        (
            &[0xf8, 3, 25, 8, 0xff, 0x01, 0xc1],
            InvalidNibble {
                offset: 7,
                nibble: 12,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xff, 0x02, 0x11, 0x1d],
            InvalidNibble {
                offset: 8,
                nibble: 13,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xff, 0x82, 0x11, 0x1e],
            InvalidNibble {
                offset: 8,
                nibble: 14,
            },
        ),
        (
            &[0xf8, 3, 25, 8, 0xff, 0x81, 0x1c],
            InvalidNibble {
                offset: 7,
                nibble: 12,
            },
        ),
    ];
    for (node, want) in cases {
        assert_eq!(decode(&p(node)), Err(want), "{node:02x?}");
    }
    // What the references accept: 127 characters, and any padding
    // character in an odd string (dropped).
    let mut max = vec![0xf8, 3, 25, 8, 0xfb, 0xc0];
    max.extend([0xab; 64]);
    assert_eq!(
        decode(&p(&max))
            .ok()
            .and_then(|n| n.attr("id").map(str::len)),
        Some(127)
    );
    assert_eq!(
        decode(&p(&[0xf8, 3, 25, 8, 0xff, 0x81, 0x13]))
            .ok()
            .and_then(|n| n.attr("id").map(String::from)),
        Some(String::from("1"))
    );
}

#[test]
fn text_must_be_utf8() {
    assert_eq!(
        decode(&p(&[0xf8, 3, 25, 8, 0xfc, 2, 0xff, 0xfe])),
        Err(DecodeError::InvalidUtf8 {
            offset: 7,
            field: Field::AttrValue
        })
    );
    assert_eq!(
        decode(&p(&[0xf8, 1, 0xfc, 1, 0x80])),
        Err(DecodeError::InvalidUtf8 {
            offset: 5,
            field: Field::Tag
        })
    );
    // Content bytes are bytes: anything goes.
    assert_eq!(
        decode(&p(&[0xf8, 2, 25, 0xfc, 2, 0xff, 0xfe])),
        Ok(Node::new("iq").with_bytes(vec![0xff, 0xfe]))
    );
}

/// `levels` nodes, each the only child of the one before.
fn nested(levels: usize) -> Vec<u8> {
    let mut node = vec![0];
    for _ in 0..levels - 1 {
        node.extend([0xf8, 2, 25, 0xf8, 1]);
    }
    node.extend([0xf8, 1, 25]);
    node
}

#[test]
fn nesting_is_bounded() {
    assert!(decode(&nested(128)).is_ok());
    assert_eq!(
        decode(&nested(129)),
        Err(DecodeError::TooDeep {
            offset: 1 + 128 * 5,
            depth_max: 128
        })
    );
    let limits = DecodeLimits {
        depth_max: 3,
        ..DecodeLimits::DEFAULT
    };
    assert!(decode_with_limits(&nested(3), &limits).is_ok());
    assert_eq!(
        decode_with_limits(&nested(4), &limits),
        Err(DecodeError::TooDeep {
            offset: 16,
            depth_max: 3
        })
    );
    // Far deeper than any stack would take: refused at the limit.
    assert!(matches!(
        decode(&nested(100_000)),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn items_are_bounded() {
    let node = Node::new("iq").with_children(vec![Node::new("x").with_attr("id", "1"); 3]);
    let bytes = encode(&node).unwrap_or_default();
    // 4 nodes + 3 attributes.
    let fits = DecodeLimits {
        items_max: 7,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(decode_with_limits(&bytes, &fits), Ok(node));
    let tight = DecodeLimits {
        items_max: 6,
        ..DecodeLimits::DEFAULT
    };
    assert!(matches!(
        decode_with_limits(&bytes, &tight),
        Err(DecodeError::TooManyItems { items_max: 6, .. })
    ));
}

#[test]
fn trailing_and_empty() {
    assert_eq!(decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        decode(&[0]),
        Err(DecodeError::Truncated {
            offset: 1,
            needed: 1
        })
    );
    assert_eq!(
        decode(&p(&[0xf8, 1, 25, 0xf8, 1, 25])),
        Err(DecodeError::TrailingBytes {
            offset: 4,
            count: 3
        })
    );
}

fn zlib(parts: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut z = ZlibEncoder::new(vec![2], Compression::best());
    for part in parts {
        z.write_all(&part).unwrap_or_default();
    }
    z.finish().unwrap_or_default()
}

#[test]
fn zlib_bomb_is_refused_at_the_limit() {
    // 64 MiB of zeros in ~64 KiB: a node with a huge byte payload.
    let mut head = vec![0xf8, 2, 25, 0xfe];
    head.extend((64u32 << 20).to_be_bytes());
    let bomb = zlib(std::iter::once(head).chain((0..64).map(|_| vec![0u8; 1 << 20])));
    assert!(bomb.len() < 128 << 10, "{}", bomb.len());
    let limits = DecodeLimits {
        inflated_bytes_max: 1 << 20,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(
        decode_with_limits(&bomb, &limits),
        Err(DecodeError::InflatedTooLarge { limit: 1 << 20 })
    );
    assert_eq!(
        decode(&bomb),
        Err(DecodeError::InflatedTooLarge {
            limit: DecodeLimits::DEFAULT.inflated_bytes_max
        })
    );
    // A reused buffer that once held more does not lift the limit.
    let mut buf = Decoded::new();
    let big = zlib([vec![0xf8, 2, 25, 0xfe, 0, 0x20, 0, 0], vec![1; 0x20_0000]]);
    assert!(buf.decode(&big).is_ok());
    assert_eq!(
        buf.decode_with_limits(&bomb, &limits).err(),
        Some(DecodeError::InflatedTooLarge { limit: 1 << 20 })
    );
}

#[test]
fn corrupt_and_cut_zlib() {
    let good = zlib([vec![0xf8, 1, 25]]);
    assert_eq!(decode(&good), Ok(Node::new("iq")));
    // Not zlib at all (bad header).
    assert!(matches!(
        decode(&[2, 0x12, 0x34, 0x56]),
        Err(DecodeError::Inflate { .. })
    ));
    // Cut short.
    for cut in 1..good.len() - 1 {
        let result = decode(&good[..cut]);
        assert!(
            matches!(
                result,
                Err(DecodeError::InflateTruncated { .. } | DecodeError::Inflate { .. })
            ),
            "cut {cut}: {result:?}"
        );
    }
    // Offsets inside a compressed payload count in the inflated node
    // bytes, as if it had come uncompressed.
    assert_eq!(
        decode(&zlib([vec![0xf8, 2, 25, 0xf1]])),
        Err(DecodeError::UnknownTag {
            offset: 4,
            tag: 0xf1
        })
    );
}

#[test]
fn errors_leave_no_node_behind() {
    let mut buf = Decoded::new();
    assert!(
        buf.decode(&encode(&everything()).unwrap_or_default())
            .is_ok()
    );
    assert!(buf.root().is_some());
    assert!(buf.decode(&p(&[0xf8, 2, 25, 0xf1])).is_err());
    assert!(buf.root().is_none());
    // And it decodes again after.
    let node = Node::new("iq").with_content(Content::Bytes(vec![1, 2, 3]));
    let bytes = encode(&node).unwrap_or_default();
    assert_eq!(buf.decode(&bytes).map(|r| r.to_node()), Ok(node));
}
