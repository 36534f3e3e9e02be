//! The server's certificate chain, sent encrypted as the server hello's
//! payload: an intermediate certificate signed by the root key, and a
//! leaf for the server's static key signed by the intermediate. All
//! signatures are XEdDSA over the encoded `Details` bytes.
//!
//! The client checks what whatsmeow checks (its `verifyServerCert`), and
//! actually verifies the signatures, which Baileys does not: both
//! signatures, intermediate issuer serial = 0 (the root), leaf issuer
//! serial = intermediate serial, leaf key = the static key the server
//! proved in the handshake, and both validity windows. The server side
//! builds such a chain for the fake server and the tests.

use std::fmt;

use blacksky_proto::Message;
use blacksky_proto::wa::CertChain;
use blacksky_proto::wa::cert_chain::NoiseCertificate;
use blacksky_proto::wa::cert_chain::noise_certificate::Details;
use rand_core::CryptoRngCore;

use super::HandshakeError;
use crate::crypto::xeddsa;
use crate::crypto::{Hex, KeyPair};
use crate::time::UnixMillis;

/// WhatsApp's root certificate key (Curve25519, XEdDSA). Tests and the
/// fake server use their own root; the client takes the root as input.
pub const WA_ROOT_PUBLIC_KEY: [u8; 32] = [
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
];

/// The root's serial: what the intermediate must name as its issuer
/// (whatsmeow's `WACertIssuerSerial`, Baileys' `WA_CERT_DETAILS.SERIAL`).
pub const WA_ROOT_ISSUER_SERIAL: u32 = 0;

/// Which certificate of the chain an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertLevel {
    Intermediate,
    Leaf,
}

impl fmt::Display for CertLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertLevel::Intermediate => "intermediate",
            CertLevel::Leaf => "leaf",
        })
    }
}

/// A validity window in Unix seconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before_secs: u64,
    pub not_after_secs: u64,
}

impl Validity {
    /// From `now` (rounded down to the second) for `lifetime_secs`.
    #[must_use]
    pub fn starting_at(now: UnixMillis, lifetime_secs: u64) -> Self {
        let start = now.as_secs();
        Validity {
            not_before_secs: start,
            not_after_secs: start.saturating_add(lifetime_secs),
        }
    }

    fn check(&self, which: CertLevel, now: UnixMillis) -> Result<(), HandshakeError> {
        // In milliseconds, like whatsmeow's Before/After on whole-second
        // bounds: valid from not_before.000 through not_after.000.
        if now.as_millis() < UnixMillis::from_secs(self.not_before_secs).as_millis() {
            return Err(HandshakeError::CertNotYetValid {
                which,
                not_before: self.not_before_secs,
                now,
            });
        }
        if now.as_millis() > UnixMillis::from_secs(self.not_after_secs).as_millis() {
            return Err(HandshakeError::CertExpired {
                which,
                not_after: self.not_after_secs,
                now,
            });
        }
        Ok(())
    }
}

/// One certificate's decoded details, after its signature checked out.
#[derive(Clone, PartialEq, Eq)]
pub struct CertDetails {
    pub serial: u32,
    pub issuer_serial: u32,
    pub key: [u8; 32],
    pub validity: Validity,
}

impl fmt::Debug for CertDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertDetails")
            .field("serial", &self.serial)
            .field("issuer_serial", &self.issuer_serial)
            .field("key", &Hex(&self.key))
            .field("validity", &self.validity)
            .finish()
    }
}

/// A chain that verified: both certificates' details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertChain {
    pub intermediate: CertDetails,
    pub leaf: CertDetails,
}

/// What [`build_cert_chain`] puts in the two certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertChainSpec {
    pub intermediate_serial: u32,
    pub leaf_serial: u32,
    pub intermediate: Validity,
    pub leaf: Validity,
}

impl CertChainSpec {
    /// Serials 1 (intermediate) and 2 (leaf), both valid from `now` for
    /// `lifetime_secs`.
    #[must_use]
    pub fn valid_from(now: UnixMillis, lifetime_secs: u64) -> Self {
        let validity = Validity::starting_at(now, lifetime_secs);
        CertChainSpec {
            intermediate_serial: 1,
            leaf_serial: 2,
            intermediate: validity,
            leaf: validity,
        }
    }
}

/// Encodes `details` and signs those bytes with `issuer` (XEdDSA).
pub fn sign_certificate(
    issuer: &KeyPair,
    details: &Details,
    rng: &mut impl CryptoRngCore,
) -> NoiseCertificate {
    let details = details.encode_to_vec();
    let signature = issuer.sign(&details, rng).to_vec();
    NoiseCertificate {
        details: Some(details),
        signature: Some(signature),
    }
}

