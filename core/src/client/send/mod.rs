//! Sending: the outbound messages the shell hands in are sealed one at a
//! time, in order, and each goes out only once its stanza and the session
//! records sealing advanced are committed together; a stanza sealed in an
//! earlier connection goes out again as it is. The server's ack of a
//! message ends it. Order is kept: a message is sealed only after every
//! one before it.
//!
//! The parts: `devices` (who has which devices: the usync query and its
//! cache), `bundles` (pre-key bundles of devices we have no session with),
//! `seal` (the pure sealing of one message), `resend` (a message sealed
//! again for a device that asked with a retry receipt).

pub mod bundles;
pub mod devices;
pub mod group;
mod group_flow;
mod resend;
pub mod seal;
#[cfg(test)]
mod test_peer;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::groups::GroupCache;
use super::{AfterStore, Client, Event, IqPurpose, ms};
use crate::session::{Outbound, Write};
use crate::time::UnixMillis;
use crate::wire::binary::{self, Jid, NodeRef};
use devices::DeviceCache;

/// Ids of messages acked in this connection, kept so that a row handed in
/// again (read from the store before its ack was committed) is skipped.
const ACKED_IDS_LEN_MAX: usize = 1_024;

/// The outbound queue of one connection.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    rows: VecDeque<Queued>,
    step: Step,
    devices: DeviceCache,
    acked: VecDeque<String>,
    recent: resend::RecentSent,
    /// The chat last shown "typing…" (once per run of answers to it).
    typing_in: Option<Jid>,
    /// The groups we are in, as last read or told.
    groups: GroupCache,
}

#[derive(Debug)]
struct Queued {
    row: Outbound,
    /// Sent on this connection (then it waits for the server's ack).
    transmitted: bool,
}

/// Where the first unsealed message is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Step {
    #[default]
    Idle,
    /// A usync query for the devices of these users is out.
    DeviceLists { asked: Vec<Jid> },
    /// A key query for the bundles of these devices is out.
    Bundles { devices: Vec<Jid> },
    /// A metadata query for its group is out.
    GroupInfo,
    /// Its stanza is being committed.
    Sealing,
}

impl Outbox {
    /// An empty outbox with the groups `session` kept.
    pub(super) fn with_groups(session: &crate::session::Session) -> Outbox {
        Outbox {
            groups: GroupCache::from_stored(&session.groups),
            ..Outbox::default()
        }
    }

    /// The groups known before anything is read.
    pub(super) fn groups(&self) -> &GroupCache {
        &self.groups
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The id of `group`'s description as we know it, if any.
    pub(super) fn description_id(&self, group: &Jid) -> Option<String> {
        self.groups
            .any(group)
            .and_then(|info| info.description.as_ref())
            .map(|description| description.id.clone())
    }

    fn knows(&self, id: &str) -> bool {
        self.rows.iter().any(|q| q.row.id == id) || self.acked.iter().any(|a| a == id)
    }
}

impl Client {
    /// Outbound messages from the store, in order; ones already queued or
    /// acked are skipped, and past `outbound_len_max` the rest wait in
    /// the store for a later hand-in.
    pub(super) fn on_outbound(&mut self, now: Instant, wall: UnixMillis, rows: Vec<Outbound>) {
        for row in rows {
            if self.outbox.knows(&row.id) {
                continue;
            }
            if self.outbox.len() >= self.config.outbound_len_max {
                self.limit_reached(super::Limit::Outbound);
                break;
            }
            self.outbox.rows.push_back(Queued {
                row,
                transmitted: false,
            });
        }
        self.pump_outbound(now, wall);
    }

