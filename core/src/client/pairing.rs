//! Linking a new device: the QR text, and account-device verification
//! (ADV) at pair-success. The phone signs our identity key with its
//! account key and MACs the result with the ADV secret we shared in the
//! QR (or derived from the pairing code); we check both, countersign, and
//! send back our signature.
//!
//! Both halves live here: the companion's, and the phone's (used by the
//! fake server's mock phone), so the byte layouts stand in one place.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blacksky_proto::Message;
use blacksky_proto::wa::{
    AdvDeviceIdentity, AdvEncryptionType, AdvSignedDeviceIdentity, AdvSignedDeviceIdentityHmac,
};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use thiserror::Error;

use crate::crypto::KeyPair;
use crate::crypto::xeddsa;
use crate::session::Creds;

/// Prefix of the message the phone's account key signs.
pub const ACCOUNT_SIG_PREFIX: [u8; 2] = [6, 0];
/// Prefix of the message our identity key signs.
pub const DEVICE_SIG_PREFIX: [u8; 2] = [6, 1];
/// Account prefix (and HMAC prefix) for hosted accounts.
pub const HOSTED_ACCOUNT_SIG_PREFIX: [u8; 2] = [6, 5];

/// Where QR texts point: the phone's "Linked devices" screen.
pub const QR_URL_PREFIX: &str = "https://wa.me/settings/linked_devices#";

/// The text a QR code carries for one pairing ref.
pub fn qr_text(reference: &str, creds: &Creds, platform_id: u8) -> String {
    format!(
        "{QR_URL_PREFIX}{reference},{},{},{},{platform_id}",
        STANDARD.encode(creds.noise_key.public()),
        STANDARD.encode(creds.identity_key.public()),
        STANDARD.encode(creds.adv_secret),
    )
}

/// A QR text read back (what the phone's camera gets).
#[derive(Clone, PartialEq, Eq)]
pub struct QrData {
    pub reference: String,
    pub noise_public: [u8; 32],
    pub identity_public: [u8; 32],
    pub adv_secret: [u8; 32],
    pub platform_id: Option<u8>,
}

impl std::fmt::Debug for QrData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrData")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// Parses both the current form (URL, five fields) and the older bare
/// `ref,noise,identity,adv` form.
pub fn parse_qr_text(text: &str) -> Option<QrData> {
    let body = text
        .trim()
        .strip_prefix(QR_URL_PREFIX)
        .unwrap_or(text.trim());
    let fields: Vec<&str> = body.split(',').collect();
    let key =
        |i: usize| -> Option<[u8; 32]> { STANDARD.decode(fields.get(i)?).ok()?.try_into().ok() };
    if !(4..=5).contains(&fields.len()) || fields[0].is_empty() {
        return None;
    }
    Some(QrData {
        reference: fields[0].to_owned(),
        noise_public: key(1)?,
        identity_public: key(2)?,
        adv_secret: key(3)?,
        platform_id: match fields.get(4) {
            Some(id) => Some(id.parse().ok()?),
            None => None,
        },
    })
}

