//! The mock phone: links new devices by QR scan or by typed code, signs
//! them into the account (ADV), and checks their countersignature.
//!
//! QR: the server sent `<pair-device>` refs; `scan_qr` reads a QR text as
//! the phone's camera would and sends `<pair-success>`.
//! Code: the companion's `companion_hello` iq is answered with a ref;
//! `enter_code` is the user typing the code on the phone (a
//! `primary_hello` notification goes out); the companion's
//! `companion_finish` iq yields the ADV secret, then pair-success as above.
//! Either way the companion answers `<pair-device-sign>`; if it verifies,
//! the device is linked and the server asks for a restart (515).

use std::collections::BTreeMap;

use blacksky_core::client::link_code::{self, PrimaryCode};
use blacksky_core::client::pairing::{self, DeviceGrant};
use blacksky_core::crypto::KeyPair;
use blacksky_core::wire::binary::{Jid, Node};
use blacksky_proto::Message;
use blacksky_proto::wa::{AdvSignedDeviceIdentity, AdvSignedDeviceIdentityHmac};
use rand_core::RngCore;

use super::account::{Companion, Device};
use super::conn::Role;
use super::output::{ConnId, ControlError, ServerEvent, Tamper};
use super::pre_keys::OneTimePreKeys;
use super::{FakeServer, stanzas};

/// A registering connection's pairing progress.
#[derive(Debug)]
pub(crate) struct Pairing {
    pub(crate) companion: Companion,
    pub(crate) refs: Vec<String>,
    /// The `<pair-device>` iq's id.
    pub(crate) pair_device_id: String,
    pub(crate) pair_device_answered: bool,
    pub(crate) code: CodeStage,
    /// pair-success sent: its iq id and the device record it created.
    pub(crate) grant: Option<Grant>,
}

#[derive(Debug)]
pub(crate) enum CodeStage {
    None,
    /// `companion_hello` answered with `reference`.
    Requested {
        wrapped: Vec<u8>,
        reference: String,
    },
    /// The code was typed; `primary_hello` sent.
    PrimarySent {
        primary: Box<PrimaryCode>,
        reference: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) iq_id: String,
    pub(crate) device: u8,
}

impl CodeStage {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            CodeStage::None => "none",
            CodeStage::Requested { .. } => "code_requested",
            CodeStage::PrimarySent { .. } => "code_entered",
        }
    }
}

impl FakeServer {
    /// The phone scans a QR text. Fails (and changes nothing) when the
    /// text is not a QR, no open connection was issued its ref, or its
    /// keys are not those the connection registered with.
    pub fn scan_qr(&mut self, text: &str) -> Result<(), ControlError> {
        let qr = pairing::parse_qr_text(text).ok_or(ControlError::BadQr)?;
        let conn = self
            .conns
            .iter()
            .find(|(_, c)| c.pairing().is_some_and(|p| p.refs.contains(&qr.reference)))
            .map(|(id, _)| *id)
            .ok_or_else(|| ControlError::UnknownRef {
                reference: qr.reference.clone(),
            })?;
        let c = &self.conns[&conn];
        let Some(p) = c.pairing() else {
            return Err(ControlError::UnknownConn { conn });
        };
        if c.client_static != Some(qr.noise_public) {
            return Err(ControlError::NoiseKeyMismatch { conn });
        }
        if p.companion.identity_public != qr.identity_public {
            return Err(ControlError::IdentityKeyMismatch { conn });
        }
        if p.grant.is_some() {
            return Err(ControlError::AlreadyGranted { conn });
        }
        self.grant(conn, &qr.adv_secret)
    }