    /// Sends what is sealed and not yet sent, then starts sealing the
    /// next message. Only once online.
    pub(super) fn pump_outbound(&mut self, now: Instant, wall: UnixMillis) {
        if !self.is_online() {
            return;
        }
        let mut sealed = Vec::new();
        let Outbox { rows, recent, .. } = &mut self.outbox;
        for queued in rows.iter_mut() {
            match &queued.row.stanza {
                Some(stanza) if !queued.transmitted => {
                    queued.transmitted = true;
                    // Whoever sealed it (this connection, an earlier one,
                    // another process): a device that cannot read it may
                    // ask this connection for it again.
                    if let Some(to) = Jid::parse(&queued.row.to) {
                        recent.remember(&queued.row.id, &to, &queued.row.message);
                    }
                    sealed.push(stanza.clone());
                }
                Some(_) => {}
                None => break,
            }
        }
        for stanza in sealed {
            self.send_encoded(stanza);
        }
        if self.outbox.step == Step::Idle {
            self.start_sealing(now, wall);
        }
    }

    /// The first unsealed message: its device lists, then the bundles it
    /// lacks, then the seal.
    fn start_sealing(&mut self, now: Instant, wall: UnixMillis) {
        let Some(head) = self.outbox.rows.iter().find(|q| q.row.stanza.is_none()) else {
            return;
        };
        let (id, to) = (head.row.id.clone(), head.row.to.clone());
        let Some(to) = Jid::parse(&to).filter(|jid| jid.device().is_none()) else {
            return self.fail_outbound(&id, wall, "the recipient is not a user JID".into());
        };
        let Some(own) = self.own_user() else {
            return self.fail_outbound(&id, wall, "this device is not linked".into());
        };
        if self.config.send_typing && self.outbox.typing_in.as_ref() != Some(&to) {
            self.send(&super::stanzas::composing(&to));
            self.outbox.typing_in = Some(to.clone());
        }
        if is_group(&to) {
            return self.start_group_sealing(now, wall, &id, &to, own);
        }
        let Some(devices) = self.devices_of(now, wall, &[to, own]) else {
            return;
        };
        let me = self.session.creds.me.as_ref().map(|me| me.jid.clone());
        let without_session: Vec<Jid> = devices
            .iter()
            .filter(|device| Some(*device) != me.as_ref())
            .cloned()
            .collect();
        self.seal_when_sessions(now, wall, devices, without_session);
    }

    /// The devices of `users`, or `None` when a usync query for those not
    /// cached went out (its answer resumes sealing).
    fn devices_of(&mut self, now: Instant, wall: UnixMillis, users: &[Jid]) -> Option<Vec<Jid>> {
        let ttl = self.config.device_list_ttl_ms;
        let unknown: Vec<Jid> = users
            .iter()
            .filter(|user| self.outbox.devices.get(user, wall, ttl).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let iq = self
                .iqs
                .start(IqPurpose::DeviceLists, now, ms(self.config.iq_timeout_ms));
            let sid = self.iqs.next_id();
            self.send(&devices::device_query(&iq, &sid, &unknown));
            self.outbox.step = Step::DeviceLists { asked: unknown };
            return None;
        }
        let devices = users
            .iter()
            .flat_map(|user| {
                let ids = self.outbox.devices.get(user, wall, ttl).unwrap_or_default();
                ids.iter()
                    .filter_map(|&device| device_jid(user, device))
                    .collect::<Vec<_>>()
            })
            .collect();
        Some(devices)
    }

    /// Seals the head message for `devices` once each of `copies` (the
    /// devices that get a 1:1 copy) has a session: asks for the bundles
    /// of those that have none first.
    fn seal_when_sessions(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        devices: Vec<Jid>,
        copies: Vec<Jid>,
    ) {
        let without_session: Vec<Jid> = copies
            .into_iter()
            .filter(|device| {
                seal::session_address(&self.session, device)
                    .is_some_and(|address| !self.session.sessions.contains_key(&address))
            })
            .collect();
        if without_session.is_empty() {
            return self.seal_head(wall, &devices, &BTreeMap::new());
        }
        let iq = self
            .iqs
            .start(IqPurpose::Bundles, now, ms(self.config.iq_timeout_ms));
        self.send(&bundles::bundle_query(&iq, &without_session));
        self.outbox.step = Step::Bundles { devices };
    }

