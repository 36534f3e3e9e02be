//! The 1:1 wire formats: `msg` (libsignal's WhisperMessage: version byte
//! 0x33 ‖ protobuf ‖ 8-byte MAC) and `pkmsg` (PreKeyWhisperMessage: 0x33 ‖
//! protobuf carrying the X3DH inputs and the first msg). Decoding checks
//! shape only; the MAC is checked by the session that has the key.

use std::fmt;

use blacksky_proto::Message as _;
use blacksky_proto::wa;
use hmac::Mac;

use super::error::{FormatError, KeyError, MessageKind};
use super::kdf::hmac_sha256;
use super::keys::{IdentityKey, PublicKey};

/// The protocol version spoken (no Kyber): the high nibble of byte 0.
pub const MESSAGE_VERSION: u8 = 3;
/// The version byte written: (version << 4) | highest version known.
const VERSION_BYTE: u8 = (MESSAGE_VERSION << 4) | MESSAGE_VERSION;
/// The MAC is HMAC-SHA256 truncated to this many bytes.
pub const MAC_LEN: usize = 8;

/// A decoded msg, its MAC not yet checked.
#[derive(Clone)]
pub struct SignalMessage {
    pub ratchet_key: PublicKey,
    pub counter: u32,
    pub previous_counter: u32,
    pub ciphertext: Vec<u8>,
    /// Version byte ‖ protobuf: what the MAC covers after both identities.
    authenticated: Vec<u8>,
    mac: [u8; MAC_LEN],
}

impl SignalMessage {
    /// Parses a msg.
    pub fn decode(bytes: &[u8]) -> Result<SignalMessage, FormatError> {
        let kind = MessageKind::Msg;
        if bytes.len() < 1 + MAC_LEN {
            return Err(FormatError::TooShort {
                kind,
                len: bytes.len(),
            });
        }
        check_version(bytes[0], kind)?;
        let (authenticated, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let proto = wa::WhisperMessage::decode(&authenticated[1..])
            .map_err(|source| FormatError::Protobuf { kind, source })?;
        let ratchet_key = required(proto.ratchet_key, kind, "ratchet_key")?;
        let mut mac_bytes = [0u8; MAC_LEN];
        mac_bytes.copy_from_slice(mac);
        Ok(SignalMessage {
            ratchet_key: PublicKey::from_prefixed(&ratchet_key, "ratchet_key")
                .map_err(|source| FormatError::Key { kind, source })?,
            counter: required(proto.counter, kind, "counter")?,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext: required(proto.ciphertext, kind, "ciphertext")?,
            authenticated: authenticated.to_vec(),
            mac: mac_bytes,
        })
    }

    /// Writes a msg, MAC'd with `mac_key` from `sender` to `receiver`.
    pub(crate) fn encode(
        fields: MessageFields<'_>,
        mac_key: &[u8; 32],
        sender: &IdentityKey,
        receiver: &IdentityKey,
    ) -> Vec<u8> {
        let proto = wa::WhisperMessage {
            ratchet_key: Some(fields.ratchet_key.prefixed().to_vec()),
            counter: Some(fields.counter),
            previous_counter: Some(fields.previous_counter),
            ciphertext: Some(fields.ciphertext.to_vec()),
        };
        let mut out = Vec::with_capacity(1 + proto.encoded_len() + MAC_LEN);
        out.push(VERSION_BYTE);
        append(&proto, &mut out);
        let mac = mac_over(mac_key, sender, receiver, &out);
        out.extend_from_slice(&mac);
        out
    }

    /// True when the MAC is `mac_key`'s over this message from `sender` to
    /// `receiver` (compared in constant time).
    pub(crate) fn mac_matches(
        &self,
        mac_key: &[u8; 32],
        sender: &IdentityKey,
        receiver: &IdentityKey,
    ) -> bool {
        mac_state(mac_key, sender, receiver, &self.authenticated)
            .verify_truncated_left(&self.mac)
            .is_ok()
    }
}

impl fmt::Debug for SignalMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalMessage")
            .field("ratchet_key", &self.ratchet_key)
            .field("counter", &self.counter)
            .field("previous_counter", &self.previous_counter)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// What a msg carries besides its MAC.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageFields<'a> {
    pub ratchet_key: &'a PublicKey,
    pub counter: u32,
    pub previous_counter: u32,
    pub ciphertext: &'a [u8],
}

