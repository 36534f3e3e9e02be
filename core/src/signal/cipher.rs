//! The operations on a session record, as pure functions: each takes the
//! record by reference and returns a new one, so a refused message leaves
//! the caller's record exactly as it was (Baileys' libsignal changes its
//! copy before the MAC check, which is where "Bad MAC" storms come from).
//! No store calls: the caller loads the record and keys, and stores what
//! comes back in the same transaction as the message it belongs to.

use std::collections::BTreeMap;
use std::fmt;

use rand_core::CryptoRngCore;

use super::error::{MessageKind, SignalError};
use super::keys::IdentityKey;
use super::message::{PreKeySignalMessage, SignalMessage};
use super::record::{SessionRecord, Slot};
use super::state::SessionState;
use super::x3dh::PreKeyBundle;
use crate::session::{PreKey, SignedPreKey};
use crate::wire::noise::KeyPair;

/// An encrypted message: the bytes of an `<enc type=…>` node.
#[derive(Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub kind: MessageKind,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("kind", &self.kind)
            .field("bytes_len", &self.bytes.len())
            .finish()
    }
}

/// A decrypted msg and the record to store with it.
#[derive(Clone)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub record: SessionRecord,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// A decrypted pkmsg, the record to store with it, and what else the same
/// transaction must do: delete the one-time pre-key it used, and record
/// the sender's identity (which may be new or changed).
#[derive(Clone)]
pub struct DecryptedPreKey {
    pub plaintext: Vec<u8>,
    pub record: SessionRecord,
    /// Set when this pkmsg started a session with one of our one-time
    /// pre-keys: delete it. `None` for a repeat of a session's pkmsg.
    pub consumed_pre_key: Option<u32>,
    pub their_identity: IdentityKey,
    pub their_registration_id: u32,
}

impl fmt::Debug for DecryptedPreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedPreKey")
            .field("plaintext", &"<redacted>")
            .field("record", &self.record)
            .field("consumed_pre_key", &self.consumed_pre_key)
            .field("their_identity", &self.their_identity)
            .field("their_registration_id", &self.their_registration_id)
            .finish()
    }
}

/// Our pre-keys, as a pkmsg needs them: signed ones by id (the current one
/// and the previous one during its grace period) and one-time ones by id.
pub trait PreKeyLookup {
    fn signed_pre_key(&self, id: u32) -> Option<&KeyPair>;
    fn one_time_pre_key(&self, id: u32) -> Option<&KeyPair>;
}

/// [`PreKeyLookup`] over the session model's keys.
#[derive(Clone, Copy)]
pub struct LocalPreKeys<'a> {
    pub signed: &'a [&'a SignedPreKey],
    pub one_time: &'a BTreeMap<u32, PreKey>,
}

impl PreKeyLookup for LocalPreKeys<'_> {
    fn signed_pre_key(&self, id: u32) -> Option<&KeyPair> {
        self.signed
            .iter()
            .find(|key| key.id == id)
            .map(|key| &key.key_pair)
    }

    fn one_time_pre_key(&self, id: u32) -> Option<&KeyPair> {
        self.one_time.get(&id).map(|key| &key.key_pair)
    }
}

impl fmt::Debug for LocalPreKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signed: Vec<u32> = self.signed.iter().map(|key| key.id).collect();
        f.debug_struct("LocalPreKeys")
            .field("signed_ids", &signed)
            .field("one_time", &self.one_time.len())
            .finish()
    }
}

/// Starts a session with a device from its pre-key bundle, after checking
/// the signed pre-key's signature. An open session in `record` is archived.
/// Until the peer answers, [`encrypt`] gives pkmsg.
pub fn session_from_bundle(
    record: Option<&SessionRecord>,
    our_identity: &KeyPair,
    our_registration_id: u32,
    bundle: &PreKeyBundle,
    rng: &mut impl CryptoRngCore,
) -> Result<SessionRecord, SignalError> {
    let state = SessionState::initiate(our_identity, our_registration_id, bundle, rng)?;
    Ok(match record {
        Some(record) => record.with_new_session(state),
        None => SessionRecord::new(state),
    })
}