    /// The user types `code` (dash optional) on the phone, for the most
    /// recent connection that asked to pair by code. A wrong code is not
    /// an error here: it shows when the companion's key bundle arrives
    /// (as a `ClientError` event and `last_client_error`), as on a phone.
    pub fn enter_code(&mut self, code: &str) -> Result<(), ControlError> {
        let normalized = link_code::normalize_code(code);
        if normalized.len() != 8 {
            return Err(ControlError::BadCode {
                code: code.to_owned(),
            });
        }
        let conn = self
            .conns
            .iter()
            .rev()
            .find(|(_, c)| {
                c.pairing()
                    .is_some_and(|p| matches!(p.code, CodeStage::Requested { .. }))
            })
            .map(|(id, _)| *id)
            .ok_or(ControlError::NoCodeRequest)?;
        let Some(CodeStage::Requested { wrapped, reference }) = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.pairing_mut())
            .map(|p| std::mem::replace(&mut p.code, CodeStage::None))
        else {
            return Err(ControlError::NoCodeRequest);
        };
        let (primary, wrapped_primary) =
            match PrimaryCode::start(&normalized, &wrapped, &mut self.rng) {
                Ok(started) => started,
                // The wrapped key's length was checked at companion_hello.
                Err(_) => {
                    return Err(ControlError::BadCode {
                        code: code.to_owned(),
                    });
                }
            };
        let id = self.next_stanza_id();
        let notification = stanzas::link_code_primary_hello(
            &id,
            self.wall,
            &reference,
            wrapped_primary.to_vec(),
            self.account_key.public().to_vec(),
        );
        if let Some(p) = self.conns.get_mut(&conn).and_then(|c| c.pairing_mut()) {
            p.code = CodeStage::PrimarySent {
                primary: Box::new(primary),
                reference,
            };
        }
        self.send(conn, &notification);
        Ok(())
    }

    /// `<iq xmlns=md type=set><link_code_companion_reg stage=…>` from a client.
    pub(crate) fn on_link_code_iq(&mut self, conn: ConnId, id: &str, reg: &Node) {
        match reg.attr("stage") {
            Some("companion_hello") => self.on_companion_hello(conn, id, reg),
            Some("companion_finish") => self.on_companion_finish(conn, id, reg),
            other => {
                let what = format!("link_code_companion_reg with stage {other:?}");
                self.refuse_iq(conn, id, 400, "bad-request", what);
            }
        }
    }

    fn on_companion_hello(&mut self, conn: ConnId, id: &str, reg: &Node) {
        let child = |tag: &str| reg.child(tag).and_then(Node::bytes);
        let phone = reg.attr_jid("jid").map(|j| j.user().to_owned());
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let problem = if c.pairing().is_none() {
            Some("code pairing asked by a connection that is not registering".to_owned())
        } else if phone.as_deref() != Some(self.config.phone.as_str()) {
            Some(format!(
                "code pairing for {phone:?}, but the account is {}",
                self.config.phone
            ))
        } else if child("companion_server_auth_key_pub") != c.client_static.as_ref().map(|k| &k[..])
        {
            Some("companion_server_auth_key_pub is not the connection's noise key".to_owned())
        } else {
            match child("link_code_pairing_wrapped_companion_ephemeral_pub") {
                Some(w) if w.len() == link_code::WRAPPED_KEY_LEN => None,
                Some(w) => Some(format!(
                    "wrapped companion ephemeral is {} bytes, expected {}",
                    w.len(),
                    link_code::WRAPPED_KEY_LEN
                )),
                None => Some("companion_hello lacks the wrapped ephemeral".to_owned()),
            }
        };
        if let Some(what) = problem {
            return self.refuse_iq(conn, id, 400, "bad-request", what);
        }
        let wrapped = child("link_code_pairing_wrapped_companion_ephemeral_pub")
            .unwrap_or_default()
            .to_vec();
        let reference = self.new_ref();
        if let Some(p) = self.conns.get_mut(&conn).and_then(|c| c.pairing_mut()) {
            p.code = CodeStage::Requested {
                wrapped,
                reference: reference.clone(),
            };
        }
        self.send(conn, &stanzas::link_code_ref(id, &reference));
        self.event(ServerEvent::CodeRequested { conn });
    }

    fn on_companion_finish(&mut self, conn: ConnId, id: &str, reg: &Node) {
        let child = |tag: &str| reg.child(tag).and_then(Node::bytes);
        let bundle = child("link_code_pairing_wrapped_key_bundle").unwrap_or_default();
        let identity = child("companion_identity_public").unwrap_or_default();
        let reference = child("link_code_pairing_ref").unwrap_or_default();
        let Some(p) = self.conns.get_mut(&conn).and_then(|c| c.pairing_mut()) else {
            let what = "companion_finish from a connection that is not registering".to_owned();
            return self.refuse_iq(conn, id, 400, "bad-request", what);
        };
        let (primary, expected_ref) = match std::mem::replace(&mut p.code, CodeStage::None) {
            CodeStage::PrimarySent { primary, reference } => (primary, reference),
            other => {
                p.code = other;
                let what = "companion_finish before the code was typed".to_owned();
                return self.refuse_iq(conn, id, 400, "bad-request", what);
            }
        };
        let result = if reference != expected_ref.as_bytes() {
            Err("companion_finish names another pairing ref".to_owned())
        } else if identity != p.companion.identity_public {
            Err("companion_identity_public is not the registered identity".to_owned())
        } else {
            primary
                .finish(&self.account_key, identity, bundle)
                .map_err(|err| format!("code pairing: {err}"))
        };
        match result {
            Ok(adv_secret) => {
                self.send(conn, &stanzas::iq_result(id));
                if let Err(err) = self.grant(conn, &adv_secret) {
                    self.client_error(conn, format!("code pairing: {err}"));
                }
            }
            Err(what) => self.refuse_iq(conn, id, 401, "not-authorized", what),
        }
    }

    /// Creates the device record and sends pair-success signed for it.
    fn grant(&mut self, conn: ConnId, adv_secret: &[u8; 32]) -> Result<(), ControlError> {
        let Some(companion) = self
            .conns
            .get(&conn)
            .and_then(|c| c.pairing())
            .map(|p| p.companion.clone())
        else {
            return Err(ControlError::UnknownConn { conn });
        };
        let device_id =
            u8::try_from(self.next_device_id).map_err(|_| ControlError::NoFreeDeviceId)?;
        self.next_device_id += 1;
        let key_index = self.next_key_index;
        self.next_key_index += 1;
        let tamper = self.tamper_pair_success.take();
        // A forged grant: the phone's key signed someone else's identity.
        let signed_identity = match tamper {
            Some(Tamper::AccountSignature) => *KeyPair::generate(&mut self.rng).public(),
            _ => companion.identity_public,
        };
        let mut identity = DeviceGrant {
            account_key: &self.account_key,
            companion_identity_public: &signed_identity,
            adv_secret,
            raw_id: self.rng.next_u32(),
            key_index,
            timestamp_secs: self.wall.as_secs(),
        }
        .sign(&mut self.rng);
        if tamper == Some(Tamper::Hmac) {
            identity = flip_hmac_bit(&identity);
        }
        let adv_details = AdvSignedDeviceIdentityHmac::decode(identity.as_slice())
            .ok()
            .and_then(|h| h.details)
            .and_then(|d| AdvSignedDeviceIdentity::decode(d.as_slice()).ok())
            .and_then(|s| s.details)
            .unwrap_or_default();
        let jid = Jid::ad(self.config.phone.clone(), Jid::DOMAIN_WHATSAPP, device_id);
        let lid = Jid::ad(self.config.lid_user.clone(), Jid::DOMAIN_LID, device_id);
        self.devices.insert(
            device_id,
            Device {
                id: device_id,
                jid: jid.clone(),
                lid: lid.clone(),
                companion,
                key_index,
                adv_details,
                paired: false,
                paired_at: self.wall,
                logins: 0,
                one_time_pre_keys: OneTimePreKeys::default(),
                uploaded_pre_keys: BTreeMap::new(),
                live: None,
                active: false,
            },
        );
        let iq_id = self.next_stanza_id();
        if let Some(p) = self.conns.get_mut(&conn).and_then(|c| c.pairing_mut()) {
            p.grant = Some(Grant {
                iq_id: iq_id.clone(),
                device: device_id,
            });
        }
        let platform = self.config.platform.clone();
        let node = stanzas::pair_success(
            &iq_id,
            self.wall,
            identity,
            key_index,
            jid.clone(),
            lid,
            &platform,
        );
        self.send(conn, &node);
        self.event(ServerEvent::PairSuccessSent {
            conn,
            jid: jid.to_string(),
        });
        Ok(())
    }

    /// A registering client answered one of our iqs (pair-device or
    /// pair-success).
    pub(crate) fn on_pairing_answer(&mut self, conn: ConnId, id: &str, node: &Node) {
        let Some(p) = self.conns.get_mut(&conn).and_then(|c| c.pairing_mut()) else {
            return;
        };
        if id == p.pair_device_id {
            p.pair_device_answered = true;
            return;
        }
        let Some(grant) = p.grant.clone().filter(|g| g.iq_id == id) else {
            return;
        };
        if node.attr("type") == Some("error") {
            let error = node.child("error");
            let what = format!(
                "the companion refused pair-success: {} {}",
                error.and_then(|e| e.attr("code")).unwrap_or("?"),
                error.and_then(|e| e.attr("text")).unwrap_or("")
            );
            return self.client_error(conn, what);
        }
        match self.check_countersignature(grant.device, node) {
            Ok(()) => {
                let jid = match self.devices.get_mut(&grant.device) {
                    Some(device) => {
                        device.paired = true;
                        device.paired_at = self.wall;
                        device.jid.to_string()
                    }
                    None => return,
                };
                self.event(ServerEvent::Paired { conn, jid });
                self.send(conn, &stanzas::stream_error(515));
                self.close(conn);
            }
            Err(what) => self.client_error(conn, what),
        }
    }

    fn check_countersignature(&self, device: u8, node: &Node) -> Result<(), String> {
        let device = self
            .devices
            .get(&device)
            .ok_or("the granted device record is gone")?;
        let identity = node
            .child("pair-device-sign")
            .and_then(|s| s.child("device-identity"))
            .ok_or("pair-device-sign reply lacks device-identity")?;
        let bytes = identity
            .bytes()
            .ok_or("pair-device-sign device-identity has no bytes")?;
        if identity.attr("key-index") != Some(device.key_index.to_string().as_str()) {
            return Err(format!(
                "pair-device-sign key-index is {:?}, expected {}",
                identity.attr("key-index"),
                device.key_index
            ));
        }
        pairing::verify_device_signature(
            bytes,
            self.account_key.public(),
            &device.companion.identity_public,
        )
        .map_err(|err| format!("pair-device-sign: {err}"))?;
        let signed = AdvSignedDeviceIdentity::decode(bytes)
            .map_err(|err| format!("pair-device-sign identity: {err}"))?;
        if signed.details.as_deref() != Some(device.adv_details.as_slice()) {
            return Err("pair-device-sign details are not the ones the phone signed".into());
        }
        Ok(())
    }

    /// Forgets a device record whose pairing never completed.
    pub(crate) fn abandon_pairing(&mut self, role: &Role) {
        if let Role::Registering(p) = role
            && let Some(grant) = &p.grant
            && self.devices.get(&grant.device).is_some_and(|d| !d.paired)
        {
            self.devices.remove(&grant.device);
        }
    }
}

/// The same `device-identity` with one bit of its HMAC flipped.
fn flip_hmac_bit(identity: &[u8]) -> Vec<u8> {
    let Ok(mut container) = AdvSignedDeviceIdentityHmac::decode(identity) else {
        return identity.to_vec();
    };
    if let Some(byte) = container.hmac.as_mut().and_then(|h| h.first_mut()) {
        *byte ^= 1;
    }
    container.encode_to_vec()
}
