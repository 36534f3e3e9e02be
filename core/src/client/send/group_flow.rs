//! Sending to a group, around the pure seal (`group`): the group's
//! members from the metadata cache (read from the server on a miss), the
//! devices among them that lack our sender key, and the sender key made
//! anew when someone leaves. Also the groups read at login and the
//! `w:gp2` notifications that keep the cache current.

use std::time::Instant;

use super::{Step, group};
use crate::client::groups::metadata::{
    self, Addressing, GroupInfo, parse_group, parse_participating,
};
use crate::client::groups::notification::{GroupChange, GroupEvent, parse_notification};
use crate::client::{AfterStore, Client, Event, IqPurpose, ms};
use crate::session::Write;
use crate::time::UnixMillis;
use crate::wire::binary::{Jid, NodeRef};

impl Client {
    /// The head message goes to `group`: its members' devices, then the
    /// sessions the key's distribution needs, then the seal.
    pub(super) fn start_group_sealing(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        id: &str,
        group: &Jid,
        own: Jid,
    ) {
        let ttl = self.config.group_info_ttl_ms;
        let Some(info) = self.outbox.groups.get(group, wall, ttl) else {
            let iq = self
                .iqs
                .start(IqPurpose::GroupInfo, now, ms(self.config.iq_timeout_ms));
            self.send(&metadata::metadata_query(&iq, group));
            self.outbox.step = Step::GroupInfo;
            return;
        };
        let own_lid = self.own_lid();
        let own_in_group = match (info.addressing, own_lid) {
            (Addressing::Lid, Some(lid)) => lid,
            _ => own.clone(),
        };
        let member = info.participant(&own).is_some()
            || self
                .own_lid()
                .is_some_and(|lid| info.participant(&lid).is_some());
        if !member {
            return self.fail_outbound(id, wall, "the bot is not a member of the group".into());
        }
        let mut users: Vec<Jid> = info.member_users().collect();
        if !users.contains(&own_in_group) {
            users.push(own_in_group);
        }
        let Some(devices) = self.devices_of(now, wall, &users) else {
            return;
        };
        let copies = group::devices_without_key(&self.session, group, &devices)
            .into_iter()
            .filter(|device| !self.is_this_device(device))
            .cloned()
            .collect();
        self.seal_when_sessions(now, wall, devices, copies);
    }

    /// The metadata query's answer: cached, then on with the message.
    pub(crate) fn on_group_info(&mut self, now: Instant, wall: UnixMillis, answer: NodeRef<'_>) {
        let read = answer.child("group").map(parse_group);
        if self.outbox.step != Step::GroupInfo {
            if let Some(Ok(info)) = read {
                self.learn_group(info, wall);
            }
            return;
        }
        self.outbox.step = Step::Idle;
        match read {
            Some(Ok(info)) => {
                self.learn_group(info, wall);
                self.pump_outbound(now, wall);
            }
            Some(Err(error)) => self.fail_head(wall, format!("the group's metadata: {error}")),
            None => self.fail_head(wall, "the group's metadata answer has no <group>".into()),
        }
    }

    /// The server would not describe the group (403: we are not in it;
    /// 404: there is no such group): the message fails.
    pub(crate) fn on_group_info_refused(&mut self, now: Instant, wall: UnixMillis, code: &str) {
        if self.outbox.step != Step::GroupInfo {
            return;
        }
        self.outbox.step = Step::Idle;
        let reason = match code {
            "403" => "the bot is not a member of the group (403)".to_owned(),
            "404" => "no such group (404)".to_owned(),
            other => format!("the server refused the group's metadata ({other})"),
        };
        self.fail_head(wall, reason);
        self.pump_outbound(now, wall);
    }

    /// Asks for every group we are in (once online): the cache starts
    /// full, so the first answer in a group needs no query.
    pub(crate) fn ask_participating(&mut self, now: Instant) {
        let iq = self
            .iqs
            .start(IqPurpose::Participating, now, ms(self.config.iq_timeout_ms));
        self.send(&metadata::participating_query(&iq));
    }

    pub(crate) fn on_participating(&mut self, wall: UnixMillis, answer: NodeRef<'_>) {
        let groups = parse_participating(answer);
        let count = groups.len();
        let writes = groups
            .into_iter()
            .flat_map(|info| self.cache_group(info, wall))
            .collect::<Vec<_>>();
        if !writes.is_empty() {
            self.store(writes, AfterStore::Nothing);
        }
        self.event(Event::GroupsRead { count });
    }

