//! The send path against the npm `libsignal` package (6.0.0, what the
//! Node.js bots run), driven as the contact's device through
//! `interop/peer.mjs`: blacksky's real `seal()` makes the `<message>`
//! stanza (encoded to bytes and read back, as it goes on the wire), the
//! peer opens the `<enc>` addressed to its device, and the padded
//! `Message` protobuf inside is what was sealed. Sealing's writes are
//! applied to the session as the store commits them; the peer's answers
//! are opened with blacksky's receive-side Signal functions (the stored
//! record, `decrypt_msg`, the new record written back, as receiving does),
//! and the seals after them ride the new ratchet. A second peer plays our
//! own phone and opens its device-sent copy.

#[path = "support/libsignal_peer.rs"]
mod libsignal_peer;
#[path = "support/node_peer.rs"]
mod node_peer;

use std::collections::BTreeMap;

use blacksky_core::client::send::seal::{Outgoing, Sealed, seal};
use blacksky_core::message::Content;
use blacksky_core::message::content::Kind;
use blacksky_core::message::padding::{pad, unpad};
use blacksky_core::session::{Creds, Me, Replaces, Session, Write};
use blacksky_core::signal::{MessageKind, PreKeyBundle, SessionRecord, decrypt_msg};
use blacksky_core::wire::binary::{self, Jid, Node};
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use libsignal_peer::{
    PEER_REGISTRATION_ID, bundle_from_json, peer_decrypt, peer_encrypt, start_peer,
};
use node_peer::NodePeer;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;

/// This device: our account's linked device 7.
const BOT: &str = "491556123456:7@s.whatsapp.net";
/// The contact; the peer plays its phone (device 0).
const CONTACT: &str = "4915112345678";
/// The session blacksky keeps with the peer's device.
const PEER_ADDRESS: &str = "4915112345678.0";
/// Our account's phone (device 0), which gets the device-sent copy.
const PHONE: &str = "491556123456";
const PHONE_ADDRESS: &str = "491556123456.0";
/// Our signed device identity (`<device-identity>` carries it as it is).
const ACCOUNT: [u8; 100] = [7; 100];

/// The bot's side: its session, as the store would hold it after every
/// commit, and what it needs to seal for the contact.
struct Bot {
    session: Session,
    rng: ChaCha20Rng,
    to: Jid,
    /// The contact's device and this device (which gets no copy).
    devices: Vec<Jid>,
    next_id: u32,
}

impl Bot {
    fn new(seed: u64) -> Bot {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut creds = Creds::generate(&mut rng);
        creds.me = Some(Me {
            jid: Jid::parse(BOT).expect("jid"),
            lid: None,
            push_name: None,
        });
        creds.account = Some(ACCOUNT.to_vec());
        Bot {
            session: Session::new(creds),
            rng,
            to: Jid::new(CONTACT, "s.whatsapp.net"),
            devices: vec![
                Jid::ad(CONTACT.to_owned(), Jid::DOMAIN_WHATSAPP, 0),
                Jid::parse(BOT).expect("jid"),
            ],
            next_id: 0,
        }
    }

    fn peer_device(&self) -> &Jid {
        &self.devices[0]
    }

    /// Seals `message` (with `bundles` for devices without a session),
    /// leaving the session as it was.
    fn seal(&mut self, message: &[u8], bundles: &BTreeMap<String, PreKeyBundle>) -> Sealed {
        self.next_id += 1;
        let id = format!("3EB0{:08X}", self.next_id);
        let out = Outgoing {
            id: &id,
            to: &self.to,
            message,
            devices: &self.devices,
        };
        let sealed = seal(&self.session, &out, bundles, &mut self.rng).expect("sealed");
        assert!(sealed.left_out.is_empty(), "{:?}", sealed.left_out);
        assert_eq!(sealed.stanza.attr("id"), Some(id.as_str()));
        sealed
    }

    /// Applies a seal's writes as the store commits them.
    fn commit(&mut self, sealed: &Sealed) {
        for write in &sealed.writes {
            self.session.apply(write);
        }
    }

    /// Seals with the session alone and commits.
    fn send(&mut self, message: &[u8]) -> Sealed {
        let sealed = self.seal(message, &BTreeMap::new());
        self.commit(&sealed);
        sealed
    }

    /// Opens a `msg` from the peer's device as receiving does (the stored
    /// record, `decrypt_msg`, the new record written back), unpads and
    /// reads it.
    fn receive(&mut self, kind: MessageKind, body: &[u8]) -> Content {
        assert_eq!(kind, MessageKind::Msg, "the peer answers on our session");
        let stored = self.session.sessions.get(PEER_ADDRESS).expect("a session");
        let record = SessionRecord::decode(stored).expect("a stored record");
        let opened = decrypt_msg(
            &record,
            &self.session.creds.identity_key,
            body,
            &mut self.rng,
        )
        .expect("the peer's answer opens");
        self.session.apply(&Write::SignalSession {
            address: PEER_ADDRESS.to_owned(),
            record: opened.record.encode(),
            replaces: Replaces::Anything,
        });
        let message = unpad(&opened.plaintext).expect("padding");
        Content::decode(message).expect("a Message")
    }
}

