//! The account the fake server plays: its linked devices, and what a new
//! device told the server about itself when it registered.

use std::collections::BTreeMap;

use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::crypto::xeddsa;
use blacksky_core::signal::{
    IdentityKey, KeyError, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic,
};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;
use blacksky_proto::wa::client_payload::DevicePairingRegistrationData;

use super::output::ConnId;
use super::pre_keys::OneTimePreKeys;

/// A signed pre-key as the client registered or uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedPreKey {
    pub(crate) id: u32,
    pub(crate) public: [u8; 32],
    pub(crate) signature: Vec<u8>,
}

impl SignedPreKey {
    /// XEdDSA by `identity` over `0x05 ‖ public`, as libsignal signs it.
    pub(crate) fn verify(&self, identity: &[u8; 32]) -> Result<(), String> {
        let mut message = Vec::with_capacity(33);
        message.push(KEY_TYPE_DJB);
        message.extend_from_slice(&self.public);
        xeddsa::verify(identity, &message, &self.signature)
            .map_err(|err| format!("signed pre-key signature: {err}"))
    }
}

/// What a registering client told us (its ClientPayload's pairing data,
/// plus the noise key it authenticated with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Companion {
    pub(crate) noise_public: [u8; 32],
    pub(crate) identity_public: [u8; 32],
    pub(crate) registration_id: u32,
    pub(crate) signed_pre_key: SignedPreKey,
}

fn exact<const N: usize>(field: &'static str, bytes: Option<&Vec<u8>>) -> Result<[u8; N], String> {
    let bytes = bytes.ok_or_else(|| format!("registration lacks {field}"))?;
    bytes.as_slice().try_into().map_err(|_| {
        format!(
            "registration {field} is {} bytes, expected {N}",
            bytes.len()
        )
    })
}

/// Big-endian unsigned integer of 1 to 4 bytes (Signal ids are 3, the
/// registration id 4).
pub(crate) fn be_uint(field: &'static str, bytes: &[u8]) -> Result<u32, String> {
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(format!("{field} is {} bytes, expected 1 to 4", bytes.len()));
    }
    Ok(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

impl Companion {
    /// Reads and checks the pairing data: key lengths, key type, and the
    /// signed pre-key's signature.
    pub(crate) fn from_registration(
        noise_public: [u8; 32],
        data: &DevicePairingRegistrationData,
    ) -> Result<Companion, String> {
        let identity_public = exact::<32>("e_ident", data.e_ident.as_ref())?;
        let key_type = data.e_keytype.as_deref().unwrap_or_default();
        if key_type != [KEY_TYPE_DJB] {
            return Err(format!(
                "registration e_keytype is {key_type:02x?}, expected [05]"
            ));
        }
        let regid = data
            .e_regid
            .as_deref()
            .ok_or("registration lacks e_regid")?;
        let skey_id = data
            .e_skey_id
            .as_deref()
            .ok_or("registration lacks e_skey_id")?;
        let signed_pre_key = SignedPreKey {
            id: be_uint("e_skey_id", skey_id)?,
            public: exact::<32>("e_skey_val", data.e_skey_val.as_ref())?,
            signature: exact::<64>("e_skey_sig", data.e_skey_sig.as_ref())?.to_vec(),
        };
        signed_pre_key.verify(&identity_public)?;
        Ok(Companion {
            noise_public,
            identity_public,
            registration_id: be_uint("e_regid", regid)?,
            signed_pre_key,
        })
    }
}

/// One linked (or being linked) device of the account.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) id: u8,
    pub(crate) jid: Jid,
    pub(crate) lid: Jid,
    pub(crate) companion: Companion,
    pub(crate) key_index: u32,
    /// The ADVDeviceIdentity bytes the phone signed; the countersigned
    /// reply must carry the same.
    pub(crate) adv_details: Vec<u8>,
    /// Set once the companion's countersignature verified.
    pub(crate) paired: bool,
    pub(crate) paired_at: UnixMillis,
    pub(crate) logins: u32,
    /// One-time pre-keys the server holds for contacts to use.
    pub(crate) one_time_pre_keys: OneTimePreKeys,
    /// Every one-time key ever uploaded, by id (its public key).
    pub(crate) uploaded_pre_keys: BTreeMap<u32, [u8; 32]>,
    /// The authenticated connection of this device, if one is open.
    pub(crate) live: Option<ConnId>,
    /// The live connection left passive mode.
    pub(crate) active: bool,
}

impl Device {
    /// What a contact fetches to start a session with this device: its
    /// keys and, while the server has one, a one-time pre-key, which is
    /// then gone (each is handed out once).
    pub(crate) fn take_bundle(&mut self) -> Result<PreKeyBundle, KeyError> {
        let companion = &self.companion;
        let spk = &companion.signed_pre_key;
        let signed_pre_key = SignedPreKeyPublic::from_raw(spk.id, &spk.public, &spk.signature)?;
        Ok(PreKeyBundle {
            registration_id: companion.registration_id,
            identity: IdentityKey::from(companion.identity_public),
            signed_pre_key,
            one_time_pre_key: self
                .one_time_pre_keys
                .take()
                .map(|(id, key)| OneTimePreKeyPublic {
                    id,
                    key: key.into(),
                }),
        })
    }
}
