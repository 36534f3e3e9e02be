//! What a real WhatsApp server or a real contact would hold against the
//! bot's messages, recorded in a ring for tests (`violations()`) and the
//! control API (`GET /violations`). No phone number is recorded: a
//! recipient is named by message id, device and whether it is the
//! account's own.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::FakeServer;
use super::media::MediaCheck;
use super::output::{ConnId, ServerEvent};

/// Violations kept; past it the oldest go first (the total still counts).
pub const VIOLATIONS_LEN_MAX: usize = 1_000;

/// Whose device a violation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The chat's other side (a mock contact).
    Contact,
    /// The account's own phone or another linked device of it.
    Own,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViolationKind {
    /// A message key (the bot's ratchet key and counter) came again with
    /// other bytes: the bot encrypted twice with one key.
    KeyReused { counter: u32 },
    /// An `<enc type=pkmsg>` in a message without `<device-identity>`.
    MissingDeviceIdentity,
    /// The `<device-identity>` does not verify against the account.
    BadDeviceIdentity { what: String },
    /// A pkmsg made by another identity key than the sending device's.
    IdentityMismatch,
    /// The plaintext's WhatsApp padding is wrong.
    BadPadding { what: String },
    /// The plaintext is not a `Message`, or the wrong kind for the
    /// device (a DSM to a contact, a plain message to our own phone).
    BadContent { what: String },
    /// An `<enc>` the device could not open (no session, bad MAC, …).
    Undecryptable { what: String },
    /// A `<to jid>` names a device the recipient does not have.
    UnknownDevice { device: u16 },
    /// A device of the recipient (or of our own account) got no `<enc>`.
    DeviceLeftOut { device: u8 },
    /// The stanza itself is not a message the server takes.
    Malformed { what: String },
    /// A group message from a bot that is not a member of the group.
    NotInGroup,
    /// A member's device, in the group when the bot sent, could not read
    /// the skmsg: it holds no sender key of the bot device, or the key
    /// it holds does not decrypt it.
    MemberCannotRead { device: u8, what: String },
    /// A device of someone not in the group was sent the bot's sender key.
    SenderKeyToNonMember { device: u8 },
    /// A removed member's device could still read a message sent after
    /// its removal with the key it held: the bot did not rotate its key.
    FormerMemberCouldRead { device: u8 },
    /// The media the message references does not download, verify or
    /// open as its kind needs (`check` says which check failed).
    BadMedia { check: MediaCheck, what: String },
}

/// One violation: which message, which device, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The message id (empty when the stanza had none).
    pub id: String,
    pub owner: Option<Owner>,
    pub device: Option<u8>,
    #[serde(flatten)]
    pub kind: ViolationKind,
}

#[derive(Debug, Default)]
pub(crate) struct Violations {
    ring: VecDeque<Violation>,
    total: u64,
}

impl FakeServer {
    /// The violations recorded, oldest first (at most
    /// [`VIOLATIONS_LEN_MAX`]; [`FakeServer::violations_total`] counts all).
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.violations.ring.iter().cloned().collect()
    }

    /// Every violation recorded since the start, the forgotten included.
    #[must_use]
    pub fn violations_total(&self) -> u64 {
        self.violations.total
    }

    pub(crate) fn violation(&mut self, conn: ConnId, violation: Violation) {
        self.event(ServerEvent::Violation {
            conn,
            id: violation.id.clone(),
            kind: kind_name(&violation.kind).to_owned(),
        });
        let ring = &mut self.violations.ring;
        ring.push_back(violation);
        while ring.len() > VIOLATIONS_LEN_MAX {
            ring.pop_front();
        }
        self.violations.total += 1;
    }
}

/// The kind's short name (as serialized).
pub(crate) fn kind_name(kind: &ViolationKind) -> &'static str {
    match kind {
        ViolationKind::KeyReused { .. } => "key_reused",
        ViolationKind::MissingDeviceIdentity => "missing_device_identity",
        ViolationKind::BadDeviceIdentity { .. } => "bad_device_identity",
        ViolationKind::IdentityMismatch => "identity_mismatch",
        ViolationKind::BadPadding { .. } => "bad_padding",
        ViolationKind::BadContent { .. } => "bad_content",
        ViolationKind::Undecryptable { .. } => "undecryptable",
        ViolationKind::UnknownDevice { .. } => "unknown_device",
        ViolationKind::DeviceLeftOut { .. } => "device_left_out",
        ViolationKind::Malformed { .. } => "malformed",
        ViolationKind::NotInGroup => "not_in_group",
        ViolationKind::MemberCannotRead { .. } => "member_cannot_read",
        ViolationKind::SenderKeyToNonMember { .. } => "sender_key_to_non_member",
        ViolationKind::FormerMemberCouldRead { .. } => "former_member_could_read",
        ViolationKind::BadMedia { .. } => "bad_media",
    }
}
