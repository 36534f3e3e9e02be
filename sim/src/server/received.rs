//! What the server's played devices (a contact's, or the account's phone)
//! read from the bot: one entry per message and device, oldest first, in
//! a ring per contact.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::media::ReceivedMedia;

/// Texts kept per contact (and for the account's phone); past it the
/// oldest go first.
pub const RECEIVED_TEXTS_PER_CONTACT_MAX: usize = 1_000;

/// One message as one device decrypted it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedText {
    /// The message id the bot gave it.
    pub id: String,
    /// `conversation` or `extendedTextMessage.text`; empty for a message
    /// without text.
    pub text: String,
    /// The device that read it.
    pub device: u8,
    /// The bot device that sent it.
    pub from_device: u8,
    /// For the account's phone: the chat a `deviceSentMessage` names.
    pub dsm_destination: Option<String>,
    /// Times it was opened (more than 1 after a retry was answered).
    pub copies: u32,
    /// When the server took it in (seconds): a retry receipt repeats it.
    pub t: u64,
    /// The bot addressed the chat by LID.
    pub via_lid: bool,
    /// The group's JID user part, for a message the bot sent to a group.
    #[serde(default)]
    pub group: Option<String>,
    /// The media it carried, downloaded and checked (absent for a message
    /// without media or whose media failed a check: see the violations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<ReceivedMedia>,
}

impl fmt::Debug for ReceivedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Texts and chats stay out of logs.
        f.debug_struct("ReceivedText")
            .field("id", &self.id)
            .field("text_len", &self.text.len())
            .field("device", &self.device)
            .field("from_device", &self.from_device)
            .field("copies", &self.copies)
            .finish_non_exhaustive()
    }
}

/// Records `text` in `ring`: a message a device read again (answering a
/// retry) counts a copy on its entry instead.
pub(crate) fn record_received(ring: &mut VecDeque<ReceivedText>, text: ReceivedText) {
    if let Some(known) = ring
        .iter_mut()
        .rev()
        .find(|r| r.id == text.id && r.device == text.device)
    {
        known.copies = known.copies.saturating_add(1);
        return;
    }
    ring.push_back(text);
    while ring.len() > RECEIVED_TEXTS_PER_CONTACT_MAX {
        ring.pop_front();
    }
}

impl super::FakeServer {
    /// What the devices of the contact `phone` read from the bot, oldest
    /// first (one entry per message and device). For the account's own
    /// phone number: the DSM copies our phone read.
    #[must_use]
    pub fn received_texts(&self, phone: &str) -> Vec<ReceivedText> {
        if phone == self.config.phone {
            return self.own_phone.received().iter().cloned().collect();
        }
        self.contacts
            .get(phone)
            .map(|c| c.received().iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Gives the contact `phone` (made if new) exactly the devices `ids`
    /// besides its phone (device 0, always there), each with its own
    /// identity key and registration id, as WhatsApp companions have.
    pub fn set_contact_devices(
        &mut self,
        phone: &str,
        ids: &[u8],
    ) -> Result<(), super::ControlError> {
        super::contacts::check_phone(phone)?;
        let super::FakeServer { contacts, rng, .. } = self;
        contacts.get_or_create(phone, rng)?.set_devices(ids, rng)?;
        // As WhatsApp does: each linked device online hears that the
        // contact's devices changed, and asks for the list again.
        let live: Vec<_> = self.devices.values().filter_map(|d| d.live).collect();
        for conn in live {
            let id = self.next_stanza_id();
            let node = super::stanzas::devices_changed(&id, self.wall, phone);
            self.send(conn, &node);
        }
        Ok(())
    }

    /// The contact's LID user (made from the seed on first use), as usync
    /// hands it out.
    pub fn contact_lid(&mut self, phone: &str) -> Result<String, super::ControlError> {
        super::contacts::check_phone(phone)?;
        let super::FakeServer { contacts, rng, .. } = self;
        contacts.lid_of(phone, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(id: &str, device: u8) -> ReceivedText {
        ReceivedText {
            id: id.to_owned(),
            text: "t".to_owned(),
            device,
            from_device: 1,
            dsm_destination: None,
            copies: 1,
            t: 0,
            via_lid: false,
            group: None,
            media: None,
        }
    }

    #[test]
    fn a_message_read_again_counts_a_copy_and_the_ring_keeps_the_newest() {
        let mut ring = VecDeque::new();
        record_received(&mut ring, text("a", 0));
        record_received(&mut ring, text("a", 3));
        record_received(&mut ring, text("a", 0));
        assert_eq!(ring.len(), 2);
        assert_eq!((ring[0].device, ring[0].copies), (0, 2));
        for i in 0..RECEIVED_TEXTS_PER_CONTACT_MAX {
            record_received(&mut ring, text(&i.to_string(), 0));
        }
        assert_eq!(ring.len(), RECEIVED_TEXTS_PER_CONTACT_MAX);
        assert_eq!(ring[0].id, "0", "the two oldest went first");
        assert_eq!(
            ring.back().map(|r| r.id.clone()),
            Some((RECEIVED_TEXTS_PER_CONTACT_MAX - 1).to_string())
        );
    }
}