    /// The usync answer: device lists cached, then on with the message.
    pub(super) fn on_device_lists(&mut self, now: Instant, wall: UnixMillis, answer: NodeRef<'_>) {
        let len_max = self.config.device_lists_len_max;
        let mut listed = Vec::new();
        for (user, ids) in devices::parse_device_lists(answer) {
            self.outbox.devices.put(&user, ids, wall, len_max);
            listed.push(user);
        }
        if let Step::DeviceLists { asked } = &self.outbox.step {
            // A user the answer left out has no device to reach: known as
            // such until the list is asked for again, not asked forever.
            for user in asked.clone() {
                if !listed.contains(&user) {
                    self.outbox.devices.put(&user, Vec::new(), wall, len_max);
                }
            }
            self.outbox.step = Step::Idle;
            // A user with no devices to reach: the message fails. (A
            // group goes to the members that have devices.)
            if let Some(head) = self.outbox.rows.iter().find(|q| q.row.stanza.is_none()) {
                let to = Jid::parse(&head.row.to);
                let listed = to.is_some_and(|to| {
                    is_group(&to)
                        || self
                            .outbox
                            .devices
                            .get(&to, wall, self.config.device_list_ttl_ms)
                            .is_some_and(|ids| !ids.is_empty())
                });
                if !listed {
                    let id = head.row.id.clone();
                    return self.fail_outbound(&id, wall, "the recipient has no devices".into());
                }
            }
            self.pump_outbound(now, wall);
        }
    }

    /// The key query's answer: the message is sealed with the bundles
    /// that verified (a device whose bundle did not gets no copy).
    pub(super) fn on_bundles(&mut self, wall: UnixMillis, answer: NodeRef<'_>) {
        let Step::Bundles { devices } = std::mem::take(&mut self.outbox.step) else {
            return;
        };
        let mut found = BTreeMap::new();
        for (device, bundle) in bundles::parse_bundles(answer) {
            match (bundle, seal::session_address(&self.session, &device)) {
                (Ok(bundle), Some(address)) => {
                    found.insert(address, bundle);
                }
                (Err(error), _) => self.event(Event::BundleRefused {
                    device: device.to_string(),
                    reason: error.to_string(),
                }),
                (Ok(_), None) => {}
            }
        }
        self.seal_head(wall, &devices, &found);
    }

    /// A usync or key query the server refused: the message waits for
    /// the next connection rather than going out to part of its devices.
    pub(super) fn on_send_query_refused(&mut self, wall: UnixMillis, code: String) {
        self.outbox.step = Step::Idle;
        if let Some(head) = self.outbox.rows.iter().find(|q| q.row.stanza.is_none()) {
            let id = head.row.id.clone();
            self.fail_outbound(&id, wall, format!("the server refused a query ({code})"));
        }
    }

    fn seal_head(
        &mut self,
        wall: UnixMillis,
        devices: &[Jid],
        found: &BTreeMap<String, crate::signal::PreKeyBundle>,
    ) {
        let Some(head) = self.outbox.rows.iter().find(|q| q.row.stanza.is_none()) else {
            self.outbox.step = Step::Idle;
            return;
        };
        let (id, message) = (head.row.id.clone(), head.row.message.clone());
        let Some(to) = Jid::parse(&head.row.to) else {
            return self.fail_outbound(&id, wall, "the recipient is not a JID".into());
        };
        let sealed = if is_group(&to) {
            let out = group::GroupOutgoing {
                id: &id,
                group: &to,
                message: &message,
                devices,
            };
            group::seal_group(&self.session, &out, found, &mut self.rng)
        } else {
            let out = seal::Outgoing {
                id: &id,
                to: &to,
                message: &message,
                devices,
            };
            seal::seal(&self.session, &out, found, &mut self.rng)
        };
        let sealed = match sealed {
            Ok(sealed) => sealed,
            Err(error) => return self.fail_outbound(&id, wall, error.to_string()),
        };
        let stanza = match binary::encode(&sealed.stanza) {
            Ok(bytes) => bytes,
            Err(error) => return self.fail_outbound(&id, wall, error.to_string()),
        };
        let mut writes = sealed.writes;
        writes.push(Write::OutboundSealed {
            id: id.clone(),
            stanza: stanza.clone(),
        });
        self.outbox.step = Step::Sealing;
        self.store(writes, AfterStore::Transmit { id, stanza });
    }

