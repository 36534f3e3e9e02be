//! The credentials of one linked device: what it needs to log in again.
//! Losing them after the phone linked means a new QR; corrupting them
//! silently means a new identity. So they are a plain value, changed only
//! through the client's store ops and encoded as a versioned protobuf.

use blacksky_proto::Message;
use blacksky_proto::store as pb;
use rand_core::CryptoRngCore;
use thiserror::Error;

use crate::crypto::{KeyPair, prefixed_public};
use crate::time::UnixMillis;
use crate::wire::binary::Jid;

/// The medium-term pre-key, signed by the identity key.
#[derive(Debug, Clone)]
pub struct SignedPreKey {
    pub id: u32,
    pub key_pair: KeyPair,
    /// XEdDSA by the identity key over `0x05 ‖ public key`.
    pub signature: [u8; 64],
}

/// Where the current signed pre-key stands: when it went into service
/// (by the wall clock the client was handed then) and whether the server
/// is known to hand it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedPreKeyStatus {
    /// A record from before rotation existed, or creds never linked:
    /// rotated at the next login.
    Unknown,
    /// Rotated in and stored at `made`; the server has not confirmed it
    /// (the rotate request was lost or refused): sent again at login.
    Unconfirmed { made: UnixMillis },
    /// The server has it (registered at linking, or a rotate it answered).
    Confirmed { made: UnixMillis },
}

/// The signed pre-key before the current one: a contact that fetched our
/// bundle before the rotation still builds its pkmsg on it, so it stays
/// until a grace period after `replaced_at`.
#[derive(Debug, Clone)]
pub struct PreviousSignedPreKey {
    pub key: SignedPreKey,
    pub replaced_at: UnixMillis,
}

/// A one-time pre-key, uploaded to the server for others to start a
/// Signal session with us.
#[derive(Debug, Clone)]
pub struct PreKey {
    pub id: u32,
    pub key_pair: KeyPair,
}

/// Who this device is, once linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// The device JID, e.g. `491556123456:7@s.whatsapp.net`.
    pub jid: Jid,
    pub lid: Option<Jid>,
    pub push_name: Option<String>,
}

/// A client version as WhatsApp numbers it: `primary.secondary.tertiary`
/// (ordered part by part, so a newer version compares greater).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppVersion(pub [u32; 3]);

impl AppVersion {
    /// The version built in (WhatsApp Web's, as current clients send it).
    pub const BUILT_IN: AppVersion = AppVersion([2, 3000, 1_035_194_821]);
}

/// Text that is not `primary.secondary.tertiary` in decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is no version of three decimal parts, like 2.3000.1015901307")]
pub struct AppVersionError {
    pub text: String,
}

impl std::str::FromStr for AppVersion {
    type Err = AppVersionError;

    fn from_str(text: &str) -> Result<AppVersion, AppVersionError> {
        let bad = || AppVersionError {
            text: text.to_owned(),
        };
        let mut parts = text.trim().split('.').map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<u32>().ok()
        });
        let version = [parts.next(), parts.next(), parts.next()];
        match (version, parts.next()) {
            ([Some(Some(a)), Some(Some(b)), Some(Some(c))], None) => Ok(AppVersion([a, b, c])),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for AppVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{a}.{b}.{c}")
    }
}

