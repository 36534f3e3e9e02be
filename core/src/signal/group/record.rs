//! The sender-key record of one (group, sender): up to
//! [`STATES_LEN_MAX`] states (a sender makes a new key when members
//! leave; messages under the old one may still arrive), each a chain at
//! some iteration, the sender's signing key and the message keys of
//! iterations skipped on the way (for messages that arrive late), at most
//! [`SKIPPED_KEYS_LEN_MAX`] in the whole record.
//!
//! Stored as protobuf (`blacksky.group.SenderKeyRecordStructure`:
//! libsignal's layout, with the skipped keys as two flat arrays) in
//! `Session::sender_keys`.

use std::collections::VecDeque;
use std::fmt;

use blacksky_proto::Message as _;
use blacksky_proto::group as pb;
use blacksky_proto::group::sender_key_state_structure as pb_state;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use super::message_key::SenderMessageKey;
use super::skipped::{SkippedKeys, SkippedKeysError};
use crate::crypto::KeyPair;
use crate::signal::kdf::ChainKey;
use crate::signal::{KeyError, PublicKey, SecretKey};

/// States kept per record, newest first (libsignal keeps 5).
pub const STATES_LEN_MAX: usize = 5;
/// Skipped message keys kept per record, over all its states. A sender
/// that jumps ahead (or, like Baileys, uses every other iteration) leaves
/// keys behind; the oldest go first.
pub const SKIPPED_KEYS_LEN_MAX: usize = 2000;

/// Why stored bytes are not a sender-key record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("sender-key record: the protobuf does not decode: {reason}")]
    Protobuf { reason: String },
    #[error("sender-key record: state {state}: field `{field}` is missing")]
    MissingField { state: usize, field: &'static str },
    #[error("sender-key record: state {state}: {source}")]
    Key { state: usize, source: KeyError },
    #[error(
        "sender-key record: state {state}: the private signing key does not match the public one"
    )]
    SigningKeyMismatch { state: usize },
    #[error(
        "sender-key record: state {state}: {seeds_len} bytes of skipped seeds for {iterations} iterations"
    )]
    SkippedSeedsLength {
        state: usize,
        iterations: usize,
        seeds_len: usize,
    },
    #[error(
        "sender-key record: state {state}: skipped iteration {iteration} is not above the one before it, or not below the chain's {chain_iteration}"
    )]
    SkippedKeyOutOfOrder {
        state: usize,
        iteration: u32,
        chain_iteration: u32,
    },
    #[error("sender-key record: {len} states, more than the {max} kept")]
    TooManyStates { len: usize, max: usize },
    #[error("sender-key record: {len} skipped message keys, more than the {max} kept")]
    TooManySkippedKeys { len: usize, max: usize },
}

/// Whose sender key a state is: ours (we can sign, so encrypt) or a
/// peer's (we can only check signatures).
#[derive(Clone)]
pub enum SigningKey {
    Own(KeyPair),
    Peer(PublicKey),
}

impl SigningKey {
    /// The 32-byte public key (no 0x05 prefix).
    #[must_use]
    pub fn public(&self) -> &[u8; 32] {
        match self {
            SigningKey::Own(pair) => pair.public(),
            SigningKey::Peer(public) => public.raw(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKey::Own(pair) => f.debug_tuple("Own").field(pair).finish(),
            SigningKey::Peer(public) => f.debug_tuple("Peer").field(public).finish(),
        }
    }
}

/// One sender key: its id, chain, signing key and skipped message keys.
#[derive(Clone)]
pub struct SenderKeyState {
    pub(super) key_id: u32,
    pub(super) chain: ChainKey,
    pub(super) signing_key: SigningKey,
    /// Keys of skipped iterations, all below the chain's.
    pub(super) skipped: SkippedKeys,
}

impl SenderKeyState {
    pub(super) fn new(key_id: u32, chain: ChainKey, signing_key: SigningKey) -> Self {
        SenderKeyState {
            key_id,
            chain,
            signing_key,
            skipped: SkippedKeys::default(),
        }
    }

    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The iteration of the next message this chain gives.
    #[must_use]
    pub fn iteration(&self) -> u32 {
        self.chain.index()
    }

    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    #[must_use]
    pub fn skipped_keys_len(&self) -> usize {
        self.skipped.len()
    }

