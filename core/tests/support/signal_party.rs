//! A device of the Signal tests: its keys (identity, registration id, a
//! signed pre-key, one-time pre-keys) and its session record with one
//! peer, driven through blacksky's pure functions the way the client will
//! drive them: a new record is kept only when the call succeeded.
//! Include it with `#[path = "support/signal_party.rs"] mod signal_party;`.
#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::BTreeMap;

use blacksky_core::session::{PreKey, SignedPreKey};
use blacksky_core::signal::{
    self, IdentityKey, LocalPreKeys, MessageKind, OneTimePreKeyPublic, PreKeyBundle, PublicKey,
    SessionRecord, SessionState, SignalError, SignedPreKeyPublic,
};
use blacksky_core::wire::noise::KeyPair;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The ids of the one-time pre-keys a party starts with.
pub const ONE_TIME_IDS: std::ops::RangeInclusive<u32> = 31..=33;

pub struct Party {
    pub identity: KeyPair,
    pub registration_id: u32,
    pub signed: SignedPreKey,
    /// A signed pre-key replaced by `signed`, still accepted (grace period).
    pub previous_signed: Option<SignedPreKey>,
    pub one_time: BTreeMap<u32, PreKey>,
    pub record: Option<SessionRecord>,
    pub rng: ChaCha20Rng,
}

impl Party {
    pub fn new(seed: u64) -> Party {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let identity = KeyPair::generate(&mut rng);
        let signed = SignedPreKey::generate(&identity, 7, &mut rng);
        let one_time = ONE_TIME_IDS
            .map(|id| {
                let key_pair = KeyPair::generate(&mut rng);
                (id, PreKey { id, key_pair })
            })
            .collect();
        Party {
            identity,
            registration_id: 4242,
            signed,
            previous_signed: None,
            one_time,
            record: None,
            rng,
        }
    }

    /// What the server would hand out for this party.
    pub fn bundle(&self, one_time_id: Option<u32>) -> PreKeyBundle {
        PreKeyBundle {
            registration_id: self.registration_id,
            identity: IdentityKey::of(&self.identity),
            signed_pre_key: SignedPreKeyPublic {
                id: self.signed.id,
                key: PublicKey::of(&self.signed.key_pair),
                signature: self.signed.signature,
            },
            one_time_pre_key: one_time_id.map(|id| OneTimePreKeyPublic {
                id,
                key: PublicKey::of(&self.one_time[&id].key_pair),
            }),
        }
    }

    pub fn start_session(&mut self, bundle: &PreKeyBundle) -> Result<(), SignalError> {
        let record = signal::session_from_bundle(
            self.record.as_ref(),
            &self.identity,
            self.registration_id,
            bundle,
            &mut self.rng,
        )?;
        self.record = Some(record);
        Ok(())
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> (MessageKind, Vec<u8>) {
        let record = self.record.as_ref().expect("a session to encrypt with");
        let (encrypted, record) =
            signal::encrypt(record, &self.identity, plaintext).expect("encrypt");
        self.record = Some(record);
        (encrypted.kind, encrypted.bytes)
    }

    /// Decrypts; on success keeps the new record (and deletes a consumed
    /// one-time pre-key), on failure keeps the old one.
    pub fn decrypt(&mut self, kind: MessageKind, body: &[u8]) -> Result<Vec<u8>, SignalError> {
        match kind {
            MessageKind::Msg => {
                let record = self.record.as_ref().expect("a session for msg");
                let decrypted = signal::decrypt_msg(record, &self.identity, body, &mut self.rng)?;
                self.record = Some(decrypted.record);
                Ok(decrypted.plaintext)
            }
            MessageKind::PreKeyMsg => {
                let mut signed = vec![&self.signed];
                signed.extend(self.previous_signed.as_ref());
                let pre_keys = LocalPreKeys {
                    signed: &signed,
                    one_time: &self.one_time,
                };
                let decrypted = signal::decrypt_pkmsg(
                    self.record.as_ref(),
                    &self.identity,
                    &pre_keys,
                    body,
                    &mut self.rng,
                )?;
                if let Some(id) = decrypted.consumed_pre_key {
                    self.one_time.remove(&id);
                }
                self.record = Some(decrypted.record);
                Ok(decrypted.plaintext)
            }
        }
    }

    /// The stored form of the record (empty without one).
    pub fn record_bytes(&self) -> Vec<u8> {
        self.record
            .as_ref()
            .map(SessionRecord::encode)
            .unwrap_or_default()
    }

    pub fn state(&self) -> &SessionState {
        self.record.as_ref().expect("a session").current()
    }
}
