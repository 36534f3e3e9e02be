//! Forms a peer may send that no encoder of ours writes: each is read the
//! way the reference decoder, wacore-binary 0.7, reads it, by both of our
//! decoders (the owned `decode` and the reusable `Decoded`), and what we
//! read re-encodes to canonical bytes that read back the same. Where
//! wacore refuses a form that Baileys 7 reads, Baileys' reading is pinned
//! instead (the facts in the comments come from their decoders' sources).

use blacksky_core::wire::binary::{
    Content, DecodeError, DecodeLimits, Decoded, Field, Jid, Node, Value, decode,
    decode_with_limits, encode,
};
use wa::node::{NodeContentRef, ValueRef};
use wacore_binary as wa;

/// Token bytes used below.
const IQ: u8 = 25;
const ID: u8 = 8;
const TO: u8 = 17;
const S_WHATSAPP_NET: u8 = 3;
const G_US: u8 = 28;
/// "491556", nibble-packed.
const USER: [u8; 5] = [0xff, 0x03, 0x49, 0x15, 0x56];

/// A payload: flags byte 0, then the node bytes.
fn p(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![0];
    for part in parts {
        v.extend_from_slice(part);
    }
    v
}

/// Our reading: the owned decoder and the views agree, and the node
/// re-encodes to canonical bytes that are a fixed point.
fn ours(payload: &[u8]) -> Node {
    let node = decode(payload).unwrap_or_else(|e| panic!("{payload:02x?}: {e}"));
    let mut buf = Decoded::new();
    let viewed = buf.decode(payload).map(|r| r.to_node());
    assert_eq!(viewed.as_ref(), Ok(&node), "{payload:02x?}");
    let canonical = encode(&node).unwrap_or_else(|e| panic!("{node:?}: {e}"));
    assert_eq!(decode(&canonical).as_ref(), Ok(&node), "{payload:02x?}");
    assert_eq!(encode(&node).ok(), Some(canonical));
    node
}

fn theirs(payload: &[u8]) -> wa::node::NodeRef<'_> {
    wa::marshal::unmarshal_ref(&payload[1..]).unwrap_or_else(|e| panic!("{payload:02x?}: {e}"))
}

fn their_attr<'a>(n: &'a wa::node::NodeRef<'_>, key: &str) -> &'a ValueRef<'a> {
    let found = n.attrs.as_slice().iter().find(|(k, _)| &**k == key);
    &found.unwrap_or_else(|| panic!("no {key:?}")).1
}

fn their_str<'a>(n: &'a wa::node::NodeRef<'_>, key: &str) -> &'a str {
    match their_attr(n, key) {
        ValueRef::String(s) => s,
        other => panic!("{key:?} is {other:?}"),
    }
}

fn their_text<'a>(n: &'a wa::node::NodeRef<'_>) -> &'a str {
    match &n.content {
        Some(NodeContentRef::String(s)) => s,
        other => panic!("content {other:?}"),
    }
}

/// Ours and theirs name the same JID.
fn same_jid(ours: &Jid, theirs: &ValueRef<'_>) {
    let ValueRef::Jid(t) = theirs else {
        panic!("{theirs:?} is no JID")
    };
    assert_eq!(ours.user(), &*t.user, "{ours:?} vs {t:?}");
    assert_eq!(ours.server(), t.server.as_str(), "{ours:?} vs {t:?}");
    assert_eq!(ours.device().unwrap_or(0), t.device, "{ours:?} vs {t:?}");
}

#[test]
fn empty_packed_strings_read_as_empty() {
    // Before: `EmptyPacked`. Nibble or hex, with or without the odd bit.
    for head in [[0xff, 0x00], [0xfb, 0x00], [0xff, 0x80], [0xfb, 0x80]] {
        let bytes = p(&[&[0xf8, 3, IQ, ID], &head]);
        assert_eq!(ours(&bytes).attr("id"), Some(""), "{head:02x?}");
        assert_eq!(their_str(&theirs(&bytes), "id"), "");
        // As content: the text is the same; it is kept as the bytes our
        // encoder writes for it, so that it re-encodes unchanged.
        let bytes = p(&[&[0xf8, 2, IQ], &head]);
        let node = ours(&bytes);
        assert_eq!(node.content, Some(Content::Bytes(Vec::new())));
        assert_eq!(node.text(), Some(their_text(&theirs(&bytes))));
    }
}

