//! Mock contacts as real Signal peers. Each phone number is one contact
//! with device 0 (its phone) and, if configured, companion devices (at
//! most [`DEVICES_PER_CONTACT_MAX`]); each device is a [`Peer`] with its
//! own identity key, registration id, pre-keys and a session per linked
//! bot device. The contact writes from device 0 (a session started from
//! the bundle the server hands out, like any WhatsApp sender) and keeps a
//! sender key per group it writes to; every device reads what the bot
//! sends it. Every random choice comes from the server's seeded RNG.
//!
//! Sessions move as libsignal's do: one the contact started sends pkmsg
//! (repeating the session's base key) until the bot answers on it; once
//! the contact has decrypted a message from the bot on it (or the bot
//! started the session with a pkmsg), it sends msg.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use blacksky_core::signal::PreKeyBundle;
use blacksky_core::signal::group::{
    SenderKeyDistributionMessage, SenderKeyRecord, create_sender_key, distribution_message,
};
use blacksky_proto::wa::Message as WaMessage;
use blacksky_proto::wa::message::SenderKeyDistributionMessage as WaSkdm;
use rand_core::CryptoRngCore;

use super::output::ControlError;
use super::peer::Peer;
use super::received::{ReceivedText, record_received};

/// Contacts the server keeps keys for.
pub const CONTACTS_LEN_MAX: usize = 10_000;
/// Devices one contact has, its phone (device 0) included.
pub const DEVICES_PER_CONTACT_MAX: usize = 16;
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
    /// LID user → phone, for the contacts whose LID was handed out.
    phone_by_lid: BTreeMap<String, String>,
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

    pub(crate) fn get(&self, phone: &str) -> Option<&Contact> {
        self.by_phone.get(phone)
    }

    /// The phone number of the contact whose LID user is `lid`.
    pub(crate) fn phone_of_lid(&self, lid: &str) -> Option<&str> {
        self.phone_by_lid.get(lid).map(String::as_str)
    }

    /// The contact's LID user, made (from the seed) on first use: WhatsApp
    /// hands out a 15-digit number unrelated to the phone number.
    pub(crate) fn lid_of(
        &mut self,
        phone: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<String, ControlError> {
        let contact = self.get_or_create(phone, rng)?;
        if let Some(lid) = &contact.lid {
            return Ok(lid.clone());
        }
        let lid = loop {
            let candidate =
                (rng.next_u64() % 900_000_000_000_000 + 100_000_000_000_000).to_string();
            if !self.phone_by_lid.contains_key(&candidate) {
                break candidate;
            }
        };
        self.phone_by_lid.insert(lid.clone(), phone.to_owned());
        if let Some(contact) = self.by_phone.get_mut(phone) {
            contact.lid = Some(lid.clone());
        }
        Ok(lid)
    }
}

/// A contact's sender key for one group, and the bot devices that got
/// its distribution message.
pub(crate) struct GroupSenderKey {
    record: SenderKeyRecord,
    distributed_to: BTreeSet<u8>,
}

pub(crate) struct Contact {
    /// Device 0: it writes the contact's messages.
    phone: Peer,
    /// Companion devices by id (1 to 255), at most
    /// [`DEVICES_PER_CONTACT_MAX`] − 1.
    companions: BTreeMap<u8, Peer>,
    /// By group JID user, at most [`GROUPS_PER_CONTACT_MAX`].
    sender_keys: BTreeMap<String, GroupSenderKey>,
    /// Its LID user, once handed out.
    lid: Option<String>,
    /// What its devices read from the bot, oldest first (a ring).
    received: VecDeque<ReceivedText>,
}

impl Contact {
    fn new(rng: &mut impl CryptoRngCore) -> Contact {
        Contact {
            phone: Peer::generate(rng),
            companions: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
            lid: None,
            received: VecDeque::new(),
        }
    }

    /// The contact's device ids, ascending (0 first).
    pub(crate) fn device_ids(&self) -> Vec<u8> {
        std::iter::once(0)
            .chain(self.companions.keys().copied())
            .collect()
    }

    pub(crate) fn device_mut(&mut self, id: u8) -> Option<&mut Peer> {
        match id {
            0 => Some(&mut self.phone),
            _ => self.companions.get_mut(&id),
        }
    }

    /// Gives the contact exactly these devices (0, its phone, is always
    /// kept): new ones get fresh identities, dropped ones are forgotten.
    pub(crate) fn set_devices(
        &mut self,
        ids: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), ControlError> {
        let wanted: BTreeSet<u8> = ids.iter().copied().filter(|&id| id != 0).collect();
        if wanted.len() + 1 > DEVICES_PER_CONTACT_MAX {
            return Err(ControlError::TooManyDevices {
                max: DEVICES_PER_CONTACT_MAX,
            });
        }
        self.companions.retain(|id, _| wanted.contains(id));
        for id in wanted {
            self.companions
                .entry(id)
                .or_insert_with(|| Peer::generate(rng));
        }
        Ok(())
    }

    /// What the contact's devices read from the bot, oldest first.
    pub(crate) fn received(&self) -> &VecDeque<ReceivedText> {
        &self.received
    }

    pub(crate) fn record_received(&mut self, text: ReceivedText) {
        record_received(&mut self.received, text);
    }

    /// A message to bot device `device` needs a session first.
    pub(crate) fn needs_session(&self, device: u8, identity: &[u8; 32]) -> bool {
        self.phone.needs_session(device, identity)
    }

    /// A new session from the contact's phone with bot device `device`.
    pub(crate) fn start_session(
        &mut self,
        device: u8,
        bundle: &PreKeyBundle,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), ControlError> {
        self.phone.start_session(device, bundle, rng)
    }

    /// `padded` encrypted by the contact's phone for bot device `device`.
    pub(crate) fn encrypt(&mut self, device: u8, padded: &[u8]) -> Result<EncPart, ControlError> {
        self.phone.encrypt(device, padded)
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