    pub(super) fn skipped_key(&self, iteration: u32) -> Option<SenderMessageKey> {
        self.skipped.get(iteration)
    }
}

impl fmt::Debug for SenderKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyState")
            .field("key_id", &self.key_id)
            .field("chain", &self.chain)
            .field("signing_key", &self.signing_key)
            .field("skipped_keys_len", &self.skipped.len())
            .finish()
    }
}

/// All the sender keys of one (group, sender), newest first.
#[derive(Clone, Default)]
pub struct SenderKeyRecord {
    pub(super) states: VecDeque<SenderKeyState>,
}

impl SenderKeyRecord {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The states, newest first.
    pub fn states(&self) -> impl Iterator<Item = &SenderKeyState> {
        self.states.iter()
    }

    #[must_use]
    pub fn skipped_keys_len(&self) -> usize {
        self.states.iter().map(|s| s.skipped.len()).sum()
    }

    pub(super) fn position(&self, key_id: u32) -> Option<usize> {
        self.states.iter().position(|s| s.key_id == key_id)
    }

    /// A record holding only `state` (our own new key replaces all).
    pub(super) fn only(state: SenderKeyState) -> Self {
        SenderKeyRecord {
            states: VecDeque::from([state]),
        }
    }

    /// Puts `state` first, unless a state with its key id and signing key
    /// is already here: that one is kept as it is (moved first), so a
    /// distribution message sent again never rewinds a chain nor drops
    /// skipped keys. A state with the same id but another signing key is
    /// replaced. The oldest states beyond the limit go.
    pub(super) fn add_state(&mut self, state: SenderKeyState) {
        let same = self.states.iter().position(|s| {
            s.key_id == state.key_id && s.signing_key.public() == state.signing_key.public()
        });
        let front = match same.and_then(|i| self.states.remove(i)) {
            Some(existing) => existing,
            None => state,
        };
        self.states.retain(|s| s.key_id != front.key_id);
        self.states.push_front(front);
        self.states.truncate(STATES_LEN_MAX);
    }

    /// Drops skipped keys beyond [`SKIPPED_KEYS_LEN_MAX`]: those of the
    /// oldest states first, and in a state the lowest iterations.
    pub(super) fn trim_skipped_keys(&mut self) {
        let mut excess = self.skipped_keys_len().saturating_sub(SKIPPED_KEYS_LEN_MAX);
        for state in self.states.iter_mut().rev() {
            excess -= state.skipped.drop_oldest(excess);
        }
    }

    /// The bytes the store keeps. They hold chain keys (and our private
    /// signing key): treat them as secret.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(None)
    }

    /// The stored form with `stamp`, fresh and random for each write to a
    /// store (see `write_stamp` in `sender_keys.proto`).
    #[must_use]
    pub fn encode_stamped(&self, stamp: u64) -> Vec<u8> {
        self.encode_with(Some(stamp))
    }

    fn encode_with(&self, write_stamp: Option<u64>) -> Vec<u8> {
        let mut proto = pb::SenderKeyRecordStructure {
            sender_key_states: self.states.iter().map(state_to_proto).collect(),
            write_stamp,
        };
        let bytes = proto.encode_to_vec();
        proto
            .sender_key_states
            .iter_mut()
            .for_each(wipe_state_proto);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut proto =
            pb::SenderKeyRecordStructure::decode(bytes).map_err(|e| RecordError::Protobuf {
                reason: e.to_string(),
            })?;
        let decoded = record_from_proto(&mut proto);
        proto
            .sender_key_states
            .iter_mut()
            .for_each(wipe_state_proto);
        decoded
    }
}

impl fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyRecord")
            .field("states", &self.states)
            .finish()
    }
}

fn state_to_proto(state: &SenderKeyState) -> pb::SenderKeyStateStructure {
    let private = match &state.signing_key {
        SigningKey::Own(pair) => Some(pair.private_bytes().to_vec()),
        SigningKey::Peer(_) => None,
    };
    pb::SenderKeyStateStructure {
        sender_key_id: Some(state.key_id),
        sender_chain_key: Some(pb_state::SenderChainKey {
            iteration: Some(state.chain.index()),
            seed: Some(state.chain.key().expose().to_vec()),
        }),
        sender_signing_key: Some(pb_state::SenderSigningKey {
            public: Some(state.signing_key.public().to_vec()),
            private,
        }),
        skipped_iterations: state.skipped.iterations().to_vec(),
        skipped_seeds: (!state.skipped.is_empty()).then(|| state.skipped.seeds().to_vec()),
    }
}

