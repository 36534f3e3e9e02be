//! One outgoing message sealed for every device that gets it, as a pure
//! function on the session: the `<message>` stanza with one `<enc>` per
//! device, and the writes (advanced sessions, new sessions started from
//! bundles, identities) that must be committed with the stanza before a
//! byte of it leaves, so a counter is never used twice.

use std::collections::BTreeMap;

use prost::encoding::{WireType, encode_key, encode_varint};
use rand_core::CryptoRngCore;
use thiserror::Error;

use crate::message::padding::pad;
use crate::session::{Replaces, Session, Write};
use crate::signal::address::{device_address, is_lid};
use crate::signal::{MessageKind, PreKeyBundle, SessionRecord, encrypt, session_from_bundle};
use crate::wire::binary::{Jid, Node};

/// A message sealed for its devices.
#[derive(Debug)]
pub struct Sealed {
    /// `<message id to type><participants>…</participants>[<device-identity>]`.
    pub stanza: Node,
    /// What must be durable before the stanza is sent.
    pub writes: Vec<Write>,
    /// Devices that got no copy (no session, no bundle, a bundle refused).
    pub left_out: Vec<Jid>,
}

/// Why nothing could be sealed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    #[error("no device of the recipient could be reached")]
    NoDevice,
    #[error("this device is not linked")]
    NotLinked,
    #[error("our sender key for the group cannot encrypt: {0}")]
    SenderKey(crate::signal::group::GroupError),
}

/// What one message is and who gets it.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub id: &'a str,
    /// The chat (a user JID).
    pub to: &'a Jid,
    /// The `Message` protobuf.
    pub message: &'a [u8],
    /// `to`'s devices and our own account's, as device JIDs.
    pub devices: &'a [Jid],
}

/// Seals `out` with the sessions in `session`, starting a session from
/// `bundles` (by session address) for a device that has none.
pub fn seal(
    session: &Session,
    out: &Outgoing<'_>,
    bundles: &BTreeMap<String, PreKeyBundle>,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, SealError> {
    let sender = Sender::of(session)?;
    let mut dsm: Option<Vec<u8>> = None;
    let mut participants = Vec::new();
    let mut writes = Vec::new();
    let mut left_out = Vec::new();
    let mut any_pkmsg = false;
    for device in out.devices {
        if sender.is_this_device(device) {
            continue;
        }
        let plaintext = if sender.is_own(device) {
            dsm.get_or_insert_with(|| device_sent(out.to, out.message))
                .as_slice()
        } else {
            out.message
        };
        match sender.copy_for(session, device, plaintext, bundles, &mut writes, rng) {
            Some(copy) => {
                any_pkmsg |= is_pkmsg(&copy);
                participants.push(copy);
            }
            None => left_out.push(device.clone()),
        }
    }
    let reached_recipient = participants.iter().any(|to| {
        to.attr_jid("jid")
            .is_some_and(|jid| !sender.own_users.contains(&jid.user()))
    });
    if !reached_recipient {
        return Err(SealError::NoDevice);
    }
    let stanza = Node::new("message")
        .with_attr("id", out.id.to_owned())
        .with_attr("to", out.to.clone())
        .with_attr("type", message_type(out.message))
        .with_child(Node::new("participants").with_children(participants));
    Ok(Sealed {
        stanza: with_device_identity(stanza, session, any_pkmsg),
        writes,
        left_out,
    })
}

/// A message sent again to the one device that asked for it (its retry
/// receipt): sealed on a fresh session from `bundle` when the receipt
/// carried the device's keys, else on the session we have.
#[derive(Debug)]
pub struct Resend<'a> {
    pub id: &'a str,
    /// The chat it was sent in (a user JID).
    pub chat: &'a Jid,
    /// The device that asked.
    pub device: &'a Jid,
    /// The `Message` protobuf, as first sent.
    pub message: &'a [u8],
    /// The receipt's retry count, repeated on the `<enc>`.
    pub count: u32,
}

