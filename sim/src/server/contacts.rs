//! Mock contacts as real Signal peers. Each phone number is one contact
//! with device 0 only: its own identity key pair and registration id, a
//! session per linked bot device (started from the bundle the server
//! hands out, like any WhatsApp sender), and a sender key per group it
//! writes to. Every random choice comes from the server's seeded RNG.
//!
//! The bot never answers a contact (it sends nothing end-to-end yet), so
//! each session stays in its pre-key stage: every message on it is a
//! pkmsg repeating the session's base key, as libsignal sends them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use blacksky_core::crypto::KeyPair;
use blacksky_core::signal::group::{
    SenderKeyDistributionMessage, SenderKeyRecord, create_sender_key, distribution_message,
};
use blacksky_core::signal::{self, MessageKind, PreKeyBundle, SessionRecord};
use blacksky_proto::wa::Message as WaMessage;
use blacksky_proto::wa::message::SenderKeyDistributionMessage as WaSkdm;
use rand_core::CryptoRngCore;

use super::output::ControlError;

/// Contacts the server keeps keys for.
pub const CONTACTS_LEN_MAX: usize = 10_000;
/// Groups one contact keeps a sender key for.
pub const GROUPS_PER_CONTACT_MAX: usize = 256;
/// Digits in a contact's phone number.
pub(crate) const PHONE_DIGITS_MAX: usize = 20;
/// Characters in a group JID's user part (digits, or the old
/// `creator-timestamp` form).
pub(crate) const GROUP_USER_LEN_MAX: usize = 64;

/// `Ok` for a phone number the contacts can have: 1 to 20 digits.
pub(crate) fn check_phone(phone: &str) -> Result<(), ControlError> {
    let digits = !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit());
    if digits && phone.len() <= PHONE_DIGITS_MAX {
        Ok(())
    } else {
        Err(ControlError::BadPhone)
    }
}

/// `Ok` for a group JID's user part: digits and dashes, at most 64.
pub(crate) fn check_group(group: &str) -> Result<(), ControlError> {
    let valid = !group.is_empty()
        && group.len() <= GROUP_USER_LEN_MAX
        && group.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ControlError::BadGroup)
    }
}

/// The group's JID in text form, as `Message.senderKeyDistributionMessage.groupId` names it.
pub(crate) fn group_jid_text(group: &str) -> String {
    format!("{group}@g.us")
}

#[derive(Default)]
pub(crate) struct Contacts {
    by_phone: BTreeMap<String, Contact>,
}

impl fmt::Debug for Contacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Phone numbers and keys stay out of logs.
        f.debug_struct("Contacts")
            .field("len", &self.by_phone.len())
            .finish()
    }
}

impl Contacts {
    /// The contact of `phone` (checked digits), made on first use.
    pub(crate) fn get_or_create(
        &mut self,
        phone: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<&mut Contact, ControlError> {
        if !self.by_phone.contains_key(phone) {
            if self.by_phone.len() >= CONTACTS_LEN_MAX {
                return Err(ControlError::TooManyContacts {
                    max: CONTACTS_LEN_MAX,
                });
            }
            self.by_phone.insert(phone.to_owned(), Contact::new(rng));
        }
        self.by_phone
            .get_mut(phone)
            .ok_or(ControlError::TooManyContacts {
                max: CONTACTS_LEN_MAX,
            })
    }

    pub(crate) fn get_mut(&mut self, phone: &str) -> Option<&mut Contact> {
        self.by_phone.get_mut(phone)
    }
}

/// A session with one bot device and the identity key it was made for.
struct PeerSession {
    identity: [u8; 32],
    record: SessionRecord,
}

/// A contact's sender key for one group, and the bot devices that got
/// its distribution message.
pub(crate) struct GroupSenderKey {
    record: SenderKeyRecord,
    distributed_to: BTreeSet<u8>,
}

pub(crate) struct Contact {
    identity: KeyPair,
    registration_id: u32,
    /// By bot device id (at most 255).
    sessions: BTreeMap<u8, PeerSession>,
    /// By group JID user, at most [`GROUPS_PER_CONTACT_MAX`].
    sender_keys: BTreeMap<String, GroupSenderKey>,
}

impl Contact {
    fn new(rng: &mut impl CryptoRngCore) -> Contact {
        let identity = KeyPair::generate(rng);
        // 14 bits, never 0 (libsignal's range is 1..=16380).
        let registration_id = rng.next_u32() % 16380 + 1;
        Contact {
            identity,
            registration_id,
            sessions: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
        }
    }

