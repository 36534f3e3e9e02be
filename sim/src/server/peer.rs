//! One Signal device the server plays: a mock contact's device, or the
//! account's own phone. It has its own identity key and registration id
//! (each WhatsApp device does), a signed pre-key and one-time pre-keys
//! whose private halves it keeps (made on the first bundle fetch, so a
//! run that never fetches one draws nothing more from the seed), and one
//! session per bot device, whichever side started it.
//!
//! Sessions follow libsignal: a session this device started stays in its
//! pre-key stage (pkmsg) until it decrypts something the bot sent on it;
//! a pkmsg from the bot starts a session here that sends msg at once.
//! Every message key (the bot's ratchet key and counter) this device
//! opened is remembered with a fingerprint of its bytes, so one arriving
//! again with other bytes is caught: the bot reused a key.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use blacksky_core::crypto::KeyPair;
use blacksky_core::session::{PreKey, SignedPreKey};
use blacksky_core::signal::{
    self, IdentityKey, LocalPreKeys, MessageKind, OneTimePreKeyPublic, PreKeyBundle,
    PreKeySignalMessage, PublicKey, SessionRecord, SignalError, SignalMessage, SignedPreKeyPublic,
};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::contacts::{EncKind, EncPart};
use super::output::ControlError;

/// One-time pre-keys a device keeps the private half of (handed out, not
/// used yet); past it the oldest go first.
pub const HELD_PRE_KEYS_PER_DEVICE_MAX: usize = 2_000;
/// Message keys a device remembers per bot device, for the reuse check;
/// past it the oldest are forgotten.
pub const SEEN_KEYS_PER_SESSION_MAX: usize = 4_096;
/// The signed pre-key's id on every played device (it never rotates).
const SIGNED_PRE_KEY_ID: u32 = 1;

/// A message key: the sender's ratchet key and the counter on its chain.
type KeyName = ([u8; 32], u32);
/// The first 16 bytes of SHA-256 over an `<enc>`'s bytes.
type Fingerprint = [u8; 16];

/// The pre-keys a device publishes.
struct PreKeys {
    signed: SignedPreKey,
    /// Handed out and not used yet, by id.
    one_time: BTreeMap<u32, PreKey>,
    next_id: u32,
}

impl PreKeys {
    fn generate(identity: &KeyPair, rng: &mut impl CryptoRngCore) -> PreKeys {
        PreKeys {
            signed: SignedPreKey::generate(identity, SIGNED_PRE_KEY_ID, rng),
            one_time: BTreeMap::new(),
            next_id: 1,
        }
    }
}

/// What a device has with one bot device.
enum Link {
    Open {
        /// The bot device's identity key the session was made with.
        identity: [u8; 32],
        record: Box<SessionRecord>,
    },
    /// This device threw its session away (it asked for a retry): a msg
    /// on the old session cannot open here, as expected.
    Dropped,
}

/// The keys this device opened from one bot device, oldest first.
#[derive(Default)]
struct Seen {
    by_key: BTreeMap<KeyName, Fingerprint>,
    order: VecDeque<KeyName>,
}

impl Seen {
    fn insert(&mut self, key: KeyName, fingerprint: Fingerprint) {
        if self.by_key.insert(key, fingerprint).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > SEEN_KEYS_PER_SESSION_MAX {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
    }
}

/// What opening one `<enc>` gave.
pub(crate) enum Opened {
    /// Decrypted: the padded plaintext.
    Fresh(Vec<u8>),
    /// The very bytes of a message this device opened before (a resend).
    Duplicate,
}

/// Why an `<enc>` did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// A key opened before came again with other bytes.
    KeyReused { counter: u32 },
    /// A pkmsg made by another identity than the bot device's.
    IdentityMismatch,
    /// A msg on a session this device dropped on purpose (a retry).
    AfterDrop,
    /// Anything else: no session, bad MAC, bad format.
    Undecryptable { what: String },
}

/// The public half of a bundle, as the `encrypt` iq hands it out.
pub(crate) fn bundle_of(
    registration_id: u32,
    identity: &KeyPair,
    signed: &SignedPreKey,
    one_time: Option<&PreKey>,
) -> PreKeyBundle {
    PreKeyBundle {
        registration_id,
        identity: IdentityKey::of(identity),
        signed_pre_key: SignedPreKeyPublic {
            id: signed.id,
            key: PublicKey::of(&signed.key_pair),
            signature: signed.signature,
        },
        one_time_pre_key: one_time.map(|key| OneTimePreKeyPublic {
            id: key.id,
            key: PublicKey::of(&key.key_pair),
        }),
    }
}

