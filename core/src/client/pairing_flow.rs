//! Linking a new device: the QR refs the server hands out (shown in turn,
//! each for its time), pairing by code for hosts with no screen, and the
//! phone's pair-success, which is stored before it is confirmed.

use std::time::Instant;

use super::state::{PairingFlow, QrRotation, Stage, State};
use super::{
    AfterStore, Client, DisconnectReason, Event, IqPurpose, PairingMethod, Violation, link_code,
    ms, pairing, stanzas,
};
use crate::session::{Me, SignedPreKeyStatus};
use crate::time::UnixMillis;
use crate::wire::binary::NodeRef;
use link_code::CompanionCode;

impl Client {
    pub(super) fn on_pair_device(&mut self, now: Instant, refs: Vec<String>) {
        if self.session.creds.is_registered() || refs.is_empty() {
            return;
        }
        let State::Open { stage, .. } = &mut self.state else {
            return;
        };
        let qr = QrRotation {
            refs,
            index: 0,
            next_at: now + ms(self.config.qr_first_ttl_ms),
        };
        // New refs restart the rotation; a code already asked for stays.
        let code_started = match std::mem::replace(stage, Stage::Authenticating) {
            Stage::Pairing(flow) => {
                *stage = Stage::Pairing(PairingFlow {
                    qr,
                    link_code: flow.link_code,
                });
                true
            }
            _ => {
                *stage = Stage::Pairing(PairingFlow {
                    qr,
                    link_code: None,
                });
                false
            }
        };
        // The phone has until the refs run out; no connect deadline meanwhile.
        self.connect_deadline = None;
        self.emit_qr(0);
        if let PairingMethod::Code { phone } = self.config.pairing.clone()
            && !code_started
        {
            let (code, wrapped) = CompanionCode::start(&mut self.rng);
            if let Some(flow) = self.pairing_flow() {
                flow.link_code = Some(code);
            }
            let id = self
                .iqs
                .start(IqPurpose::LinkCodeHello, now, ms(self.config.iq_timeout_ms));
            let hello = stanzas::link_code_hello(
                &id,
                &phone,
                &wrapped,
                self.session.creds.noise_key.public(),
                self.config.platform_id,
            );
            self.send(&hello);
        }
    }

    fn pairing_flow(&mut self) -> Option<&mut PairingFlow> {
        match &mut self.state {
            State::Open {
                stage: Stage::Pairing(flow),
                ..
            } => Some(flow),
            _ => None,
        }
    }

    /// Shows the next QR ref when the current one's time is up.
    pub(super) fn rotate_qr(&mut self, now: Instant) {
        let next_ttl = ms(self.config.qr_next_ttl_ms);
        let Some(flow) = self.pairing_flow() else {
            return;
        };
        let qr = &mut flow.qr;
        if now < qr.next_at {
            return;
        }
        qr.index += 1;
        if qr.index >= qr.refs.len() {
            // WhatsApp Web's behaviour: the refs ran out, start over.
            return self.close(DisconnectReason::TimedOut);
        }
        // From the previous deadline, so a late wake-up does not shift the rotation.
        qr.next_at += next_ttl;
        let index = qr.index;
        self.emit_qr(index);
    }

    fn emit_qr(&mut self, index: usize) {
        let valid_ms = if index == 0 {
            self.config.qr_first_ttl_ms
        } else {
            self.config.qr_next_ttl_ms
        };
        let platform_id = self.config.platform_id;
        let Some(reference) = self
            .pairing_flow()
            .and_then(|flow| flow.qr.refs.get(index).cloned())
        else {
            return;
        };
        let text = pairing::qr_text(&reference, &self.session.creds, platform_id);
        self.event(Event::Qr {
            text,
            index,
            valid_ms,
        });
    }

    /// The code we showed was typed on the phone: finish the key exchange.
    pub(super) fn on_link_code_notification(&mut self, now: Instant, node: NodeRef<'_>) {
        let Some(reg) = node.child("link_code_companion_reg") else {
            return;
        };
        let PairingMethod::Code { phone } = self.config.pairing.clone() else {
            return;
        };
        let child_bytes = |tag: &str| reg.child(tag).and_then(|c| c.bytes()).map(<[u8]>::to_vec);
        let (Some(reference), Some(wrapped), Some(primary_identity)) = (
            child_bytes("link_code_pairing_ref"),
            child_bytes("link_code_pairing_wrapped_primary_ephemeral_pub"),
            child_bytes("primary_identity_pub"),
        ) else {
            return self.ignore(super::Ignored::LinkCodeNotificationIncomplete);
        };
        let identity_key = self.session.creds.identity_key.clone();
        let Some(code) = self.pairing_flow().and_then(|flow| flow.link_code.take()) else {
            return;
        };
        let finished = code.finish(&identity_key, &wrapped, &primary_identity, &mut self.rng);
        if let Some(flow) = self.pairing_flow() {
            flow.link_code = Some(code);
        }
        match finished {
            Ok((adv_secret, bundle)) => {
                // Kept in memory only: the creds are stored at pair-success,
                // which this secret authenticates.
                self.session.creds.adv_secret = adv_secret;
                let id = self.iqs.start(
                    IqPurpose::LinkCodeFinish,
                    now,
                    ms(self.config.iq_timeout_ms),
                );
                let identity = *self.session.creds.identity_key.public();
                self.send(&stanzas::link_code_finish(
                    &id, &phone, bundle, &identity, reference,
                ));
            }
            Err(err) => self.violation(Violation::LinkCode(err)),
        }
    }

    pub(super) fn on_pair_success(&mut self, id: &str, success: NodeRef<'_>, wall: UnixMillis) {
        if self.session.creds.is_registered() {
            return;
        }
        let Some(identity) = success.child("device-identity").and_then(|d| d.bytes()) else {
            self.send(&stanzas::pair_error(id, 500, "internal-error"));
            return self.violation(Violation::Missing {
                stanza: "pair-success",
                what: "device-identity",
            });
        };
        let device = success.child("device");
        let Some(jid) = device.and_then(|d| d.attr_jid("jid")) else {
            self.send(&stanzas::pair_error(id, 500, "internal-error"));
            return self.violation(Violation::Missing {
                stanza: "pair-success",
                what: "device jid",
            });
        };
        let accepted =
            match pairing::accept_pair_success(&self.session.creds, identity, &mut self.rng) {
                Ok(accepted) => accepted,
                Err(err) => {
                    self.send(&stanzas::pair_error(id, 401, "not-authorized"));
                    return self.violation(Violation::Pairing(err));
                }
            };
        let platform = success
            .child("platform")
            .and_then(|p| p.attr("name"))
            .map(str::to_owned);
        let mut creds = self.session.creds.clone();
        creds.me = Some(Me {
            jid: jid.clone(),
            lid: device.and_then(|d| d.attr_jid("lid")),
            push_name: success
                .child("biz")
                .and_then(|b| b.attr("name"))
                .map(str::to_owned),
        });
        creds.account = Some(accepted.account);
        // The server has had this signed pre-key since the registration;
        // its rotation schedule starts now.
        creds.signed_pre_key_status = SignedPreKeyStatus::Confirmed { made: wall };
        creds.platform = platform.clone();
        if let State::Open { stage, .. } = &mut self.state {
            *stage = Stage::Paired;
        }
        let reply = stanzas::pair_device_sign(id, accepted.key_index, accepted.reply_identity);
        self.store_creds(
            creds,
            AfterStore::PairDeviceSign {
                reply,
                jid,
                platform,
            },
        );
    }
}