    /// A message to `device` needs a session first: none yet, or the
    /// device's identity key is not the one the session was made for.
    pub(crate) fn needs_session(&self, device: u8, identity: &[u8; 32]) -> bool {
        self.sessions
            .get(&device)
            .is_none_or(|s| s.identity != *identity)
    }

    /// A new session with `device` from `bundle` (its signature checked);
    /// an open one is archived.
    pub(crate) fn start_session(
        &mut self,
        device: u8,
        bundle: &PreKeyBundle,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), ControlError> {
        let old = self.sessions.get(&device).map(|s| &s.record);
        let record =
            signal::session_from_bundle(old, &self.identity, self.registration_id, bundle, rng)?;
        self.sessions.insert(
            device,
            PeerSession {
                identity: *bundle.identity.raw(),
                record,
            },
        );
        Ok(())
    }

    /// `padded` encrypted on the session with `device`.
    pub(crate) fn encrypt(&mut self, device: u8, padded: &[u8]) -> Result<EncPart, ControlError> {
        let session = self
            .sessions
            .get_mut(&device)
            .ok_or(ControlError::NoSession { device })?;
        let (encrypted, record) = signal::encrypt(&session.record, &self.identity, padded)?;
        session.record = record;
        Ok(EncPart {
            kind: match encrypted.kind {
                MessageKind::PreKeyMsg => EncKind::PkMsg,
                MessageKind::Msg => EncKind::Msg,
            },
            bytes: encrypted.bytes,
        })
    }

    /// The contact's sender key for `group`, made on first use.
    pub(crate) fn sender_key(
        &mut self,
        group: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<&mut GroupSenderKey, ControlError> {
        if !self.sender_keys.contains_key(group) {
            if self.sender_keys.len() >= GROUPS_PER_CONTACT_MAX {
                return Err(ControlError::TooManyGroups {
                    max: GROUPS_PER_CONTACT_MAX,
                });
            }
            let (record, _) = create_sender_key(rng);
            self.sender_keys.insert(
                group.to_owned(),
                GroupSenderKey {
                    record,
                    distributed_to: BTreeSet::new(),
                },
            );
        }
        self.sender_keys
            .get_mut(group)
            .ok_or(ControlError::TooManyGroups {
                max: GROUPS_PER_CONTACT_MAX,
            })
    }
}

impl GroupSenderKey {
    /// The distribution message at the chain's current iteration: the
    /// next skmsg is the first a member who takes it in can read.
    pub(crate) fn distribution(&self) -> Result<SenderKeyDistributionMessage, ControlError> {
        Ok(distribution_message(&self.record)?)
    }

    /// `padded` as an skmsg (encrypted once, for every member).
    pub(crate) fn encrypt(
        &mut self,
        padded: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<EncPart, ControlError> {
        let (bytes, record) =
            blacksky_core::signal::group::group_encrypt(&self.record, padded, rng)?;
        self.record = record;
        Ok(EncPart {
            kind: EncKind::SkMsg,
            bytes,
        })
    }

    /// Whether `device` still needs the distribution message; from now on
    /// it counts as having it (the message that carries it is queued).
    pub(crate) fn distribute_to(&mut self, device: u8) -> bool {
        self.distributed_to.insert(device)
    }
}

/// `Message { senderKeyDistributionMessage { groupId, axolotl… } }`: what
/// a member sends 1:1 to a device before its first skmsg there.
pub(crate) fn distribution_content(
    group: &str,
    distribution: &SenderKeyDistributionMessage,
) -> WaSkdm {
    WaSkdm {
        group_id: Some(group_jid_text(group)),
        axolotl_sender_key_distribution_message: Some(distribution.to_bytes()),
    }
}

/// `Message { conversation: text }`, optionally with a sender key.
pub(crate) fn text_message(text: Option<&str>, skdm: Option<WaSkdm>) -> WaMessage {
    WaMessage {
        conversation: text.map(str::to_owned),
        sender_key_distribution_message: skdm,
        ..WaMessage::default()
    }
}

/// The `type` of an `<enc>` node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncKind {
    Msg,
    PkMsg,
    SkMsg,
}

impl EncKind {
    pub(crate) fn enc_type(self) -> &'static str {
        match self {
            EncKind::Msg => "msg",
            EncKind::PkMsg => "pkmsg",
            EncKind::SkMsg => "skmsg",
        }
    }
}

/// One `<enc>` of a message: made once at send time, redelivered as is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EncPart {
    pub(crate) kind: EncKind,
    pub(crate) bytes: Vec<u8>,
}

impl fmt::Debug for EncPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncPart")
            .field("kind", &self.kind)
            .field("bytes_len", &self.bytes.len())
            .finish()
    }
}
