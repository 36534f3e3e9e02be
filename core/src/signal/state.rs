//! One Signal session (libsignal's SessionState): the root key, our
//! sending chain and ratchet key pair, the peer's receiving chains with the
//! keys of messages skipped on them, and, until the peer's first reply,
//! the pre-key facts every pkmsg repeats. Every bound is here.
//!
//! Methods change `self`; the record-level functions run them on a copy,
//! so a refused message leaves the stored session as it was.

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use super::aes_cbc;
use super::error::{MessageKind, SignalError};
use super::kdf::{ChainKey, MessageKeys, RootKey};
use super::keys::{IdentityKey, PublicKey, RatchetKeyPair, SecretKey};
use super::message::{MessageFields, PreKeyFields, PreKeySignalMessage, SignalMessage};
use super::x3dh::{self, PreKeyBundle};
use crate::wire::noise::KeyPair;

/// Receiving chains kept per session (libsignal's bound): older ones are
/// dropped, and a late message on them no longer decrypts.
pub const RECEIVING_CHAINS_LEN_MAX: usize = 5;
/// Keys of skipped messages kept per session, over all its chains; past
/// it the oldest go first.
pub const SKIPPED_KEYS_LEN_MAX: usize = 2_000;
/// Messages one msg may skip on its chain. libsignal-node's forward limit:
/// it derives at most 2,000 keys for one message (the skipped ones and its
/// own), so a counter 2,000 or more past the next expected one is refused.
pub const SKIPPED_PER_MESSAGE_MAX: u32 = 1_999;

/// Who sent the first (pre-key) message, and so whose base key names the
/// session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Us,
    Them,
}

/// The facts of the bundle we started from, repeated in each pkmsg until
/// the peer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPreKey {
    pub pre_key_id: Option<u32>,
    pub signed_pre_key_id: u32,
    pub local_registration_id: u32,
}

/// Whether the peer has shown it has the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// We initiated and have not decrypted anything yet: we send pkmsg.
    AwaitingReply(PendingPreKey),
    /// The peer initiated, or answered: we send msg.
    Established,
}

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

/// One session with one peer device.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub(crate) remote_identity: IdentityKey,
    pub(crate) remote_registration_id: u32,
    /// The initiator's base key: a pkmsg names its session by it.
    pub(crate) base_key: PublicKey,
    pub(crate) initiator: Initiator,
    pub(crate) root_key: RootKey,
    pub(crate) sending: SendingChain,
    /// Oldest first, at most [`RECEIVING_CHAINS_LEN_MAX`].
    pub(crate) receiving: VecDeque<ReceivingChain>,
    /// The last index used on our previous sending chain.
    pub(crate) previous_counter: u32,
    pub(crate) handshake: Handshake,
}

