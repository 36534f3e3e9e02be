//! From `<success>` to online: the login is confirmed in the store, the
//! signed pre-key rotated when due, the server's pre-key count is checked
//! and topped up, passive mode is turned off; and what the answers to
//! those requests mean.

use std::time::Instant;

use super::state::{Stage, State};
use super::{AfterStore, Client, Event, IqPurpose, Limit, Violation, link_code, ms, stanzas};
use crate::crypto::KeyPair;
use crate::session::{
    PreKey, SignedPreKey, SignedPreKeyCheck, SignedPreKeyStatus, Write, pre_key_ids,
};
use crate::time::UnixMillis;
use crate::wire::binary::NodeRef;

impl Client {
    /// `wall` is the wall clock the `<success>` frame came with: the
    /// signed pre-key's age is judged by it.
    pub(super) fn on_success(&mut self, now: Instant, node: NodeRef<'_>, wall: UnixMillis) {
        let Some(me) = self.session.creds.me.clone() else {
            return self.violation(Violation::SuccessUnregistered);
        };
        if let State::Open { stage, .. } = &mut self.state {
            *stage = Stage::LoggedIn;
        }
        self.connect_deadline = None;
        let mut writes = Vec::new();
        if let Some(lid) = node.attr_jid("lid")
            && me.lid.is_none()
        {
            let mut creds = self.session.creds.clone();
            if let Some(me) = &mut creds.me {
                me.lid = Some(lid);
            }
            self.session.creds = creds.clone();
            writes.push(Write::Creds(Box::new(creds)));
        }
        if !self.session.login_confirmed {
            // From now on a 401 means the phone removed the device, not a
            // pairing that never completed.
            self.session.login_confirmed = true;
            writes.push(Write::LoginConfirmed);
        }
        if !writes.is_empty() {
            self.store(writes, AfterStore::Nothing);
        }
        self.event(Event::LoggedIn { jid: me.jid });
        self.check_signed_pre_key(now, wall);
        let count = self
            .iqs
            .start(IqPurpose::PreKeyCount, now, ms(self.config.iq_timeout_ms));
        self.send(&stanzas::pre_key_count(&count));
        let active = self
            .iqs
            .start(IqPurpose::SetActive, now, ms(self.config.iq_timeout_ms));
        self.send(&stanzas::set_active(&active));
    }

    pub(super) fn on_iq_answer(&mut self, now: Instant, purpose: IqPurpose, node: NodeRef<'_>) {
        if node.attr("type") == Some("error") && purpose != IqPurpose::Ping {
            let code = node
                .child("error")
                .and_then(|e| e.attr("code"))
                .unwrap_or("?")
                .to_owned();
            return self.violation(Violation::Refused { purpose, code });
        }
        match purpose {
            // Answered where sending is (`on_iq` routes them there).
            IqPurpose::Ping
            | IqPurpose::DeviceLists
            | IqPurpose::Bundles
            | IqPurpose::GroupInfo
            | IqPurpose::GroupRefresh
            | IqPurpose::Ask { .. }
            | IqPurpose::Participating => {}
            IqPurpose::PreKeyCount => {
                let count = node
                    .child("count")
                    .and_then(|c| c.attr("value"))
                    .and_then(|v| v.parse::<u32>().ok());
                match count {
                    Some(count) => self.maybe_upload_pre_keys(count),
                    None => self.ignore(super::Ignored::PreKeyCountWithoutValue(
                        super::CountSource::Answer,
                    )),
                }
            }
            IqPurpose::PreKeyUpload { up_to, count } => {
                let mut creds = self.session.creds.clone();
                creds.first_unuploaded_pre_key_id = up_to;
                self.store_creds(creds, AfterStore::Nothing);
                self.event(Event::PreKeysUploaded { count });
            }
            IqPurpose::SignedPreKeyRotate { id } => {
                let creds = &self.session.creds;
                if let SignedPreKeyStatus::Unconfirmed { made } = creds.signed_pre_key_status
                    && creds.signed_pre_key.id == id
                {
                    let mut creds = creds.clone();
                    creds.signed_pre_key_status = SignedPreKeyStatus::Confirmed { made };
                    self.store_creds(creds, AfterStore::Nothing);
                }
                self.event(Event::SignedPreKeyRotated { id });
            }
            IqPurpose::SetActive => {
                if let State::Open { stage, .. } = &mut self.state {
                    *stage = Stage::Online;
                }
                self.event(Event::Online);
                let push_name = self
                    .session
                    .creds
                    .me
                    .as_ref()
                    .and_then(|me| me.push_name.clone());
                self.send(&stanzas::presence_available(push_name.as_deref()));
                self.ask_participating(now);
                // Messages that waited for a connection go out now.
                self.pump_outbound(now, self.last_wall);
            }
            IqPurpose::LinkCodeHello => {
                let reference = node
                    .child("link_code_companion_reg")
                    .and_then(|r| r.child("link_code_pairing_ref"));
                let code = match &self.state {
                    State::Open {
                        stage: Stage::Pairing(flow),
                        ..
                    } => flow
                        .link_code
                        .as_ref()
                        .map(|c| link_code::display_code(&c.code)),
                    _ => None,
                };
                match (reference, code) {
                    (Some(_), Some(code)) => self.event(Event::PairingCode { code }),
                    _ => self.violation(Violation::Missing {
                        stanza: "pairing code answer",
                        what: "link_code_pairing_ref",
                    }),
                }
            }
            IqPurpose::LinkCodeFinish => {}
        }
    }

