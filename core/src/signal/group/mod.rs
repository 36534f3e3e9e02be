//! Signal sender keys, the encryption of group messages (`skmsg`), as
//! WhatsApp shapes them. Each member has its own sender key per group: a
//! hash chain (one AES-256-CBC key per iteration) and a signing key. A
//! member hands it to the others in a `SenderKeyDistributionMessage`
//! inside a 1:1 Signal message; then everything it sends to the group is
//! one `SenderKeyMessage`, encrypted once and signed.
//!
//! Facts checked against Baileys' `lib/Signal/Group/` (the code the
//! Node.js bots run) and its interop test: what the signature covers
//! (version byte and protobuf), iteration 0 is the chain key as
//! distributed, the signing key travels with its 0x05 prefix. The chain
//! is 1:1 Signal's ([`crate::signal::kdf::ChainKey`]).
//!
//! Pure functions over records: see [`cipher`]. Time and randomness come
//! from the caller.

pub mod cipher;
pub mod message_key;
pub mod record;
pub mod skipped;
pub mod wire;

use thiserror::Error;

pub use cipher::{
    FORWARD_ITERATIONS_MAX, create_sender_key, distribution_message, group_decrypt, group_encrypt,
    process_distribution,
};
pub use record::{
    RecordError, SKIPPED_KEYS_LEN_MAX, STATES_LEN_MAX, SenderKeyRecord, SenderKeyState, SigningKey,
};
pub use wire::{MessageKind, SenderKeyDistributionMessage, SenderKeyMessage, WireError};

/// Why a sender-key operation was refused. The record given is unchanged
/// in every case. Messages name the key id and iteration, never a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("sender key {key_id}: no such key in the record (no distribution message seen)")]
    UnknownKeyId { key_id: u32 },
    #[error("sender key {key_id}: the signature of iteration {iteration} does not verify")]
    BadSignature { key_id: u32, iteration: u32 },
    #[error(
        "sender key {key_id}: iteration {iteration} is behind the chain ({chain_iteration}) and its key is not kept: a duplicate, or skipped too long ago"
    )]
    DuplicateIteration {
        key_id: u32,
        iteration: u32,
        chain_iteration: u32,
    },
    #[error(
        "sender key {key_id}: iteration {iteration} is more than {limit} past the chain ({chain_iteration})"
    )]
    TooFarAhead {
        key_id: u32,
        iteration: u32,
        chain_iteration: u32,
        limit: u32,
    },
    #[error("sender key {key_id}: iteration {iteration} does not decrypt (bad length or padding)")]
    BadCiphertext { key_id: u32, iteration: u32 },
    #[error("sender key {key_id}: the chain is at its last iteration")]
    ChainExhausted { key_id: u32 },
    #[error("the record holds no sender key of ours (create one first)")]
    NoOwnKey,
}

#[cfg(test)]
mod tests;