/// Server side: a fresh intermediate key (from `rng`) certified by `root`,
/// and a leaf for `server_static_public` certified by the intermediate.
/// Send it as `chain.encode_to_vec()` to [`super::ServerHandshake::new`].
pub fn build_cert_chain(
    root: &KeyPair,
    server_static_public: &[u8; 32],
    spec: &CertChainSpec,
    rng: &mut impl CryptoRngCore,
) -> CertChain {
    let intermediate_key = KeyPair::generate(rng);
    let intermediate = Details {
        serial: Some(spec.intermediate_serial),
        issuer_serial: Some(WA_ROOT_ISSUER_SERIAL),
        key: Some(intermediate_key.public().to_vec()),
        not_before: Some(spec.intermediate.not_before_secs),
        not_after: Some(spec.intermediate.not_after_secs),
    };
    let leaf = Details {
        serial: Some(spec.leaf_serial),
        issuer_serial: Some(spec.intermediate_serial),
        key: Some(server_static_public.to_vec()),
        not_before: Some(spec.leaf.not_before_secs),
        not_after: Some(spec.leaf.not_after_secs),
    };
    CertChain {
        intermediate: Some(sign_certificate(root, &intermediate, rng)),
        leaf: Some(sign_certificate(&intermediate_key, &leaf, rng)),
    }
}

/// Client side: checks the decrypted server-hello payload `chain` against
/// `root_public`, the server's proven static key and the wall clock.
/// Absent numeric fields count as 0, as protobuf getters do (so a missing
/// `not_after` means expired).
pub fn verify_cert_chain(
    chain: &[u8],
    root_public: &[u8; 32],
    server_static: &[u8; 32],
    now: UnixMillis,
) -> Result<VerifiedCertChain, HandshakeError> {
    let chain = CertChain::decode(chain).map_err(|source| HandshakeError::BadProtobuf {
        what: "CertChain",
        source,
    })?;
    let intermediate = chain
        .intermediate
        .ok_or(HandshakeError::MissingField("cert_chain.intermediate"))?;
    let leaf = chain
        .leaf
        .ok_or(HandshakeError::MissingField("cert_chain.leaf"))?;

    let intermediate = open_certificate(
        &intermediate,
        root_public,
        CertLevel::Intermediate,
        (
            "cert_chain.intermediate.details",
            "cert_chain.intermediate.signature",
        ),
    )?;
    if intermediate.issuer_serial != WA_ROOT_ISSUER_SERIAL {
        return Err(HandshakeError::CertIssuerMismatch {
            which: CertLevel::Intermediate,
            expected: WA_ROOT_ISSUER_SERIAL,
            got: intermediate.issuer_serial,
        });
    }
    let leaf = open_certificate(
        &leaf,
        &intermediate.key,
        CertLevel::Leaf,
        ("cert_chain.leaf.details", "cert_chain.leaf.signature"),
    )?;
    if leaf.issuer_serial != intermediate.serial {
        return Err(HandshakeError::CertIssuerMismatch {
            which: CertLevel::Leaf,
            expected: intermediate.serial,
            got: leaf.issuer_serial,
        });
    }
    if leaf.key != *server_static {
        return Err(HandshakeError::CertKeyMismatch);
    }
    intermediate.validity.check(CertLevel::Intermediate, now)?;
    leaf.validity.check(CertLevel::Leaf, now)?;
    Ok(VerifiedCertChain { intermediate, leaf })
}