    /// A `w:gp2` notification (see [`Client::on_group_event`]); true when
    /// it tells a change the bot hears of (the caller keeps it).
    pub(crate) fn on_group_notification(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        node: NodeRef<'_>,
    ) -> bool {
        // A group made with us in it comes whole.
        if let Some(Ok(info)) = node
            .child("create")
            .and_then(|create| create.child("group"))
            .map(parse_group)
        {
            self.learn_group(info, wall);
        }
        let Some(event) = parse_notification(node) else {
            return false;
        };
        self.on_group_event(now, event);
        true
    }

    /// A change to a group, told by the server or made by our own admin
    /// request: the cache follows it; when a member left or was removed
    /// our sender key is made anew before our next message there (they
    /// hold the old one); when we left, the group is forgotten. The shell
    /// hears of it.
    pub(crate) fn on_group_event(&mut self, now: Instant, event: GroupEvent) {
        let mut writes: Vec<Write> = self.outbox.groups.apply(&event).into_iter().collect();
        let own_users: Vec<String> = self
            .own_user()
            .into_iter()
            .chain(self.own_lid())
            .map(|jid| jid.user().to_owned())
            .collect();
        let departed = event.changes.iter().flat_map(|change| change.departed());
        let (mut we_left, mut others_left) = (false, false);
        for who in departed {
            if own_users.iter().any(|own| own == who.user()) {
                we_left = true;
            } else {
                others_left = true;
            }
        }
        let is_own = |jid: &Jid| own_users.iter().any(|own| own == jid.user());
        let we_joined = event
            .changes
            .iter()
            .any(|change| matches!(change, GroupChange::Added(who) if who.iter().any(is_own)));
        if we_joined && self.outbox.groups.any(&event.group).is_none() {
            // Added to a group we do not know: read it now, so its
            // members and admins are known before its first message.
            let iq = self
                .iqs
                .start(IqPurpose::GroupRefresh, now, ms(self.config.iq_timeout_ms));
            self.send(&metadata::metadata_query(&iq, &event.group));
        }
        if we_left {
            writes.push(self.outbox.groups.forget(&event.group));
            self.event(Event::GroupLeft {
                group: event.group.clone(),
            });
        } else if let Some(info) = self.outbox.groups.any(&event.group) {
            self.event(Event::GroupKnown(Box::new(info.clone())));
        }
        if (we_left || others_left)
            && let Some((group, sender)) = group::own_sender_key_name(&self.session, &event.group)
            && self
                .session
                .sender_keys
                .contains_key(&(group.clone(), sender.clone()))
        {
            writes.push(Write::RemoveSenderKey {
                group: group.clone(),
                sender,
            });
            writes.push(Write::ForgetSenderKeyShared { group });
        }
        if !writes.is_empty() {
            self.store(writes, AfterStore::Nothing);
        }
        self.event(Event::GroupChanged(event));
    }

    /// Caches and keeps `info`.
    fn learn_group(&mut self, info: GroupInfo, wall: UnixMillis) {
        let writes = self.cache_group(info, wall);
        if !writes.is_empty() {
            self.store(writes, AfterStore::Nothing);
        }
    }

    /// Caches `info` and tells the shell; returns the store's writes.
    fn cache_group(&mut self, info: GroupInfo, wall: UnixMillis) -> Vec<Write> {
        self.event(Event::GroupKnown(Box::new(info.clone())));
        self.outbox.groups.put(info, wall)
    }

    /// Fails the first unsealed message with `reason`.
    fn fail_head(&mut self, wall: UnixMillis, reason: String) {
        if let Some(head) = self.outbox.rows.iter().find(|q| q.row.stanza.is_none()) {
            let id = head.row.id.clone();
            self.fail_outbound(&id, wall, reason);
        }
    }

    /// Our account's LID as a user JID, once known.
    fn own_lid(&self) -> Option<Jid> {
        let lid = self.session.creds.me.as_ref()?.lid.as_ref()?;
        Some(Jid::new(lid.user().to_owned(), lid.server().to_owned()))
    }

    /// This very device, by its number or its LID.
    fn is_this_device(&self, device: &Jid) -> bool {
        let Some(me) = self.session.creds.me.as_ref() else {
            return false;
        };
        let own_device = me.jid.device().unwrap_or(0);
        device.device().unwrap_or(0) == own_device
            && (device.user() == me.jid.user()
                || me
                    .lid
                    .as_ref()
                    .is_some_and(|lid| lid.user() == device.user()))
    }
}
