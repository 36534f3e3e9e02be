//! The pure sender-key operations. Each takes a record by reference and
//! returns a new one: the caller stores the new record with whatever the
//! message led to, in one write, and a failure leaves the stored record as
//! it was (nothing here changes its input).

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::GroupError;
use super::message_key::SenderMessageKey;
use super::record::{SenderKeyRecord, SenderKeyState, SigningKey};
use super::wire::{SenderKeyDistributionMessage, SenderKeyMessage};
use crate::crypto::KeyPair;
use crate::crypto::xeddsa;
use crate::signal::kdf::ChainKey;
use crate::signal::{PublicKey, SecretKey, aes_cbc};

/// How far past its chain a message's iteration may be (libsignal's
/// limit): a sender key cannot make us derive more keys than this at once.
pub const FORWARD_ITERATIONS_MAX: u32 = 2000;

/// Makes our sender key for a group: a 31-bit key id, a random chain at
/// iteration 0 and a signing key pair. Returns the record (which replaces
/// any earlier key of ours for that group) and the distribution message
/// for the members.
pub fn create_sender_key(
    rng: &mut impl CryptoRngCore,
) -> (SenderKeyRecord, SenderKeyDistributionMessage) {
    let key_id = rng.next_u32() >> 1;
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut_slice());
    let seed = SecretKey::from(*seed);
    let signing = KeyPair::generate(rng);
    let distribution =
        SenderKeyDistributionMessage::new(key_id, 0, seed.clone(), PublicKey::of(&signing));
    let record = SenderKeyRecord::only(SenderKeyState::new(
        key_id,
        ChainKey::new(seed, 0),
        SigningKey::Own(signing),
    ));
    (record, distribution)
}

/// The distribution message for our current sender key at its current
/// iteration: what a member who joins later gets.
pub fn distribution_message(
    record: &SenderKeyRecord,
) -> Result<SenderKeyDistributionMessage, GroupError> {
    let state = record.states.front().ok_or(GroupError::NoOwnKey)?;
    let SigningKey::Own(pair) = &state.signing_key else {
        return Err(GroupError::NoOwnKey);
    };
    Ok(SenderKeyDistributionMessage::new(
        state.key_id,
        state.chain.index(),
        state.chain.key().clone(),
        PublicKey::of(pair),
    ))
}

/// Takes in a member's distribution message (`0x33 ‖ proto`). The same
/// key sent again keeps the chain we already have (no rewind, so no
/// replay); a new key id comes first; at most five keys are kept.
pub fn process_distribution(
    record: &SenderKeyRecord,
    distribution: &[u8],
) -> Result<SenderKeyRecord, GroupError> {
    let message = SenderKeyDistributionMessage::parse(distribution)?;
    let mut next = record.clone();
    next.add_state(SenderKeyState::new(
        message.key_id(),
        ChainKey::new(message.chain_key().clone(), message.iteration()),
        SigningKey::Peer(*message.signing_key()),
    ));
    Ok(next)
}

/// Encrypts `plaintext` (already padded by the caller) under our newest
/// sender key: AES-256-CBC with the chain's current message key, signed
/// with our signing key. Returns the skmsg bytes and the record with the
/// chain one step on.
pub fn group_encrypt(
    record: &SenderKeyRecord,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(Vec<u8>, SenderKeyRecord), GroupError> {
    let state = record.states.front().ok_or(GroupError::NoOwnKey)?;
    let SigningKey::Own(pair) = &state.signing_key else {
        return Err(GroupError::NoOwnKey);
    };
    let message_key = SenderMessageKey::of(&state.chain);
    let next_chain = state.chain.next().ok_or(GroupError::ChainExhausted {
        key_id: state.key_id,
    })?;
    let keys = message_key.cipher_keys();
    let ciphertext = aes_cbc::encrypt(&keys.key, &keys.iv, plaintext);
    let message = SenderKeyMessage::new_signed(
        state.key_id,
        message_key.iteration(),
        ciphertext,
        |signed| pair.sign(signed, rng),
    );
    let mut next = record.clone();
    if let Some(front) = next.states.front_mut() {
        front.chain = next_chain;
    }
    Ok((message.to_bytes(), next))
}

/// What decrypting a message does to its state, applied only once the
/// message has decrypted.
enum Advance {
    /// The message used a key kept for a skipped iteration.
    UseSkipped(u32),
    /// The chain moves past the message; the keys in between are kept.
    Chain {
        next: ChainKey,
        skipped: Vec<SenderMessageKey>,
    },
}

/// Checks and decrypts an skmsg with the state its key id names. Returns
/// the plaintext (still padded) and the record as it is after it: the
/// message's key used up, skipped keys kept. Every refusal leaves the
/// input record as it was.
pub fn group_decrypt(
    record: &SenderKeyRecord,
    bytes: &[u8],
) -> Result<(Vec<u8>, SenderKeyRecord), GroupError> {
    let message = SenderKeyMessage::parse(bytes)?;
    let key_id = message.key_id();
    let iteration = message.iteration();
    let index = record
        .position(key_id)
        .ok_or(GroupError::UnknownKeyId { key_id })?;
    let state = &record.states[index];
    xeddsa::verify(
        state.signing_key.public(),
        message.signed_part(),
        message.signature(),
    )
    .map_err(|_| GroupError::BadSignature { key_id, iteration })?;

    let (message_key, advance) = message_key_for(state, iteration)?;
    let keys = message_key.cipher_keys();
    let plaintext = aes_cbc::decrypt(&keys.key, &keys.iv, message.ciphertext())
        .ok_or(GroupError::BadCiphertext { key_id, iteration })?;

    let mut next = record.clone();
    let state = &mut next.states[index];
    match advance {
        Advance::UseSkipped(iteration) => {
            state.skipped.remove(iteration);
        }
        Advance::Chain {
            next: chain,
            skipped,
        } => {
            state.chain = chain;
            for key in &skipped {
                state.skipped.push(key);
            }
            next.trim_skipped_keys();
        }
    }
    Ok((plaintext, next))
}

/// The message key of `iteration` in `state`, and what using it changes.
fn message_key_for(
    state: &SenderKeyState,
    iteration: u32,
) -> Result<(SenderMessageKey, Advance), GroupError> {
    let key_id = state.key_id;
    let chain_iteration = state.chain.index();
    if iteration < chain_iteration {
        let key = state
            .skipped_key(iteration)
            .ok_or(GroupError::DuplicateIteration {
                key_id,
                iteration,
                chain_iteration,
            })?;
        return Ok((key, Advance::UseSkipped(iteration)));
    }
    if iteration - chain_iteration > FORWARD_ITERATIONS_MAX {
        return Err(GroupError::TooFarAhead {
            key_id,
            iteration,
            chain_iteration,
            limit: FORWARD_ITERATIONS_MAX,
        });
    }
    let exhausted = GroupError::ChainExhausted { key_id };
    let mut chain = state.chain.clone();
    let mut skipped = Vec::with_capacity((iteration - chain_iteration) as usize);
    while chain.index() < iteration {
        skipped.push(SenderMessageKey::of(&chain));
        chain = chain.next().ok_or(exhausted.clone())?;
    }
    let key = SenderMessageKey::of(&chain);
    let next = chain.next().ok_or(exhausted)?;
    Ok((key, Advance::Chain { next, skipped }))
}