/// Verifies the signature over the raw details bytes, then decodes them.
fn open_certificate(
    cert: &NoiseCertificate,
    issuer: &[u8; 32],
    which: CertLevel,
    (details_field, signature_field): (&'static str, &'static str),
) -> Result<CertDetails, HandshakeError> {
    let raw = cert
        .details
        .as_deref()
        .ok_or(HandshakeError::MissingField(details_field))?;
    let signature = cert
        .signature
        .as_deref()
        .ok_or(HandshakeError::MissingField(signature_field))?;
    xeddsa::verify(issuer, raw, signature)
        .map_err(|_| HandshakeError::CertSignatureInvalid { which })?;
    let details = Details::decode(raw).map_err(|source| HandshakeError::BadProtobuf {
        what: "NoiseCertificate.Details",
        source,
    })?;
    let key = details.key.as_deref().unwrap_or_default();
    let key: [u8; 32] = key.try_into().map_err(|_| HandshakeError::WrongKeyLength {
        field: match which {
            CertLevel::Intermediate => "cert_chain.intermediate.details.key",
            CertLevel::Leaf => "cert_chain.leaf.details.key",
        },
        len: key.len(),
    })?;
    Ok(CertDetails {
        serial: details.serial.unwrap_or(0),
        issuer_serial: details.issuer_serial.unwrap_or(0),
        key,
        validity: Validity {
            not_before_secs: details.not_before.unwrap_or(0),
            not_after_secs: details.not_after.unwrap_or(0),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const NOW: UnixMillis = UnixMillis(1_700_000_000_500);

    fn setup() -> (ChaCha20Rng, KeyPair, KeyPair) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let root = KeyPair::generate(&mut rng);
        let server = KeyPair::generate(&mut rng);
        (rng, root, server)
    }

    #[test]
    fn root_key_constant_matches_hex() {
        let hex = "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b";
        assert_eq!(format!("{:?}", Hex(&WA_ROOT_PUBLIC_KEY)), hex);
    }

    #[test]
    fn built_chain_verifies() {
        let (mut rng, root, server) = setup();
        let spec = CertChainSpec::valid_from(NOW, 3600);
        let chain = build_cert_chain(&root, server.public(), &spec, &mut rng).encode_to_vec();
        let verified =
            verify_cert_chain(&chain, root.public(), server.public(), NOW).expect("valid");
        assert_eq!(verified.leaf.key, *server.public());
        assert_eq!(verified.leaf.issuer_serial, verified.intermediate.serial);
        assert_eq!(verified.intermediate.issuer_serial, WA_ROOT_ISSUER_SERIAL);
    }

    #[test]
    fn window_edges_are_inclusive_to_the_second() {
        let (mut rng, root, server) = setup();
        let spec = CertChainSpec::valid_from(NOW, 10);
        let chain = build_cert_chain(&root, server.public(), &spec, &mut rng).encode_to_vec();
        let start = UnixMillis::from_secs(NOW.as_secs());
        let end = UnixMillis::from_secs(NOW.as_secs() + 10);
        let verify = |now| verify_cert_chain(&chain, root.public(), server.public(), now);
        assert!(verify(start).is_ok());
        assert!(verify(end).is_ok());
        assert!(matches!(
            verify(UnixMillis(start.as_millis() - 1)),
            Err(HandshakeError::CertNotYetValid {
                which: CertLevel::Intermediate,
                ..
            })
        ));
        assert!(matches!(
            verify(end.saturating_add_millis(1)),
            Err(HandshakeError::CertExpired {
                which: CertLevel::Intermediate,
                ..
            })
        ));
    }

    #[test]
    fn issuer_serials_are_checked() {
        let (mut rng, root, server) = setup();
        let intermediate_key = KeyPair::generate(&mut rng);
        let window = Validity::starting_at(NOW, 60);
        let details = |serial, issuer_serial, key: &[u8; 32]| Details {
            serial: Some(serial),
            issuer_serial: Some(issuer_serial),
            key: Some(key.to_vec()),
            not_before: Some(window.not_before_secs),
            not_after: Some(window.not_after_secs),
        };
        let chain = |inter: Details, leaf: Details, rng: &mut ChaCha20Rng| {
            CertChain {
                intermediate: Some(sign_certificate(&root, &inter, rng)),
                leaf: Some(sign_certificate(&intermediate_key, &leaf, rng)),
            }
            .encode_to_vec()
        };
        let bad_root = chain(
            details(5, 9, intermediate_key.public()),
            details(6, 5, server.public()),
            &mut rng,
        );
        assert_eq!(
            verify_cert_chain(&bad_root, root.public(), server.public(), NOW),
            Err(HandshakeError::CertIssuerMismatch {
                which: CertLevel::Intermediate,
                expected: 0,
                got: 9
            })
        );
        let bad_leaf = chain(
            details(5, 0, intermediate_key.public()),
            details(6, 4, server.public()),
            &mut rng,
        );
        assert_eq!(
            verify_cert_chain(&bad_leaf, root.public(), server.public(), NOW),
            Err(HandshakeError::CertIssuerMismatch {
                which: CertLevel::Leaf,
                expected: 5,
                got: 4
            })
        );
    }

    #[test]
    fn missing_parts_are_named() {
        let (mut rng, root, server) = setup();
        let spec = CertChainSpec::valid_from(NOW, 60);
        let full = build_cert_chain(&root, server.public(), &spec, &mut rng);
        let verify = |chain: &CertChain| {
            verify_cert_chain(&chain.encode_to_vec(), root.public(), server.public(), NOW)
        };

        let mut chain = full.clone();
        chain.leaf = None;
        assert_eq!(
            verify(&chain),
            Err(HandshakeError::MissingField("cert_chain.leaf"))
        );
        let mut chain = full.clone();
        chain.intermediate.as_mut().expect("built").signature = None;
        assert_eq!(
            verify(&chain),
            Err(HandshakeError::MissingField(
                "cert_chain.intermediate.signature"
            ))
        );
        let mut chain = full.clone();
        chain.leaf.as_mut().expect("built").signature = Some(vec![0; 63]);
        assert_eq!(
            verify(&chain),
            Err(HandshakeError::CertSignatureInvalid {
                which: CertLevel::Leaf
            })
        );
        // A short intermediate key, properly signed.
        let mut chain = full;
        let short = Details {
            key: Some(vec![1; 31]),
            ..Details::default()
        };
        chain.intermediate = Some(sign_certificate(&root, &short, &mut rng));
        assert_eq!(
            verify(&chain),
            Err(HandshakeError::WrongKeyLength {
                field: "cert_chain.intermediate.details.key",
                len: 31
            })
        );
        assert!(matches!(
            verify_cert_chain(&[0xff, 0xff], root.public(), server.public(), NOW),
            Err(HandshakeError::BadProtobuf {
                what: "CertChain",
                ..
            })
        ));
    }
}
