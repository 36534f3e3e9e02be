//! Stanzas in: each decoded node goes to its handler. A `<message>` is
//! stored as the bytes it came in (no re-encode) and acked only once the
//! store says it is durable; a redelivered id is acked without a second
//! write.

use std::time::Instant;

use super::decrypt::{self, Failure};
use super::seen::Seen;
use super::{
    AfterStore, Answer, Client, CountSource, DisconnectReason, Event, Ignored, InputError,
    IqPurpose, Limit, OpId, Output, ms, stanzas,
};
use crate::crypto::KeyPair;
use crate::message::content::{Content, Kind, Protocol};
use crate::session::{
    Committed, InboxContent, InboxEntry, PreKey, Retry, RetryKey, Session, StoreFault, Write,
    pre_key_ids,
};
use crate::time::UnixMillis;
use crate::wire::binary::{Decoded, NodeRef, ValueRef};

impl Client {
    /// `raw` is the decrypted frame `node` was decoded from.
    pub(super) fn on_node(
        &mut self,
        now: Instant,
        node: NodeRef<'_>,
        raw: &[u8],
        wall: UnixMillis,
    ) {
        match node.tag() {
            "iq" => self.on_iq(now, node, wall),
            "success" => self.on_success(now, node, wall),
            "failure" => {
                let code = node
                    .attr("reason")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(500);
                self.close(DisconnectReason::from_code(code));
            }
            "stream:error" => self.close(stream_error_reason(node)),
            "xmlstreamend" => self.close(DisconnectReason::ConnectionClosed),
            "message" => self.on_message(node, raw, wall),
            "notification" => {
                match node.attr("type") {
                    Some("link_code_companion_reg") => self.on_link_code_notification(now, node),
                    // The server's count of our one-time pre-keys fell.
                    Some("encrypt") => {
                        if let Some(count) = node.child("count") {
                            match count.attr("value").and_then(|v| v.parse().ok()) {
                                Some(count) => self.maybe_upload_pre_keys(count),
                                None => self.ignore(Ignored::PreKeyCountWithoutValue(
                                    CountSource::Notification,
                                )),
                            }
                        }
                    }
                    // A user's devices changed: their list is asked for
                    // again before the next message to them.
                    Some("devices") => {
                        if let Some(user) = node.attr_jid("from") {
                            self.forget_devices(&user);
                        }
                    }
                    // Acked here, or once kept when members came or went.
                    Some("w:gp2") => return self.on_gp2(now, node, raw, wall),
                    _ => {}
                }
                self.send(&stanzas::ack_for(node));
            }
            "receipt" => {
                self.send(&stanzas::ack_for(node));
                if node.attr("type") == Some("retry") {
                    self.on_retry_receipt(node);
                }
            }
            "call" => self.send(&stanzas::ack_for(node)),
            "ack" if node.attr("class") == Some("message") => self.on_message_ack(now, wall, node),
            "ib" => self.on_ib(node),
            // Server acks of what we sent, presence and the rest: nothing to do yet.
            _ => {}
        }
    }

    fn on_iq(&mut self, now: Instant, node: NodeRef<'_>, wall: UnixMillis) {
        let id = node.attr("id").unwrap_or_default();
        match node.attr("type") {
            Some(kind @ ("result" | "error")) => match self.iqs.finish(id) {
                Some(IqPurpose::DeviceLists | IqPurpose::Bundles) if kind == "error" => {
                    let code = node
                        .child("error")
                        .and_then(|e| e.attr("code"))
                        .unwrap_or("no code")
                        .to_owned();
                    self.on_send_query_refused(wall, code);
                }
                Some(IqPurpose::GroupInfo) if kind == "error" => {
                    let code = node
                        .child("error")
                        .and_then(|e| e.attr("code"))
                        .unwrap_or("no code")
                        .to_owned();
                    self.on_group_info_refused(now, wall, &code);
                }
                Some(IqPurpose::GroupInfo) => self.on_group_info(now, wall, node),
                // Without the list the groups are read one by one when
                // first needed: nothing to end the connection for.
                Some(IqPurpose::Participating) if kind == "error" => {
                    let code = node
                        .child("error")
                        .and_then(|e| e.attr("code"))
                        .unwrap_or("no code")
                        .to_owned();
                    self.event(Event::GroupsNotRead { code });
                }
                Some(IqPurpose::Participating) => self.on_participating(wall, node),
                // Read again when first needed, if refused.
                Some(IqPurpose::GroupRefresh) if kind == "error" => {}
                Some(IqPurpose::GroupRefresh) => self.on_group_info(now, wall, node),
                Some(IqPurpose::DeviceLists) => self.on_device_lists(now, wall, node),
                Some(IqPurpose::Bundles) => self.on_bundles(wall, node),
                Some(IqPurpose::Ask { id, request }) => self.on_ask_answer(now, id, &request, node),
                Some(purpose) => self.on_iq_answer(now, purpose, node),
                None => {}
            },
            Some("get") if node.attr("xmlns") == Some("urn:xmpp:ping") => {
                self.send(&stanzas::iq_result(id))
            }
            Some("set") => {
                if let Some(pair) = node.child("pair-device") {
                    let refs = pair
                        .children_named("ref")
                        .filter_map(|r| r.text())
                        .map(str::to_owned)
                        .collect();
                    self.send(&stanzas::iq_result(id));
                    self.on_pair_device(now, refs);
                } else if let Some(success) = node.child("pair-success") {
                    let id = id.to_owned();
                    self.on_pair_success(&id, success, wall);
                }
            }
            _ => {}
        }
    }

