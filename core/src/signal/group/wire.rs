//! The two sender-key messages as bytes on the wire:
//! - `SenderKeyMessage` (skmsg): `0x33 ‖ proto{id, iteration, ciphertext}
//!   ‖ signature[64]`, the XEdDSA signature by the sender's signing key
//!   over everything before it;
//! - `SenderKeyDistributionMessage` (SKDM): `0x33 ‖ proto{id, iteration,
//!   chainKey, signingKey}`, the signing key with its 0x05 prefix.
//!
//! The version byte carries the message version in its high nibble and
//! the highest version the sender knows in its low one; like libsignal we
//! read only the high nibble and require 3.

use std::fmt;

use blacksky_proto::Message as _;
use blacksky_proto::group as pb;
use thiserror::Error;
use zeroize::Zeroize;

use crate::crypto::xeddsa::SIGNATURE_LEN;
use crate::signal::{KeyError, PublicKey, SecretKey};

/// `(3 << 4) | 3`: version 3, current version 3.
pub const VERSION_BYTE: u8 = 0x33;
const VERSION: u8 = 3;

/// Why bytes are not a sender-key message. Names the message kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("{kind}: {len} bytes is shorter than the {min} its layout needs")]
    TooShort {
        kind: MessageKind,
        len: usize,
        min: usize,
    },
    #[error("{kind}: version {version} is not 3 (version byte {byte:#04x})")]
    UnsupportedVersion {
        kind: MessageKind,
        version: u8,
        byte: u8,
    },
    #[error("{kind}: the protobuf does not decode: {reason}")]
    Protobuf { kind: MessageKind, reason: String },
    #[error("{kind}: field `{field}` is missing")]
    MissingField {
        kind: MessageKind,
        field: &'static str,
    },
    #[error("{kind}: {source}")]
    Key { kind: MessageKind, source: KeyError },
}

/// Which of the two messages a [`WireError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    SenderKeyMessage,
    SenderKeyDistributionMessage,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageKind::SenderKeyMessage => "SenderKeyMessage",
            MessageKind::SenderKeyDistributionMessage => "SenderKeyDistributionMessage",
        })
    }
}

/// A parsed skmsg. The signature is not checked here (that needs the
/// sender's key, from the record): see [`SenderKeyMessage::signed_part`].
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    key_id: u32,
    iteration: u32,
    ciphertext: Vec<u8>,
    /// `0x33 ‖ proto`, what the signature covers, as received.
    signed_part: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

impl SenderKeyMessage {
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        const KIND: MessageKind = MessageKind::SenderKeyMessage;
        let min = 1 + SIGNATURE_LEN;
        if bytes.len() < min {
            return Err(WireError::TooShort {
                kind: KIND,
                len: bytes.len(),
                min,
            });
        }
        let (signed_part, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        check_version(KIND, signed_part[0])?;
        let proto =
            pb::SenderKeyMessage::decode(&signed_part[1..]).map_err(|e| WireError::Protobuf {
                kind: KIND,
                reason: e.to_string(),
            })?;
        let mut signature_bytes = [0u8; SIGNATURE_LEN];
        signature_bytes.copy_from_slice(signature);
        Ok(SenderKeyMessage {
            key_id: required(KIND, "id", proto.id)?,
            iteration: required(KIND, "iteration", proto.iteration)?,
            ciphertext: required(KIND, "ciphertext", proto.ciphertext)?,
            signed_part: signed_part.to_vec(),
            signature: signature_bytes,
        })
    }

    /// Builds and signs a message with `sign`, which gets the bytes to sign.
    pub fn new_signed(
        key_id: u32,
        iteration: u32,
        ciphertext: Vec<u8>,
        sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
    ) -> Self {
        let proto = pb::SenderKeyMessage {
            id: Some(key_id),
            iteration: Some(iteration),
            ciphertext: Some(ciphertext),
        };
        let mut signed_part = Vec::with_capacity(1 + proto.encoded_len());
        signed_part.push(VERSION_BYTE);
        proto.encode_raw(&mut signed_part);
        let signature = sign(&signed_part);
        SenderKeyMessage {
            key_id,
            iteration,
            ciphertext: proto.ciphertext.unwrap_or_default(),
            signed_part,
            signature,
        }
    }

    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    #[must_use]
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The bytes the signature covers: the version byte and the protobuf.
    #[must_use]
    pub fn signed_part(&self) -> &[u8] {
        &self.signed_part
    }

