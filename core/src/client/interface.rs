//! The client's vocabulary with its shell: what goes in ([`Input`]), what
//! comes out ([`Output`]: bytes, store batches, events) and the events.

use crate::session::{Committed, Outbound, Session, StoreFault, Write};
use crate::time::UnixMillis;
use crate::wire::binary::Jid;

use super::ask::{Answered, AskId, Request};
use super::groups::metadata::GroupInfo;
use super::groups::notification::GroupEvent;
use super::{DisconnectReason, Ignored, IqPurpose};

/// Identifies a store batch so its completion can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// A bound the client ran into (each is a setting of `ClientConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    /// `seen_messages_len_max`: the oldest ids were forgotten.
    SeenMessages,
    /// `store_ops_in_flight_max`: a message was left for redelivery.
    StoreOpsInFlight,
    /// `outputs_len_max`: frames wait until the outputs are drained.
    Outputs,
    /// `retries_len_max`: the oldest retry count was forgotten.
    Retries,
    /// `pre_keys_stored_max`: no more one-time pre-keys were uploaded.
    PreKeysStored,
    /// `outbound_len_max`: outbound messages wait in the store.
    Outbound,
}

impl Limit {
    /// The name /metrics and the log use.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::SeenMessages => "seen_messages_len_max",
            Limit::StoreOpsInFlight => "store_ops_in_flight_max",
            Limit::Outputs => "outputs_len_max",
            Limit::Retries => "retries_len_max",
            Limit::PreKeysStored => "pre_keys_stored_max",
            Limit::Outbound => "outbound_len_max",
        }
    }
}

/// Things that happened, for the shell to show or act on. `Debug` leaves
/// out the QR text (it carries the ADV secret) and the pairing code.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// Show this QR text; it is valid for `valid_ms`.
    Qr {
        text: String,
        index: usize,
        valid_ms: u64,
    },
    /// Type this code (`XXXX-XXXX`) on the phone.
    PairingCode {
        code: String,
    },
    /// The phone linked us; the server will now ask for a restart (515).
    Paired {
        jid: Jid,
        platform: Option<String>,
    },
    /// `<success>`: logged in as this device.
    LoggedIn {
        jid: Jid,
    },
    /// Passive mode is off: the session is open and messages flow.
    Online,
    /// The server finished delivering what queued while we were away.
    OfflineDelivered {
        count: u32,
    },
    /// A message was decrypted, committed to the inbox and acked.
    MessageStored {
        id: String,
        from: String,
    },
    /// A message did not decrypt; a retry receipt asks its sender to
    /// encrypt it again (the `count`th time). `reason` names no secret.
    DecryptFailed {
        id: String,
        count: u8,
        reason: String,
    },
    /// A message can never be read (poison, or out of retries): it is
    /// recorded as such and acked, so the server stops sending it.
    MessageUnreadable {
        id: String,
        reason: String,
    },
    /// A contact's device came with a new identity key (a reinstall or a
    /// new phone); accepted, as WhatsApp does, and recorded.
    IdentityChanged {
        address: String,
    },
    PreKeysUploaded {
        count: u32,
    },
    /// The server took an outbound message.
    MessageSent {
        id: String,
    },
    /// An outbound message could not be sent and left the queue.
    SendFailed {
        id: String,
        reason: String,
    },
    /// A device asked for a message again (a retry receipt) and got it,
    /// on a new session when it sent its keys.
    RetryAnswered {
        id: String,
        fresh_session: bool,
    },
    /// A retry receipt that gets no answer, and why.
    RetryNotAnswered {
        id: String,
        reason: String,
    },
    /// The groups we are in were read (at login).
    GroupsRead {
        count: usize,
    },
    /// A group as now known (read from the server, or changed by a
    /// notification): its members and their ranks.
    GroupKnown(Box<GroupInfo>),
    /// We are no longer in this group.
    GroupLeft {
        group: Jid,
    },
    /// The server would not list our groups (each is read when first
    /// needed instead).
    GroupsNotRead {
        code: String,
    },
    /// A group changed (members, admins, subject, settings), as its
    /// `w:gp2` notification said.
    GroupChanged(GroupEvent),
    /// A device's pre-key bundle was refused (it gets no copy).
    BundleRefused {
        device: String,
        reason: String,
    },
    /// A message lacked keys this process had not seen; `count` keys that
    /// another process of this session stored were taken from the store.
    KeysTakenFromStore {
        count: usize,
    },
    /// The server confirmed it hands out the signed pre-key with this id
    /// (a rotation; the one before is kept for a grace period).
    SignedPreKeyRotated {
        id: u32,
    },
    IqTimedOut {
        purpose: IqPurpose,
    },
    /// A request the shell asked for ([`Input::Ask`]) was answered,
    /// refused, or timed out.
    Answered(Answered),
    /// A store batch failed: what was waiting on it did not happen.
    StoreFailed {
        op: OpId,
        error: StoreFault,
    },
    /// A bound was hit (once per connection and limit).
    LimitReached {
        limit: Limit,
    },
    /// A stanza the client cannot use was answered where it could be and
    /// skipped: the connection goes on (see `client::ignored`).
    StanzaIgnored {
        what: Ignored,
    },
    /// The connection is over; close the socket. Terminal.
    Disconnected {
        reason: DisconnectReason,
    },
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Qr {
                index, valid_ms, ..
            } => f
                .debug_struct("Qr")
                .field("text", &"<redacted>")
                .field("index", index)
                .field("valid_ms", valid_ms)
                .finish(),
            Event::PairingCode { .. } => f
                .debug_struct("PairingCode")
                .field("code", &"<redacted>")
                .finish(),
            Event::Paired { jid, platform } => f
                .debug_struct("Paired")
                .field("jid", jid)
                .field("platform", platform)
                .finish(),
            Event::LoggedIn { jid } => f.debug_struct("LoggedIn").field("jid", jid).finish(),
            Event::Online => f.write_str("Online"),
            Event::OfflineDelivered { count } => f
                .debug_struct("OfflineDelivered")
                .field("count", count)
                .finish(),
            Event::MessageStored { id, from } => f
                .debug_struct("MessageStored")
                .field("id", id)
                .field("from", from)
                .finish(),
            Event::DecryptFailed { id, count, reason } => f
                .debug_struct("DecryptFailed")
                .field("id", id)
                .field("count", count)
                .field("reason", reason)
                .finish(),
            Event::MessageUnreadable { id, reason } => f
                .debug_struct("MessageUnreadable")
                .field("id", id)
                .field("reason", reason)
                .finish(),
            // The session name starts with the contact's phone number.
            Event::IdentityChanged { .. } => {
                f.debug_struct("IdentityChanged").finish_non_exhaustive()
            }
            Event::SignedPreKeyRotated { id } => f
                .debug_struct("SignedPreKeyRotated")
                .field("id", id)
                .finish(),
            Event::MessageSent { id } => f.debug_struct("MessageSent").field("id", id).finish(),
            Event::RetryAnswered { id, fresh_session } => f
                .debug_struct("RetryAnswered")
                .field("id", id)
                .field("fresh_session", fresh_session)
                .finish(),
            Event::RetryNotAnswered { id, reason } => f
                .debug_struct("RetryNotAnswered")
                .field("id", id)
                .field("reason", reason)
                .finish(),
            Event::SendFailed { id, reason } => f
                .debug_struct("SendFailed")
                .field("id", id)
                .field("reason", reason)
                .finish(),
            // The device JID names a contact: left out.
            Event::GroupsRead { count } => {
                f.debug_struct("GroupsRead").field("count", count).finish()
            }
            Event::GroupChanged(event) => f.debug_tuple("GroupChanged").field(event).finish(),
            Event::GroupKnown(info) => f.debug_tuple("GroupKnown").field(info).finish(),
            Event::GroupLeft { .. } => f.write_str("GroupLeft"),
            Event::GroupsNotRead { code } => {
                f.debug_struct("GroupsNotRead").field("code", code).finish()
            }
            Event::BundleRefused { reason, .. } => f
                .debug_struct("BundleRefused")
                .field("reason", reason)
                .finish_non_exhaustive(),
            Event::KeysTakenFromStore { count } => f
                .debug_struct("KeysTakenFromStore")
                .field("count", count)
                .finish(),
            Event::PreKeysUploaded { count } => f
                .debug_struct("PreKeysUploaded")
                .field("count", count)
                .finish(),
            Event::Answered(answered) => f.debug_tuple("Answered").field(answered).finish(),
            Event::IqTimedOut { purpose } => f
                .debug_struct("IqTimedOut")
                .field("purpose", purpose)
                .finish(),
            Event::StoreFailed { op, error } => f
                .debug_struct("StoreFailed")
                .field("op", op)
                .field("error", error)
                .finish(),
            Event::LimitReached { limit } => f
                .debug_struct("LimitReached")
                .field("limit", limit)
                .finish(),
            Event::StanzaIgnored { what } => {
                f.debug_struct("StanzaIgnored").field("what", what).finish()
            }
            Event::Disconnected { reason } => f
                .debug_struct("Disconnected")
                .field("reason", reason)
                .finish(),
        }
    }
}