/// Everything a device needs to log in again. `Debug` redacts secrets.
#[derive(Clone)]
pub struct Creds {
    pub noise_key: KeyPair,
    pub identity_key: KeyPair,
    pub signed_pre_key: SignedPreKey,
    pub signed_pre_key_status: SignedPreKeyStatus,
    /// Kept for pkmsgs built on it; dropped after a grace period.
    pub previous_signed_pre_key: Option<PreviousSignedPreKey>,
    /// 14-bit Signal registration id.
    pub registration_id: u16,
    /// Authenticates the phone's pair-success message.
    pub adv_secret: [u8; 32],
    /// Set once the phone has linked this device.
    pub me: Option<Me>,
    /// The ADVSignedDeviceIdentity the phone signed (with our device signature).
    pub account: Option<Vec<u8>>,
    pub platform: Option<String>,
    /// Next pre-key id to generate.
    pub next_pre_key_id: u32,
    /// Pre-keys below this id have been uploaded.
    pub first_unuploaded_pre_key_id: u32,
    /// Edge routing info from the server, sent in the next intro.
    pub routing_info: Option<Vec<u8>>,
    /// A client version learned after a 405, replacing the built-in one.
    pub app_version: Option<AppVersion>,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creds")
            .field("noise_key", &self.noise_key)
            .field("identity_key", &self.identity_key)
            .field("signed_pre_key_id", &self.signed_pre_key.id)
            .field("signed_pre_key_status", &self.signed_pre_key_status)
            .field(
                "previous_signed_pre_key_id",
                &self.previous_signed_pre_key.as_ref().map(|p| p.key.id),
            )
            .field("registration_id", &self.registration_id)
            .field("adv_secret", &"<redacted>")
            .field("me", &self.me)
            .field("next_pre_key_id", &self.next_pre_key_id)
            .field(
                "first_unuploaded_pre_key_id",
                &self.first_unuploaded_pre_key_id,
            )
            .finish_non_exhaustive()
    }
}

