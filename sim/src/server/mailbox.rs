//! Mock contacts' messages: queued per linked device until that device
//! acks them, delivered at once when it is online and again on every login
//! until then (as the real server redelivers unacked messages).

use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::output::{ConnId, ControlError, ServerEvent};
use super::stanzas::{self, IncomingMessage};
use blacksky_core::time::UnixMillis;

/// One message for one device.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) from: String,
    pub(crate) device: u8,
    pub(crate) t: UnixMillis,
    pub(crate) ciphertext: Vec<u8>,
    /// Times it went out on a connection.
    pub(crate) delivered: u32,
    pub(crate) acked: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// In the order they were sent.
    pub(crate) entries: Vec<Entry>,
}

impl FakeServer {
    /// A contact (`from_phone`, digits) sends a message carrying
    /// `ciphertext` (opaque bytes). It is queued for every linked device,
    /// and goes out at once to those online. Returns the message id.
    pub fn send_message(
        &mut self,
        from_phone: &str,
        ciphertext: &[u8],
    ) -> Result<String, ControlError> {
        let devices: Vec<u8> = self
            .devices
            .values()
            .filter(|d| d.paired)
            .map(|d| d.id)
            .collect();
        if devices.is_empty() {
            return Err(ControlError::NoPairedDevice);
        }
        let id = self.new_message_id();
        for device in devices {
            self.mailbox.entries.push(Entry {
                id: id.clone(),
                from: from_phone.to_owned(),
                device,
                t: self.wall,
                ciphertext: ciphertext.to_vec(),
                delivered: 0,
                acked: false,
            });
            let online = self
                .devices
                .get(&device)
                .and_then(|d| d.live)
                .filter(|conn| self.conns.get(conn).is_some_and(|c| c.online));
            if let Some(conn) = online {
                let index = self.mailbox.entries.len() - 1;
                self.deliver(conn, index, false);
            }
        }
        Ok(id)
    }

    /// Sends entry `index` on `conn`; counts it if it went out.
    fn deliver(&mut self, conn: ConnId, index: usize, offline: bool) -> bool {
        let Some(entry) = self.mailbox.entries.get(index) else {
            return false;
        };
        let node = message_node(entry, &self.config.contact_name, offline);
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

fn message_node(entry: &Entry, notify: &str, offline: bool) -> Node {
    stanzas::message(&IncomingMessage {
        id: &entry.id,
        from: Jid::new(entry.from.clone(), "s.whatsapp.net"),
        t: entry.t,
        notify,
        ciphertext: &entry.ciphertext,
        offline,
    })
}