/// prost does not zeroize: wipe the secret copies it holds.
fn wipe_state_proto(state: &mut pb::SenderKeyStateStructure) {
    let chain_seed = state
        .sender_chain_key
        .as_mut()
        .and_then(|c| c.seed.as_mut());
    let private = state
        .sender_signing_key
        .as_mut()
        .and_then(|k| k.private.as_mut());
    for secret in [chain_seed, private, state.skipped_seeds.as_mut()]
        .into_iter()
        .flatten()
    {
        secret.zeroize();
    }
}

/// Moves the skipped-key arrays out of `proto` (no copy); the caller wipes
/// the secrets left in it.
fn record_from_proto(
    proto: &mut pb::SenderKeyRecordStructure,
) -> Result<SenderKeyRecord, RecordError> {
    let len = proto.sender_key_states.len();
    if len > STATES_LEN_MAX {
        return Err(RecordError::TooManyStates {
            len,
            max: STATES_LEN_MAX,
        });
    }
    let states = proto
        .sender_key_states
        .iter_mut()
        .enumerate()
        .map(|(index, state)| state_from_proto(index, state))
        .collect::<Result<VecDeque<_>, _>>()?;
    let record = SenderKeyRecord { states };
    let skipped = record.skipped_keys_len();
    if skipped > SKIPPED_KEYS_LEN_MAX {
        return Err(RecordError::TooManySkippedKeys {
            len: skipped,
            max: SKIPPED_KEYS_LEN_MAX,
        });
    }
    Ok(record)
}

fn state_from_proto(
    index: usize,
    proto: &mut pb::SenderKeyStateStructure,
) -> Result<SenderKeyState, RecordError> {
    let missing = |field| RecordError::MissingField {
        state: index,
        field,
    };
    let key_error = |source| RecordError::Key {
        state: index,
        source,
    };

    let key_id = proto.sender_key_id.ok_or(missing("sender_key_id"))?;
    let chain = proto
        .sender_chain_key
        .as_ref()
        .ok_or(missing("sender_chain_key"))?;
    let chain_iteration = chain
        .iteration
        .ok_or(missing("sender_chain_key.iteration"))?;
    let chain_seed = SecretKey::from_slice(
        chain
            .seed
            .as_deref()
            .ok_or(missing("sender_chain_key.seed"))?,
        "sender_chain_key.seed",
    )
    .map_err(key_error)?;
    let chain = ChainKey::new(chain_seed, chain_iteration);

    let signing = proto
        .sender_signing_key
        .as_ref()
        .ok_or(missing("sender_signing_key"))?;
    let public = PublicKey::from_raw(
        signing
            .public
            .as_deref()
            .ok_or(missing("sender_signing_key.public"))?,
        "sender_signing_key.public",
    )
    .map_err(key_error)?;
    let signing_key = match signing.private.as_deref() {
        None => SigningKey::Peer(public),
        Some(private) => {
            let private =
                SecretKey::from_slice(private, "sender_signing_key.private").map_err(key_error)?;
            let pair = KeyPair::from_private_bytes(*private.expose());
            if pair.public() != public.raw() {
                return Err(RecordError::SigningKeyMismatch { state: index });
            }
            SigningKey::Own(pair)
        }
    };

    let skipped = SkippedKeys::from_parts(
        std::mem::take(&mut proto.skipped_iterations),
        Zeroizing::new(proto.skipped_seeds.take().unwrap_or_default()),
        chain_iteration,
    )
    .map_err(|e| match e {
        SkippedKeysError::SeedsLength {
            iterations,
            seeds_len,
        } => RecordError::SkippedSeedsLength {
            state: index,
            iterations,
            seeds_len,
        },
        SkippedKeysError::OutOfOrder { iteration } => RecordError::SkippedKeyOutOfOrder {
            state: index,
            iteration,
            chain_iteration,
        },
    })?;
    Ok(SenderKeyState {
        key_id,
        chain,
        signing_key,
        skipped,
    })
}
