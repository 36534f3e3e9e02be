use std::collections::BTreeMap;

use prost::Message as _;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::crypto::KeyPair;
use crate::message::padding::unpad;
use crate::session::{Creds, Me, PreKey, Session};
use crate::signal::{LocalPreKeys, decrypt_msg, decrypt_pkmsg};
use blacksky_proto::wa;

const BOT: &str = "491556123456:7@s.whatsapp.net";
const CONTACT: &str = "4915112345678";

/// A device at the other end: its own keys, its session with us.
struct Peer {
    creds: Creds,
    one_time: BTreeMap<u32, PreKey>,
    record: Option<SessionRecord>,
}

impl Peer {
    fn new(rng: &mut ChaCha20Rng) -> Peer {
        let creds = Creds::generate(rng);
        let key = PreKey {
            id: 31,
            key_pair: KeyPair::generate(rng),
        };
        Peer {
            creds,
            one_time: BTreeMap::from([(31, key)]),
            record: None,
        }
    }

    fn bundle(&self) -> PreKeyBundle {
        PreKeyBundle::of_own(&self.creds, self.one_time.get(&31))
    }

    /// Opens this device's `<enc>` in `stanza`: the `Message` bytes.
    fn open(&mut self, stanza: &Node, me: &Jid, rng: &mut ChaCha20Rng) -> (String, Vec<u8>) {
        // A fan-out names each device; a resend goes to one, directly.
        let enc = match stanza.child("participants") {
            Some(participants) => participants
                .children_named("to")
                .find(|to| to.attr_jid("jid").as_ref() == Some(me))
                .expect("a copy for this device")
                .child("enc"),
            None => stanza.child("enc"),
        }
        .expect("enc");
        let kind = enc.attr("type").expect("type").to_owned();
        let bytes = enc.bytes().expect("bytes");
        let padded = if kind == "pkmsg" {
            let signed = [&self.creds.signed_pre_key];
            let keys = LocalPreKeys {
                signed: &signed,
                one_time: &self.one_time,
            };
            let opened = decrypt_pkmsg(
                self.record.as_ref(),
                &self.creds.identity_key,
                &keys,
                bytes,
                rng,
            )
            .expect("pkmsg opens");
            self.record = Some(opened.record);
            opened.plaintext
        } else {
            let record = self.record.as_ref().expect("a session");
            let opened =
                decrypt_msg(record, &self.creds.identity_key, bytes, rng).expect("msg opens");
            self.record = Some(opened.record);
            opened.plaintext
        };
        (kind, unpad(&padded).expect("padding").to_vec())
    }
}

fn bot(rng: &mut ChaCha20Rng) -> Session {
    let mut creds = Creds::generate(rng);
    creds.me = Some(Me {
        jid: Jid::parse(BOT).expect("jid"),
        lid: None,
        push_name: None,
    });
    creds.account = Some(vec![7; 100]);
    Session::new(creds)
}

fn text(body: &str) -> Vec<u8> {
    wa::Message {
        conversation: Some(body.to_owned()),
        ..Default::default()
    }
    .encode_to_vec()
}

fn device(user: &str, id: u8) -> Jid {
    Jid::ad(user.to_owned(), Jid::DOMAIN_WHATSAPP, id)
}

/// Applies a seal's writes as the store would.
fn commit(session: &mut Session, sealed: &Sealed) {
    for write in &sealed.writes {
        session.apply(write);
    }
}

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
