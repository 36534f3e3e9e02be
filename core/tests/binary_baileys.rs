//! Byte-exact agreement with Baileys 7 (the ground truth) on the shared
//! stanza set: our encoder writes Baileys' bytes, our decoder reads them
//! back to the same node, and re-encoding gives the bytes again.

mod binary_common;

use binary_common::load_stanzas;
use blacksky_core::wire::binary::{Jid, Value, decode, encode, encode_into};
use sha2::{Digest, Sha256};

#[test]
fn the_set_is_what_it_claims() {
    let stanzas = load_stanzas();
    assert_eq!(stanzas.len(), 5);
    for s in &stanzas {
        if let Some(b) = &s.baileys {
            assert_eq!(b.len(), s.baileys_len, "{}: length", s.name);
            assert_eq!(
                hex::encode(Sha256::digest(b)),
                s.baileys_sha256,
                "{}: sha256",
                s.name
            );
            assert_eq!(b.first(), Some(&0), "{}: flags byte", s.name);
        }
    }
}

#[test]
fn encode_gives_baileys_bytes() {
    for s in load_stanzas() {
        let ours = encode(&s.node).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        if let Some(baileys) = &s.baileys
            && ours != *baileys
        {
            let at = ours.iter().zip(baileys).position(|(a, b)| a != b);
            panic!(
                "{}: our bytes differ from Baileys' (first difference at {at:?}; lengths {} vs {})",
                s.name,
                ours.len(),
                baileys.len()
            );
        }
        assert!(
            s.matches(&ours),
            "{}: length or SHA-256 differ from Baileys'",
            s.name
        );
        // The appending form writes the same bytes after what is there.
        let mut buf = vec![9, 9, 9];
        encode_into(&s.node, &mut buf).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(buf.get(3..), Some(&ours[..]), "{}", s.name);
    }
}

#[test]
fn decode_gives_the_node_and_reencodes_byte_exact() {
    for s in load_stanzas() {
        let bytes = s.bytes();
        let node = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(node, s.node, "{}", s.name);
        assert_eq!(encode(&node).ok(), Some(bytes), "{}", s.name);
    }
}

/// Pins the forms the set exercises, so a change of model shows up here
/// by name rather than as a byte diff.
#[test]
fn jids_are_read_as_jids() {
    let stanzas = load_stanzas();
    let a = stanzas
        .iter()
        .find(|s| s.name.starts_with("a_"))
        .map(|s| decode(&s.bytes()));
    let Some(Ok(a)) = a else {
        panic!("stanza a missing or undecodable")
    };
    assert_eq!(
        a.attr_value("from"),
        Some(&Value::Jid(Jid::new("491556123456", "s.whatsapp.net")))
    );
    assert_eq!(a.attr("id"), Some("3EB021DD5531B9DC518971"));
    assert_eq!(
        a.child("enc").and_then(|e| e.bytes()).map(<[u8]>::len),
        Some(150)
    );

    let c = stanzas
        .iter()
        .find(|s| s.name.starts_with("c_"))
        .map(|s| decode(&s.bytes()));
    let Some(Ok(c)) = c else {
        panic!("stanza c missing or undecodable")
    };
    let users: Vec<_> = c
        .child("usync")
        .and_then(|u| u.child("list"))
        .map(|l| l.children().to_vec())
        .unwrap_or_default();
    assert_eq!(users.len(), 50);
    assert_eq!(
        users.first().and_then(|u| u.attr_jid("jid")),
        Some(Jid::ad("491556123400", Jid::DOMAIN_WHATSAPP, 1))
    );
    assert_eq!(
        users.first().and_then(|u| u.attr_jid("lid")),
        Some(Jid::new("203947561028000", "lid"))
    );
    // iq from="s.whatsapp.net": Baileys wrote the plain token, so it is
    // text, not a JID.
    assert_eq!(c.attr("from"), Some("s.whatsapp.net"));
}