/// The `<enc>` for `device` in `stanza` as it arrives: encoded to bytes
/// and decoded again; its type and ciphertext.
fn enc_for(stanza: &Node, device: &Jid) -> (MessageKind, Vec<u8>) {
    let wire = binary::encode(stanza).expect("the stanza encodes");
    let stanza = binary::decode(&wire).expect("and decodes");
    let copies: Vec<&Node> = stanza
        .child("participants")
        .expect("<participants>")
        .children_named("to")
        .filter(|to| {
            to.attr_jid("jid")
                .is_some_and(|jid| same_device(&jid, device))
        })
        .collect();
    assert_eq!(copies.len(), 1, "one copy for {device}");
    let enc = copies[0].child("enc").expect("<enc>");
    assert_eq!(enc.attr("v"), Some("2"));
    let kind = match enc.attr("type") {
        Some("pkmsg") => MessageKind::PreKeyMsg,
        Some("msg") => MessageKind::Msg,
        other => panic!("enc type {other:?}"),
    };
    (kind, enc.bytes().expect("ciphertext").to_vec())
}

/// Whichever form the JID takes on the wire (device 0 may read back as
/// the plain user JID).
fn same_device(a: &Jid, b: &Jid) -> bool {
    a.user() == b.user()
        && a.server() == b.server()
        && a.device().unwrap_or(0) == b.device().unwrap_or(0)
}

/// libsignal opens a copy; the `Message` bytes inside, padding removed.
fn peer_opens(peer: &mut NodePeer, kind: MessageKind, body: &[u8]) -> Vec<u8> {
    let padded = peer_decrypt(peer, kind, body).unwrap_or_else(|refused| {
        panic!("{refused}: {}", refused.log);
    });
    unpad(&padded).expect("WhatsApp padding").to_vec()
}

/// The peer's `<enc>` of `stanza`, opened by libsignal and read.
fn peer_reads(peer: &mut NodePeer, bot: &Bot, sealed: &Sealed) -> (MessageKind, wa::Message) {
    let (kind, body) = enc_for(&sealed.stanza, bot.peer_device());
    let message = peer_opens(peer, kind, &body);
    (
        kind,
        wa::Message::decode(message.as_slice()).expect("a Message"),
    )
}

fn text(body: &str) -> Vec<u8> {
    wa::Message {
        conversation: Some(body.to_owned()),
        ..Default::default()
    }
    .encode_to_vec()
}

fn conversation(message: &wa::Message) -> &str {
    message.conversation.as_deref().expect("a conversation")
}

/// The peer answers with a padded text; the bot opens it.
fn peer_answers(peer: &mut NodePeer, bot: &mut Bot, body: &str) {
    let plaintext = pad(&text(body), &mut bot.rng);
    let (kind, ciphertext) = peer_encrypt(peer, &plaintext);
    let content = bot.receive(kind, &ciphertext);
    match content.kind {
        Kind::Text(text) => assert_eq!(text.body, body),
        _ => panic!("the answer reads as a text"),
    }
}

/// The peer's bundle, keyed by the session address blacksky seals under.
fn bundles_of(peer: &mut NodePeer) -> BTreeMap<String, PreKeyBundle> {
    let bundle = peer.ok(json!({"op": "bundle"}));
    assert!(!bundle["pre_key"].is_null(), "a one-time pre-key");
    BTreeMap::from([(PEER_ADDRESS.to_owned(), bundle_from_json(&bundle))])
}