/// Seals `resend`: `<message id to=device type><enc v=2 type count/>
/// [<device-identity/>]`, with the writes to commit before it leaves.
pub fn seal_resend(
    session: &Session,
    resend: &Resend<'_>,
    bundle: Option<&PreKeyBundle>,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, SealError> {
    let sender = Sender::of(session)?;
    if sender.is_this_device(resend.device) {
        return Err(SealError::NoDevice);
    }
    let in_group = resend.chat.server() == "g.us";
    let dsm;
    let plaintext = if sender.is_own(resend.device) && !in_group {
        dsm = device_sent(resend.chat, resend.message);
        dsm.as_slice()
    } else {
        resend.message
    };
    let address = session_address(session, resend.device).ok_or(SealError::NoDevice)?;
    let start = match bundle {
        // The device threw its session away: start over from its keys.
        Some(bundle) => Start::Bundle(bundle),
        None => Start::Stored(Box::new(
            session
                .sessions
                .get(&address)
                .and_then(|bytes| SessionRecord::decode(bytes).ok())
                .ok_or(SealError::NoDevice)?,
        )),
    };
    let mut writes = Vec::new();
    let enc = sender
        .encrypt(session, address, start, plaintext, &mut writes, rng)
        .ok_or(SealError::NoDevice)?;
    let pkmsg = enc.attr("type") == Some(MessageKind::PreKeyMsg.enc_type());
    // To the device itself; in a group to the group, naming the device.
    let stanza = if in_group {
        Node::new("message")
            .with_attr("id", resend.id.to_owned())
            .with_attr("to", resend.chat.clone())
            .with_attr("participant", resend.device.clone())
    } else {
        Node::new("message")
            .with_attr("id", resend.id.to_owned())
            .with_attr("to", resend.device.clone())
    }
    .with_attr("type", message_type(resend.message))
    .with_child(enc.with_attr("count", resend.count.to_string()));
    Ok(Sealed {
        stanza: with_device_identity(stanza, session, pkmsg),
        writes,
        left_out: Vec::new(),
    })
}

/// Where a device's copy is encrypted from.
pub(super) enum Start<'a> {
    Stored(Box<SessionRecord>),
    Bundle(&'a PreKeyBundle),
}

/// This device, as the sender of a message.
pub(super) struct Sender<'s> {
    own_users: Vec<&'s str>,
    own_device: u16,
}

