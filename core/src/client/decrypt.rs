//! One `<message>`'s end-to-end payloads opened against the session, as a
//! pure function on copies: either every `<enc>` opens and the result
//! carries the writes that record it (new session and sender-key records,
//! the used one-time pre-key's deletion, the sender's identity), or the
//! session is untouched and the failure says what to do about it.

use rand_core::CryptoRngCore;

use crate::message::Content;
use crate::message::padding::unpad;
use crate::session::{Replaces, Session, Write};
use crate::signal::address::{device_address, is_lid};
use crate::signal::group::{self, GroupError, SenderKeyRecord};
use crate::signal::{LocalPreKeys, SessionRecord, SignalError, decrypt_msg, decrypt_pkmsg};
use crate::wire::binary::{Jid, NodeRef};

/// What opening a message gave. `Debug` shows no plaintext.
pub(super) struct Opened {
    /// The `Message` protobuf the bot reads, padding removed.
    pub(super) message: Vec<u8>,
    /// The same, as read.
    pub(super) content: Content,
    /// The state changes to commit with it, in one transaction.
    pub(super) writes: Vec<Write>,
    /// The sending device's session name.
    pub(super) sender: String,
    /// The sender's identity key differs from the one we had.
    pub(super) identity_changed: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("message_bytes", &self.message.len())
            .field("writes", &self.writes)
            .field("identity_changed", &self.identity_changed)
            .finish_non_exhaustive()
    }
}

/// Why a message did not open, by what the client does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Its keys were used already: it was opened and stored before (the
    /// state and the inbox row are written together).
    AlreadyOpened,
    /// Ask the sender to encrypt it again (a retry receipt).
    Retry { sender: String, reason: String },
    /// It can never be read: record it and ack it with `nack_code`.
    Unreadable { reason: String, nack_code: u16 },
}

/// WhatsApp's nack codes (the `error` of an ack) for what we refuse.
pub(super) const NACK_PARSING_ERROR: u16 = 487;
pub(super) const NACK_INVALID_PROTOBUF: u16 = 491;