/// A stored record that cannot be read back: names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CredsError {
    #[error("stored creds are not a valid record: {0}")]
    Malformed(#[from] prost::DecodeError),
    #[error("stored creds lack {0}")]
    Missing(&'static str),
    #[error("stored creds field {field} has {len} bytes, expected {expected}")]
    BadLength {
        field: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("stored creds field {0} is not a valid JID")]
    BadJid(&'static str),
}

impl Creds {
    /// Fresh credentials for a device that has never linked.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Creds {
        let noise_key = KeyPair::generate(rng);
        let identity_key = KeyPair::generate(rng);
        let signed_pre_key = SignedPreKey::generate(&identity_key, 1, rng);
        let mut id = [0u8; 2];
        rng.fill_bytes(&mut id);
        // 14 bits, never 0 (libsignal's range is 1..=16380).
        let registration_id = (u16::from_be_bytes(id) % 16380) + 1;
        let mut adv_secret = [0u8; 32];
        rng.fill_bytes(&mut adv_secret);
        Creds {
            noise_key,
            identity_key,
            signed_pre_key,
            signed_pre_key_status: SignedPreKeyStatus::Unknown,
            previous_signed_pre_key: None,
            registration_id,
            adv_secret,
            me: None,
            account: None,
            platform: None,
            next_pre_key_id: 1,
            first_unuploaded_pre_key_id: 1,
            routing_info: None,
            app_version: None,
        }
    }

    /// True once the phone has linked this device.
    pub fn is_registered(&self) -> bool {
        self.me.is_some()
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        self.to_record().encode_to_vec()
    }

    /// The protobuf record (what [`Creds::encode`] serializes).
    pub(crate) fn to_record(&self) -> pb::Creds {
        pb::Creds {
            noise_key: Some(key_pair_to_pb(&self.noise_key)),
            identity_key: Some(key_pair_to_pb(&self.identity_key)),
            signed_pre_key: Some(self.signed_pre_key.to_record()),
            signed_pre_key_made_at: match self.signed_pre_key_status {
                SignedPreKeyStatus::Unknown => None,
                SignedPreKeyStatus::Unconfirmed { made }
                | SignedPreKeyStatus::Confirmed { made } => Some(made.as_millis()),
            },
            signed_pre_key_unconfirmed: matches!(
                self.signed_pre_key_status,
                SignedPreKeyStatus::Unconfirmed { .. }
            ),
            previous_signed_pre_key: self.previous_signed_pre_key.as_ref().map(|previous| {
                pb::PreviousSignedPreKey {
                    key: Some(previous.key.to_record()),
                    replaced_at: previous.replaced_at.as_millis(),
                }
            }),
            registration_id: u32::from(self.registration_id),
            adv_secret: self.adv_secret.to_vec(),
            me: self.me.as_ref().map(|me| pb::Me {
                jid: me.jid.to_string(),
                lid: me.lid.as_ref().map(ToString::to_string),
                push_name: me.push_name.clone(),
            }),
            account: self.account.clone(),
            platform: self.platform.clone(),
            next_pre_key_id: self.next_pre_key_id,
            first_unuploaded_pre_key_id: self.first_unuploaded_pre_key_id,
            routing_info: self.routing_info.clone(),
            app_version: self
                .app_version
                .map(
                    |AppVersion([primary, secondary, tertiary])| pb::AppVersion {
                        primary,
                        secondary,
                        tertiary,
                    },
                ),
        }
    }

    /// Reads the stored form back; every missing or malformed field is an
    /// error that names it (never a silent default for a key).
    pub fn decode(bytes: &[u8]) -> Result<Creds, CredsError> {
        Creds::from_record(pb::Creds::decode(bytes)?)
    }

    /// Reads a protobuf record (see [`Creds::decode`]).
    pub(crate) fn from_record(record: pb::Creds) -> Result<Creds, CredsError> {
        let signed = record
            .signed_pre_key
            .ok_or(CredsError::Missing("signed_pre_key"))?;
        let previous_signed_pre_key = match record.previous_signed_pre_key {
            None => None,
            Some(previous) => Some(PreviousSignedPreKey {
                key: SignedPreKey::from_record(
                    previous
                        .key
                        .ok_or(CredsError::Missing("previous_signed_pre_key.key"))?,
                    "previous_signed_pre_key.key_pair",
                    "previous_signed_pre_key.signature",
                )?,
                replaced_at: UnixMillis(previous.replaced_at),
            }),
        };
        let me = match record.me {
            None => None,
            Some(me) => Some(Me {
                jid: Jid::parse(&me.jid).ok_or(CredsError::BadJid("me.jid"))?,
                lid: match me.lid {
                    None => None,
                    Some(lid) => Some(Jid::parse(&lid).ok_or(CredsError::BadJid("me.lid"))?),
                },
                push_name: me.push_name,
            }),
        };
        Ok(Creds {
            noise_key: key_pair_from_pb(record.noise_key, "noise_key")?,
            identity_key: key_pair_from_pb(record.identity_key, "identity_key")?,
            signed_pre_key: SignedPreKey::from_record(
                signed,
                "signed_pre_key.key_pair",
                "signed_pre_key.signature",
            )?,
            signed_pre_key_status: match (
                record.signed_pre_key_made_at,
                record.signed_pre_key_unconfirmed,
            ) {
                (None, _) => SignedPreKeyStatus::Unknown,
                (Some(at), true) => SignedPreKeyStatus::Unconfirmed {
                    made: UnixMillis(at),
                },
                (Some(at), false) => SignedPreKeyStatus::Confirmed {
                    made: UnixMillis(at),
                },
            },
            previous_signed_pre_key,
            registration_id: u16::try_from(record.registration_id).map_err(|_| {
                CredsError::BadLength {
                    field: "registration_id",
                    len: 4,
                    expected: 2,
                }
            })?,
            adv_secret: fixed(&record.adv_secret, "adv_secret")?,
            me,
            account: record.account,
            platform: record.platform,
            next_pre_key_id: record.next_pre_key_id,
            first_unuploaded_pre_key_id: record.first_unuploaded_pre_key_id,
            routing_info: record.routing_info,
            app_version: record
                .app_version
                .map(|v| AppVersion([v.primary, v.secondary, v.tertiary])),
        })
    }
}

impl SignedPreKey {
    /// A new signed pre-key with the given id.
    pub fn generate(identity: &KeyPair, id: u32, rng: &mut impl CryptoRngCore) -> SignedPreKey {
        let key_pair = KeyPair::generate(rng);
        let signature = identity.sign(&prefixed_public(&key_pair), rng);
        SignedPreKey {
            id,
            key_pair,
            signature,
        }
    }

    fn to_record(&self) -> pb::SignedPreKey {
        pb::SignedPreKey {
            id: self.id,
            key_pair: Some(key_pair_to_pb(&self.key_pair)),
            signature: self.signature.to_vec(),
        }
    }

    fn from_record(
        record: pb::SignedPreKey,
        key_pair_field: &'static str,
        signature_field: &'static str,
    ) -> Result<SignedPreKey, CredsError> {
        Ok(SignedPreKey {
            id: record.id,
            key_pair: key_pair_from_pb(record.key_pair, key_pair_field)?,
            signature: fixed(&record.signature, signature_field)?,
        })
    }
}

impl PreKey {
    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        self.to_record().encode_to_vec()
    }

    pub(crate) fn to_record(&self) -> pb::PreKey {
        pb::PreKey {
            id: self.id,
            key_pair: Some(key_pair_to_pb(&self.key_pair)),
        }
    }

    /// Reads the stored form back.
    pub fn decode(bytes: &[u8]) -> Result<PreKey, CredsError> {
        PreKey::from_record(pb::PreKey::decode(bytes)?)
    }

    pub(crate) fn from_record(record: pb::PreKey) -> Result<PreKey, CredsError> {
        Ok(PreKey {
            id: record.id,
            key_pair: key_pair_from_pb(record.key_pair, "pre_key.key_pair")?,
        })
    }
}

