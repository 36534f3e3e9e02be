//! Mock contacts' messages: queued per linked device until that device
//! acks them, delivered at once when it is online and again on every login
//! until then (as the real server redelivers unacked messages). The
//! ciphertext of each entry is made once, when the contact sends (or
//! re-encrypts after a retry receipt), and goes out byte-identical every
//! time.

use std::collections::BTreeMap;
use std::fmt;

use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::contacts::EncPart;
use super::output::{ConnId, ServerEvent};
use super::stanzas::{self, IncomingMessage};

/// Messages the mailbox keeps (acked ones included, for the state).
pub const MESSAGES_LEN_MAX: usize = 100_000;

/// Where a message was written and by whom (phone numbers are digits).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Chat {
    /// A 1:1 chat with a contact, written from its phone number or, when
    /// `lid` is set, from its LID (the stanza then names the number in
    /// `sender_pn`, as WhatsApp does for LID-addressed chats).
    Direct { phone: String, lid: Option<String> },
    /// A group (its JID's user part), written by a contact; in a
    /// LID-addressed group the stanza names the writer by `lid` (with
    /// `participant_pn` and `addressing_mode=lid`, as WhatsApp does).
    Group {
        group: String,
        phone: String,
        lid: Option<String>,
    },
}

impl Chat {
    pub(crate) fn sender_phone(&self) -> &str {
        match self {
            Chat::Direct { phone, .. } | Chat::Group { phone, .. } => phone,
        }
    }

    pub(crate) fn group(&self) -> Option<&str> {
        match self {
            Chat::Direct { .. } => None,
            Chat::Group { group, .. } => Some(group),
        }
    }

    /// The stanza's `from`: the contact, or the group.
    pub(crate) fn stanza_from(&self) -> Jid {
        match self {
            Chat::Direct { lid: Some(lid), .. } => Jid::new(lid.clone(), "lid"),
            Chat::Direct { phone, lid: None } => Jid::new(phone.clone(), "s.whatsapp.net"),
            Chat::Group { group, .. } => Jid::new(group.clone(), "g.us"),
        }
    }

    /// The contact's phone number, for a chat written from its LID.
    pub(crate) fn sender_pn(&self) -> Option<Jid> {
        match self {
            Chat::Direct {
                phone,
                lid: Some(_),
            } => Some(Jid::new(phone.clone(), "s.whatsapp.net")),
            Chat::Direct { lid: None, .. } | Chat::Group { .. } => None,
        }
    }

    /// The stanza's `participant`: the writer, in a group.
    pub(crate) fn participant(&self) -> Option<Jid> {
        match self {
            Chat::Direct { .. } => None,
            Chat::Group { lid: Some(lid), .. } => Some(Jid::new(lid.clone(), "lid")),
            Chat::Group { phone, .. } => Some(Jid::new(phone.clone(), "s.whatsapp.net")),
        }
    }

    /// The writer's number, in a LID-addressed group.
    pub(crate) fn participant_pn(&self) -> Option<Jid> {
        match self {
            Chat::Group {
                phone,
                lid: Some(_),
                ..
            } => Some(Jid::new(phone.clone(), "s.whatsapp.net")),
            _ => None,
        }
    }

    /// True when `to` and `participant` (of a receipt) name this chat.
    pub(crate) fn is_named_by(&self, to: Option<&Jid>, participant: Option<&Jid>) -> bool {
        let same = |a: Option<&Jid>, b: Option<Jid>| match (a, b) {
            (Some(a), Some(b)) => a.user() == b.user() && a.server() == b.server(),
            (None, None) => true,
            _ => false,
        };
        same(to, Some(self.stanza_from()))
            && match self {
                // A 1:1 receipt may name the sender again; no harm.
                Chat::Direct { .. } => {
                    participant.is_none() || same(participant, self.participant())
                }
                // A receipt may name the writer by LID or by number.
                Chat::Group { .. } => {
                    same(participant, self.participant())
                        || (self.participant_pn().is_some()
                            && same(participant, self.participant_pn()))
                }
            }
    }
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Phone numbers stay out of logs.
        f.write_str(match self {
            Chat::Direct { .. } => "Direct",
            Chat::Group { .. } => "Group",
        })
    }
}

/// What a message says, for every device it went to.
#[derive(Clone)]
pub(crate) struct Sent {
    pub(crate) chat: Chat,
    pub(crate) text: String,
    pub(crate) t: UnixMillis,
}