/// Encrypts `plaintext` on the open session (padding is the caller's).
pub fn encrypt(
    record: &SessionRecord,
    our_identity: &KeyPair,
    plaintext: &[u8],
) -> Result<(Encrypted, SessionRecord), SignalError> {
    let mut state = record.current.clone();
    let (kind, bytes) = state.encrypt(&IdentityKey::of(our_identity), plaintext)?;
    Ok((
        Encrypted { kind, bytes },
        record.with_state(Slot::Current, state),
    ))
}

/// Decrypts a msg with the open session or, failing that, a previous one
/// (which then becomes the open one). The error is the one of the session
/// that holds the message's ratchet key, else the open session's.
pub fn decrypt_msg(
    record: &SessionRecord,
    our_identity: &KeyPair,
    bytes: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Decrypted, SignalError> {
    let message = SignalMessage::decode(bytes)?;
    let our_identity = IdentityKey::of(our_identity);
    let mut blamed = None;
    for (slot, state) in record.slots() {
        let mut trial = state.clone();
        match trial.decrypt(&message, &our_identity, rng) {
            Ok(plaintext) => {
                return Ok(Decrypted {
                    plaintext,
                    record: record.with_state(slot, trial),
                });
            }
            // The open session's error stands unless another session
            // holds the message's ratchet key (then the message is its).
            Err(error) if blamed.is_none() || state.has_receiving_chain(&message.ratchet_key) => {
                blamed = Some(error);
            }
            Err(_) => {}
        }
    }
    // There is always an open session, so `blamed` is set; the default
    // only spares an unwrap.
    Err(blamed.unwrap_or(SignalError::BadMac {
        counter: message.counter,
    }))
}

/// Decrypts a pkmsg: with the session it started if we have it (a repeat
/// sent before our reply), else with a new session from X3DH over our
/// pre-keys, which archives the open one.
pub fn decrypt_pkmsg(
    record: Option<&SessionRecord>,
    our_identity: &KeyPair,
    pre_keys: &impl PreKeyLookup,
    bytes: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<DecryptedPreKey, SignalError> {
    let message = PreKeySignalMessage::decode(bytes)?;
    let our_public = IdentityKey::of(our_identity);
    let decrypted = |plaintext, record, consumed_pre_key| DecryptedPreKey {
        plaintext,
        record,
        consumed_pre_key,
        their_identity: message.identity,
        their_registration_id: message.registration_id,
    };

    let started = record.and_then(|record| {
        record
            .started_by(&message.base_key)
            .map(|slot| (record, slot))
    });
    if let Some((record, slot)) = started {
        let mut state = record.state(slot).clone();
        if state.remote_identity != message.identity {
            return Err(SignalError::IdentityMismatch);
        }
        let plaintext = state.decrypt(&message.message, &our_public, rng)?;
        return Ok(decrypted(plaintext, record.with_state(slot, state), None));
    }

    let signed = pre_keys.signed_pre_key(message.signed_pre_key_id).ok_or(
        SignalError::UnknownSignedPreKey {
            id: message.signed_pre_key_id,
        },
    )?;
    let one_time = match message.pre_key_id {
        Some(id) => Some(
            pre_keys
                .one_time_pre_key(id)
                .ok_or(SignalError::UnknownPreKey { id })?,
        ),
        None => None,
    };
    let mut state = SessionState::respond(our_identity, signed, one_time, &message)?;
    let plaintext = state.decrypt(&message.message, &our_public, rng)?;
    let record = match record {
        Some(record) => record.with_new_session(state),
        None => SessionRecord::new(state),
    };
    Ok(decrypted(plaintext, record, message.pre_key_id))
}