/// Opens `node` (a `<message>`) with the keys in `session`.
pub(super) fn open(
    session: &Session,
    node: NodeRef<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<Opened, Failure> {
    let sender = Sender::of(node, session).ok_or_else(|| unreadable("no sender device"))?;
    let mut opened = Opened {
        message: Vec::new(),
        content: Content::empty(),
        writes: Vec::new(),
        sender: sender.address.clone(),
        identity_changed: false,
    };
    let mut any = false;
    // This sender's keys as this message leaves them, by group (an SKDM
    // before its skmsg, the chain after the skmsg).
    let mut learnt: Vec<(String, SenderKeyRecord)> = Vec::new();
    for enc in node.children_named("enc") {
        let bytes = enc
            .bytes()
            .ok_or_else(|| unreadable("<enc> without bytes"))?;
        let (plaintext, content) = match enc.attr("type") {
            Some(kind @ ("pkmsg" | "msg")) => {
                let padded = open_pairwise(session, &sender, kind, bytes, rng, &mut opened)?;
                readable(&padded)?
            }
            Some("skmsg") => {
                let group = node
                    .attr_jid("from")
                    .map(|jid| jid.to_string())
                    .ok_or_else(|| unreadable("skmsg without a group"))?;
                let padded = open_group(session, &sender, &group, bytes, &mut learnt)?;
                readable(&padded)?
            }
            _ => return Err(unreadable("<enc> of an unknown type")),
        };
        if let Some(skdm) = &content.sender_key_distribution {
            let name = (skdm.group_id.clone(), sender.address.clone());
            let held = learnt
                .iter()
                .find(|(group, _)| *group == name.0)
                .map(|(_, record)| record.clone())
                .or_else(|| sender_key(session, &name));
            let record = group::process_distribution(&held.unwrap_or_default(), &skdm.distribution)
                .map_err(|error| unreadable(&format!("sender key distribution: {error}")))?;
            learnt.retain(|(group, _)| *group != name.0);
            learnt.push((name.0, record));
        }
        any = true;
        opened.message = plaintext;
        opened.content = content;
    }
    if !any {
        let why = match node.children().next().map(|child| child.tag()) {
            Some("unavailable") => "unavailable on this device (view once, or sent before linking)",
            _ => "no <enc> payload",
        };
        return Err(unreadable(why));
    }
    if let Some((pn, lid)) = sender.learnt {
        opened.writes.push(Write::LidMapping { pn, lid });
    }
    for (group, record) in learnt {
        opened.writes.push(Write::SenderKey {
            replaces: Replaces::current_sender_key(session, &group, &sender.address),
            record: record.encode_stamped(rng.next_u64()),
            group,
            sender: sender.address.clone(),
        });
    }
    Ok(opened)
}

/// The sending device: its session name, the phone-number name it may
/// have had before its contact moved to `@lid` addressing, and the LID
/// this stanza taught us, if it is news.
struct Sender {
    address: String,
    legacy: Option<String>,
    learnt: Option<(String, String)>,
}

impl Sender {
    fn of(node: NodeRef<'_>, session: &Session) -> Option<Sender> {
        let from = node.attr_jid("from")?;
        let (jid, alternate) = if matches!(from.server(), "g.us" | "broadcast" | "newsletter") {
            let participant = node.attr_jid("participant")?;
            let alternate = node
                .attr_jid("participant_lid")
                .or_else(|| node.attr_jid("participant_pn"));
            (participant, alternate)
        } else {
            let alternate = node
                .attr_jid("sender_lid")
                .or_else(|| node.attr_jid("sender_pn"));
            (from, alternate)
        };
        let device = jid.device().unwrap_or(0);
        // A session lives under the LID once the LID is known: from this
        // stanza, or from an earlier one that named both.
        let (lid, pn) = match alternate {
            Some(alt) if is_lid(&alt) && !is_lid(&jid) => (Some(alt), Some(jid)),
            Some(alt) if is_lid(&jid) && !is_lid(&alt) => (Some(jid), Some(alt)),
            _ if is_lid(&jid) => (Some(jid), None),
            _ => {
                let known = session
                    .lid_for_pn
                    .get(jid.user())
                    .map(|user| Jid::new(user.clone(), "lid"));
                (known, Some(jid))
            }
        };
        let learnt = match (&lid, &pn) {
            (Some(lid), Some(pn))
                if session.lid_for_pn.get(pn.user()).map(String::as_str) != Some(lid.user()) =>
            {
                Some((pn.user().to_owned(), lid.user().to_owned()))
            }
            _ => None,
        };
        let address = |jid: &Jid| device_address(&with_device(jid, device));
        Some(match (lid, pn) {
            (Some(lid), pn) => Sender {
                address: address(&lid)?,
                legacy: pn.as_ref().and_then(address),
                learnt,
            },
            (None, Some(pn)) => Sender {
                address: address(&pn)?,
                legacy: None,
                learnt,
            },
            (None, None) => return None,
        })
    }
}

fn with_device(jid: &Jid, device: u16) -> Jid {
    let domain = if is_lid(jid) {
        Jid::DOMAIN_LID
    } else {
        Jid::DOMAIN_WHATSAPP
    };
    Jid::ad(jid.user().to_owned(), domain, device.min(255) as u8)
}

/// A pkmsg or msg: the padded plaintext; the new record, the used pre-key
/// and the identity join `opened.writes`.
fn open_pairwise(
    session: &Session,
    sender: &Sender,
    kind: &str,
    bytes: &[u8],
    rng: &mut impl CryptoRngCore,
    opened: &mut Opened,
) -> Result<Vec<u8>, Failure> {
    let (stored, from_legacy) = match session.sessions.get(&sender.address) {
        Some(record) => (Some(record), false),
        None => match sender.legacy.as_ref().and_then(|l| session.sessions.get(l)) {
            Some(record) => (Some(record), true),
            None => (None, false),
        },
    };
    let record = match stored {
        Some(bytes) => Some(SessionRecord::decode(bytes).map_err(|error| {
            // Our own record does not read back: a new session (the
            // sender's pkmsg after a retry) is the way out.
            retry(sender, &format!("stored session: {error}"))
        })?),
        None => None,
    };
    let identity = &session.creds.identity_key;
    let (plaintext, record) = if kind == "pkmsg" {
        // The previous key too: a contact may have fetched our bundle
        // before the last rotation.
        let signed: Vec<_> = session.creds.signed_pre_keys().collect();
        let pre_keys = LocalPreKeys {
            signed: &signed,
            one_time: &session.pre_keys,
        };
        let opened_pk = decrypt_pkmsg(record.as_ref(), identity, &pre_keys, bytes, rng)
            .map_err(|error| signal_failure(sender, kind, error))?;
        if let Some(id) = opened_pk.consumed_pre_key {
            opened.writes.push(Write::RemovePreKey(id));
        }
        let key = opened_pk.their_identity.raw().to_vec();
        let known = session.identities.get(&sender.address).or_else(|| {
            sender
                .legacy
                .as_ref()
                .and_then(|l| session.identities.get(l))
        });
        if known != Some(&key) {
            opened.identity_changed = known.is_some();
            opened.writes.push(Write::Identity {
                address: sender.address.clone(),
                key,
            });
        }
        (opened_pk.plaintext, opened_pk.record)
    } else {
        let record = record.ok_or_else(|| retry(sender, "msg without a session"))?;
        let decrypted = decrypt_msg(&record, identity, bytes, rng)
            .map_err(|error| signal_failure(sender, kind, error))?;
        (decrypted.plaintext, decrypted.record)
    };
    if from_legacy && let Some(legacy) = &sender.legacy {
        opened.writes.push(Write::RemoveSignalSession {
            address: legacy.clone(),
        });
    }
    opened.writes.push(Write::SignalSession {
        address: sender.address.clone(),
        record: record.encode_stamped(rng.next_u64()),
        replaces: Replaces::current(session, &sender.address),
    });
    Ok(plaintext)
}

/// An skmsg: the padded plaintext; the sender key's new record goes to
/// `learnt`.
fn open_group(
    session: &Session,
    sender: &Sender,
    group: &str,
    bytes: &[u8],
    learnt: &mut Vec<(String, SenderKeyRecord)>,
) -> Result<Vec<u8>, Failure> {
    let name = (group.to_owned(), sender.address.clone());
    let record = learnt
        .iter()
        .find(|(g, _)| g == group)
        .map(|(_, record)| record.clone())
        .or_else(|| sender_key(session, &name))
        .ok_or_else(|| retry(sender, "skmsg without the sender's key"))?;
    let (plaintext, record) =
        group::group_decrypt(&record, bytes).map_err(|error| match error {
            GroupError::DuplicateIteration { .. } => Failure::AlreadyOpened,
            error => retry(sender, &format!("skmsg: {error}")),
        })?;
    learnt.retain(|(g, _)| g != group);
    learnt.push((name.0, record));
    Ok(plaintext)
}

fn sender_key(session: &Session, name: &(String, String)) -> Option<SenderKeyRecord> {
    // A record that does not read back counts as none: the sender's next
    // SKDM (after our retry receipt) replaces it.
    session
        .sender_keys
        .get(name)
        .and_then(|bytes| SenderKeyRecord::decode(bytes).ok())
}

/// The padded plaintext as a message: unpadded and checked to decode.
fn readable(padded: &[u8]) -> Result<(Vec<u8>, Content), Failure> {
    let invalid = |reason: String| Failure::Unreadable {
        reason,
        nack_code: NACK_INVALID_PROTOBUF,
    };
    let body = unpad(padded).map_err(|error| invalid(format!("padding: {error}")))?;
    let content = Content::decode(body).map_err(|error| invalid(error.to_string()))?;
    Ok((body.to_vec(), content))
}

fn signal_failure(sender: &Sender, kind: &str, error: SignalError) -> Failure {
    match error {
        SignalError::DuplicateMessage { .. } => Failure::AlreadyOpened,
        error => retry(sender, &format!("{kind}: {error}")),
    }
}

fn retry(sender: &Sender, reason: &str) -> Failure {
    Failure::Retry {
        sender: sender.address.clone(),
        reason: reason.to_owned(),
    }
}

fn unreadable(reason: &str) -> Failure {
    Failure::Unreadable {
        reason: reason.to_owned(),
        nack_code: NACK_PARSING_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use blacksky_proto::wa;
    use prost::Message as _;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::crypto::KeyPair;
    use crate::message::padding::pad_with;
    use crate::session::testing::sample_session;
    use crate::signal::{PreKeyBundle, encrypt, session_from_bundle};
    use crate::wire::binary::{Decoded, Node, encode};

    const PHONE: &str = "15550001111";
    const GROUP: &str = "120363000000000001@g.us";

    /// A contact's phone, as libsignal runs it: pairwise sessions with the
    /// bot and its own sender key per group.
    struct Contact {
        identity: KeyPair,
        record: Option<SessionRecord>,
        sender_key: Option<SenderKeyRecord>,
        rng: ChaCha20Rng,
    }

    impl Contact {
        fn new(seed: u64) -> Contact {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            Contact {
                identity: KeyPair::generate(&mut rng),
                record: None,
                sender_key: None,
                rng,
            }
        }

        /// A pkmsg or msg carrying `message` (a pkmsg until the bot
        /// answers, which it does not here).
        fn pairwise(&mut self, bot: &Session, message: &wa::Message) -> (&'static str, Vec<u8>) {
            if self.record.is_none() {
                let one_time = bot.pre_keys.values().next().expect("a one-time key");
                let bundle = PreKeyBundle::of_own(&bot.creds, Some(one_time));
                let record = session_from_bundle(None, &self.identity, 7, &bundle, &mut self.rng)
                    .expect("bundle");
                self.record = Some(record);
            }
            let record = self.record.as_ref().expect("a session");
            let padded = pad_with(&message.encode_to_vec(), 3);
            let (encrypted, next) = encrypt(record, &self.identity, &padded).expect("encrypts");
            self.record = Some(next);
            (encrypted.kind.enc_type(), encrypted.bytes)
        }

        /// The SKDM for `GROUP` (created the first time).
        fn distribution(&mut self) -> wa::Message {
            let record = self
                .sender_key
                .get_or_insert_with(|| group::create_sender_key(&mut self.rng).0);
            let skdm = group::distribution_message(record).expect("own key");
            wa::Message {
                sender_key_distribution_message: Some(wa::message::SenderKeyDistributionMessage {
                    group_id: Some(GROUP.into()),
                    axolotl_sender_key_distribution_message: Some(skdm.to_bytes()),
                }),
                ..Default::default()
            }
        }

        fn group(&mut self, body: &str) -> Vec<u8> {
            let record = self.sender_key.as_ref().expect("distributed first");
            let padded = pad_with(&text(body).encode_to_vec(), 2);
            let (bytes, next) = group::group_encrypt(record, &padded, &mut self.rng).expect("enc");
            self.sender_key = Some(next);
            bytes
        }
    }

    fn text(body: &str) -> wa::Message {
        wa::Message {
            conversation: Some(body.into()),
            ..Default::default()
        }
    }

    fn stanza(attrs: &[(&'static str, Jid)], encs: Vec<(&'static str, Vec<u8>)>) -> Vec<u8> {
        let mut node = Node::new("message").with_attr("id", "3EB0001");
        for (key, jid) in attrs {
            node = node.with_attr(*key, jid.clone());
        }
        let encs = encs
            .into_iter()
            .map(|(kind, bytes)| {
                Node::new("enc")
                    .with_attr("v", "2")
                    .with_attr("type", kind)
                    .with_bytes(bytes)
            })
            .collect();
        encode(&node.with_children(encs)).expect("encodes")
    }

    fn from_contact() -> Vec<(&'static str, Jid)> {
        vec![("from", Jid::new(PHONE, "s.whatsapp.net"))]
    }

    fn open_bytes(session: &Session, bytes: &[u8]) -> Result<Opened, Failure> {
        let mut decoded = Decoded::new();
        let node = decoded.decode(bytes).expect("decodes");
        open(session, node, &mut ChaCha20Rng::seed_from_u64(5))
    }

    fn body(opened: &Opened) -> String {
        Content::decode(&opened.message)
            .expect("a message")
            .text()
            .expect("text")
            .to_owned()
    }

    fn commit(session: &mut Session, opened: &Opened) {
        for write in &opened.writes {
            session.apply(write);
        }
    }

    #[test]
    fn a_contacts_first_messages_open_and_use_up_one_pre_key() {
        let mut bot = sample_session(1, 3, 0, 0);
        let mut contact = Contact::new(2);
        let first = contact.pairwise(&bot, &text("hello"));
        assert_eq!(first.0, "pkmsg");
        let opened = open_bytes(&bot, &stanza(&from_contact(), vec![first])).expect("opens");
        assert_eq!(body(&opened), "hello");
        assert_eq!(opened.sender, format!("{PHONE}.0"));
        assert!(!opened.identity_changed, "a first identity is not a change");
        let used = bot.pre_keys.keys().next().copied();
        let used = used.expect("a key");
        assert!(
            opened
                .writes
                .iter()
                .any(|w| matches!(w, Write::RemovePreKey(id) if *id == used))
        );
        assert!(
            opened
                .writes
                .iter()
                .any(|w| matches!(w, Write::Identity { .. }))
        );
        commit(&mut bot, &opened);
        assert_eq!(bot.pre_keys.len(), 2);

        // The next pkmsg repeats the session's base key: no pre-key used.
        let second = contact.pairwise(&bot, &text("again"));
        let opened = open_bytes(&bot, &stanza(&from_contact(), vec![second])).expect("opens");
        assert_eq!(body(&opened), "again");
        assert!(
            !opened
                .writes
                .iter()
                .any(|w| matches!(w, Write::RemovePreKey(_)))
        );
    }

    #[test]
    fn a_message_opened_before_is_known_by_its_used_keys() {
        let mut bot = sample_session(3, 1, 0, 0);
        let mut contact = Contact::new(4);
        let bytes = stanza(&from_contact(), vec![contact.pairwise(&bot, &text("once"))]);
        let opened = open_bytes(&bot, &bytes).expect("opens");
        commit(&mut bot, &opened);
        assert!(matches!(
            open_bytes(&bot, &bytes),
            Err(Failure::AlreadyOpened)
        ));
    }

    #[test]
    fn a_failure_changes_nothing_and_asks_for_a_retry() {
        let bot = sample_session(5, 1, 0, 0);
        let mut contact = Contact::new(6);
        let (kind, mut bytes) = contact.pairwise(&bot, &text("tampered"));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let before = bot.encode();
        let failure = open_bytes(&bot, &stanza(&from_contact(), vec![(kind, bytes)]));
        assert!(
            matches!(&failure, Err(Failure::Retry { sender, .. }) if sender == &format!("{PHONE}.0")),
            "{failure:?}"
        );
        assert_eq!(bot.encode(), before, "open works on copies");
    }

    #[test]
    fn a_msg_without_a_session_asks_for_a_retry() {
        let bot = sample_session(7, 1, 0, 0);
        let failure = open_bytes(
            &bot,
            &stanza(&from_contact(), vec![("msg", vec![0x33; 60])]),
        );
        assert!(matches!(failure, Err(Failure::Retry { .. })), "{failure:?}");
    }

    #[test]
    fn poison_is_unreadable_with_its_nack_code() {
        let bot = sample_session(8, 1, 0, 0);
        let mut contact = Contact::new(9);
        // Decrypts, but the padding is not WhatsApp's.
        let record = {
            let _ = contact.pairwise(&bot, &text("warm up"));
            contact.record.clone().expect("session")
        };
        let (encrypted, _) = encrypt(&record, &contact.identity, b"no padding\x00").expect("enc");
        let bytes = stanza(&from_contact(), vec![("pkmsg", encrypted.bytes)]);
        let failure = open_bytes(&bot, &bytes);
        assert!(
            matches!(
                failure,
                Err(Failure::Unreadable {
                    nack_code: NACK_INVALID_PROTOBUF,
                    ..
                })
            ),
            "{failure:?}"
        );
        let no_enc = stanza(&from_contact(), Vec::new());
        assert!(matches!(
            open_bytes(&bot, &no_enc),
            Err(Failure::Unreadable {
                nack_code: NACK_PARSING_ERROR,
                ..
            })
        ));
    }

    #[test]
    fn a_group_message_opens_with_the_sender_key_it_carries_and_the_next_with_the_stored_one() {
        let mut bot = sample_session(10, 2, 0, 0);
        let mut contact = Contact::new(11);
        let group_attrs = vec![
            ("from", Jid::parse(GROUP).expect("jid")),
            ("participant", Jid::new(PHONE, "s.whatsapp.net")),
        ];
        let skdm = contact.distribution();
        let first = vec![
            contact.pairwise(&bot, &skdm),
            ("skmsg", contact.group("hi all")),
        ];
        let opened = open_bytes(&bot, &stanza(&group_attrs, first)).expect("opens");
        assert_eq!(body(&opened), "hi all");
        let sender_keys: Vec<_> = opened
            .writes
            .iter()
            .filter(|w| matches!(w, Write::SenderKey { .. }))
            .collect();
        assert_eq!(sender_keys.len(), 1, "one record, as the skmsg left it");
        commit(&mut bot, &opened);

        let second = vec![("skmsg", contact.group("second"))];
        let bytes = stanza(&group_attrs, second);
        let opened = open_bytes(&bot, &bytes).expect("opens");
        assert_eq!(body(&opened), "second");
        commit(&mut bot, &opened);
        assert!(matches!(
            open_bytes(&bot, &bytes),
            Err(Failure::AlreadyOpened)
        ));

        // Without the SKDM, another member's skmsg asks for a retry.
        let mut stranger = Contact::new(12);
        let _ = stranger.distribution();
        let attrs = vec![
            ("from", Jid::parse(GROUP).expect("jid")),
            ("participant", Jid::new("15550002222", "s.whatsapp.net")),
        ];
        let lone = stanza(&attrs, vec![("skmsg", stranger.group("who?"))]);
        assert!(matches!(
            open_bytes(&bot, &lone),
            Err(Failure::Retry { .. })
        ));
    }

    #[test]
    fn a_session_moves_from_the_phone_number_to_the_lid_without_loss() {
        let mut bot = sample_session(13, 1, 0, 0);
        let mut contact = Contact::new(14);
        let first = contact.pairwise(&bot, &text("by number"));
        let opened = open_bytes(&bot, &stanza(&from_contact(), vec![first])).expect("opens");
        commit(&mut bot, &opened);
        assert!(bot.sessions.contains_key(&format!("{PHONE}.0")));

        let mut attrs = from_contact();
        attrs.push(("sender_lid", Jid::new("777000111", "lid")));
        let second = contact.pairwise(&bot, &text("by lid"));
        let opened = open_bytes(&bot, &stanza(&attrs, vec![second])).expect("opens");
        assert_eq!(body(&opened), "by lid");
        assert_eq!(opened.sender, "777000111_1.0");
        assert!(
            opened.writes.iter().any(
                |w| matches!(w, Write::LidMapping { pn, lid } if pn == PHONE && lid == "777000111")
            ),
            "the mapping is learnt"
        );
        commit(&mut bot, &opened);
        assert!(bot.sessions.contains_key("777000111_1.0"));
        assert!(!bot.sessions.contains_key(&format!("{PHONE}.0")));

        // Later stanzas by phone number alone still find the LID session,
        // and teach nothing new.
        let third = contact.pairwise(&bot, &text("number only"));
        let opened = open_bytes(&bot, &stanza(&from_contact(), vec![third])).expect("opens");
        assert_eq!(body(&opened), "number only");
        assert_eq!(opened.sender, "777000111_1.0");
        assert!(
            !opened
                .writes
                .iter()
                .any(|w| matches!(w, Write::LidMapping { .. }))
        );
    }
}