impl fmt::Debug for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sent")
            .field("chat", &self.chat)
            .field("text_len", &self.text.len())
            .field("t", &self.t)
            .finish()
    }
}

/// One message for one device.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) device: u8,
    /// The `<enc>` children, in order.
    pub(crate) encs: Vec<EncPart>,
    /// Times it went out on a connection.
    pub(crate) delivered: u32,
    pub(crate) acked: bool,
    /// Retry receipts answered with a new encryption.
    pub(crate) retries: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// By message id, at most [`MESSAGES_LEN_MAX`].
    pub(crate) sent: BTreeMap<String, Sent>,
    /// In the order they were sent.
    pub(crate) entries: Vec<Entry>,
}

impl Mailbox {
    pub(crate) fn is_full(&self) -> bool {
        self.sent.len() >= MESSAGES_LEN_MAX
    }
}

impl FakeServer {
    /// The text a message (by id) carries: what each device it went to
    /// should store. `None` for an id the server never sent.
    #[must_use]
    pub fn sent_text(&self, id: &str) -> Option<&str> {
        self.mailbox.sent.get(id).map(|s| s.text.as_str())
    }

    /// The connection `device` is online on, if any.
    pub(crate) fn online_conn(&self, device: u8) -> Option<ConnId> {
        self.devices
            .get(&device)
            .and_then(|d| d.live)
            .filter(|conn| self.conns.get(conn).is_some_and(|c| c.online))
    }

    /// Queues a message for the devices (each with its own `<enc>`s) and
    /// delivers it at once to those online.
    pub(crate) fn queue(&mut self, id: &str, sent: Sent, per_device: Vec<(u8, Vec<EncPart>)>) {
        self.mailbox.sent.insert(id.to_owned(), sent);
        for (device, encs) in per_device {
            self.mailbox.entries.push(Entry {
                id: id.to_owned(),
                device,
                encs,
                delivered: 0,
                acked: false,
                retries: 0,
            });
            if let Some(conn) = self.online_conn(device) {
                let index = self.mailbox.entries.len() - 1;
                self.deliver(conn, index, false);
            }
        }
    }

    /// Sends entry `index` on `conn`; counts it if it went out.
    pub(crate) fn deliver(&mut self, conn: ConnId, index: usize, offline: bool) -> bool {
        let Some(entry) = self.mailbox.entries.get(index) else {
            return false;
        };
        let Some(sent) = self.mailbox.sent.get(&entry.id) else {
            return false;
        };
        let node = message_node(entry, sent, &self.config.contact_name, offline);
        let id = entry.id.clone();
        if !self.send(conn, &node) {
            return false;
        }
        if let Some(entry) = self.mailbox.entries.get_mut(index) {
            entry.delivered += 1;
        }
        self.event(ServerEvent::MessageDelivered { conn, id });
        true
    }

    /// The offline batch for a device that just went online: every unacked
    /// message, then `<ib><offline count=N/>`. Once per connection.
    pub(crate) fn deliver_offline(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.online {
            return;
        }
        c.online = true;
        let Some(device) = c.device() else {
            return;
        };
        let pending: Vec<usize> = self
            .mailbox
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.device == device && !e.acked)
            .map(|(i, _)| i)
            .collect();
        let mut count = 0;
        for index in pending {
            if self.deliver(conn, index, true) {
                count += 1;
            }
        }
        count += self.deliver_group_notices(conn, device);
        self.send(conn, &stanzas::offline(count));
    }

    /// `<ack class=message id=…>` from a logged-in device.
    pub(crate) fn on_message_ack(&mut self, conn: ConnId, ack: &Node) {
        let (Some(device), Some(id)) = (
            self.conns.get(&conn).and_then(|c| c.device()),
            ack.attr("id"),
        ) else {
            return;
        };
        let entry = self
            .mailbox
            .entries
            .iter_mut()
            .find(|e| e.device == device && e.id == id && !e.acked);
        if let Some(entry) = entry {
            entry.acked = true;
            let id = entry.id.clone();
            self.event(ServerEvent::MessageAcked { conn, id });
        }
    }
}

fn message_node(entry: &Entry, sent: &Sent, notify: &str, offline: bool) -> Node {
    stanzas::message(&IncomingMessage {
        id: &entry.id,
        from: sent.chat.stanza_from(),
        participant: sent.chat.participant(),
        participant_pn: sent.chat.participant_pn(),
        sender_pn: sent.chat.sender_pn(),
        t: sent.t,
        notify,
        encs: &entry.encs,
        offline,
    })
}
