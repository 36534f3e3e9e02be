//! A device at the other end of a seal, for the send tests: its own
//! keys, its session with us, and the bot's session they talk to.

use std::collections::BTreeMap;

use prost::Message as _;
use rand_chacha::ChaCha20Rng;

use super::seal::Sealed;
use crate::crypto::KeyPair;
use crate::message::padding::unpad;
use crate::session::{Creds, Me, PreKey, Session};
use crate::signal::{LocalPreKeys, PreKeyBundle, SessionRecord, decrypt_msg, decrypt_pkmsg};
use crate::wire::binary::{Jid, Node};
use blacksky_proto::wa;

pub(crate) const BOT: &str = "491556123456:7@s.whatsapp.net";
pub(crate) const CONTACT: &str = "4915112345678";

/// A device at the other end: its own keys, its session with us.
pub(crate) struct Peer {
    pub(crate) creds: Creds,
    pub(crate) one_time: BTreeMap<u32, PreKey>,
    pub(crate) record: Option<SessionRecord>,
}

impl Peer {
    pub(crate) fn new(rng: &mut ChaCha20Rng) -> Peer {
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

    pub(crate) fn bundle(&self) -> PreKeyBundle {
        PreKeyBundle::of_own(&self.creds, self.one_time.get(&31))
    }

    /// Opens this device's `<enc>` in `stanza`: the `Message` bytes.
    pub(crate) fn open(
        &mut self,
        stanza: &Node,
        me: &Jid,
        rng: &mut ChaCha20Rng,
    ) -> (String, Vec<u8>) {
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

pub(crate) fn bot(rng: &mut ChaCha20Rng) -> Session {
    let mut creds = Creds::generate(rng);
    creds.me = Some(Me {
        jid: Jid::parse(BOT).expect("jid"),
        lid: None,
        push_name: None,
    });
    creds.account = Some(vec![7; 100]);
    Session::new(creds)
}

pub(crate) fn text(body: &str) -> Vec<u8> {
    wa::Message {
        conversation: Some(body.to_owned()),
        ..Default::default()
    }
    .encode_to_vec()
}

pub(crate) fn device(user: &str, id: u8) -> Jid {
    Jid::ad(user.to_owned(), Jid::DOMAIN_WHATSAPP, id)
}

/// Applies a seal's writes as the store would.
pub(crate) fn commit(session: &mut Session, sealed: &Sealed) {
    for write in &sealed.writes {
        session.apply(write);
    }
}