    /// A `w:gp2` notification: taken in, then kept for the bot (a change
    /// it reads) or acked at once.
    fn on_gp2(&mut self, now: Instant, node: NodeRef<'_>, raw: &[u8], wall: UnixMillis) {
        if self.on_group_notification(now, wall, node) {
            self.keep_notice(node, raw, wall);
        } else {
            self.send(&stanzas::ack_for(node));
        }
    }

    /// A change to a group: the notification is kept in the inbox (the
    /// handler hears of it from there, once: a welcome or goodbye is said
    /// once) and acked once it is durable, like a message.
    fn keep_notice(&mut self, node: NodeRef<'_>, raw: &[u8], wall: UnixMillis) {
        let (Some(id), Some(from)) = (node.attr("id"), attr_text(node, "from")) else {
            return self.send(&stanzas::ack_for(node));
        };
        let arrived = Arrived {
            id: id.to_owned(),
            from,
            raw,
            wall,
        };
        let answer = Answer {
            ack: stanzas::ack_for(node),
            receipts: Vec::new(),
        };
        let entry = arrived.entry(InboxContent::GroupNotice);
        self.store(vec![entry], arrived.after(answer));
    }

    fn on_message(&mut self, node: NodeRef<'_>, raw: &[u8], wall: UnixMillis) {
        let Some(id) = node.attr("id") else {
            return self.ignore(Ignored::MessageWithoutId);
        };
        match self.seen_messages.get(id) {
            // Committed already: the server missed our ack; answer again.
            Some(Seen::Stored) => return self.answer(&Answer::delivered(node)),
            // Commit in flight: its completion answers.
            Some(Seen::Storing) => return,
            None => {}
        }
        if self.after_store.len() >= self.config.store_ops_in_flight_max {
            // Neither stored nor acked: the server delivers it again.
            return self.limit_reached(Limit::StoreOpsInFlight);
        }
        if self.seen_messages.set(id, Seen::Storing) {
            self.limit_reached(Limit::SeenMessages);
        }
        #[cfg(feature = "testing")]
        if self.config.broken_ack_before_store {
            self.send(&stanzas::ack_for(node));
        }
        let arrived = Arrived {
            id: id.to_owned(),
            from: attr_text(node, "from").unwrap_or_default(),
            raw,
            wall,
        };
        self.open_message(node, arrived, Attempt::First);
    }