/// A decoded pkmsg: the initiator's X3DH inputs and its first msg.
#[derive(Clone, Debug)]
pub struct PreKeySignalMessage {
    pub registration_id: u32,
    /// The one-time pre-key it used, if the bundle had one.
    pub pre_key_id: Option<u32>,
    pub signed_pre_key_id: u32,
    pub base_key: PublicKey,
    pub identity: IdentityKey,
    pub message: SignalMessage,
}

impl PreKeySignalMessage {
    /// Parses a pkmsg and the msg inside it.
    pub fn decode(bytes: &[u8]) -> Result<PreKeySignalMessage, FormatError> {
        let kind = MessageKind::PreKeyMsg;
        let Some((&version, proto_bytes)) = bytes.split_first() else {
            return Err(FormatError::TooShort { kind, len: 0 });
        };
        check_version(version, kind)?;
        let proto = wa::PreKeyWhisperMessage::decode(proto_bytes)
            .map_err(|source| FormatError::Protobuf { kind, source })?;
        let key = |source: KeyError| FormatError::Key { kind, source };
        let base_key = required(proto.base_key, kind, "base_key")?;
        let identity = required(proto.identity_key, kind, "identity_key")?;
        Ok(PreKeySignalMessage {
            registration_id: proto.registration_id.unwrap_or(0),
            pre_key_id: proto.pre_key_id,
            signed_pre_key_id: required(proto.signed_pre_key_id, kind, "signed_pre_key_id")?,
            base_key: PublicKey::from_prefixed(&base_key, "base_key").map_err(key)?,
            identity: IdentityKey::from_prefixed(&identity, "identity_key").map_err(key)?,
            message: SignalMessage::decode(&required(proto.message, kind, "message")?)?,
        })
    }

    /// Writes a pkmsg around an encoded msg.
    pub(crate) fn encode(
        session: &PreKeyFields<'_>,
        identity: &IdentityKey,
        message: Vec<u8>,
    ) -> Vec<u8> {
        let proto = wa::PreKeyWhisperMessage {
            pre_key_id: session.pre_key_id,
            base_key: Some(session.base_key.prefixed().to_vec()),
            identity_key: Some(identity.prefixed().to_vec()),
            message: Some(message),
            registration_id: Some(session.registration_id),
            signed_pre_key_id: Some(session.signed_pre_key_id),
        };
        let mut out = Vec::with_capacity(1 + proto.encoded_len());
        out.push(VERSION_BYTE);
        append(&proto, &mut out);
        out
    }
}

/// What a pkmsg carries besides the sender's identity and the msg.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreKeyFields<'a> {
    pub registration_id: u32,
    pub pre_key_id: Option<u32>,
    pub signed_pre_key_id: u32,
    pub base_key: &'a PublicKey,
}

fn check_version(byte: u8, kind: MessageKind) -> Result<(), FormatError> {
    let version = byte >> 4;
    if version == MESSAGE_VERSION {
        Ok(())
    } else {
        Err(FormatError::Version { kind, version })
    }
}

fn required<T>(value: Option<T>, kind: MessageKind, field: &'static str) -> Result<T, FormatError> {
    value.ok_or(FormatError::Missing { kind, field })
}

fn append(message: &impl blacksky_proto::Message, out: &mut Vec<u8>) {
    // A Vec grows as needed: encoding into it cannot run out of room.
    let encoded = message.encode(out);
    debug_assert!(encoded.is_ok());
}

fn mac_state(
    mac_key: &[u8; 32],
    sender: &IdentityKey,
    receiver: &IdentityKey,
    authenticated: &[u8],
) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = hmac_sha256(mac_key);
    mac.update(&sender.prefixed());
    mac.update(&receiver.prefixed());
    mac.update(authenticated);
    mac
}

fn mac_over(
    mac_key: &[u8; 32],
    sender: &IdentityKey,
    receiver: &IdentityKey,
    authenticated: &[u8],
) -> [u8; MAC_LEN] {
    let full = mac_state(mac_key, sender, receiver, authenticated).finalize();
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&full.into_bytes()[..MAC_LEN]);
    mac
}
