//! What the server hands its shell: bytes for a connection, a close, or an
//! event for tests and logs; and the names a shell uses to address it.

use std::fmt;

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
    /// An upload carried ids already uploaded with other keys: a promise
    /// broken (`chaos::invariants`).
    PreKeyIdsReused {
        conn: ConnId,
        count: u32,
        first: u32,
        last: u32,
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
        }
    }
}
