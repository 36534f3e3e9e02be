//! What the server hands its shell: bytes for a connection, a close, or an
//! event for tests and logs; and the names a shell uses to address it.

use std::fmt;

use blacksky_core::signal::group::GroupError;
use blacksky_core::signal::{KeyError, SignalError};
use serde::{Deserialize, Serialize};

/// One client connection (one WebSocket), numbered from 1 in connect order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// Which connections a control acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Conn(ConnId),
    /// Every open connection, in any stage.
    AllLive,
}

/// How [`super::FakeServer::tamper_next_pair_success`] spoils a pair-success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// The ADV HMAC is wrong (one bit flipped): not keyed by the secret
    /// the companion shared.
    Hmac,
    /// The phone's account key signs another identity key than the
    /// companion's; the HMAC is right, so only the signature check can
    /// catch it.
    AccountSignature,
}

/// Effects for the shell, drained with [`super::FakeServer::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutput {
    /// Write these bytes to the connection's socket, in order.
    Transmit {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// Close the connection's socket (after writing what came before).
    /// The server has already forgotten it.
    Close {
        conn: ConnId,
    },
    Event(ServerEvent),
}

/// Which ClientPayload a handshake carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeKind {
    /// A new device asking to be linked.
    Registration,
    /// A linked device logging in.
    Login,
}

/// Things that happened, for tests and logs. JIDs are in text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    Connected {
        conn: ConnId,
    },
    HandshakeDone {
        conn: ConnId,
        kind: HandshakeKind,
    },
    /// `<pair-device>` with this many refs went out.
    QrRefsIssued {
        conn: ConnId,
        count: usize,
    },
    /// A companion asked to pair by code; the phone may now type it.
    CodeRequested {
        conn: ConnId,
    },
    /// `<pair-success>` went out for a new device record.
    PairSuccessSent {
        conn: ConnId,
        jid: String,
    },
    /// The companion's countersignature checked out: the device is linked.
    Paired {
        conn: ConnId,
        jid: String,
    },
    LoggedIn {
        conn: ConnId,
        jid: String,
    },
    /// A login was answered with `<failure reason=code>`.
    LoginRefused {
        conn: ConnId,
        code: u16,
    },
    /// `old` was kicked with a conflict because `new` logged in as the same device.
    Replaced {
        old: ConnId,
        new: ConnId,
    },
    /// The device left passive mode.
    Active {
        conn: ConnId,
        jid: String,
    },
    MessageDelivered {
        conn: ConnId,
        id: String,
    },
    MessageAcked {
        conn: ConnId,
        id: String,
    },
    PreKeysUploaded {
        conn: ConnId,
        count: u32,
        first_id: u32,
    },
    /// The device rotated its signed pre-key (signature checked): bundles
    /// carry the key with this id from now on.
    SignedPreKeyRotated {
        conn: ConnId,
        id: u32,
    },
    /// An upload carried ids already uploaded with other keys: a promise
    /// broken (`chaos::invariants`).
    PreKeyIdsReused {
        conn: ConnId,
        count: u32,
        first: u32,
        last: u32,
    },
    /// The device's one-time pre-keys fell below the low water after a
    /// contact fetched one; it was told (`<notification type=encrypt>`).
    PreKeysLow {
        conn: ConnId,
        count: u32,
    },
    /// A receipt from a device.
    Receipt {
        conn: ConnId,
        id: String,
        kind: ReceiptKind,
    },
    /// The bot said how it is: `<presence type>` (`available`), or a
    /// chat state (`<chatstate to><composing/>`: "typing…").
    Presence {
        conn: ConnId,
        /// `presence available`, `chatstate composing`, …
        what: String,
    },
    /// A retry receipt, and what the server did about it.
    Retry {
        conn: ConnId,
        id: String,
        /// The device's `<retry count>`.
        count: u32,
        outcome: RetryOutcome,
    },
    /// A `<message>` from the bot was taken in: acked, and opened by
    /// `opened` of the devices it addressed.
    BotMessage {
        conn: ConnId,
        id: String,
        opened: u32,
    },
    /// The media host stored a blob the bot uploaded.
    MediaUploaded {
        mms_type: String,
        len: u64,
    },
    /// A check a real server or contact makes failed (see
    /// [`super::FakeServer::violations`]); `kind` is its short name.
    Violation {
        conn: ConnId,
        id: String,
        kind: String,
    },
    /// A group changed and the bot's devices are told (`w:gp2`, kept
    /// until acked); `change` is the notification's child (`add`,
    /// `remove`, `subject`, …).
    GroupNotified {
        group: String,
        change: String,
    },
    /// A contact's device asked the bot to send a message again.
    RetryRequested {
        conn: ConnId,
        id: String,
        count: u32,
    },
    /// The client sent something the server refuses (bad bytes, a failed
    /// handshake, a bad signature, a wrong code, …).
    ClientError {
        conn: ConnId,
        what: String,
    },
    /// The connection is over (closed by either side).
    Closed {
        conn: ConnId,
    },
}

/// What a `<receipt>` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// No `type`: the message reached the device.
    Delivery,
    Read,
    /// The device could not decrypt the message.
    Retry,
    /// Another `type` (`read-self`, `played`, …), recorded as is.
    Other {
        kind: String,
    },
}

