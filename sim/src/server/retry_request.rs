//! A contact's device asks the bot to send a message again, as WhatsApp
//! clients do when they cannot read it (whatsmeow's retry.go, Baileys'
//! messages-recv.ts): it throws its session with the sending bot device
//! away and sends
//! `<receipt from=device id type=retry t><retry count id t v=1/>
//! <registration>4 bytes BE</registration>[<keys><type>05</type>
//! <identity/><key><id/><value/></key><skey><id/><value/><signature/>
//! </skey></keys>]</receipt>`, the keys from the second retry on (a fresh
//! one-time pre-key each time). At most [`RETRIES_PER_MESSAGE_MAX`] per
//! message and device. On demand ([`FakeServer::request_retry`]), and by
//! itself when a device cannot open what the bot sent.

use std::collections::{BTreeMap, VecDeque};

use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::bundles::{key_node, skey_node};
use super::output::{ConnId, ControlError, ServerEvent};
use super::receipts::RETRIES_PER_MESSAGE_MAX;
use super::users::{Addressing, User};

/// Messages × devices whose retry count is kept; past it the oldest are
/// forgotten.
pub const RETRY_COUNTS_LEN_MAX: usize = 4_096;

/// Who asked: the contact (phone digits, or empty for our own phone),
/// its device, and the message id.
type RetryKey = (String, u8, String);

/// The message a retry receipt asks for: its id, when the server took it
/// in (seconds), and its group, if it went to one.
#[derive(Clone, Copy)]
pub(crate) struct RetryAsked<'a> {
    pub(crate) id: &'a str,
    pub(crate) t: u64,
    pub(crate) group: Option<&'a str>,
}

#[derive(Default)]
pub(crate) struct RetryCounts {
    by_key: BTreeMap<RetryKey, u32>,
    order: VecDeque<RetryKey>,
}

impl std::fmt::Debug for RetryCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys hold phone numbers: only the size shows.
        f.debug_struct("RetryCounts")
            .field("len", &self.by_key.len())
            .finish()
    }
}

impl RetryCounts {
    /// The count the next retry receipt carries, if one may still go out.
    fn next(&mut self, key: RetryKey) -> Option<u32> {
        let count = self.by_key.get(&key).copied().unwrap_or(0) + 1;
        if count > RETRIES_PER_MESSAGE_MAX {
            return None;
        }
        if self.by_key.insert(key.clone(), count).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > RETRY_COUNTS_LEN_MAX {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
        Some(count)
    }
}

impl FakeServer {
    /// The contact `phone` asks the bot again for message `id`: each of
    /// its devices that read it drops its session with the bot device
    /// that sent it and sends a retry receipt to that device. Returns how
    /// many receipts went out.
    pub fn request_retry(&mut self, phone: &str, id: &str) -> Result<u32, ControlError> {
        super::contacts::check_phone(phone)?;
        let reads: Vec<(u8, u8, u64, bool, Option<String>)> = self
            .contacts
            .get(phone)
            .map(|c| {
                c.received()
                    .iter()
                    .filter(|r| r.id == id)
                    .map(|r| (r.device, r.from_device, r.t, r.via_lid, r.group.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if reads.is_empty() {
            return Err(ControlError::UnknownMessage { id: id.to_owned() });
        }
        let mut sent = 0;
        for (device, bot_device, t, via_lid, group) in reads {
            let conn = self
                .devices
                .get(&bot_device)
                .and_then(|d| d.live)
                .ok_or(ControlError::DeviceOffline { device: bot_device })?;
            let user = User::Contact(phone.to_owned());
            let addressing = if via_lid {
                Addressing::Lid
            } else {
                Addressing::Pn
            };
            let asked = RetryAsked {
                id,
                t,
                group: group.as_deref(),
            };
            self.send_retry_receipt(conn, &user, addressing, device, bot_device, &asked)?;
            sent += 1;
        }
        Ok(sent)
    }

    /// `device` of `user` drops its session with `bot_device` and sends
    /// its retry receipt for `id` on `conn`.
    pub(crate) fn send_retry_receipt(
        &mut self,
        conn: ConnId,
        user: &User,
        addressing: Addressing,
        device: u8,
        bot_device: u8,
        asked: &RetryAsked<'_>,
    ) -> Result<(), ControlError> {
        let RetryAsked { id, t, group } = *asked;
        let who = match user {
            User::Own => String::new(),
            User::Contact(phone) => phone.clone(),
        };
        let count = self.retry_counts.next((who, device, id.to_owned())).ok_or(
            ControlError::TooManyRetries {
                max: RETRIES_PER_MESSAGE_MAX,
            },
        )?;
        let FakeServer {
            contacts,
            own_phone,
            account_key,
            rng,
            ..
        } = self;
        let peer = match user {
            User::Own => Some(own_phone.peer(account_key, rng)),
            User::Contact(phone) => contacts.get_mut(phone).and_then(|c| c.device_mut(device)),
        }
        .ok_or(ControlError::UnknownMessage { id: id.to_owned() })?;
        peer.drop_session(bot_device);
        let registration = peer.registration_id();
        let keys = (count > 1).then(|| {
            // The device's keys with a fresh one-time pre-key, as a fetch
            // would give them.
            let bundle = peer.take_bundle(rng);
            let mut children = vec![
                Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
                Node::new("identity").with_bytes(bundle.identity.raw().to_vec()),
            ];
            children.extend(key_node(&bundle));
            children.push(skey_node(&bundle));
            Node::new("keys").with_children(children)
        });
        let from = self.device_jid(user, addressing, device);
        let mut children = vec![
            Node::new("retry")
                .with_attr("count", count.to_string())
                .with_attr("id", id.to_owned())
                .with_attr("t", t.to_string())
                .with_attr("v", "1"),
            Node::new("registration").with_bytes(registration.to_be_bytes().to_vec()),
        ];
        children.extend(keys);
        // In a group: `from` the group, the device as `participant`.
        let receipt = match group {
            Some(group) => Node::new("receipt")
                .with_attr("from", Jid::new(group.to_owned(), "g.us"))
                .with_attr("participant", from),
            None => Node::new("receipt").with_attr("from", from),
        };
        let receipt = receipt
            .with_attr("id", id.to_owned())
            .with_attr("type", "retry")
            .with_attr("t", self.wall.as_secs().to_string())
            .with_children(children);
        self.send(conn, &receipt);
        self.event(ServerEvent::RetryRequested {
            conn,
            id: id.to_owned(),
            count,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stop_at_the_limit_and_the_oldest_are_forgotten() {
        let mut counts = RetryCounts::default();
        let key = |id: usize| (String::from("491"), 0, id.to_string());
        for expected in 1..=RETRIES_PER_MESSAGE_MAX {
            assert_eq!(counts.next(key(0)), Some(expected));
        }
        assert_eq!(
            counts.next(key(0)),
            None,
            "at most {RETRIES_PER_MESSAGE_MAX}"
        );
        for id in 1..=RETRY_COUNTS_LEN_MAX {
            counts.next(key(id));
        }
        assert_eq!(counts.by_key.len(), RETRY_COUNTS_LEN_MAX);
        assert_eq!(counts.next(key(0)), Some(1), "forgotten, so counted anew");
    }
}