    /// Opens a message with the session's keys and stores what it gave,
    /// or, when keys were missing, reads them back from the store once
    /// before asking the sender again.
    fn open_message(&mut self, node: NodeRef<'_>, arrived: Arrived<'_>, attempt: Attempt) {
        match decrypt::open(&self.session, node, &mut self.rng) {
            Ok(opened) => {
                if opened.identity_changed {
                    self.event(Event::IdentityChanged {
                        address: opened.sender.clone(),
                    });
                }
                let mut writes = opened.writes;
                let mut answer = Answer::delivered(node);
                if self.is_own_account(&opened.sender) {
                    self.on_own_phone_content(node, &opened.content, &mut writes, &mut answer);
                } else if self.config.send_read_receipts
                    && matches!(opened.content.kind, Kind::Text(_) | Kind::Media(_))
                {
                    answer.receipts.push(stanzas::read_receipt(node));
                }
                let retry = (arrived.id.clone(), opened.sender);
                if self.session.retries.contains_key(&retry) {
                    writes.push(Write::ForgetRetry {
                        id: retry.0,
                        sender: retry.1,
                    });
                }
                writes.push(arrived.entry(InboxContent::Message(opened.message)));
                self.store(writes, arrived.after(answer));
            }
            Err(Failure::AlreadyOpened) => {
                // Its keys were used, so it was stored with them, maybe in
                // a batch still on its way: an empty batch behind that one
                // is durable only once it is.
                let answer = Answer::delivered(node);
                self.store(Vec::new(), arrived.after(answer));
            }
            Err(Failure::Unreadable { reason, nack_code }) => {
                self.unreadable(node, arrived, Vec::new(), reason, nack_code);
            }
            Err(Failure::Retry { .. }) if attempt == Attempt::First => {
                // Another process of this session (an overlapping dyno)
                // may have stored the keys after this one read the
                // session: a retry receipt would ask for what we have.
                let op = self.next_op();
                self.after_store.insert(
                    op,
                    AfterStore::Reopen {
                        raw: arrived.raw.to_vec(),
                        wall: arrived.wall,
                    },
                );
                self.outputs.push_back(Output::ReadBack(op));
            }
            Err(Failure::Retry { sender, reason }) => {
                self.ask_again(node, arrived, sender, reason);
            }
        }
    }

    /// The store's session came back for a message that lacked keys: the
    /// keys another process wrote are taken, and the message is opened
    /// again (with `None`, the store did not answer: ask the sender).
    pub(super) fn on_read_back(
        &mut self,
        op: OpId,
        stored: Option<Box<Session>>,
    ) -> Result<(), InputError> {
        let Some(AfterStore::Reopen { raw, wall }) = self.after_store.remove(&op) else {
            return Err(InputError::UnknownOp(op));
        };
        if let Some(stored) = stored {
            let taken = self.session.take_missing_keys(*stored);
            if taken > 0 {
                self.event(Event::KeysTakenFromStore { count: taken });
            }
        }
        let mut decoded = Decoded::new();
        let Ok(node) = decoded.decode(&raw) else {
            return Ok(()); // it decoded when it came
        };
        let arrived = Arrived {
            id: node.attr("id").unwrap_or_default().to_owned(),
            from: attr_text(node, "from").unwrap_or_default(),
            raw: &raw,
            wall,
        };
        self.open_message(node, arrived, Attempt::AfterReadBack);
        Ok(())
    }

    /// Sends a stored message's receipts, then its ack.
    fn answer(&mut self, answer: &Answer) {
        for receipt in &answer.receipts {
            self.send(receipt);
        }
        self.send(&answer.ack);
    }

    /// True when `address` (a session name) is a device of our own
    /// account: only our phone may share app-state keys with us.
    fn is_own_account(&self, address: &str) -> bool {
        let user = address.split('.').next().unwrap_or_default();
        let Some(me) = &self.session.creds.me else {
            return false;
        };
        let lid_user = me.lid.as_ref().map(|lid| format!("{}_1", lid.user()));
        user == me.jid.user() || lid_user.as_deref() == Some(user)
    }

    /// What our own phone sends us besides messages: app-state keys are
    /// kept with the message, and a history-sync notice is receipted (the
    /// history itself is not downloaded).
    fn on_own_phone_content(
        &mut self,
        node: NodeRef<'_>,
        content: &Content,
        writes: &mut Vec<Write>,
        answer: &mut Answer,
    ) {
        match &content.kind {
            Kind::Protocol(Protocol::AppStateSyncKeyShare(keys)) => {
                writes.extend(keys.iter().map(|key| Write::AppStateKey {
                    id: key.id.clone(),
                    data: key.data.as_bytes().to_vec(),
                }));
            }
            Kind::Protocol(Protocol::HistorySyncNotification(_)) => {
                answer.receipts.push(stanzas::history_sync_receipt(node));
            }
            _ => {}
        }
    }

    /// Records a message that can never be read, and nacks it once that is
    /// durable, so the server stops sending it (never a reconnect loop).
    fn unreadable(
        &mut self,
        node: NodeRef<'_>,
        arrived: Arrived<'_>,
        mut writes: Vec<Write>,
        reason: String,
        nack_code: u16,
    ) {
        self.event(Event::MessageUnreadable {
            id: arrived.id.clone(),
            reason: reason.clone(),
        });
        writes.push(arrived.entry(InboxContent::Unreadable(reason)));
        let answer = Answer {
            ack: stanzas::nack_for(node, nack_code),
            receipts: Vec::new(),
        };
        self.store(writes, arrived.after(answer));
    }