impl SessionState {
    /// The initiator's session from a verified bundle. Like libsignal, the
    /// responder's signed pre-key is its first ratchet key: the X3DH chain
    /// becomes a receiving chain for it, and one DH ratchet step with a
    /// fresh key pair starts our sending chain.
    pub(crate) fn initiate(
        our_identity: &KeyPair,
        our_registration_id: u32,
        bundle: &PreKeyBundle,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SessionState, SignalError> {
        bundle.verify()?;
        let base = KeyPair::generate(rng);
        let their_ratchet = bundle.signed_pre_key.key;
        let (root_key, chain) = x3dh::initiator_secrets(
            our_identity,
            &base,
            &bundle.identity,
            &their_ratchet,
            bundle.one_time_pre_key.as_ref().map(|k| &k.key),
        )?;
        let ratchet = RatchetKeyPair::generate(rng);
        let (root_key, sending_chain) = root_key.step(&their_ratchet, &ratchet)?;
        Ok(SessionState {
            remote_identity: bundle.identity,
            remote_registration_id: bundle.registration_id,
            base_key: PublicKey::of(&base),
            initiator: Initiator::Us,
            root_key,
            sending: SendingChain {
                ratchet,
                chain: sending_chain,
            },
            receiving: VecDeque::from([ReceivingChain::new(their_ratchet, chain)]),
            previous_counter: 0,
            handshake: Handshake::AwaitingReply(PendingPreKey {
                pre_key_id: bundle.one_time_pre_key.as_ref().map(|k| k.id),
                signed_pre_key_id: bundle.signed_pre_key.id,
                local_registration_id: our_registration_id,
            }),
        })
    }

    /// The responder's session from a pkmsg. Our signed pre-key is our
    /// first ratchet key, with the X3DH chain as its (never used) sending
    /// chain; the initiator's first message steps the ratchet.
    pub(crate) fn respond(
        our_identity: &KeyPair,
        our_signed_pre_key: &KeyPair,
        our_one_time_pre_key: Option<&KeyPair>,
        message: &PreKeySignalMessage,
    ) -> Result<SessionState, SignalError> {
        let (root_key, chain) = x3dh::responder_secrets(
            our_identity,
            our_signed_pre_key,
            our_one_time_pre_key,
            &message.identity,
            &message.base_key,
        )?;
        Ok(SessionState {
            remote_identity: message.identity,
            remote_registration_id: message.registration_id,
            base_key: message.base_key,
            initiator: Initiator::Them,
            root_key,
            sending: SendingChain {
                ratchet: RatchetKeyPair::from_key_pair(our_signed_pre_key),
                chain,
            },
            receiving: VecDeque::new(),
            previous_counter: 0,
            handshake: Handshake::Established,
        })
    }

    /// The peer's identity key.
    #[must_use]
    pub fn remote_identity(&self) -> &IdentityKey {
        &self.remote_identity
    }

    #[must_use]
    pub fn remote_registration_id(&self) -> u32 {
        self.remote_registration_id
    }

    #[must_use]
    pub fn initiator(&self) -> Initiator {
        self.initiator
    }

    /// The initiator's base key.
    #[must_use]
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    #[must_use]
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// Our current ratchet public key (what our next message carries).
    #[must_use]
    pub fn our_ratchet_key(&self) -> PublicKey {
        *self.sending.ratchet.public()
    }

    /// The counter our next message gets.
    #[must_use]
    pub fn sending_index(&self) -> u32 {
        self.sending.chain.index
    }

    #[must_use]
    pub fn receiving_chains_len(&self) -> usize {
        self.receiving.len()
    }

    /// Skipped-message keys held, over all receiving chains.
    #[must_use]
    pub fn skipped_keys_len(&self) -> usize {
        self.receiving.iter().map(|c| c.skipped.len()).sum()
    }

    /// True when `ratchet_key` is one of the peer's keys we hold a chain for.
    #[must_use]
    pub fn has_receiving_chain(&self, ratchet_key: &PublicKey) -> bool {
        self.receiving.iter().any(|c| c.ratchet_key == *ratchet_key)
    }

    /// Encrypts one message on the sending chain: a msg, or a pkmsg while
    /// the peer has not answered.
    pub(crate) fn encrypt(
        &mut self,
        our_identity: &IdentityKey,
        plaintext: &[u8],
    ) -> Result<(MessageKind, Vec<u8>), SignalError> {
        let chain = &self.sending.chain;
        let counter = chain.index;
        let next = chain
            .next()
            .ok_or(SignalError::ChainExhausted { counter })?;
        let keys = MessageKeys::from_seed(&chain.message_seed());
        let ciphertext = aes_cbc::encrypt(keys.cipher_key(), keys.iv(), plaintext);
        let message = SignalMessage::encode(
            MessageFields {
                ratchet_key: self.sending.ratchet.public(),
                counter,
                previous_counter: self.previous_counter,
                ciphertext: &ciphertext,
            },
            keys.mac_key(),
            our_identity,
            &self.remote_identity,
        );
        self.sending.chain = next;
        Ok(match &self.handshake {
            Handshake::Established => (MessageKind::Msg, message),
            Handshake::AwaitingReply(pending) => (
                MessageKind::PreKeyMsg,
                PreKeySignalMessage::encode(
                    &PreKeyFields {
                        registration_id: pending.local_registration_id,
                        pre_key_id: pending.pre_key_id,
                        signed_pre_key_id: pending.signed_pre_key_id,
                        base_key: &self.base_key,
                    },
                    our_identity,
                    message,
                ),
            ),
        })
    }

    /// Decrypts one msg: steps the DH ratchet for a new ratchet key, takes
    /// the message key (a stored skipped one, or derived on, storing those
    /// skipped), checks the MAC and unpads.
    pub(crate) fn decrypt(
        &mut self,
        message: &SignalMessage,
        our_identity: &IdentityKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, SignalError> {
        let counter = message.counter;
        let seed = self.message_seed(&message.ratchet_key, counter, rng)?;
        let keys = MessageKeys::from_seed(&seed);
        if !message.mac_matches(keys.mac_key(), &self.remote_identity, our_identity) {
            return Err(SignalError::BadMac { counter });
        }
        let plaintext = aes_cbc::decrypt(keys.cipher_key(), keys.iv(), &message.ciphertext).ok_or(
            SignalError::BadCiphertext {
                counter,
                len: message.ciphertext.len(),
            },
        )?;
        self.handshake = Handshake::Established;
        Ok(plaintext)
    }

    fn message_seed(
        &mut self,
        ratchet_key: &PublicKey,
        counter: u32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SecretKey, SignalError> {
        let position = match self
            .receiving
            .iter()
            .position(|c| c.ratchet_key == *ratchet_key)
        {
            Some(position) => position,
            None => {
                self.step_ratchet(ratchet_key, rng)?;
                self.receiving.len() - 1
            }
        };
        let seed = self.receiving[position].take_seed(counter)?;
        self.drop_oldest_skipped();
        Ok(seed)
    }

    /// A new ratchet key from the peer: a receiving chain for it from our
    /// current ratchet key, then a fresh key pair and sending chain.
    fn step_ratchet(
        &mut self,
        their_ratchet: &PublicKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), SignalError> {
        let (root_key, receiving_chain) =
            self.root_key.step(their_ratchet, &self.sending.ratchet)?;
        let ratchet = RatchetKeyPair::generate(rng);
        let (root_key, sending_chain) = root_key.step(their_ratchet, &ratchet)?;
        // libsignal's convention: the last index used, 0 if none.
        self.previous_counter = self.sending.chain.index.saturating_sub(1);
        self.root_key = root_key;
        self.sending = SendingChain {
            ratchet,
            chain: sending_chain,
        };
        self.receiving
            .push_back(ReceivingChain::new(*their_ratchet, receiving_chain));
        while self.receiving.len() > RECEIVING_CHAINS_LEN_MAX {
            self.receiving.pop_front();
        }
        Ok(())
    }

    /// Keeps at most [`SKIPPED_KEYS_LEN_MAX`] skipped keys: the oldest
    /// chain's oldest go first.
    fn drop_oldest_skipped(&mut self) {
        let mut excess = self.skipped_keys_len().saturating_sub(SKIPPED_KEYS_LEN_MAX);
        for chain in &mut self.receiving {
            let dropped = excess.min(chain.skipped.len());
            chain.skipped.drain(..dropped);
            excess -= dropped;
        }
    }
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
    fn take_seed(&mut self, counter: u32) -> Result<SecretKey, SignalError> {
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