/// Effects for the shell, drained with [`super::Client::poll_output`].
#[derive(Debug, Clone)]
pub enum Output {
    /// Bytes to write to the socket, in order.
    Transmit(Vec<u8>),
    /// Writes to commit in ONE transaction, then answer with
    /// [`Input::StoreDone`] for this op.
    Store(OpId, Vec<Write>),
    /// Read the session back from the store once every write handed in so
    /// far is committed (another process of this session, an overlapping
    /// dyno, may have written keys since this one read it), then answer
    /// with [`Input::ReadBack`] for this op.
    ReadBack(OpId),
    Event(Event),
}

/// What the shell tells the client.
#[derive(Debug)]
pub enum Input<'a> {
    /// The socket is open: the client sends its intro and hello. `wall` is
    /// the wall clock, against which certificates are checked.
    Connected { wall: UnixMillis },
    /// Bytes read from the socket, in any chunking.
    Received { bytes: &'a [u8], wall: UnixMillis },
    /// The socket closed under us.
    Closed,
    /// A store batch finished.
    StoreDone {
        op: OpId,
        result: Result<Committed, StoreFault>,
    },
    /// A request to make over the session (see `client::ask`); answered
    /// with [`Event::Answered`] for `id`, at once when not online.
    Ask { id: AskId, request: Request },
    /// Outbound messages from the store's outbox, in order (sealed ones
    /// with their stanza). Handed in at connection start and as new ones
    /// are stored; ones the client has already are skipped.
    Outbound {
        rows: Vec<Outbound>,
        wall: UnixMillis,
    },
    /// The session as the store holds it, with this process's writes
    /// since; `None` when the store did not answer.
    ReadBack {
        op: OpId,
        stored: Option<Box<Session>>,
    },
}

/// Misuse of the client by its caller (not a fault of the server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Connected given twice")]
    AlreadyConnected,
    #[error("StoreDone for unknown op {0:?}")]
    UnknownOp(OpId),
}
