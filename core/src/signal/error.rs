//! What can go wrong, per boundary: a key that does not parse
//! ([`KeyError`]), peer bytes that are not a Signal message
//! ([`FormatError`]), a stored record that does not read back
//! ([`RecordError`]), and an operation the protocol refuses
//! ([`SignalError`]). Each names its culprit; none carries key material
//! or plaintext.

use std::fmt;

use thiserror::Error;

/// The two 1:1 message kinds, named as WhatsApp's `<enc type=…>` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A double-ratchet message (`WhisperMessage`).
    Msg,
    /// A message that also starts the session (`PreKeyWhisperMessage`).
    PreKeyMsg,
}

impl MessageKind {
    /// The `type` attribute of `<enc>`.
    #[must_use]
    pub fn enc_type(self) -> &'static str {
        match self {
            MessageKind::Msg => "msg",
            MessageKind::PreKeyMsg => "pkmsg",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.enc_type())
    }
}

/// A public or secret key of the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("{field}: {len} bytes, expected {expected}")]
    Length {
        field: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("{field}: key type byte {type_byte:#04x}, expected 0x05")]
    Type { field: &'static str, type_byte: u8 },
}

/// Peer bytes that are not a well-formed Signal message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("{kind}: {len} bytes is too short")]
    TooShort { kind: MessageKind, len: usize },
    #[error("{kind}: message version {version}, only 3 is spoken")]
    Version { kind: MessageKind, version: u8 },
    #[error("{kind}: not a valid protobuf: {source}")]
    Protobuf {
        kind: MessageKind,
        #[source]
        source: prost::DecodeError,
    },
    #[error("{kind}: field {field} is missing")]
    Missing {
        kind: MessageKind,
        field: &'static str,
    },
    #[error("{kind}: {source}")]
    Key {
        kind: MessageKind,
        #[source]
        source: KeyError,
    },
}

/// A stored session record that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("stored Signal session record is not a valid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("stored Signal session record lacks {0}")]
    Missing(&'static str),
    #[error("stored Signal session record: {0}")]
    Key(#[from] KeyError),
    #[error("stored Signal session record: {field} holds {len}, at most {max}")]
    OverLimit {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

/// Why an operation on a session was refused. The caller's record is
/// unchanged whenever one of these comes back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignalError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("pre-key bundle: signed pre-key {id} is not signed by the bundle's identity key")]
    BadSignedPreKeySignature { id: u32 },
    #[error("pkmsg names signed pre-key {id}, which this device does not have")]
    UnknownSignedPreKey { id: u32 },
    #[error("pkmsg names one-time pre-key {id}, which this device does not have (used already?)")]
    UnknownPreKey { id: u32 },
    #[error("{key} is a low-order point: Diffie-Hellman with it gives zero")]
    WeakKey { key: &'static str },
    #[error("pkmsg identity key differs from the one of the session its base key names")]
    IdentityMismatch,
    #[error("msg counter {counter} was decrypted already on its chain")]
    DuplicateMessage { counter: u32 },
    #[error(
        "msg counter {counter} would skip {skipped} messages after the next expected one ({next}); at most {max} may be skipped"
    )]
    TooFarAhead {
        counter: u32,
        next: u32,
        skipped: u32,
        max: u32,
    },
    #[error(
        "msg counter {counter}: the MAC does not match (another session's message, or altered)"
    )]
    BadMac { counter: u32 },
    #[error(
        "msg counter {counter}: {len} bytes of ciphertext do not decrypt (not whole blocks, or bad padding)"
    )]
    BadCiphertext { counter: u32, len: usize },
    #[error("a chain is exhausted: counter {counter} is its last (2^32 message keys)")]
    ChainExhausted { counter: u32 },
}
