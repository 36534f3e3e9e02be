//! One `<message>`'s end-to-end payloads opened against the session, as a
//! pure function on copies: either every `<enc>` opens and the result
//! carries the writes that record it (new session and sender-key records,
//! the used one-time pre-key's deletion, the sender's identity), or the
//! session is untouched and the failure says what to do about it.

use rand_core::CryptoRngCore;

use crate::message::Content;
use crate::message::padding::unpad;
use crate::session::{Session, Write};
use crate::signal::address::{device_address, is_lid};
use crate::signal::group::{self, GroupError, SenderKeyRecord};
use crate::signal::{LocalPreKeys, SessionRecord, SignalError, decrypt_msg, decrypt_pkmsg};
use crate::wire::binary::{Jid, NodeRef};

/// What opening a message gave.
pub(super) struct Opened {
    /// The `Message` protobuf the bot reads, padding removed.
    pub(super) message: Vec<u8>,
    /// The state changes to commit with it, in one transaction.
    pub(super) writes: Vec<Write>,
    /// The sending device's session name.
    pub(super) sender: String,
    /// The sender's identity key differs from the one we had.
    pub(super) identity_changed: bool,
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
    let sender = Sender::of(node).ok_or_else(|| unreadable("no sender device"))?;
    let mut opened = Opened {
        message: Vec::new(),
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
    }
    if !any {
        let why = match node.children().next().map(|child| child.tag()) {
            Some("unavailable") => "unavailable on this device (view once, or sent before linking)",
            _ => "no <enc> payload",
        };
        return Err(unreadable(why));
    }
    for (group, record) in learnt {
        opened.writes.push(Write::SenderKey {
            group,
            sender: sender.address.clone(),
            record: record.encode(),
        });
    }
    Ok(opened)
}

/// The sending device: its session name, and the phone-number name it may
/// have had before its contact moved to `@lid` addressing.
struct Sender {
    address: String,
    legacy: Option<String>,
}

impl Sender {
    fn of(node: NodeRef<'_>) -> Option<Sender> {
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
        // A session lives under the LID once the LID is known.
        let (lid, pn) = match alternate {
            Some(alt) if is_lid(&alt) && !is_lid(&jid) => (Some(alt), Some(jid)),
            Some(alt) if is_lid(&jid) && !is_lid(&alt) => (Some(jid), Some(alt)),
            _ => (None, Some(jid)),
        };
        let device = |jid: Jid| jid.device().unwrap_or(0);
        match (lid, pn) {
            (Some(lid), Some(pn)) => {
                // The LID in an attribute names the user; the device is the
                // sending one's.
                let dev = device(pn.clone()).max(device(lid.clone()));
                let lid = with_device(&lid, dev);
                let pn = with_device(&pn, dev);
                Some(Sender {
                    address: device_address(&lid)?,
                    legacy: device_address(&pn),
                })
            }
            (_, Some(jid)) => Some(Sender {
                address: device_address(&jid)?,
                legacy: None,
            }),
            _ => None,
        }
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
        let signed = [&session.creds.signed_pre_key];
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
        record: record.encode(),
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