/// Why a pair-success was refused. The phone is told, the connection
/// ends, and no credentials are written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PairError {
    #[error("pair-success lacks {0}")]
    Missing(&'static str),
    #[error("pair-success {0} is not a valid protobuf")]
    BadProtobuf(&'static str),
    #[error("pair-success HMAC does not match our ADV secret")]
    HmacMismatch,
    #[error("pair-success account signature does not verify")]
    AccountSignatureInvalid,
    #[error("pair-success device signature does not verify")]
    DeviceSignatureInvalid,
}

/// A pair-success we accept: what to store and what to send back.
#[derive(Debug, Clone)]
pub struct AcceptedPairing {
    /// The signed device identity, with our device signature: the `account`
    /// the creds keep.
    pub account: Vec<u8>,
    /// The same without the account signature key: the reply's content.
    pub reply_identity: Vec<u8>,
    pub key_index: u32,
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn is_hosted(account_type: Option<i32>) -> bool {
    account_type == Some(AdvEncryptionType::Hosted as i32)
}

/// The companion checks the phone's `device-identity` and countersigns.
pub fn accept_pair_success(
    creds: &Creds,
    device_identity: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<AcceptedPairing, PairError> {
    let container = AdvSignedDeviceIdentityHmac::decode(device_identity)
        .map_err(|_| PairError::BadProtobuf("device-identity"))?;
    let details = container
        .details
        .as_deref()
        .ok_or(PairError::Missing("device-identity details"))?;
    let mac = container
        .hmac
        .as_deref()
        .ok_or(PairError::Missing("device-identity hmac"))?;
    let prefix: &[u8] = if is_hosted(container.account_type) {
        &HOSTED_ACCOUNT_SIG_PREFIX
    } else {
        &[]
    };
    let expected = hmac_sha256(&creds.adv_secret, &[prefix, details]);
    if !constant_time_eq(&expected, mac) {
        return Err(PairError::HmacMismatch);
    }
    let mut account = AdvSignedDeviceIdentity::decode(details)
        .map_err(|_| PairError::BadProtobuf("signed device identity"))?;
    let device_details = account
        .details
        .clone()
        .ok_or(PairError::Missing("account details"))?;
    let identity = AdvDeviceIdentity::decode(device_details.as_slice())
        .map_err(|_| PairError::BadProtobuf("device identity details"))?;
    let account_key = account
        .account_signature_key
        .clone()
        .ok_or(PairError::Missing("account signature key"))?;
    let account_sig = account
        .account_signature
        .as_deref()
        .ok_or(PairError::Missing("account signature"))?;
    let account_prefix = if is_hosted(identity.device_type) {
        HOSTED_ACCOUNT_SIG_PREFIX
    } else {
        ACCOUNT_SIG_PREFIX
    };
    let our_identity = creds.identity_key.public();
    xeddsa::verify_parts(
        &account_key,
        &[&account_prefix, &device_details, our_identity],
        account_sig,
    )
    .map_err(|_| PairError::AccountSignatureInvalid)?;
    let device_sig = creds.identity_key.sign(
        &[
            &DEVICE_SIG_PREFIX[..],
            &device_details,
            our_identity,
            &account_key,
        ]
        .concat(),
        rng,
    );
    account.device_signature = Some(device_sig.to_vec());
    let stored = account.encode_to_vec();
    account.account_signature_key = None;
    Ok(AcceptedPairing {
        account: stored,
        reply_identity: account.encode_to_vec(),
        key_index: identity.key_index.unwrap_or(0),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The phone's half: sign a companion's identity for pair-success.
/// `Debug` leaves out the ADV secret.
#[derive(Clone, Copy)]
pub struct DeviceGrant<'a> {
    pub account_key: &'a KeyPair,
    pub companion_identity_public: &'a [u8; 32],
    pub adv_secret: &'a [u8; 32],
    pub raw_id: u32,
    pub key_index: u32,
    pub timestamp_secs: u64,
}

impl std::fmt::Debug for DeviceGrant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceGrant")
            .field("account_key", self.account_key)
            .field("adv_secret", &"<redacted>")
            .field("raw_id", &self.raw_id)
            .field("key_index", &self.key_index)
            .field("timestamp_secs", &self.timestamp_secs)
            .finish_non_exhaustive()
    }
}

impl DeviceGrant<'_> {
    /// The `device-identity` content of a pair-success
    /// (an encoded ADVSignedDeviceIdentityHMAC).
    pub fn sign(&self, rng: &mut impl CryptoRngCore) -> Vec<u8> {
        let details = AdvDeviceIdentity {
            raw_id: Some(self.raw_id),
            timestamp: Some(self.timestamp_secs),
            key_index: Some(self.key_index),
            account_type: Some(AdvEncryptionType::E2ee as i32),
            device_type: Some(AdvEncryptionType::E2ee as i32),
        }
        .encode_to_vec();
        let signature = self.account_key.sign(
            &[
                &ACCOUNT_SIG_PREFIX[..],
                &details,
                self.companion_identity_public,
            ]
            .concat(),
            rng,
        );
        let signed = AdvSignedDeviceIdentity {
            details: Some(details),
            account_signature_key: Some(self.account_key.public().to_vec()),
            account_signature: Some(signature.to_vec()),
            device_signature: None,
        }
        .encode_to_vec();
        AdvSignedDeviceIdentityHmac {
            hmac: Some(hmac_sha256(self.adv_secret, &[&signed]).to_vec()),
            details: Some(signed),
            account_type: Some(AdvEncryptionType::E2ee as i32),
        }
        .encode_to_vec()
    }
}

/// The phone's check of the companion's `pair-device-sign` reply.
pub fn verify_device_signature(
    reply_identity: &[u8],
    account_public: &[u8; 32],
    companion_identity_public: &[u8; 32],
) -> Result<(), PairError> {
    let signed = AdvSignedDeviceIdentity::decode(reply_identity)
        .map_err(|_| PairError::BadProtobuf("pair-device-sign identity"))?;
    let details = signed
        .details
        .as_deref()
        .ok_or(PairError::Missing("pair-device-sign details"))?;
    let signature = signed
        .device_signature
        .as_deref()
        .ok_or(PairError::Missing("device signature"))?;
    xeddsa::verify_parts(
        companion_identity_public,
        &[
            &DEVICE_SIG_PREFIX,
            details,
            companion_identity_public,
            account_public,
        ],
        signature,
    )
    .map_err(|_| PairError::DeviceSignatureInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn grant(creds: &Creds, phone: &KeyPair, rng: &mut ChaCha20Rng) -> Vec<u8> {
        DeviceGrant {
            account_key: phone,
            companion_identity_public: creds.identity_key.public(),
            adv_secret: &creds.adv_secret,
            raw_id: 77,
            key_index: 3,
            timestamp_secs: 1_700_000_000,
        }
        .sign(rng)
    }

    #[test]
    fn qr_text_round_trips() {
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let text = qr_text("2@abc+/=", &creds, 1);
        assert!(text.starts_with(QR_URL_PREFIX));
        let data = parse_qr_text(&text).expect("our own text");
        assert_eq!(data.reference, "2@abc+/=");
        assert_eq!(&data.identity_public, creds.identity_key.public());
        assert_eq!(data.adv_secret, creds.adv_secret);
        assert_eq!(data.platform_id, Some(1));
        let old_form = text
            .trim_start_matches(QR_URL_PREFIX)
            .rsplit_once(',')
            .expect("5 fields")
            .0
            .to_owned();
        assert_eq!(
            parse_qr_text(&old_form).expect("old form").platform_id,
            None
        );
    }

    #[test]
    fn phone_grant_is_accepted_and_countersignature_verifies() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let creds = Creds::generate(&mut rng);
        let phone = KeyPair::generate(&mut rng);
        let accepted = accept_pair_success(&creds, &grant(&creds, &phone, &mut rng), &mut rng)
            .expect("valid grant");
        assert_eq!(accepted.key_index, 3);
        verify_device_signature(
            &accepted.reply_identity,
            phone.public(),
            creds.identity_key.public(),
        )
        .expect("our countersignature");
        let reply =
            AdvSignedDeviceIdentity::decode(accepted.reply_identity.as_slice()).expect("protobuf");
        assert_eq!(
            reply.account_signature_key, None,
            "the reply omits the account key"
        );
    }

    #[test]
    fn tampering_is_refused_by_name() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let creds = Creds::generate(&mut rng);
        let phone = KeyPair::generate(&mut rng);
        let good = grant(&creds, &phone, &mut rng);

        let mut other = creds.clone();
        other.adv_secret[0] ^= 1;
        assert_eq!(
            accept_pair_success(&other, &good, &mut rng).expect_err("hmac"),
            PairError::HmacMismatch
        );

        // Re-MAC a grant whose account signature covers someone else's identity.
        let mut stranger = creds.clone();
        stranger.identity_key = KeyPair::generate(&mut rng);
        let forged = DeviceGrant {
            account_key: &phone,
            companion_identity_public: stranger.identity_key.public(),
            adv_secret: &creds.adv_secret,
            raw_id: 1,
            key_index: 1,
            timestamp_secs: 1,
        }
        .sign(&mut rng);
        assert_eq!(
            accept_pair_success(&creds, &forged, &mut rng).expect_err("signature"),
            PairError::AccountSignatureInvalid
        );
        assert_eq!(
            accept_pair_success(&creds, &[0xFF; 3], &mut rng).expect_err("garbage"),
            PairError::BadProtobuf("device-identity")
        );
    }
}