impl<'s> Sender<'s> {
    pub(super) fn of(session: &'s Session) -> Result<Sender<'s>, SealError> {
        let me = session.creds.me.as_ref().ok_or(SealError::NotLinked)?;
        Ok(Sender {
            own_users: std::iter::once(me.jid.user())
                .chain(me.lid.as_ref().map(Jid::user))
                .collect(),
            own_device: me.jid.device().unwrap_or(0),
        })
    }

    /// One of our account's devices (they get the DSM copy).
    pub(super) fn is_own(&self, device: &Jid) -> bool {
        self.own_users.contains(&device.user())
    }

    pub(super) fn is_this_device(&self, device: &Jid) -> bool {
        self.is_own(device) && device.device().unwrap_or(0) == self.own_device
    }

    /// `plaintext` for `device`: `<to jid><enc/></to>`, on its stored
    /// session or else one started from its bundle in `bundles` (by
    /// session address). `None` when it has neither, or the bundle makes
    /// no session.
    pub(super) fn copy_for(
        &self,
        session: &Session,
        device: &Jid,
        plaintext: &[u8],
        bundles: &BTreeMap<String, PreKeyBundle>,
        writes: &mut Vec<Write>,
        rng: &mut impl CryptoRngCore,
    ) -> Option<Node> {
        let address = session_address(session, device)?;
        let stored = session
            .sessions
            .get(&address)
            .and_then(|bytes| SessionRecord::decode(bytes).ok());
        let start = match stored {
            Some(record) => Start::Stored(Box::new(record)),
            None => Start::Bundle(bundles.get(&address)?),
        };
        let enc = self.encrypt(session, address, start, plaintext, writes, rng)?;
        Some(
            Node::new("to")
                .with_attr("jid", device.clone())
                .with_child(enc),
        )
    }

    /// `plaintext`, padded and encrypted for the session at `address`
    /// (started from a bundle if so): the `<enc>` node, with the
    /// session's advance (and a new identity) added to `writes`. `None`
    /// when a bundle does not make a session.
    pub(super) fn encrypt(
        &self,
        session: &Session,
        address: String,
        start: Start<'_>,
        plaintext: &[u8],
        writes: &mut Vec<Write>,
        rng: &mut impl CryptoRngCore,
    ) -> Option<Node> {
        let identity = &session.creds.identity_key;
        let record = match start {
            Start::Stored(record) => *record,
            Start::Bundle(bundle) => {
                let registration = u32::from(session.creds.registration_id);
                let record = session_from_bundle(None, identity, registration, bundle, rng).ok()?;
                let key = bundle.identity.raw().to_vec();
                if session.identities.get(&address) != Some(&key) {
                    writes.push(Write::Identity {
                        address: address.clone(),
                        key,
                    });
                }
                record
            }
        };
        let (encrypted, record) = encrypt(&record, identity, &pad(plaintext, rng)).ok()?;
        writes.push(Write::SignalSession {
            replaces: Replaces::current(session, &address),
            address,
            record: record.encode_stamped(rng.next_u64()),
        });
        Some(
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", encrypted.kind.enc_type())
                .with_bytes(encrypted.bytes),
        )
    }
}

/// A `<to><enc/></to>` copy that starts a session (a pkmsg).
pub(super) fn is_pkmsg(copy: &Node) -> bool {
    copy.child("enc")
        .is_some_and(|enc| enc.attr("type") == Some(MessageKind::PreKeyMsg.enc_type()))
}

/// `stanza` with our `<device-identity>` when a copy is a pkmsg (the
/// recipient checks who starts a session with it).
pub(super) fn with_device_identity(stanza: Node, session: &Session, any_pkmsg: bool) -> Node {
    match &session.creds.account {
        Some(account) if any_pkmsg => {
            stanza.with_child(Node::new("device-identity").with_bytes(account.clone()))
        }
        _ => stanza,
    }
}

/// The session a device's messages use: under its LID when the LID of its
/// phone number is known (where receiving keeps it too).
pub(crate) fn session_address(session: &Session, device: &Jid) -> Option<String> {
    if !is_lid(device)
        && let Some(lid_user) = session.lid_for_pn.get(device.user())
    {
        let lid = Jid::ad(
            lid_user.clone(),
            Jid::DOMAIN_LID,
            u8::try_from(device.device().unwrap_or(0)).ok()?,
        );
        return device_address(&lid);
    }
    device_address(device)
}

/// The copy our own other devices get: `Message { deviceSentMessage {
/// destinationJid, message } }`, written around the message's bytes as
/// they are (a decode and re-encode would drop fields we do not model).
fn device_sent(to: &Jid, message: &[u8]) -> Vec<u8> {
    let destination = to.to_string();
    let mut inner = Vec::with_capacity(destination.len() + message.len() + 8);
    encode_key(1, WireType::LengthDelimited, &mut inner);
    encode_varint(destination.len() as u64, &mut inner);
    inner.extend_from_slice(destination.as_bytes());
    encode_key(2, WireType::LengthDelimited, &mut inner);
    encode_varint(message.len() as u64, &mut inner);
    inner.extend_from_slice(message);
    let mut outer = Vec::with_capacity(inner.len() + 4);
    encode_key(31, WireType::LengthDelimited, &mut outer);
    encode_varint(inner.len() as u64, &mut outer);
    outer.extend_from_slice(&inner);
    outer
}

/// The stanza `type` WhatsApp expects for a message's kind.
pub(super) fn message_type(message: &[u8]) -> &'static str {
    use crate::message::content::{Content, Kind};
    match Content::decode(message).map(|content| content.kind) {
        Ok(Kind::Reaction(_)) => "reaction",
        Ok(Kind::Media(_)) => "media",
        _ => "text",
    }
}

#[cfg(test)]
mod tests;