#[test]
fn odd_and_long_packed_strings_read_in_full() {
    let hex_127 = {
        let mut v = vec![0xfb, 0xff];
        v.extend([0xab; 127]);
        v
    };
    let nibble_127 = {
        let mut v = vec![0xff, 0x7f];
        v.extend([0x12; 127]);
        v
    };
    let cases: Vec<(&[u8], String)> = vec![
        // The dropped half of an odd string may be any character.
        (&[0xff, 0x81, 0x13], "1".into()),
        (&[0xff, 0x83, 0x12, 0x34, 0x5f], "12345".into()),
        (&[0xfb, 0x82, 0xab, 0xc4], "ABC".into()),
        // Before: `PackedTooLong` past 127 characters; the length byte
        // counts up to 127 bytes, 253 or 254 characters.
        (&hex_127, "AB".repeat(127)[..253].to_owned()),
        (&nibble_127, "12".repeat(127)),
    ];
    for (packed, want) in cases {
        let bytes = p(&[&[0xf8, 3, IQ, ID], packed]);
        assert_eq!(ours(&bytes).attr("id"), Some(want.as_str()));
        assert_eq!(their_str(&theirs(&bytes), "id"), want);
        let bytes = p(&[&[0xf8, 2, IQ], packed]);
        let node = ours(&bytes);
        assert_eq!(node.text(), Some(want.as_str()));
        assert_eq!(their_text(&theirs(&bytes)), want);
        // Over 127 characters our encoder writes the text raw, so the
        // content is kept as those bytes.
        let raw = want.len() > 127;
        assert_eq!(matches!(node.content, Some(Content::Bytes(_))), raw);
    }
}

#[test]
fn nibble_15_inside_a_string_reads_as_nul() {
    // Before: `InvalidNibble` for a 15 anywhere but the dropped half.
    // Every reference maps nibble 15 to NUL.
    let cases: [(&[u8], &str); 3] = [
        (&[0xff, 0x02, 0x1f, 0x23], "1\u{0}23"),
        (&[0xff, 0x82, 0xf1, 0x2f], "\u{0}12"),
        (&[0xff, 0x01, 0xff], "\u{0}\u{0}"),
    ];
    for (packed, want) in cases {
        let bytes = p(&[&[0xf8, 3, IQ, ID], packed]);
        assert_eq!(ours(&bytes).attr("id"), Some(want));
        assert_eq!(their_str(&theirs(&bytes), "id"), want);
        let bytes = p(&[&[0xf8, 2, IQ], packed]);
        assert_eq!(ours(&bytes).bytes(), Some(want.as_bytes()));
        assert_eq!(their_text(&theirs(&bytes)), want);
    }
    // 12..=14 stay refused, by both, even in the dropped half.
    for packed in [[0xff, 0x01, 0x1c], [0xff, 0x81, 0x1d]] {
        let bytes = p(&[&[0xf8, 3, IQ, ID], &packed]);
        assert!(matches!(
            decode(&bytes),
            Err(DecodeError::InvalidNibble { offset: 7, .. })
        ));
        assert!(wa::marshal::unmarshal_ref(&bytes[1..]).is_err());
    }
}

#[test]
fn a_jid_user_may_be_a_jid() {
    // Before: `UnexpectedTag` (JID user). The inner JID reads as its text.
    let cases: [(&[u8], &str); 3] = [
        (&[0xfa, S_WHATSAPP_NET, G_US], "491556@s.whatsapp.net"),
        (&[0xf7, 1, 3], "491556:3@lid"),
        (&[0xf7, 0, 0], "491556@s.whatsapp.net"),
    ];
    for (inner_head, inner_text) in cases {
        // JID_PAIR(user: inner JID, server: g.us); the inner JID's user
        // comes after its head bytes, except for JID_PAIR's server.
        let inner: Vec<u8> = match inner_head {
            [0xfa, server, _] => [&[0xfa][..], &USER, &[*server]].concat(),
            _ => [inner_head, &USER].concat(),
        };
        let bytes = p(&[&[0xf8, 3, IQ, TO, 0xfa], &inner, &[G_US]]);
        let node = ours(&bytes);
        let jid = node.attr_jid("to").unwrap_or_else(|| panic!("{node:?}"));
        assert_eq!(jid, Jid::new(inner_text, "g.us"));
        same_jid(&jid, their_attr(&theirs(&bytes), "to"));
    }
    // A JID is still no server. wacore refuses this one (its text is no
    // server it knows); with an empty user it would take the JID's server
    // as the server (its text form drops the '@'), where Baileys reads
    // "@s.whatsapp.net": the references disagree, and we refuse both.
    let server_jid = [&[0xfa][..], &USER, &[S_WHATSAPP_NET]].concat();
    let bytes = p(&[&[0xf8, 3, IQ, TO, 0xfa], &USER, &server_jid]);
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::UnexpectedTag {
            offset: 11,
            tag: 0xfa,
            field: Field::JidServer
        })
    );
    assert!(wa::marshal::unmarshal_ref(&bytes[1..]).is_err());
}

