//! Stanzas in: each decoded node goes to its handler. A `<message>` is
//! stored as the bytes it came in (no re-encode) and acked only once the
//! store says it is durable; a redelivered id is acked without a second
//! write.

use std::time::Instant;

use super::seen::Seen;
use super::{
    AfterStore, Client, DisconnectReason, Event, InputError, IqPurpose, Limit, OpId, ms, stanzas,
};
use crate::session::{Committed, InboxEntry, StoreFault, Write, pre_key_ids};
use crate::time::UnixMillis;
use crate::wire::binary::{NodeRef, ValueRef};

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
            "iq" => self.on_iq(now, node),
            "success" => self.on_success(now, node),
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
                if node.attr("type") == Some("link_code_companion_reg") {
                    self.on_link_code_notification(now, node);
                }
                self.send(&stanzas::ack_for(node));
            }
            "receipt" | "call" => self.send(&stanzas::ack_for(node)),
            "ib" => self.on_ib(node),
            // Server acks of what we sent, presence and the rest: nothing to do yet.
            _ => {}
        }
    }

    fn on_iq(&mut self, now: Instant, node: NodeRef<'_>) {
        let id = node.attr("id").unwrap_or_default();
        match node.attr("type") {
            Some("result") | Some("error") => {
                if let Some(purpose) = self.iqs.finish(id) {
                    self.on_iq_answer(purpose, node);
                }
            }
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
                    self.on_pair_success(&id, success);
                }
            }
            _ => {}
        }
    }

    fn on_message(&mut self, node: NodeRef<'_>, raw: &[u8], wall: UnixMillis) {
        let Some(id) = node.attr("id") else {
            return self.violation(super::Violation::Missing {
                stanza: "message",
                what: "id",
            });
        };
        let ack = stanzas::ack_for(node);
        match self.seen_messages.get(id) {
            // Committed already: the server missed our ack; ack again.
            Some(Seen::Stored) => return self.send(&ack),
            // Commit in flight: its completion acks.
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
        if self.config.broken_ack_before_store {
            self.send(&ack);
        }
        let id = id.to_owned();
        let from = attr_text(node, "from").unwrap_or_default();
        let entry = InboxEntry {
            id: id.clone(),
            from: from.clone(),
            stanza: raw.to_vec(),
            received_at: wall,
        };
        self.store(vec![Write::Inbox(entry)], AfterStore::Ack { ack, id, from });
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
            && self.creds.routing_info.as_deref() != Some(routing)
        {
            let mut creds = self.creds.clone();
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
                if let AfterStore::Ack { id, .. } = &after {
                    // Not committed: forget it, so a redelivery tries again.
                    self.seen_messages.forget(id);
                }
                self.event(Event::StoreFailed { op, error });
                if matches!(after, AfterStore::PairDeviceSign { .. }) {
                    // Never confirm a pairing we could not store.
                    self.violation(super::Violation::PairingNotStored);
                }
                return Ok(());
            }
        };
        match after {
            AfterStore::Nothing => {}
            AfterStore::Ack { ack, id, from } => {
                self.seen_messages.set(&id, Seen::Stored);
                self.send(&ack);
                self.event(Event::MessageStored { id, from });
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
                if let Some((first, next)) = committed.pre_key_ids {
                    pre_key_ids::renumber(&mut keys, first);
                    self.creds.next_pre_key_id =
                        pre_key_ids::later(self.creds.next_pre_key_id, next);
                }
                let id = self.iqs.start(
                    IqPurpose::PreKeyUpload {
                        up_to: self.creds.next_pre_key_id,
                        count: keys.len() as u32,
                    },
                    now,
                    ms(self.config.iq_timeout_ms),
                );
                self.send(&stanzas::pre_key_upload(&id, &self.creds, &keys));
            }
        }
        Ok(())
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