pub(crate) struct Peer {
    identity: KeyPair,
    registration_id: u32,
    /// Made on the first bundle fetch.
    keys: Option<PreKeys>,
    /// By bot device id (at most 255).
    links: BTreeMap<u8, Link>,
    /// By bot device id.
    seen: BTreeMap<u8, Seen>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("identity", &self.identity)
            .field("links", &self.links.len())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A device with a fresh identity: the key pair, then the registration
    /// id, drawn in that order (contacts made before this type existed drew
    /// the same, so seeds keep their keys).
    pub(crate) fn generate(rng: &mut impl CryptoRngCore) -> Peer {
        let identity = KeyPair::generate(rng);
        // 14 bits, never 0 (libsignal's range is 1..=16380).
        let registration_id = rng.next_u32() % 16380 + 1;
        Peer::with_identity(identity, registration_id)
    }

    /// A device whose identity is given (the phone's is the account key).
    pub(crate) fn with_identity(identity: KeyPair, registration_id: u32) -> Peer {
        Peer {
            identity,
            registration_id,
            keys: None,
            links: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    pub(crate) fn registration_id(&self) -> u32 {
        self.registration_id
    }

    /// The signed pre-key and a fresh one-time pre-key (handed out once:
    /// each fetch gets a new one, as the device keeps its server stock up).
    pub(crate) fn take_bundle(&mut self, rng: &mut impl CryptoRngCore) -> PreKeyBundle {
        let one_time = self.fresh_pre_key(rng);
        let keys = self
            .keys
            .get_or_insert_with(|| PreKeys::generate(&self.identity, rng));
        bundle_of(
            self.registration_id,
            &self.identity,
            &keys.signed,
            Some(&one_time),
        )
    }

    /// A new one-time pre-key, kept until a pkmsg uses it; the keys are
    /// made first if they were not.
    fn fresh_pre_key(&mut self, rng: &mut impl CryptoRngCore) -> PreKey {
        let PreKeys {
            one_time, next_id, ..
        } = self
            .keys
            .get_or_insert_with(|| PreKeys::generate(&self.identity, rng));
        let key = PreKey {
            id: *next_id,
            key_pair: KeyPair::generate(rng),
        };
        // Ids are 3 bytes on the wire (libsignal's medium); wrap past it.
        *next_id = if *next_id >= 0x00FF_FFFF {
            1
        } else {
            *next_id + 1
        };
        one_time.insert(key.id, key.clone());
        while one_time.len() > HELD_PRE_KEYS_PER_DEVICE_MAX {
            one_time.pop_first();
        }
        key
    }

    /// A message to `bot_device` needs a session first: none open, or
    /// the device's identity key is not the one the session was made for.
    pub(crate) fn needs_session(&self, bot_device: u8, identity: &[u8; 32]) -> bool {
        !matches!(
            self.links.get(&bot_device),
            Some(Link::Open { identity: known, .. }) if known == identity
        )
    }

    /// A new session with `bot_device` from its `bundle` (its signature
    /// checked); an open one is archived.
    pub(crate) fn start_session(
        &mut self,
        bot_device: u8,
        bundle: &PreKeyBundle,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), ControlError> {
        let old = self.record(bot_device);
        let record =
            signal::session_from_bundle(old, &self.identity, self.registration_id, bundle, rng)?;
        self.links.insert(
            bot_device,
            Link::Open {
                identity: *bundle.identity.raw(),
                record: Box::new(record),
            },
        );
        Ok(())
    }

    fn record(&self, bot_device: u8) -> Option<&SessionRecord> {
        match self.links.get(&bot_device) {
            Some(Link::Open { record, .. }) => Some(&**record),
            _ => None,
        }
    }

    /// `padded` encrypted on the session with `bot_device`: a pkmsg while
    /// the bot has not answered a session this device started, else msg.
    pub(crate) fn encrypt(
        &mut self,
        bot_device: u8,
        padded: &[u8],
    ) -> Result<EncPart, ControlError> {
        let Some(Link::Open { record, .. }) = self.links.get_mut(&bot_device) else {
            return Err(ControlError::NoSession { device: bot_device });
        };
        let (encrypted, next) = signal::encrypt(record, &self.identity, padded)?;
        **record = next;
        Ok(EncPart {
            kind: match encrypted.kind {
                MessageKind::PreKeyMsg => EncKind::PkMsg,
                MessageKind::Msg => EncKind::Msg,
            },
            bytes: encrypted.bytes,
        })
    }

    /// Throws the session with `bot_device` away, as a device does before
    /// it asks for a retry; the next message must start a new one.
    pub(crate) fn drop_session(&mut self, bot_device: u8) {
        self.links.insert(bot_device, Link::Dropped);
    }

    /// Opens an `<enc type=pkmsg|msg>` from `bot_device`, whose identity
    /// key is `bot_identity`. Nothing changes unless it opens.
    pub(crate) fn open(
        &mut self,
        bot_device: u8,
        bot_identity: &[u8; 32],
        kind: EncKind,
        bytes: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Opened, OpenFailure> {
        let undecryptable = |error: &dyn fmt::Display| OpenFailure::Undecryptable {
            what: error.to_string(),
        };
        let inner = match kind {
            EncKind::PkMsg => PreKeySignalMessage::decode(bytes).map(|m| m.message),
            EncKind::Msg => SignalMessage::decode(bytes),
            EncKind::SkMsg => {
                return Err(OpenFailure::Undecryptable {
                    what: "an skmsg in a 1:1 message".into(),
                });
            }
        }
        .map_err(|e| undecryptable(&e))?;
        let key: KeyName = (*inner.ratchet_key.raw(), inner.counter);
        let fingerprint = fingerprint(bytes);
        if let Some(known) = self.seen.get(&bot_device).and_then(|s| s.by_key.get(&key)) {
            return if *known == fingerprint {
                Ok(Opened::Duplicate)
            } else {
                Err(OpenFailure::KeyReused {
                    counter: inner.counter,
                })
            };
        }
        let opened = match kind {
            EncKind::PkMsg => self.open_pkmsg(bot_device, bot_identity, bytes, rng),
            _ => self.open_msg(bot_device, bytes, rng),
        };
        let (padded, link) = match opened {
            // Until a new session, nothing can open here, as expected.
            Err(OpenFailure::Undecryptable { .. })
                if matches!(self.links.get(&bot_device), Some(Link::Dropped)) =>
            {
                return Err(OpenFailure::AfterDrop);
            }
            other => other?,
        };
        self.links.insert(bot_device, link);
        self.seen
            .entry(bot_device)
            .or_default()
            .insert(key, fingerprint);
        Ok(Opened::Fresh(padded))
    }

    fn open_pkmsg(
        &mut self,
        bot_device: u8,
        bot_identity: &[u8; 32],
        bytes: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Vec<u8>, Link), OpenFailure> {
        let Some(PreKeys {
            signed, one_time, ..
        }) = &mut self.keys
        else {
            return Err(OpenFailure::Undecryptable {
                what: "a pkmsg, but this device never handed out a bundle".into(),
            });
        };
        let signed_keys: [&SignedPreKey; 1] = [signed];
        let pre_keys = LocalPreKeys {
            signed: &signed_keys,
            one_time,
        };
        let old = match self.links.get(&bot_device) {
            Some(Link::Open { record, .. }) => Some(&**record),
            _ => None,
        };
        let decrypted = signal::decrypt_pkmsg(old, &self.identity, &pre_keys, bytes, rng).map_err(
            |e| match e {
                SignalError::IdentityMismatch => OpenFailure::IdentityMismatch,
                other => OpenFailure::Undecryptable {
                    what: other.to_string(),
                },
            },
        )?;
        if decrypted.their_identity.raw() != bot_identity {
            return Err(OpenFailure::IdentityMismatch);
        }
        if let Some(id) = decrypted.consumed_pre_key {
            one_time.remove(&id);
        }
        Ok((
            decrypted.plaintext,
            Link::Open {
                identity: *bot_identity,
                record: Box::new(decrypted.record),
            },
        ))
    }

    fn open_msg(
        &self,
        bot_device: u8,
        bytes: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Vec<u8>, Link), OpenFailure> {
        let (record, identity) = match self.links.get(&bot_device) {
            Some(Link::Open { record, identity }) => (record, *identity),
            Some(Link::Dropped) => return Err(OpenFailure::AfterDrop),
            None => {
                return Err(OpenFailure::Undecryptable {
                    what: "a msg, but this device has no session with the bot device".into(),
                });
            }
        };
        let decrypted = signal::decrypt_msg(record, &self.identity, bytes, rng).map_err(|e| {
            OpenFailure::Undecryptable {
                what: e.to_string(),
            }
        })?;
        Ok((
            decrypted.plaintext,
            Link::Open {
                identity,
                record: Box::new(decrypted.record),
            },
        ))
    }
}

fn fingerprint(bytes: &[u8]) -> Fingerprint {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_keys_are_bounded_oldest_first() {
        let mut seen = Seen::default();
        for counter in 0..=u32::try_from(SEEN_KEYS_PER_SESSION_MAX).unwrap_or(u32::MAX) {
            seen.insert(([7; 32], counter), [0; 16]);
        }
        assert_eq!(seen.by_key.len(), SEEN_KEYS_PER_SESSION_MAX);
        assert!(!seen.by_key.contains_key(&([7; 32], 0)), "the oldest went");
        assert!(seen.by_key.contains_key(&([7; 32], 1)));
    }

    #[test]
    fn each_bundle_has_a_new_one_time_key_and_held_keys_are_bounded() {
        let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
        let mut peer = Peer::generate(&mut rng);
        let first = peer.take_bundle(&mut rng);
        let second = peer.take_bundle(&mut rng);
        assert_eq!(first.signed_pre_key, second.signed_pre_key);
        let id = |b: &PreKeyBundle| b.one_time_pre_key.as_ref().map(|k| k.id);
        assert_eq!((id(&first), id(&second)), (Some(1), Some(2)));
        for _ in 0..HELD_PRE_KEYS_PER_DEVICE_MAX {
            peer.take_bundle(&mut rng);
        }
        let held = peer.keys.as_ref().map_or(0, |k| k.one_time.len());
        assert_eq!(held, HELD_PRE_KEYS_PER_DEVICE_MAX);
    }
}
