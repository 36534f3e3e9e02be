//! The group send path against what the Node.js bots run: blacksky's real
//! `seal_group()` makes the `<message to=group>` stanza (encoded to bytes
//! and read back, as it goes on the wire); a member device played by the
//! npm `libsignal` package (`interop/peer.mjs`) opens the 1:1 `<enc>` that
//! carries our sender key distribution message, and Baileys' own
//! sender-key code (`interop/group-peer.mjs`) takes that key in and opens
//! the `skmsg`: the first message (key and text together), the next ones
//! (text alone), and none after the key changed unless the new key came.

#[path = "support/libsignal_peer.rs"]
mod libsignal_peer;
#[path = "support/node_peer.rs"]
mod node_peer;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use blacksky_core::client::send::group::{GroupOutgoing, own_sender_key_name, seal_group};
use blacksky_core::client::send::seal::Sealed;
use blacksky_core::message::padding::unpad;
use blacksky_core::session::{Creds, Me, Session, Write};
use blacksky_core::signal::{MessageKind, PreKeyBundle};
use blacksky_core::wire::binary::{self, Jid, Node};
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use libsignal_peer::{bundle_from_json, peer_decrypt, start_peer};
use node_peer::{NodePeer, bytes};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;

const BOT: &str = "491556123456:7@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";
/// The member; the peer plays its phone (device 0).
const MEMBER: &str = "4915112345678";
const MEMBER_ADDRESS: &str = "4915112345678.0";
/// How Baileys names us as a group sender.
const US_IN_GROUP: &str = "491556123456.7";

struct Bot {
    session: Session,
    rng: ChaCha20Rng,
    next_id: u32,
}

impl Bot {
    fn new() -> Bot {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let mut creds = Creds::generate(&mut rng);
        creds.me = Some(Me {
            jid: Jid::parse(BOT).expect("jid"),
            lid: None,
            push_name: None,
        });
        creds.account = Some(vec![7; 100]);
        Bot {
            session: Session::new(creds),
            rng,
            next_id: 0,
        }
    }

    /// Seals `body` for the member's phone and commits the writes.
    fn send(&mut self, body: &str, bundles: &BTreeMap<String, PreKeyBundle>) -> Node {
        self.next_id += 1;
        let id = format!("3EB0{:08X}", self.next_id);
        let message = wa::Message {
            conversation: Some(body.to_owned()),
            ..Default::default()
        }
        .encode_to_vec();
        let devices = [Jid::ad(MEMBER.to_owned(), Jid::DOMAIN_WHATSAPP, 0)];
        let group = Jid::parse(GROUP).expect("group");
        let out = GroupOutgoing {
            id: &id,
            group: &group,
            message: &message,
            devices: &devices,
        };
        let sealed: Sealed =
            seal_group(&self.session, &out, bundles, &mut self.rng).expect("sealed");
        assert!(sealed.left_out.is_empty());
        for write in &sealed.writes {
            self.session.apply(write);
        }
        let wire = binary::encode(&sealed.stanza).expect("encodes");
        binary::decode(&wire).expect("decodes")
    }
}

/// The member's copy of the key, if the stanza carries one: opened by
/// libsignal, handed to Baileys' group code.
fn take_key(peer: &mut NodePeer, group_peer: &mut NodePeer, stanza: &Node) -> bool {
    let Some(participants) = stanza.child("participants") else {
        return false;
    };
    let enc = participants
        .children_named("to")
        .find(|to| to.attr_jid("jid").is_some_and(|jid| jid.user() == MEMBER))
        .and_then(|to| to.child("enc"))
        .expect("a copy for the member");
    let kind = match enc.attr("type") {
        Some("pkmsg") => MessageKind::PreKeyMsg,
        _ => MessageKind::Msg,
    };
    let padded = peer_decrypt(peer, kind, enc.bytes().expect("bytes"))
        .unwrap_or_else(|refused| panic!("{refused}: {}", refused.log));
    let message = wa::Message::decode(unpad(&padded).expect("padding")).expect("a Message");
    let skdm = message.sender_key_distribution_message.expect("an SKDM");
    assert_eq!(skdm.group_id.as_deref(), Some(GROUP));
    let key = skdm
        .axolotl_sender_key_distribution_message
        .expect("axolotl");
    group_peer.ok(json!({
        "op": "process", "group": GROUP, "sender": US_IN_GROUP, "skdm": B64.encode(key),
    }));
    true
}

/// Baileys opens the skmsg: the text, or its refusal.
fn open_skmsg(group_peer: &mut NodePeer, stanza: &Node) -> Result<String, String> {
    let body = stanza
        .children_named("enc")
        .find(|enc| enc.attr("type") == Some("skmsg"))
        .expect("an skmsg")
        .bytes()
        .expect("bytes");
    let answer = group_peer
        .call(json!({
            "op": "decrypt", "group": GROUP, "sender": US_IN_GROUP, "body": B64.encode(body),
        }))
        .map_err(|refused| refused.to_string())?;
    let padded = bytes(&answer, "plaintext");
    let message = wa::Message::decode(unpad(&padded).expect("padding")).expect("a Message");
    Ok(message.conversation.unwrap_or_default())
}

#[test]
fn baileys_reads_our_group_messages_and_a_new_key_only_once_it_came() {
    let Some(mut peer) = start_peer() else { return };
    let Some(mut group_peer) = NodePeer::start("group-peer.mjs") else {
        return;
    };
    let mut bot = Bot::new();
    let bundle = peer.ok(json!({"op": "bundle"}));
    let bundles = BTreeMap::from([(MEMBER_ADDRESS.to_owned(), bundle_from_json(&bundle))]);

    let first = bot.send("hello group", &bundles);
    assert!(
        take_key(&mut peer, &mut group_peer, &first),
        "the key comes first"
    );
    assert_eq!(
        open_skmsg(&mut group_peer, &first).as_deref(),
        Ok("hello group")
    );
    for text in ["second", "third"] {
        let next = bot.send(text, &BTreeMap::new());
        assert!(
            next.child("participants").is_none(),
            "the member has the key"
        );
        assert_eq!(open_skmsg(&mut group_peer, &next).as_deref(), Ok(text));
    }

    // Our key is made anew (someone left): a message under it without its
    // distribution does not open; with it, it does.
    let (group, sender) =
        own_sender_key_name(&bot.session, &Jid::parse(GROUP).expect("group")).expect("linked");
    bot.session.apply(&Write::RemoveSenderKey {
        group: group.clone(),
        sender,
    });
    bot.session.apply(&Write::ForgetSenderKeyShared { group });
    let rotated = bot.send("after the change", &BTreeMap::new());
    assert!(
        open_skmsg(&mut group_peer, &rotated).is_err(),
        "the new key's message does not open with the old key"
    );
    assert!(take_key(&mut peer, &mut group_peer, &rotated));
    assert_eq!(
        open_skmsg(&mut group_peer, &rotated).as_deref(),
        Ok("after the change")
    );
}