fn key_pair_to_pb(key_pair: &KeyPair) -> pb::KeyPair {
    pb::KeyPair {
        private: key_pair.private_bytes().to_vec(),
        public: key_pair.public().to_vec(),
    }
}

fn key_pair_from_pb(
    record: Option<pb::KeyPair>,
    field: &'static str,
) -> Result<KeyPair, CredsError> {
    let record = record.ok_or(CredsError::Missing(field))?;
    let key_pair = KeyPair::from_private_bytes(fixed(&record.private, field)?);
    // A stored public key that does not match its private key is corruption.
    if key_pair.public()[..] != record.public[..] {
        return Err(CredsError::BadLength {
            field,
            len: record.public.len(),
            expected: 32,
        });
    }
    Ok(key_pair)
}

fn fixed<const N: usize>(bytes: &[u8], field: &'static str) -> Result<[u8; N], CredsError> {
    bytes.try_into().map_err(|_| CredsError::BadLength {
        field,
        len: bytes.len(),
        expected: N,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn creds_round_trip_through_their_stored_form() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut creds = Creds::generate(&mut rng);
        creds.me = Some(Me {
            jid: Jid::parse("491556123456:7@s.whatsapp.net").expect("valid jid"),
            lid: Jid::parse("123456789:7@lid"),
            push_name: Some("bot".into()),
        });
        creds.routing_info = Some(vec![1, 2, 3]);
        creds.app_version = Some(AppVersion([2, 3000, 1]));
        let back = Creds::decode(&creds.encode()).expect("round trip");
        assert_eq!(back.encode(), creds.encode());
        assert_eq!(back.noise_key.public(), creds.noise_key.public());
        assert_eq!(back.me, creds.me);
    }

    #[test]
    fn a_record_from_before_rotation_reads_as_made_at_an_unknown_time() {
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(8));
        let mut record = creds.to_record();
        // What an older build wrote: none of the rotation fields.
        record.signed_pre_key_made_at = None;
        record.previous_signed_pre_key = None;
        record.signed_pre_key_unconfirmed = false;
        let old = Creds::decode(&record.encode_to_vec()).expect("old record");
        assert_eq!(old.signed_pre_key_status, SignedPreKeyStatus::Unknown);
        assert!(old.previous_signed_pre_key.is_none());
        assert_eq!(old.signed_pre_key.id, creds.signed_pre_key.id);
    }

    #[test]
    fn app_versions_parse_from_text_and_order_part_by_part() {
        let v: AppVersion = "2.3000.1015901307".parse().expect("version");
        assert_eq!(v, AppVersion([2, 3000, 1_015_901_307]));
        assert_eq!(v.to_string(), "2.3000.1015901307");
        assert_eq!(" 2.3000.1 ".parse(), Ok(AppVersion([2, 3000, 1])));
        for bad in [
            "",
            "2.3000",
            "2.3000.1.4",
            "2.3000.x",
            "2..1",
            "2.3000.-1",
            "2.3000.99999999999",
        ] {
            assert!(bad.parse::<AppVersion>().is_err(), "{bad:?}");
        }
        assert!(AppVersion([2, 3000, 10]) > AppVersion([2, 3000, 9]));
        assert!(AppVersion([2, 3001, 0]) > AppVersion([2, 3000, 9]));
    }

    #[test]
    fn a_rotated_key_and_its_previous_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let creds = Creds::generate(&mut rng);
        let made = UnixMillis(1_750_000_000_000);
        let rotated = creds.with_rotated_signed_pre_key(made, &mut rng);
        let back = Creds::decode(&rotated.encode()).expect("round trip");
        assert_eq!(back.encode(), rotated.encode());
        assert_eq!(
            back.signed_pre_key_status,
            SignedPreKeyStatus::Unconfirmed { made }
        );
        let previous = back
            .previous_signed_pre_key
            .as_ref()
            .expect("previous kept");
        assert_eq!(previous.replaced_at, made);
        assert_eq!(
            previous.key.key_pair.private_bytes(),
            creds.signed_pre_key.key_pair.private_bytes()
        );
        let mut confirmed = back.clone();
        confirmed.signed_pre_key_status = SignedPreKeyStatus::Confirmed { made };
        let confirmed_back = Creds::decode(&confirmed.encode()).expect("round trip");
        assert_eq!(
            confirmed_back.signed_pre_key_status,
            SignedPreKeyStatus::Confirmed { made }
        );
        // A previous key whose key pair is gone is corruption, named.
        let mut record = rotated.to_record();
        if let Some(previous) = &mut record.previous_signed_pre_key {
            previous.key = None;
        }
        assert_eq!(
            Creds::decode(&record.encode_to_vec()).expect_err("no key"),
            CredsError::Missing("previous_signed_pre_key.key")
        );
    }

    #[test]
    fn debug_hides_the_signed_pre_keys_private_halves() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let creds = Creds::generate(&mut rng).with_rotated_signed_pre_key(UnixMillis(5), &mut rng);
        let shown = format!("{creds:?}");
        let previous = creds.previous_signed_pre_key.as_ref().expect("kept");
        for private in [
            creds.signed_pre_key.key_pair.private_bytes(),
            previous.key.key_pair.private_bytes(),
        ] {
            let hex: String = private.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!shown.contains(&hex[..16]), "{shown}");
        }
        assert!(
            shown.contains("previous_signed_pre_key_id: Some(1)"),
            "{shown}"
        );
    }

    #[test]
    fn generated_creds_are_valid_and_seed_determined() {
        let a = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let b = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1));
        assert_eq!(a.encode(), b.encode());
        assert!((1..=16380).contains(&a.registration_id));
        let spk = &a.signed_pre_key;
        assert!(
            crate::crypto::xeddsa::verify(
                a.identity_key.public(),
                &prefixed_public(&spk.key_pair),
                &spk.signature
            )
            .is_ok()
        );
    }

    #[test]
    fn corruption_is_named() {
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(3));
        let mut record = pb::Creds::decode(creds.encode().as_slice()).expect("valid");
        record.adv_secret.truncate(5);
        let err = Creds::decode(&record.encode_to_vec()).expect_err("short secret");
        assert_eq!(
            err,
            CredsError::BadLength {
                field: "adv_secret",
                len: 5,
                expected: 32
            }
        );
        record.noise_key = None;
        assert_eq!(
            Creds::decode(&record.encode_to_vec()).expect_err("missing"),
            CredsError::Missing("noise_key")
        );
        assert!(matches!(
            Creds::decode(&[0xFF, 0xFF]),
            Err(CredsError::Malformed(_))
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(4));
        let shown = format!("{creds:?}");
        let secret_hex: String = creds
            .adv_secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&secret_hex[..16]));
        let private_hex: String = creds
            .noise_key
            .private_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&private_hex[..16]));
    }
}