    #[must_use]
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The bytes on the wire.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.signed_part.len() + SIGNATURE_LEN);
        bytes.extend_from_slice(&self.signed_part);
        bytes.extend_from_slice(&self.signature);
        bytes
    }
}

impl fmt::Debug for SenderKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyMessage")
            .field("key_id", &self.key_id)
            .field("iteration", &self.iteration)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// A parsed SKDM: a sender's chain key at some iteration and its public
/// signing key. The chain key is secret: `Debug` hides it.
#[derive(Clone)]
pub struct SenderKeyDistributionMessage {
    key_id: u32,
    iteration: u32,
    chain_key: SecretKey,
    signing_key: PublicKey,
}

impl SenderKeyDistributionMessage {
    #[must_use]
    pub fn new(key_id: u32, iteration: u32, chain_key: SecretKey, signing_key: PublicKey) -> Self {
        SenderKeyDistributionMessage {
            key_id,
            iteration,
            chain_key,
            signing_key,
        }
    }

    /// Parses `0x33 ‖ proto`; the signing key must carry its 0x05 prefix
    /// (33 bytes), as libsignal, WhatsApp and Baileys send it.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        const KIND: MessageKind = MessageKind::SenderKeyDistributionMessage;
        let Some((&version, proto)) = bytes.split_first() else {
            return Err(WireError::TooShort {
                kind: KIND,
                len: 0,
                min: 1,
            });
        };
        check_version(KIND, version)?;
        let proto =
            pb::SenderKeyDistributionMessage::decode(proto).map_err(|e| WireError::Protobuf {
                kind: KIND,
                reason: e.to_string(),
            })?;
        let key_error = |source| WireError::Key { kind: KIND, source };
        let mut chain_key = required(KIND, "chainKey", proto.chain_key)?;
        let parsed_chain_key = SecretKey::from_slice(&chain_key, "chainKey");
        chain_key.zeroize();
        let signing_key = required(KIND, "signingKey", proto.signing_key)?;
        Ok(SenderKeyDistributionMessage {
            key_id: required(KIND, "id", proto.id)?,
            iteration: required(KIND, "iteration", proto.iteration)?,
            chain_key: parsed_chain_key.map_err(key_error)?,
            signing_key: PublicKey::from_prefixed(&signing_key, "signingKey").map_err(key_error)?,
        })
    }

    /// `0x33 ‖ proto`, the signing key with its 0x05 prefix.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut proto = pb::SenderKeyDistributionMessage {
            id: Some(self.key_id),
            iteration: Some(self.iteration),
            chain_key: Some(self.chain_key.expose().to_vec()),
            signing_key: Some(self.signing_key.prefixed().to_vec()),
        };
        let mut bytes = Vec::with_capacity(1 + proto.encoded_len());
        bytes.push(VERSION_BYTE);
        proto.encode_raw(&mut bytes);
        // prost does not zeroize its copy of the chain key.
        if let Some(chain_key) = proto.chain_key.as_mut() {
            chain_key.zeroize();
        }
        bytes
    }

    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    #[must_use]
    pub fn chain_key(&self) -> &SecretKey {
        &self.chain_key
    }

    #[must_use]
    pub fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }
}

impl fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyDistributionMessage")
            .field("key_id", &self.key_id)
            .field("iteration", &self.iteration)
            .field("chain_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn check_version(kind: MessageKind, byte: u8) -> Result<(), WireError> {
    let version = byte >> 4;
    if version == VERSION {
        Ok(())
    } else {
        Err(WireError::UnsupportedVersion {
            kind,
            version,
            byte,
        })
    }
}

fn required<T>(kind: MessageKind, field: &'static str, value: Option<T>) -> Result<T, WireError> {
    value.ok_or(WireError::MissingField { kind, field })
}