    /// The sealed stanza is durable: it goes out now.
    pub(super) fn on_sealed(&mut self, now: Instant, wall: UnixMillis, id: &str, stanza: Vec<u8>) {
        self.outbox.step = Step::Idle;
        if let Some(queued) = self.outbox.rows.iter_mut().find(|q| q.row.id == id) {
            queued.row.stanza = Some(stanza);
        }
        self.pump_outbound(now, wall);
    }

    /// `<ack class="message" id>`: the server has the message.
    pub(super) fn on_message_ack(&mut self, now: Instant, wall: UnixMillis, ack: NodeRef<'_>) {
        let Some(id) = ack.attr("id") else { return };
        let Some(at) = self
            .outbox
            .rows
            .iter()
            .position(|q| q.row.id == id && q.transmitted)
        else {
            return;
        };
        self.outbox.rows.remove(at);
        self.outbox.typing_in = None;
        self.remember_acked(id);
        match ack.attr("error") {
            None => self.event(Event::MessageSent { id: id.to_owned() }),
            Some(code) => self.event(Event::SendFailed {
                id: id.to_owned(),
                reason: format!("the server refused it ({code})"),
            }),
        }
        let write = Write::OutboundSent {
            id: id.to_owned(),
            at: wall,
        };
        self.store(vec![write], AfterStore::Nothing);
        self.pump_outbound(now, wall);
    }

    /// A message that cannot be sealed leaves the queue, said once.
    fn fail_outbound(&mut self, id: &str, wall: UnixMillis, reason: String) {
        self.outbox.step = Step::Idle;
        self.outbox.rows.retain(|q| q.row.id != id);
        self.remember_acked(id);
        self.event(Event::SendFailed {
            id: id.to_owned(),
            reason,
        });
        let write = Write::OutboundSent {
            id: id.to_owned(),
            at: wall,
        };
        self.store(vec![write], AfterStore::Nothing);
    }

    fn remember_acked(&mut self, id: &str) {
        if self.outbox.acked.len() >= ACKED_IDS_LEN_MAX {
            self.outbox.acked.pop_front();
        }
        self.outbox.acked.push_back(id.to_owned());
    }

    /// Forgets the cached device list of `user` (a `devices`
    /// notification said it changed).
    pub(super) fn forget_devices(&mut self, user: &Jid) {
        let user = Jid::new(user.user().to_owned(), user.server().to_owned());
        self.outbox.devices.forget(&user);
    }

    /// Our account as a user JID (the phone number, no device).
    fn own_user(&self) -> Option<Jid> {
        let me = self.session.creds.me.as_ref()?;
        Some(Jid::new(
            me.jid.user().to_owned(),
            me.jid.server().to_owned(),
        ))
    }
}

/// A group chat (`…@g.us`).
fn is_group(jid: &Jid) -> bool {
    jid.server() == "g.us"
}

/// Device `device` of `user` (a user JID).
fn device_jid(user: &Jid, device: u16) -> Option<Jid> {
    let domain = if crate::signal::address::is_lid(user) {
        Jid::DOMAIN_LID
    } else {
        Jid::DOMAIN_WHATSAPP
    };
    Some(Jid::ad(
        user.user().to_owned(),
        domain,
        u8::try_from(device).ok()?,
    ))
}