    /// A message that did not decrypt: its retry count is stored (with a
    /// fresh one-time pre-key from the second time on), then a retry
    /// receipt asks the sender to encrypt it again. Past the limit it is
    /// recorded as unreadable.
    fn ask_again(
        &mut self,
        node: NodeRef<'_>,
        arrived: Arrived<'_>,
        sender: String,
        reason: String,
    ) {
        let key = (arrived.id.clone(), sender);
        let count = self
            .session
            .retries
            .get(&key)
            .map_or(0, |retry| retry.count)
            .saturating_add(1);
        if count > self.config.retry_receipts_max {
            let reason = format!(
                "still undecryptable after {} retry receipts: {reason}",
                count - 1
            );
            let forget = vec![Write::ForgetRetry {
                id: key.0,
                sender: key.1,
            }];
            return self.unreadable(node, arrived, forget, reason, decrypt::NACK_PARSING_ERROR);
        }
        self.event(Event::DecryptFailed {
            id: arrived.id.clone(),
            count,
            reason,
        });
        let mut writes = self.make_room_for_a_retry(&key);
        writes.push(Write::Retry {
            id: key.0,
            sender: key.1,
            retry: Retry {
                count,
                at: arrived.wall,
            },
        });
        let fresh_key = (count >= 2).then(|| {
            let mut creds = self.session.creds.clone();
            let key = PreKey {
                id: pre_key_ids::after(creds.next_pre_key_id, 0),
                key_pair: KeyPair::generate(&mut self.rng),
            };
            creds.next_pre_key_id = pre_key_ids::after(creds.next_pre_key_id, 1);
            writes.push(Write::FreshPreKeys(vec![key.clone()]));
            writes.push(Write::Creds(Box::new(creds)));
            key
        });
        let after = AfterStore::AskAgain {
            ack: stanzas::ack_for(node),
            receipt: stanzas::retry_receipt(node, count, &self.session.creds),
            fresh_key,
            id: arrived.id,
        };
        self.store(writes, after);
    }

    /// The oldest retry count is forgotten when the bound is reached.
    fn make_room_for_a_retry(&mut self, key: &RetryKey) -> Vec<Write> {
        let retries = &self.session.retries;
        if retries.len() < self.config.retries_len_max || retries.contains_key(key) {
            return Vec::new();
        }
        let oldest = retries
            .iter()
            .min_by_key(|(_, retry)| retry.at)
            .map(|((id, sender), _)| Write::ForgetRetry {
                id: id.clone(),
                sender: sender.clone(),
            })
            .into_iter()
            .collect();
        self.limit_reached(Limit::Retries);
        oldest
    }

