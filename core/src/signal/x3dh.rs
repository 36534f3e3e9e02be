//! X3DH as WhatsApp and libsignal v3 run it (no Kyber): the initiator
//! combines its identity and a fresh base key with the responder's identity,
//! signed pre-key and (if the server still had one) one-time pre-key:
//!
//! secret = HKDF(salt 0³², 0xFF³² ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4], "WhisperText")
//!
//! DH1 = DH(initiator identity, signed pre-key), DH2 = DH(base key,
//! responder identity), DH3 = DH(base key, signed pre-key), DH4 =
//! DH(base key, one-time pre-key). The 64 bytes are a root key and a chain
//! key; both sides get the same two from their own halves.

use zeroize::Zeroizing;

use super::error::{KeyError, SignalError};
use super::kdf::{ChainKey, RootKey, split_root_and_chain};
use super::keys::{IdentityKey, PublicKey};
use crate::crypto::{KeyPair, hkdf_sha256, xeddsa};
use crate::session::{Creds, PreKey};

/// What the server hands out for a device (`<user>` in the `encrypt` iq's
/// `<list>`): enough to start a session with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    pub registration_id: u32,
    pub identity: IdentityKey,
    pub signed_pre_key: SignedPreKeyPublic,
    pub one_time_pre_key: Option<OneTimePreKeyPublic>,
}

/// The responder's medium-term key, signed by its identity key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPreKeyPublic {
    pub id: u32,
    pub key: PublicKey,
    /// XEdDSA by the identity key over 0x05 ‖ key.
    pub signature: [u8; xeddsa::SIGNATURE_LEN],
}

impl SignedPreKeyPublic {
    /// From the raw bytes of an `<skey>` node (32-byte key, 64-byte signature).
    pub fn from_raw(id: u32, key: &[u8], signature: &[u8]) -> Result<SignedPreKeyPublic, KeyError> {
        Ok(SignedPreKeyPublic {
            id,
            key: PublicKey::from_raw(key, "skey.value")?,
            signature: signature.try_into().map_err(|_| KeyError::Length {
                field: "skey.signature",
                len: signature.len(),
                expected: xeddsa::SIGNATURE_LEN,
            })?,
        })
    }
}

/// A one-time pre-key: used by one initiator, then deleted by its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimePreKeyPublic {
    pub id: u32,
    pub key: PublicKey,
}

impl PreKeyBundle {
    /// The bundle the server hands out for our own device: what our
    /// pre-key upload told it, with `one_time` (one of our one-time keys)
    /// or none.
    #[must_use]
    pub fn of_own(creds: &Creds, one_time: Option<&PreKey>) -> PreKeyBundle {
        let spk = &creds.signed_pre_key;
        PreKeyBundle {
            registration_id: u32::from(creds.registration_id),
            identity: IdentityKey::of(&creds.identity_key),
            signed_pre_key: SignedPreKeyPublic {
                id: spk.id,
                key: PublicKey::of(&spk.key_pair),
                signature: spk.signature,
            },
            one_time_pre_key: one_time.map(|key| OneTimePreKeyPublic {
                id: key.id,
                key: PublicKey::of(&key.key_pair),
            }),
        }
    }

    /// Checks the signed pre-key's signature (which Baileys' libsignal
    /// skips): a bundle whose key the identity did not sign is refused.
    pub fn verify(&self) -> Result<(), SignalError> {
        let signed = &self.signed_pre_key;
        xeddsa::verify(
            self.identity.raw(),
            &signed.key.prefixed(),
            &signed.signature,
        )
        .map_err(|_| SignalError::BadSignedPreKeySignature { id: signed.id })
    }
}

/// The initiator's side: root key and chain key from its identity and base
/// key and the responder's public keys.
pub fn initiator_secrets(
    our_identity: &KeyPair,
    our_base: &KeyPair,
    their_identity: &IdentityKey,
    their_signed_pre_key: &PublicKey,
    their_one_time_pre_key: Option<&PublicKey>,
) -> Result<(RootKey, ChainKey), SignalError> {
    let dh1 = agree(our_identity, their_signed_pre_key, "their signed pre-key")?;
    let dh2 = agree(our_base, their_identity.public_key(), "their identity key")?;
    let dh3 = agree(our_base, their_signed_pre_key, "their signed pre-key")?;
    let dh4 = their_one_time_pre_key
        .map(|key| agree(our_base, key, "their one-time pre-key"))
        .transpose()?;
    Ok(derive(&dh1, &dh2, &dh3, dh4.as_ref()))
}

/// The responder's side, from its private keys and the pkmsg's public ones.
pub fn responder_secrets(
    our_identity: &KeyPair,
    our_signed_pre_key: &KeyPair,
    our_one_time_pre_key: Option<&KeyPair>,
    their_identity: &IdentityKey,
    their_base: &PublicKey,
) -> Result<(RootKey, ChainKey), SignalError> {
    let dh1 = agree(
        our_signed_pre_key,
        their_identity.public_key(),
        "their identity key",
    )?;
    let dh2 = agree(our_identity, their_base, "their base key")?;
    let dh3 = agree(our_signed_pre_key, their_base, "their base key")?;
    let dh4 = our_one_time_pre_key
        .map(|ours| agree(ours, their_base, "their base key"))
        .transpose()?;
    Ok(derive(&dh1, &dh2, &dh3, dh4.as_ref()))
}

type Shared = Zeroizing<[u8; 32]>;

fn agree(ours: &KeyPair, theirs: &PublicKey, culprit: &'static str) -> Result<Shared, SignalError> {
    ours.diffie_hellman(theirs.raw())
        .ok_or(SignalError::WeakKey { key: culprit })
}

fn derive(dh1: &Shared, dh2: &Shared, dh3: &Shared, dh4: Option<&Shared>) -> (RootKey, ChainKey) {
    let mut input = Zeroizing::new(Vec::with_capacity(32 * 5));
    input.extend_from_slice(&[0xFF; 32]);
    for part in [Some(dh1), Some(dh2), Some(dh3), dh4].into_iter().flatten() {
        input.extend_from_slice(part.as_slice());
    }
    let derived = hkdf_sha256::<64>(&input, Some(&[0u8; 32]), b"WhisperText");
    split_root_and_chain(&derived)
}
