//! The symmetric chains of a session: our sending chain with the ratchet
//! key pair that started it, and the peer's receiving chains with the keys
//! of messages skipped on them. Taking a message's key enforces the
//! forward limit and refuses a key used already.

use std::collections::VecDeque;

use super::error::SignalError;
use super::kdf::ChainKey;
use super::keys::{PublicKey, RatchetKeyPair, SecretKey};

/// Messages one msg may skip on its chain. libsignal-node's forward limit:
/// it derives at most 2,000 keys for one message (the skipped ones and its
/// own), so a counter 2,000 or more past the next expected one is refused.
pub const SKIPPED_PER_MESSAGE_MAX: u32 = 1_999;

/// Our side of the DH ratchet: our current ratchet key pair and the chain
/// it started.
#[derive(Debug, Clone)]
pub(crate) struct SendingChain {
    pub(crate) ratchet: RatchetKeyPair,
    pub(crate) chain: ChainKey,
}

/// The chain of one of the peer's ratchet keys.
#[derive(Clone)]
pub(crate) struct ReceivingChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain: ChainKey,
    /// Seeds of messages skipped on this chain, by ascending index.
    pub(crate) skipped: VecDeque<SkippedKey>,
}

#[derive(Debug, Clone)]
pub(crate) struct SkippedKey {
    pub(crate) index: u32,
    pub(crate) seed: SecretKey,
}

impl std::fmt::Debug for ReceivingChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivingChain")
            .field("ratchet_key", &self.ratchet_key)
            .field("next_index", &self.chain.index)
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

impl ReceivingChain {
    pub(crate) fn new(ratchet_key: PublicKey, chain: ChainKey) -> ReceivingChain {
        ReceivingChain {
            ratchet_key,
            chain,
            skipped: VecDeque::new(),
        }
    }

    /// The seed of message `counter`'s keys: a stored skipped one (used
    /// once), or derived by moving the chain on to it.
    pub(crate) fn take_seed(&mut self, counter: u32) -> Result<SecretKey, SignalError> {
        let next = self.chain.index;
        if counter < next {
            let stored = self.skipped.iter().position(|k| k.index == counter);
            return stored
                .and_then(|position| self.skipped.remove(position))
                .map(|key| key.seed)
                .ok_or(SignalError::DuplicateMessage { counter });
        }
        let skipped = counter - next;
        if skipped > SKIPPED_PER_MESSAGE_MAX {
            return Err(SignalError::TooFarAhead {
                counter,
                next,
                skipped,
                max: SKIPPED_PER_MESSAGE_MAX,
            });
        }
        let exhausted = SignalError::ChainExhausted { counter };
        while self.chain.index < counter {
            self.skipped.push_back(SkippedKey {
                index: self.chain.index,
                seed: self.chain.message_seed(),
            });
            self.chain = self.chain.next().ok_or(exhausted.clone())?;
        }
        let seed = self.chain.message_seed();
        self.chain = self.chain.next().ok_or(exhausted)?;
        Ok(seed)
    }
}