#[test]
fn sealed_from_a_bundle_libsignal_opens_in_and_out_of_order_and_after_its_answer() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let mut bot = Bot::new(11);
    let bundles = bundles_of(&mut peer);

    // The first message starts the session from the bundle: a pkmsg, with
    // our device identity beside it.
    let first = bot.seal(&text("pong 1"), &bundles);
    assert_eq!(first.stanza.tag.as_str(), "message");
    assert_eq!(first.stanza.attr("type"), Some("text"));
    assert_eq!(first.stanza.attr_jid("to").as_ref(), Some(&bot.to));
    assert_eq!(
        first.stanza.child("device-identity").and_then(Node::bytes),
        Some(&ACCOUNT[..]),
        "a pkmsg goes with <device-identity>"
    );
    let copies = first.stanza.child("participants").expect("p").children();
    assert_eq!(copies.len(), 1, "this device gets no copy");
    let identity = bundles[PEER_ADDRESS].identity.raw().to_vec();
    assert!(first.writes.iter().any(|w| matches!(
        w, Write::Identity { address, key } if address == PEER_ADDRESS && key == &identity
    )));
    assert!(bot.session.sessions.is_empty(), "sealing wrote nothing");
    let (kind, opened) = peer_reads(&mut peer, &bot, &first);
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(conversation(&opened), "pong 1");
    assert_eq!(opened.encode_to_vec(), text("pong 1"));
    bot.commit(&first);
    assert!(bot.session.sessions.contains_key(PEER_ADDRESS));
    let record = SessionRecord::decode(&bot.session.sessions[PEER_ADDRESS]).expect("record");
    assert_eq!(
        record.current().remote_registration_id(),
        PEER_REGISTRATION_ID
    );

    // Until the peer answers, Signal repeats the pre-key header on every
    // message (libsignal's encrypt does the same): the next ones are
    // pkmsgs of the same session, each on the next counter. In order...
    let second = bot.send(&text("pong 2"));
    let third = bot.send(&text("pong 3"));
    for (sealed, body) in [(&second, "pong 2"), (&third, "pong 3")] {
        assert!(sealed.stanza.child("device-identity").is_some());
        assert!(
            !sealed
                .writes
                .iter()
                .any(|w| matches!(w, Write::Identity { .. })),
            "the identity is known now"
        );
        let (kind, opened) = peer_reads(&mut peer, &bot, sealed);
        assert_eq!(kind, MessageKind::PreKeyMsg);
        assert_eq!(conversation(&opened), body);
    }
    // ...and out of order.
    let fourth = bot.send(&text("pong 4"));
    let fifth = bot.send(&text("pong 5"));
    let (_, opened) = peer_reads(&mut peer, &bot, &fifth);
    assert_eq!(conversation(&opened), "pong 5");
    let (_, opened) = peer_reads(&mut peer, &bot, &fourth);
    assert_eq!(conversation(&opened), "pong 4");

    // The peer answers (a msg on the session our pkmsgs built); from then
    // on we seal msgs on the new ratchet, without <device-identity>.
    peer_answers(&mut peer, &mut bot, "ping 1");
    let sixth = bot.send(&text("pong 6"));
    assert!(sixth.stanza.child("device-identity").is_none());
    assert_eq!(sixth.writes.len(), 1, "the advanced session only");
    let (kind, opened) = peer_reads(&mut peer, &bot, &sixth);
    assert_eq!(kind, MessageKind::Msg);
    assert_eq!(conversation(&opened), "pong 6");
    // msgs in order and out of order.
    let batch: Vec<Sealed> = (7..=10)
        .map(|i| bot.send(&text(&format!("pong {i}"))))
        .collect();
    for index in [0, 1, 3, 2] {
        let (kind, opened) = peer_reads(&mut peer, &bot, &batch[index]);
        assert_eq!(kind, MessageKind::Msg);
        assert_eq!(conversation(&opened), format!("pong {}", index + 7));
    }
    // A copy delivered twice is refused the second time.
    let (kind, body) = enc_for(&batch[1].stanza, bot.peer_device());
    assert!(peer_decrypt(&mut peer, kind, &body).is_err(), "a replay");

    // More turns: each answer makes our next seal step the ratchet again.
    for turn in 2..=4 {
        peer_answers(&mut peer, &mut bot, &format!("ping {turn}"));
        let sealed = bot.send(&text(&format!("pong after ping {turn}")));
        let (kind, opened) = peer_reads(&mut peer, &bot, &sealed);
        assert_eq!(kind, MessageKind::Msg);
        assert_eq!(conversation(&opened), format!("pong after ping {turn}"));
    }
}

#[test]
fn a_seal_whose_writes_are_not_committed_reuses_its_counter_and_libsignal_refuses_it() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let mut bot = Bot::new(12);
    let bundles = bundles_of(&mut peer);
    let first = bot.seal(&text("hello"), &bundles);
    bot.commit(&first);
    let (_, opened) = peer_reads(&mut peer, &bot, &first);
    assert_eq!(conversation(&opened), "hello");
    peer_answers(&mut peer, &mut bot, "hi");

    // Two seals from the same session state (the first never committed)
    // use the same message key: the peer opens one, refuses the other.
    let lost = bot.seal(&text("sealed, not committed"), &BTreeMap::new());
    let again = bot.seal(&text("sealed again"), &BTreeMap::new());
    let (_, opened) = peer_reads(&mut peer, &bot, &lost);
    assert_eq!(conversation(&opened), "sealed, not committed");
    let (kind, body) = enc_for(&again.stanza, bot.peer_device());
    let refused = peer_decrypt(&mut peer, kind, &body).expect_err("a reused counter");
    assert!(
        refused.log.contains("Key used already") || refused.message.contains("Key used already"),
        "{refused}: {}",
        refused.log
    );
    // Committing the one that went out, the talk goes on.
    bot.commit(&lost);
    let next = bot.send(&text("and on"));
    let (_, opened) = peer_reads(&mut peer, &bot, &next);
    assert_eq!(conversation(&opened), "and on");
}

