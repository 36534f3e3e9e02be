use std::collections::BTreeMap;

use prost::Message as _;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::client::send::test_peer::*;
use blacksky_proto::wa;

#[test]
fn every_device_opens_its_copy_and_our_phone_gets_the_device_sent_copy() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut session = bot(&mut rng);
    let mut contact = Peer::new(&mut rng);
    let mut phone = Peer::new(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let devices = [
        device(CONTACT, 0),
        device("491556123456", 0),
        device("491556123456", 7),
    ];
    let bundles = BTreeMap::from([
        (format!("{CONTACT}.0"), contact.bundle()),
        ("491556123456.0".to_owned(), phone.bundle()),
    ]);
    let message = text("pong 1");
    let out = Outgoing {
        id: "3EB0AA",
        to: &to,
        message: &message,
        devices: &devices,
    };
    let sealed = seal(&session, &out, &bundles, &mut rng).expect("sealed");
    assert!(sealed.left_out.is_empty());
    assert_eq!(sealed.stanza.attr("id"), Some("3EB0AA"));
    assert_eq!(sealed.stanza.attr("type"), Some("text"));
    assert_eq!(
        sealed.stanza.child("device-identity").and_then(Node::bytes),
        Some(&[7u8; 100][..]),
        "a pkmsg carries our signed device identity"
    );
    let copies = sealed
        .stanza
        .child("participants")
        .expect("p")
        .children()
        .len();
    assert_eq!(copies, 2, "this device gets no copy");

    let (kind, opened) = contact.open(&sealed.stanza, &devices[0], &mut rng);
    assert_eq!((kind.as_str(), opened), ("pkmsg", message.clone()));
    let (_, dsm) = phone.open(&sealed.stanza, &devices[1], &mut rng);
    let dsm = wa::Message::decode(dsm.as_slice()).expect("a message");
    let sent = dsm.device_sent_message.expect("a device-sent copy");
    assert_eq!(
        sent.destination_jid.as_deref(),
        Some(to.to_string().as_str())
    );
    assert_eq!(
        sent.message.and_then(|m| m.conversation).as_deref(),
        Some("pong 1")
    );

    // Committed, the next message continues the same sessions.
    commit(&mut session, &sealed);
    let second = text("pong 2");
    let out = Outgoing {
        id: "3EB0BB",
        to: &to,
        message: &second,
        devices: &devices,
    };
    let again = seal(&session, &out, &BTreeMap::new(), &mut rng).expect("sealed");
    let (_, opened) = contact.open(&again.stanza, &devices[0], &mut rng);
    assert_eq!(opened, second);
}

#[test]
fn sealing_is_pure_the_same_session_seals_the_same_counter_until_committed() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let session = bot(&mut rng);
    let contact = Peer::new(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let devices = [device(CONTACT, 0)];
    let bundles = BTreeMap::from([(format!("{CONTACT}.0"), contact.bundle())]);
    let message = text("x");
    let out = Outgoing {
        id: "3EB0CC",
        to: &to,
        message: &message,
        devices: &devices,
    };
    let before = session.sessions.clone();
    let sealed = seal(&session, &out, &bundles, &mut rng).expect("sealed");
    assert_eq!(session.sessions, before, "the session is untouched");
    assert!(
        sealed
            .writes
            .iter()
            .any(|w| matches!(w, Write::SignalSession { address, .. } if address == &format!("{CONTACT}.0"))),
        "the advanced record is among the writes"
    );
}

#[test]
fn a_device_without_session_or_bundle_is_left_out_and_none_reached_is_an_error() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let session = bot(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let devices = [device(CONTACT, 0)];
    let message = text("x");
    let out = Outgoing {
        id: "3EB0DD",
        to: &to,
        message: &message,
        devices: &devices,
    };
    assert_eq!(
        seal(&session, &out, &BTreeMap::new(), &mut rng).map(|s| s.left_out),
        Err(SealError::NoDevice)
    );
}

#[test]
fn a_contact_known_by_lid_is_sealed_on_its_lid_session() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut session = bot(&mut rng);
    session.apply(&Write::LidMapping {
        pn: CONTACT.into(),
        lid: "777000111".into(),
    });
    let contact = Peer::new(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let devices = [device(CONTACT, 0)];
    let bundles = BTreeMap::from([("777000111_1.0".to_owned(), contact.bundle())]);
    let message = text("x");
    let out = Outgoing {
        id: "3EB0EE",
        to: &to,
        message: &message,
        devices: &devices,
    };
    let sealed = seal(&session, &out, &bundles, &mut rng).expect("sealed");
    assert!(
        sealed.writes.iter().any(
            |w| matches!(w, Write::SignalSession { address, .. } if address == "777000111_1.0")
        )
    );
}

#[test]
fn a_resend_goes_to_the_one_device_on_a_fresh_session_from_its_keys() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut session = bot(&mut rng);
    let mut contact = Peer::new(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let me = device(CONTACT, 0);
    let message = text("again");
    let out = Outgoing {
        id: "3EB0CC",
        to: &to,
        message: &message,
        devices: std::slice::from_ref(&me),
    };
    let bundles = BTreeMap::from([(format!("{CONTACT}.0"), contact.bundle())]);
    let first = seal(&session, &out, &bundles, &mut rng).expect("sealed");
    commit(&mut session, &first);
    contact.open(&first.stanza, &me, &mut rng);

    // On the session we have (the contact has not answered on it yet, so
    // still a pkmsg), to the device alone, with the count.
    let resend = Resend {
        id: "3EB0CC",
        chat: &to,
        device: &me,
        message: &message,
        count: 1,
    };
    let again = seal_resend(&session, &resend, None, &mut rng).expect("sealed");
    assert_eq!(again.stanza.attr_jid("to"), Some(me.clone()));
    let enc = again.stanza.child("enc").expect("a direct enc");
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    assert_eq!(enc.attr("count"), Some("1"));
    assert!(again.stanza.child("device-identity").is_some());
    assert_eq!(contact.open(&again.stanza, &me, &mut rng).1, message);
    commit(&mut session, &again);

    // The device threw its session away and sent its keys: a pkmsg on a
    // new session, with our device identity.
    let mut renewed = Peer::new(&mut rng);
    let resend = Resend { count: 2, ..resend };
    let fresh = seal_resend(&session, &resend, Some(&renewed.bundle()), &mut rng).expect("sealed");
    let enc = fresh.stanza.child("enc").expect("a direct enc");
    assert_eq!(enc.attr("type"), Some("pkmsg"));
    assert_eq!(enc.attr("count"), Some("2"));
    assert!(fresh.stanza.child("device-identity").is_some());
    assert!(
        fresh
            .writes
            .iter()
            .any(|w| matches!(w, Write::Identity { .. })),
        "the new identity is recorded"
    );
    assert_eq!(
        renewed.open(&fresh.stanza, &me, &mut rng),
        ("pkmsg".to_owned(), message)
    );
}

#[test]
fn a_resend_to_a_device_without_session_or_keys_or_to_this_device_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let session = bot(&mut rng);
    let to = Jid::new(CONTACT, "s.whatsapp.net");
    let message = text("x");
    for device in [device(CONTACT, 0), Jid::parse(BOT).expect("jid")] {
        let resend = Resend {
            id: "3EB0DD",
            chat: &to,
            device: &device,
            message: &message,
            count: 1,
        };
        assert_eq!(
            seal_resend(&session, &resend, None, &mut rng).map(|_| ()),
            Err(SealError::NoDevice)
        );
    }
}