#[test]
fn a_jid_may_be_a_tag_or_a_key() {
    // Before: `UnexpectedTag` (node tag, attribute key).
    let pair: &[u8] = &[&[0xfa][..], &USER, &[S_WHATSAPP_NET]].concat();
    let device: &[u8] = &[&[0xf7, 1, 5][..], &USER].concat();
    for (jid, text) in [(pair, "491556@s.whatsapp.net"), (device, "491556:5@lid")] {
        let bytes = p(&[&[0xf8, 1], jid]);
        assert_eq!(ours(&bytes).tag, text);
        assert_eq!(&*theirs(&bytes).tag, text);
        let bytes = p(&[&[0xf8, 3, IQ], jid, &[0xff, 0x01, 0x12]]);
        assert_eq!(ours(&bytes).attr(text), Some("12"));
        assert_eq!(their_str(&theirs(&bytes), text), "12");
    }
}

#[test]
fn an_interop_jid_may_leave_out_its_server() {
    // Before: refused whenever no server string followed. WA Web's writer
    // leaves the server out; Baileys reads one when what follows reads as
    // a string and goes back when not, implying "interop". wacore insists
    // on the server, so Baileys' reading is pinned here.
    let interop: &[u8] = &[&[0xf5][..], &USER, &[0, 2, 0, 7]].concat();
    let want = Jid::Interop {
        user: "491556".into(),
        device: 2,
        integrator: 7,
        server: "interop".into(),
    };
    // The last bytes of the payload.
    let bytes = p(&[&[0xf8, 3, IQ, TO], interop]);
    let node = ours(&bytes);
    assert_eq!(node.attr_jid("to"), Some(want.clone()));
    assert_eq!(want.to_string(), "7-491556:2@interop", "Baileys' text");
    assert!(wa::marshal::unmarshal_ref(&bytes[1..]).is_err());
    // Followed by children, or by an empty child list.
    let bytes = p(&[&[0xf8, 4, IQ, TO], interop, &[0xf8, 1, 0xf8, 1, IQ]]);
    let node = ours(&bytes);
    assert_eq!(node.attr_jid("to"), Some(want.clone()));
    assert_eq!(node.children(), [Node::new("iq")]);
    let bytes = p(&[&[0xf8, 4, IQ, TO], interop, &[0]]);
    let node = ours(&bytes);
    assert_eq!(node.attr_jid("to"), Some(want.clone()));
    assert_eq!(node.content, Some(Content::Nodes(Vec::new())));
    // With its server, as the server sends it, wacore reads it too.
    let bytes = p(&[&[0xf8, 3, IQ, TO], interop, &[0xfc, 7], b"interop"]);
    assert_eq!(ours(&bytes).attr_jid("to"), Some(want.clone()));
    same_jid(&want, their_attr(&theirs(&bytes), "to"));
}

#[test]
fn an_ad_jid_of_device_0_is_the_bare_jid() {
    // Before: read as `Jid::Device { device: 0 }`, text "491556:0@…", a
    // second name for the phone's own device, whose sessions are keyed
    // by the bare JID.
    for (domain, server) in [
        (0u8, "s.whatsapp.net"),
        (1, "lid"),
        (128, "hosted"),
        (129, "hosted.lid"),
    ] {
        let jid: &[u8] = &[&[0xf7, domain, 0][..], &USER].concat();
        let want = Jid::new("491556", server);
        let bytes = p(&[&[0xf8, 3, IQ, TO], jid]);
        let node = ours(&bytes);
        assert_eq!(node.attr_jid("to"), Some(want.clone()));
        assert_eq!(
            Decoded::new()
                .decode(&bytes)
                .ok()
                .and_then(|r| r.attr_jid("to")),
            Some(want.clone())
        );
        same_jid(&want, their_attr(&theirs(&bytes), "to"));
        let bytes = p(&[&[0xf8, 2, IQ], jid]);
        assert_eq!(ours(&bytes).content, Some(Content::Jid(want.clone())));
        assert_eq!(
            their_text(&theirs(&bytes)),
            want.to_string(),
            "wacore reads JID content as its text"
        );
    }
    // An unnamed domain byte has no bare form that keeps it: the device
    // JID stays (wacore refuses odd domains; Baileys drops the byte).
    let bytes = p(&[&[0xf8, 3, IQ, TO, 0xf7, 7, 0], &USER]);
    assert_eq!(ours(&bytes).attr_jid("to"), Some(Jid::ad("491556", 7, 0)));
    // Our encoder still writes device 0 as Baileys does (AD_JID); what it
    // reads back is the bare JID, as Baileys' own decoder does.
    let sent = Node::new("iq").with_attr("to", Jid::ad("491556", 0, 0));
    let bytes = encode(&sent).unwrap_or_default();
    assert_eq!(bytes.get(5), Some(&0xf7));
    assert_eq!(
        ours(&bytes).attr_jid("to"),
        Some(Jid::new("491556", "s.whatsapp.net"))
    );
}