#[test]
fn an_extended_text_with_quote_and_mention_round_trips() {
    let Some(mut peer) = start_peer() else {
        return;
    };
    let mut bot = Bot::new(13);
    let bundles = bundles_of(&mut peer);
    let mention = format!("{CONTACT}@s.whatsapp.net");
    let reply = |body: &str, quoted_id: &str| wa::Message {
        extended_text_message: Some(Box::new(wa::message::ExtendedTextMessage {
            text: Some(body.to_owned()),
            context_info: Some(Box::new(wa::ContextInfo {
                stanza_id: Some(quoted_id.to_owned()),
                participant: Some(mention.clone()),
                quoted_message: Some(Box::new(wa::Message {
                    conversation: Some("ping".to_owned()),
                    ..Default::default()
                })),
                mentioned_jid: vec![mention.clone()],
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    };

    // As the first message (a pkmsg) and on an answered session (a msg).
    let first = reply("pong @4915112345678", "3EB0QUOTED01");
    let sealed = bot.seal(&first.encode_to_vec(), &bundles);
    bot.commit(&sealed);
    assert_eq!(sealed.stanza.attr("type"), Some("text"));
    let (kind, opened) = peer_reads(&mut peer, &bot, &sealed);
    assert_eq!(kind, MessageKind::PreKeyMsg);
    assert_eq!(opened, first);
    peer_answers(&mut peer, &mut bot, "ping");
    let second = reply("pong again @4915112345678", "3EB0QUOTED02");
    let sealed = bot.send(&second.encode_to_vec());
    let (kind, body) = enc_for(&sealed.stanza, bot.peer_device());
    assert_eq!(kind, MessageKind::Msg);
    let bytes = peer_opens(&mut peer, kind, &body);
    assert_eq!(bytes, second.encode_to_vec(), "byte for byte");
    // Read back as blacksky reads a message: the quote and the mention.
    match Content::decode(&bytes).expect("content").kind {
        Kind::Text(text) => {
            assert_eq!(text.body, "pong again @4915112345678");
            let quoted = text.context.quoted.expect("a quote");
            assert_eq!(quoted.id, "3EB0QUOTED02");
            assert_eq!(quoted.sender.as_deref(), Some(mention.as_str()));
            assert_eq!(quoted.text.as_deref(), Some("ping"));
            assert_eq!(text.context.mentions, vec![mention.clone()]);
        }
        _ => panic!("an extended text reads as a text"),
    }
}

#[test]
fn our_phone_opens_its_device_sent_copy_and_the_contact_its_own() {
    let Some(mut contact) = start_peer() else {
        return;
    };
    let mut phone = start_peer().expect("node ran a moment ago");
    let mut bot = Bot::new(14);
    let phone_device = Jid::ad(PHONE.to_owned(), Jid::DOMAIN_WHATSAPP, 0);
    bot.devices.push(phone_device.clone());
    let mut bundles = bundles_of(&mut contact);
    let phone_bundle = phone.ok(json!({"op": "bundle"}));
    bundles.insert(PHONE_ADDRESS.to_owned(), bundle_from_json(&phone_bundle));

    for (i, bundles) in [bundles, BTreeMap::new()].iter().enumerate() {
        let body = format!("pong {i}");
        let sealed = bot.seal(&text(&body), bundles);
        bot.commit(&sealed);
        let copies = sealed.stanza.child("participants").expect("p").children();
        assert_eq!(
            copies.len(),
            2,
            "the contact and our phone, not this device"
        );
        let (kind, opened) = peer_reads(&mut contact, &bot, &sealed);
        assert_eq!(kind, MessageKind::PreKeyMsg);
        assert_eq!(
            opened,
            wa::Message::decode(text(&body).as_slice()).expect("m")
        );
        // The phone's copy wraps the message with its chat.
        let (kind, ciphertext) = enc_for(&sealed.stanza, &phone_device);
        assert_eq!(kind, MessageKind::PreKeyMsg);
        let copy = peer_opens(&mut phone, kind, &ciphertext);
        let copy = wa::Message::decode(copy.as_slice()).expect("a Message");
        assert!(copy.conversation.is_none(), "not the contact's copy");
        let sent = copy.device_sent_message.expect("a device-sent copy");
        assert_eq!(
            sent.destination_jid.as_deref(),
            Some("4915112345678@s.whatsapp.net")
        );
        assert_eq!(sent.message.map(|m| m.encode_to_vec()), Some(text(&body)));
    }
}