/// What became of a retry receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOutcome {
    /// Encrypted again and redelivered under the same id: on a new
    /// session from the receipt's keys, or on the existing one.
    Resent { fresh_session: bool },
    /// No message of that id (and chat) went to this device.
    UnknownMessage,
    /// The message was resent this often already; no more.
    TooManyRetries { retries: u32 },
    /// The receipt's `<keys>` do not parse, or do not verify.
    BadKeys { what: String },
    /// The contact could not encrypt (a Signal limit).
    Failed { what: String },
}

/// A control (the mock phone, an operator) that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("not a WhatsApp QR text")]
    BadQr,
    #[error("no open connection was issued the ref {reference:?}")]
    UnknownRef { reference: String },
    #[error("the QR's noise key is not the key {conn} authenticated with")]
    NoiseKeyMismatch { conn: ConnId },
    #[error("the QR's identity key is not the one {conn} registered")]
    IdentityKeyMismatch { conn: ConnId },
    #[error("{conn} already got a pair-success")]
    AlreadyGranted { conn: ConnId },
    #[error("no connection is waiting for a pairing code")]
    NoCodeRequest,
    #[error("not a pairing code (8 characters, dash optional): {code:?}")]
    BadCode { code: String },
    #[error("no open connection {conn}")]
    UnknownConn { conn: ConnId },
    #[error("no linked device to deliver to")]
    NoPairedDevice,
    #[error("all 255 device ids are used")]
    NoFreeDeviceId,
    #[error("not a phone number (1 to 20 digits)")]
    BadPhone,
    #[error("not a group JID user part (digits and dashes, 1 to 64)")]
    BadGroup,
    #[error("the text is {len} bytes, at most {max}")]
    TextTooLong { len: usize, max: usize },
    #[error("the server keeps at most {max} contacts")]
    TooManyContacts { max: usize },
    #[error("a contact keeps sender keys for at most {max} groups")]
    TooManyGroups { max: usize },
    #[error("the mailbox holds {max} messages already")]
    MailboxFull { max: usize },
    #[error("a contact has at most {max} devices")]
    TooManyDevices { max: usize },
    #[error("the contact's devices read no message {id:?} from the bot")]
    UnknownMessage { id: String },
    #[error("bot device {device} that sent the message is not online")]
    DeviceOffline { device: u8 },
    #[error("a device's retries for one message are at most {max}")]
    TooManyRetries { max: u32 },
    #[error("the contact has no session with device {device}")]
    NoSession { device: u8 },
    #[error("the device's keys on the server do not parse: {0}")]
    DeviceKeys(#[from] KeyError),
    #[error("Signal: {0}")]
    Signal(#[from] SignalError),
    #[error("sender key: {0}")]
    SenderKey(#[from] GroupError),
    #[error("no group {group:?} on the server")]
    UnknownGroup { group: String },
    #[error("a group {group:?} exists already")]
    GroupExists { group: String },
    #[error("the server keeps at most {max} groups")]
    TooManyGroupsKept { max: usize },
    #[error("a group has at most {max} members")]
    TooManyMembers { max: usize },
    #[error("a group keeps at most {max} sender keys of the bot")]
    TooManyHeldKeys { max: usize },
    #[error("a subject is 1 to {max} characters")]
    BadSubject { max: usize },
    #[error("a description is at most {max} characters")]
    BadDescription { max: usize },
    #[error("the {role} is not a member of the group")]
    NotAMember { role: &'static str },
    #[error("the {role} is not an admin of the group")]
    NotAdmin { role: &'static str },
    #[error("the group needs at least one member")]
    NoMembers,
    #[error("a contact's image is 1 to {max} bytes")]
    BadImage { max: usize },
}

impl ControlError {
    /// A short stable name for APIs (`unknown_ref`, `bad_code`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadQr => "bad_qr",
            Self::UnknownRef { .. } => "unknown_ref",
            Self::NoiseKeyMismatch { .. } => "noise_key_mismatch",
            Self::IdentityKeyMismatch { .. } => "identity_key_mismatch",
            Self::AlreadyGranted { .. } => "already_granted",
            Self::NoCodeRequest => "no_code_request",
            Self::BadCode { .. } => "bad_code",
            Self::UnknownConn { .. } => "unknown_conn",
            Self::NoPairedDevice => "no_paired_device",
            Self::NoFreeDeviceId => "no_free_device_id",
            Self::BadPhone => "bad_phone",
            Self::BadGroup => "bad_group",
            Self::TextTooLong { .. } => "text_too_long",
            Self::TooManyContacts { .. } => "too_many_contacts",
            Self::TooManyGroups { .. } => "too_many_groups",
            Self::TooManyDevices { .. } => "too_many_devices",
            Self::UnknownMessage { .. } => "unknown_message",
            Self::DeviceOffline { .. } => "device_offline",
            Self::TooManyRetries { .. } => "too_many_retries",
            Self::MailboxFull { .. } => "mailbox_full",
            Self::NoSession { .. } => "no_session",
            Self::DeviceKeys(_) => "device_keys",
            Self::Signal(_) => "signal",
            Self::SenderKey(_) => "sender_key",
            Self::UnknownGroup { .. } => "unknown_group",
            Self::GroupExists { .. } => "group_exists",
            Self::TooManyGroupsKept { .. } => "too_many_groups_kept",
            Self::TooManyMembers { .. } => "too_many_members",
            Self::TooManyHeldKeys { .. } => "too_many_held_keys",
            Self::BadSubject { .. } => "bad_subject",
            Self::BadDescription { .. } => "bad_description",
            Self::NotAMember { .. } => "not_a_member",
            Self::NotAdmin { .. } => "not_admin",
            Self::NoMembers => "no_members",
            Self::BadImage { .. } => "bad_image",
        }
    }
}
