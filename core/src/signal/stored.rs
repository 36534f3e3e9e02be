//! A session record's stored form (`blacksky.store.SignalRecord`, prost):
//! the bytes the store keeps per peer address. Reading it back checks every
//! key's length and every bound, naming the field at fault.

use std::collections::VecDeque;

use blacksky_proto::Message as _;
use blacksky_proto::store as pb;

use super::chains::{ReceivingChain, SendingChain, SkippedKey};
use super::error::RecordError;
use super::kdf::{ChainKey, RootKey};
use super::keys::{IdentityKey, PublicKey, RatchetKeyPair, SecretKey};
use super::record::{PREVIOUS_SESSIONS_LEN_MAX, SessionRecord};
use super::state::{
    Handshake, Initiator, PendingPreKey, RECEIVING_CHAINS_LEN_MAX, SKIPPED_KEYS_LEN_MAX,
    SessionState,
};

impl SessionRecord {
    /// The stored form.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        self.encode_stamped(0)
    }

    /// The stored form with `stamp` (fresh and random for each write to a
    /// store: see `write_stamp` in `signal_record.proto`).
    #[must_use]
    pub fn encode_stamped(&self, stamp: u64) -> Vec<u8> {
        pb::SignalRecord {
            current: Some(state_to_pb(&self.current)),
            previous: self.previous.iter().map(state_to_pb).collect(),
            write_stamp: stamp,
        }
        .encode_to_vec()
    }

    /// Reads a stored record back.
    pub fn decode(bytes: &[u8]) -> Result<SessionRecord, RecordError> {
        let record = pb::SignalRecord::decode(bytes)?;
        if record.previous.len() > PREVIOUS_SESSIONS_LEN_MAX {
            return Err(RecordError::OverLimit {
                field: "previous",
                len: record.previous.len(),
                max: PREVIOUS_SESSIONS_LEN_MAX,
            });
        }
        Ok(SessionRecord {
            current: state_from_pb(record.current.ok_or(RecordError::Missing("current"))?)?,
            previous: record
                .previous
                .into_iter()
                .map(state_from_pb)
                .collect::<Result<VecDeque<_>, _>>()?,
        })
    }
}

fn state_to_pb(state: &SessionState) -> pb::SignalState {
    pb::SignalState {
        remote_identity: state.remote_identity.raw().to_vec(),
        remote_registration_id: state.remote_registration_id,
        base_key: state.base_key.raw().to_vec(),
        initiator: match state.initiator {
            Initiator::Us => pb::SignalInitiator::Us,
            Initiator::Them => pb::SignalInitiator::Them,
        }
        .into(),
        root_key: state.root_key.secret().expose().to_vec(),
        sending: Some(pb::SignalSendingChain {
            ratchet_private: state.sending.ratchet.private().expose().to_vec(),
            ratchet_public: state.sending.ratchet.public().raw().to_vec(),
            chain_key: state.sending.chain.key().expose().to_vec(),
            next_index: state.sending.chain.index(),
        }),
        receiving: state
            .receiving
            .iter()
            .map(|chain| pb::SignalReceivingChain {
                ratchet_key: chain.ratchet_key.raw().to_vec(),
                chain_key: chain.chain.key().expose().to_vec(),
                next_index: chain.chain.index(),
                skipped: chain
                    .skipped
                    .iter()
                    .map(|key| pb::SignalMessageKey {
                        index: key.index,
                        seed: key.seed.expose().to_vec(),
                    })
                    .collect(),
            })
            .collect(),
        previous_counter: state.previous_counter,
        pending_pre_key: match &state.handshake {
            Handshake::Established => None,
            Handshake::AwaitingReply(pending) => Some(pb::SignalPendingPreKey {
                pre_key_id: pending.pre_key_id,
                signed_pre_key_id: pending.signed_pre_key_id,
                local_registration_id: pending.local_registration_id,
            }),
        },
    }
}

fn state_from_pb(state: pb::SignalState) -> Result<SessionState, RecordError> {
    let initiator = match state.initiator() {
        pb::SignalInitiator::Us => Initiator::Us,
        pb::SignalInitiator::Them => Initiator::Them,
    };
    let sending = state.sending.ok_or(RecordError::Missing("sending"))?;
    let ratchet = RatchetKeyPair::from_stored(
        SecretKey::from_slice(&sending.ratchet_private, "sending.ratchet_private")?,
        PublicKey::from_raw(&sending.ratchet_public, "sending.ratchet_public")?,
    );
    if state.receiving.len() > RECEIVING_CHAINS_LEN_MAX {
        return Err(RecordError::OverLimit {
            field: "receiving",
            len: state.receiving.len(),
            max: RECEIVING_CHAINS_LEN_MAX,
        });
    }
    let skipped_len: usize = state.receiving.iter().map(|c| c.skipped.len()).sum();
    if skipped_len > SKIPPED_KEYS_LEN_MAX {
        return Err(RecordError::OverLimit {
            field: "receiving.skipped",
            len: skipped_len,
            max: SKIPPED_KEYS_LEN_MAX,
        });
    }
    Ok(SessionState {
        remote_identity: IdentityKey::from_raw(&state.remote_identity, "remote_identity")?,
        remote_registration_id: state.remote_registration_id,
        base_key: PublicKey::from_raw(&state.base_key, "base_key")?,
        initiator,
        root_key: RootKey::new(SecretKey::from_slice(&state.root_key, "root_key")?),
        sending: SendingChain {
            ratchet,
            chain: ChainKey::new(
                SecretKey::from_slice(&sending.chain_key, "sending.chain_key")?,
                sending.next_index,
            ),
        },
        receiving: state
            .receiving
            .into_iter()
            .map(chain_from_pb)
            .collect::<Result<_, _>>()?,
        previous_counter: state.previous_counter,
        handshake: match state.pending_pre_key {
            None => Handshake::Established,
            Some(pending) => Handshake::AwaitingReply(PendingPreKey {
                pre_key_id: pending.pre_key_id,
                signed_pre_key_id: pending.signed_pre_key_id,
                local_registration_id: pending.local_registration_id,
            }),
        },
    })
}

fn chain_from_pb(chain: pb::SignalReceivingChain) -> Result<ReceivingChain, RecordError> {
    Ok(ReceivingChain {
        ratchet_key: PublicKey::from_raw(&chain.ratchet_key, "receiving.ratchet_key")?,
        chain: ChainKey::new(
            SecretKey::from_slice(&chain.chain_key, "receiving.chain_key")?,
            chain.next_index,
        ),
        skipped: chain
            .skipped
            .into_iter()
            .map(|key| {
                Ok(SkippedKey {
                    index: key.index,
                    seed: SecretKey::from_slice(&key.seed, "receiving.skipped.seed")?,
                })
            })
            .collect::<Result<_, RecordError>>()?,
    })
}