    fn on_ib(&mut self, node: NodeRef<'_>) {
        if let Some(offline) = node.child("offline") {
            let count = offline
                .attr("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            self.event(Event::OfflineDelivered { count });
        }
        if let Some(routing) = node
            .child("edge_routing")
            .and_then(|e| e.child("routing_info"))
            .and_then(|r| r.bytes())
            && self.session.creds.routing_info.as_deref() != Some(routing)
        {
            let mut creds = self.session.creds.clone();
            creds.routing_info = Some(routing.to_vec());
            self.store_creds(creds, AfterStore::Nothing);
        }
    }

    pub(super) fn on_store_done(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<Committed, StoreFault>,
    ) -> Result<(), InputError> {
        let after = self
            .after_store
            .remove(&op)
            .ok_or(InputError::UnknownOp(op))?;
        let committed = match result {
            Ok(committed) => committed,
            Err(error) => {
                if let AfterStore::Ack { id, .. } | AfterStore::AskAgain { id, .. } = &after {
                    // Not committed: forget it, so a redelivery tries again.
                    self.seen_messages.forget(id);
                }
                self.event(Event::StoreFailed { op, error });
                match after {
                    // Never confirm a pairing we could not store.
                    AfterStore::PairDeviceSign { .. } => {
                        self.violation(super::Violation::PairingNotStored)
                    }
                    // This session's keys moved on past what the store will
                    // hold: end, and start again from the store's (a
                    // signed pre-key not stored is never sent).
                    AfterStore::Ack { .. }
                    | AfterStore::AskAgain { .. }
                    | AfterStore::Transmit { .. }
                    | AfterStore::Resend { .. }
                    | AfterStore::SendSignedPreKey { .. } => {
                        self.close(DisconnectReason::StoreRefused)
                    }
                    _ => {}
                }
                return Ok(());
            }
        };
        match after {
            AfterStore::Nothing => {}
            AfterStore::Ack { answer, id, from } => {
                self.seen_messages.set(&id, Seen::Stored);
                self.answer(&answer);
                self.event(Event::MessageStored { id, from });
            }
            AfterStore::AskAgain {
                ack,
                mut receipt,
                fresh_key,
                id,
            } => {
                // The sender's new copy comes under the same id.
                self.seen_messages.forget(&id);
                if let Some(mut key) = fresh_key {
                    self.adopt_fresh_keys(std::slice::from_mut(&mut key), committed);
                    receipt = receipt.with_child(stanzas::retry_keys(&self.session.creds, &key));
                }
                // The ack first: the server then takes the new copy as new.
                self.send(&ack);
                self.send(&receipt);
            }
            AfterStore::PairDeviceSign {
                reply,
                jid,
                platform,
            } => {
                self.send(&reply);
                self.event(Event::Paired { jid, platform });
            }
            AfterStore::UploadPreKeys { mut keys } => {
                self.adopt_fresh_keys(&mut keys, committed);
                let id = self.iqs.start(
                    IqPurpose::PreKeyUpload {
                        up_to: self.session.creds.next_pre_key_id,
                        count: keys.len() as u32,
                    },
                    now,
                    ms(self.config.iq_timeout_ms),
                );
                self.send(&stanzas::pre_key_upload(&id, &self.session.creds, &keys));
            }
            AfterStore::SendSignedPreKey { key } => self.send_signed_pre_key(now, &key),
            AfterStore::Transmit { id, stanza } => self.on_sealed(now, self.last_wall, &id, stanza),
            AfterStore::Resend { stanza } => self.send_encoded(stanza),
            // A read-back answered as a write: the shell mixed its ops up.
            AfterStore::Reopen { .. } => return Err(InputError::UnknownOp(op)),
        }
        Ok(())
    }
}

impl Client {
    /// Fresh pre-keys the store committed: renumbered to the ids it gave
    /// them, and kept, so a pkmsg using them opens.
    fn adopt_fresh_keys(&mut self, keys: &mut [PreKey], committed: Committed) {
        if let Some((first, next)) = committed.pre_key_ids {
            pre_key_ids::renumber(keys, first);
            self.session.creds.next_pre_key_id =
                pre_key_ids::later(self.session.creds.next_pre_key_id, next);
        }
        for key in keys.iter() {
            self.session.pre_keys.insert(key.id, key.clone());
        }
    }
}

/// Whether a message that lacks keys has had them looked for in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    First,
    AfterReadBack,
}

/// A `<message>` as it came: what its inbox row and answer are made of.
struct Arrived<'a> {
    id: String,
    from: String,
    raw: &'a [u8],
    wall: UnixMillis,
}

impl Arrived<'_> {
    fn entry(&self, content: InboxContent) -> Write {
        Write::Inbox(InboxEntry {
            id: self.id.clone(),
            from: self.from.clone(),
            stanza: self.raw.to_vec(),
            received_at: self.wall,
            content,
        })
    }

    fn after(self, answer: Answer) -> AfterStore {
        AfterStore::Ack {
            answer,
            id: self.id,
            from: self.from,
        }
    }
}

/// An attribute as text, whether the wire carried text or a JID.
fn attr_text(node: NodeRef<'_>, key: &str) -> Option<String> {
    match node.attr_value(key)? {
        ValueRef::Str(s) => Some(s.to_owned()),
        ValueRef::Jid(jid) => Some(jid.to_string()),
    }
}

/// `<stream:error code=N>` → N; `<conflict>` → 440 (replaced); else 500.
fn stream_error_reason(node: NodeRef<'_>) -> DisconnectReason {
    if let Some(code) = node.attr("code").and_then(|c| c.parse().ok()) {
        return DisconnectReason::from_code(code);
    }
    match node.children().next().map(|c| c.tag()) {
        Some("conflict") => DisconnectReason::Replaced,
        _ => DisconnectReason::BadSession,
    }
}