/// The text we write for a JID where a string goes is its `Display`, for
/// every JID form and every form of its parts.
#[test]
fn a_jid_read_as_text_is_its_display() {
    let raw = |s: &str| [&[0xfc, s.len() as u8][..], s.as_bytes()].concat();
    let users: Vec<Vec<u8>> = vec![
        USER.to_vec(),
        vec![0],
        raw("alice"),
        vec![G_US],
        [&[0xfa][..], &USER, &[G_US]].concat(),
        [&[0xf5][..], &USER, &[0, 2, 0, 7], &raw("interop")].concat(),
    ];
    let mut jids: Vec<Vec<u8>> = Vec::new();
    for user in &users {
        jids.push([&[0xfa][..], user, &[S_WHATSAPP_NET]].concat());
        jids.push([&[0xfa][..], user, &raw("example.org")].concat());
        jids.push([&[0xfa][..], user, &[0xff, 0x02, 0x12, 0x34]].concat());
        for domain in [0, 1, 7, 128, 129] {
            for device in [0, 9] {
                jids.push([&[0xf7, domain, device][..], user].concat());
            }
        }
        jids.push([&[0xf6][..], user, &[1, 44, 204]].concat());
        jids.push([&[0xf5][..], user, &[0, 2, 0, 7], &raw("interop")].concat());
    }
    for jid in &jids {
        let value = ours(&p(&[&[0xf8, 3, IQ, TO], jid]));
        let Some(Value::Jid(value)) = value.attr_value("to").cloned() else {
            panic!("{jid:02x?}: {value:?}")
        };
        assert_eq!(ours(&p(&[&[0xf8, 1], jid])).tag, *value.to_string());
    }
    // An interop JID with no server, as a tag (nothing follows it).
    let interop = [&[0xf5][..], &USER, &[0, 2, 0, 7]].concat();
    assert_eq!(ours(&p(&[&[0xf8, 1], &interop])).tag, "7-491556:2@interop");
}

/// `levels` JID_PAIRs as a node tag, each the user of the one before.
fn nested_jid_tag(levels: usize) -> Vec<u8> {
    let mut bytes = vec![0, 0xf8, 1];
    bytes.extend(std::iter::repeat_n(0xfa, levels));
    bytes.extend(USER);
    bytes.extend(std::iter::repeat_n(S_WHATSAPP_NET, levels));
    bytes
}

#[test]
fn jids_in_jids_nest_as_deep_as_nodes_may() {
    let node = ours(&nested_jid_tag(3));
    let want = "491556@s.whatsapp.net@s.whatsapp.net@s.whatsapp.net";
    assert_eq!(node.tag, want);
    assert_eq!(&*theirs(&nested_jid_tag(3)).tag, want);
    assert_eq!(ours(&nested_jid_tag(127)).tag.len(), 6 + 127 * 15);
    assert_eq!(
        decode(&nested_jid_tag(128)),
        Err(DecodeError::TooDeep {
            offset: 3 + 127,
            depth_max: 128
        })
    );
    let limits = DecodeLimits {
        depth_max: 4,
        ..DecodeLimits::DEFAULT
    };
    assert!(decode_with_limits(&nested_jid_tag(3), &limits).is_ok());
    assert!(matches!(
        decode_with_limits(&nested_jid_tag(4), &limits),
        Err(DecodeError::TooDeep { depth_max: 4, .. })
    ));
    // Far deeper than any stack would take: refused at the limit.
    assert!(matches!(
        decode(&nested_jid_tag(100_000)),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn jids_read_as_text_count_as_items() {
    // Their text costs more than their bytes (up to two tokens and the
    // separators for three bytes), so they count against `items_max` as
    // nodes and attributes do: the node and 3 JIDs here.
    let fits = DecodeLimits {
        items_max: 4,
        ..DecodeLimits::DEFAULT
    };
    assert!(decode_with_limits(&nested_jid_tag(3), &fits).is_ok());
    let tight = DecodeLimits {
        items_max: 3,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(
        decode_with_limits(&nested_jid_tag(3), &tight),
        Err(DecodeError::TooManyItems {
            offset: 5,
            items_max: 3
        })
    );
}