    /// Rotates the signed pre-key when it is due (the new one stored
    /// before it is sent: a crash in between finds it stored and
    /// unconfirmed, and the next login sends it), sends one the server
    /// never confirmed, or forgets the previous one after its grace.
    fn check_signed_pre_key(&mut self, now: Instant, wall: UnixMillis) {
        let check = self.session.creds.signed_pre_key_check(
            wall,
            self.config.signed_pre_key_rotate_ms,
            self.config.signed_pre_key_grace_ms,
        );
        match check {
            SignedPreKeyCheck::Keep => {}
            SignedPreKeyCheck::Resend => {
                let key = self.session.creds.signed_pre_key.clone();
                self.send_signed_pre_key(now, &key);
            }
            SignedPreKeyCheck::Rotate => {
                let creds = self
                    .session
                    .creds
                    .with_rotated_signed_pre_key(wall, &mut self.rng);
                let key = creds.signed_pre_key.clone();
                self.store_creds(creds, AfterStore::SendSignedPreKey { key });
            }
            SignedPreKeyCheck::DropPrevious => {
                let mut creds = self.session.creds.clone();
                creds.previous_signed_pre_key = None;
                self.store_creds(creds, AfterStore::Nothing);
            }
        }
    }

    /// The rotate request for `key`, which the store already holds.
    pub(super) fn send_signed_pre_key(&mut self, now: Instant, key: &SignedPreKey) {
        let id = self.iqs.start(
            IqPurpose::SignedPreKeyRotate { id: key.id },
            now,
            ms(self.config.iq_timeout_ms),
        );
        self.send(&stanzas::signed_pre_key_rotate(&id, key));
    }

    /// Tops the server's one-time pre-keys up when `server_count` is low,
    /// unless an upload is already under way.
    pub(super) fn maybe_upload_pre_keys(&mut self, server_count: u32) {
        let uploading = self
            .after_store
            .values()
            .any(|after| matches!(after, AfterStore::UploadPreKeys { .. }))
            || self
                .iqs
                .awaits(|purpose| matches!(purpose, IqPurpose::PreKeyUpload { .. }));
        if server_count > self.config.pre_keys_low_water || uploading {
            return;
        }
        let wanted = if server_count == 0 {
            self.config.pre_keys_initial
        } else {
            self.config.pre_keys_low_water
        };
        // An uploaded key may sit in a contact's first message, undelivered
        // for days: a key is forgotten only once used, never to make room.
        // At the bound fewer go up (none: contacts start sessions with the
        // signed pre-key alone, which X3DH allows).
        let room = self
            .config
            .pre_keys_stored_max
            .saturating_sub(self.session.pre_keys.len());
        let wanted = u32::try_from(room).map_or(wanted, |room| wanted.min(room));
        if wanted == 0 {
            return self.limit_reached(Limit::PreKeysStored);
        }
        let mut creds = self.session.creds.clone();
        // Provisional ids: the store may move them past ids another
        // process on it claimed (see `session::pre_key_ids`).
        let keys: Vec<PreKey> = (0..wanted)
            .map(|i| PreKey {
                id: pre_key_ids::after(creds.next_pre_key_id, i),
                key_pair: KeyPair::generate(&mut self.rng),
            })
            .collect();
        creds.next_pre_key_id = pre_key_ids::after(creds.next_pre_key_id, wanted);
        self.session.creds = creds.clone();
        // Keys before the creds that count them, in one transaction.
        let writes = vec![
            Write::FreshPreKeys(keys.clone()),
            Write::Creds(Box::new(creds)),
        ];
        self.store(writes, AfterStore::UploadPreKeys { keys });
    }
}
