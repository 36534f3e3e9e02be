//! A mock contact writes a text: `Message { conversation }`, WhatsApp's
//! padding, then Signal encryption for each linked device (1:1), or once
//! with the contact's sender key (groups, with the key handed 1:1 to each
//! device that has not had it). What comes out is queued in the mailbox,
//! made once and redelivered byte-identical.

use blacksky_core::message::padding::pad;
use blacksky_proto::Message;
use blacksky_proto::wa::Message as WaMessage;

use super::FakeServer;
use super::contacts::{EncPart, check_group, check_phone, distribution_content, text_message};
use super::groups::GroupAddressing;
use super::mailbox::{Chat, Sent};
use super::output::{ControlError, ServerEvent};
use super::pre_keys::PRE_KEYS_LOW_WATER;
use super::stanzas;

/// The longest text a contact sends (WhatsApp's limit is 65,536 characters).
pub const TEXT_BYTES_MAX: usize = 65_536;

impl FakeServer {
    /// The contact `from_phone` (digits) writes `text` in a 1:1 chat. It
    /// is encrypted for every linked device (a session from the device's
    /// bundle on first contact, consuming one of its one-time pre-keys),
    /// queued for each, and goes out at once to those online. Returns the
    /// message id ([`FakeServer::sent_text`] gives the text back).
    pub fn send_text(&mut self, from_phone: &str, text: &str) -> Result<String, ControlError> {
        self.send_direct(from_phone, text, false)
    }

    /// As [`FakeServer::send_text`], written from the contact's LID (made
    /// on first use, [`FakeServer::contact_lid`]): the stanza's `from` is
    /// `LID@lid` and `sender_pn` names the number.
    pub fn send_text_from_lid(
        &mut self,
        from_phone: &str,
        text: &str,
    ) -> Result<String, ControlError> {
        self.send_direct(from_phone, text, true)
    }

    fn send_direct(
        &mut self,
        from_phone: &str,
        text: &str,
        from_lid: bool,
    ) -> Result<String, ControlError> {
        self.send_direct_message(from_phone, &text_message(Some(text), None), text, from_lid)
    }

    /// The contact writes `message` in its 1:1 chat (`text` is what it
    /// shows: the text, or a media's caption).
    pub(crate) fn send_direct_message(
        &mut self,
        from_phone: &str,
        message: &WaMessage,
        text: &str,
        from_lid: bool,
    ) -> Result<String, ControlError> {
        check_phone(from_phone)?;
        let devices = self.sendable_devices(text)?;
        self.contacts.get_or_create(from_phone, &mut self.rng)?;
        let content = message.encode_to_vec();
        let padded = pad(&content, &mut self.rng);
        let per_device = devices
            .into_iter()
            .map(|device| Ok((device, vec![self.seal_for(from_phone, device, &padded)?])))
            .collect::<Result<Vec<_>, ControlError>>()?;
        let lid = if from_lid {
            Some(self.contact_lid(from_phone)?)
        } else {
            None
        };
        let id = self.new_message_id();
        let sent = Sent {
            chat: Chat::Direct {
                phone: from_phone.to_owned(),
                lid,
            },
            text: text.to_owned(),
            t: self.wall,
        };
        self.queue(&id, sent, per_device);
        Ok(id)
    }

    /// The contact `from_phone` writes `text` in the group
    /// `<group_jid_user>@g.us` (a member of it, if the server keeps that
    /// group: [`FakeServer::create_group`]): one skmsg under its sender key for that
    /// group (made on first use), preceded, for each device that has not
    /// had the key yet, by a 1:1 pkmsg/msg carrying
    /// `Message { senderKeyDistributionMessage }`. Returns the message id.
    pub fn send_group_text(
        &mut self,
        group_jid_user: &str,
        from_phone: &str,
        text: &str,
    ) -> Result<String, ControlError> {
        check_group(group_jid_user)?;
        check_phone(from_phone)?;
        // A group the server keeps takes only its members' words (only
        // its admins' while announce-only); others are ad hoc.
        if let Some(group) = self.groups.get(group_jid_user) {
            let rank = group
                .rank(from_phone)
                .ok_or(ControlError::NotAMember { role: "writer" })?;
            if group.announce && !rank.is_admin() {
                return Err(ControlError::NotAdmin { role: "writer" });
            }
        }
        let devices = self.sendable_devices(text)?;
        let rng = &mut self.rng;
        let sender_key = self
            .contacts
            .get_or_create(from_phone, rng)?
            .sender_key(group_jid_user, rng)?;
        // Taken before the skmsg moves the chain on: its iteration is the
        // skmsg's, so a device that takes it in reads this message.
        let distribution = sender_key.distribution()?;
        let newcomers: Vec<u8> = devices
            .iter()
            .copied()
            .filter(|&device| sender_key.distribute_to(device))
            .collect();
        let content = text_message(Some(text), None).encode_to_vec();
        let padded = pad(&content, rng);
        let skmsg = sender_key.encrypt(&padded, rng)?;
        let skdm = text_message(
            None,
            Some(distribution_content(group_jid_user, &distribution)),
        )
        .encode_to_vec();
        let mut per_device = Vec::with_capacity(devices.len());
        for device in devices {
            let mut encs = Vec::with_capacity(2);
            if newcomers.contains(&device) {
                let padded = pad(&skdm, &mut self.rng);
                encs.push(self.seal_for(from_phone, device, &padded)?);
            }
            encs.push(skmsg.clone());
            per_device.push((device, encs));
        }
        let lid = match self.groups.get(group_jid_user).map(|g| g.addressing) {
            Some(GroupAddressing::Lid) => Some(self.contact_lid(from_phone)?),
            _ => None,
        };
        let id = self.new_message_id();
        let sent = Sent {
            chat: Chat::Group {
                group: group_jid_user.to_owned(),
                phone: from_phone.to_owned(),
                lid,
            },
            text: text.to_owned(),
            t: self.wall,
        };
        self.queue(&id, sent, per_device);
        Ok(id)
    }

    /// The linked devices a new message goes to, once the text and the
    /// mailbox's room are checked.
    fn sendable_devices(&self, text: &str) -> Result<Vec<u8>, ControlError> {
        if text.len() > TEXT_BYTES_MAX {
            return Err(ControlError::TextTooLong {
                len: text.len(),
                max: TEXT_BYTES_MAX,
            });
        }
        if self.mailbox.is_full() {
            return Err(ControlError::MailboxFull {
                max: super::mailbox::MESSAGES_LEN_MAX,
            });
        }
        let devices: Vec<u8> = self
            .devices
            .values()
            .filter(|d| d.paired)
            .map(|d| d.id)
            .collect();
        if devices.is_empty() {
            return Err(ControlError::NoPairedDevice);
        }
        Ok(devices)
    }

    /// `padded` encrypted by the contact `phone` (made already) for bot
    /// device `device`, on their session; a first message (or one after
    /// the device's identity changed) starts one from the device's bundle.
    pub(crate) fn seal_for(
        &mut self,
        phone: &str,
        device: u8,
        padded: &[u8],
    ) -> Result<EncPart, ControlError> {
        let FakeServer {
            contacts,
            devices,
            rng,
            ..
        } = self;
        let contact = contacts
            .get_mut(phone)
            .ok_or(ControlError::NoSession { device })?;
        let record = devices
            .get_mut(&device)
            .ok_or(ControlError::NoPairedDevice)?;
        let fetched = contact.needs_session(device, &record.companion.identity_public);
        if fetched {
            let bundle = record.take_bundle()?;
            contact.start_session(device, &bundle, rng)?;
        }
        let enc = contact.encrypt(device, padded)?;
        if fetched {
            self.after_bundle_fetch(device);
        }
        Ok(enc)
    }

    /// A contact fetched `device`'s bundle: when that took its one-time
    /// pre-keys below the low water, tell it (once per drop, if online).
    pub(crate) fn after_bundle_fetch(&mut self, device: u8) {
        let Some(record) = self.devices.get_mut(&device) else {
            return;
        };
        if !record.one_time_pre_keys.announce_drop() {
            return;
        }
        let count = record.one_time_pre_keys.count();
        debug_assert!(count < PRE_KEYS_LOW_WATER);
        if let Some(conn) = record.live {
            let id = self.next_stanza_id();
            let node = stanzas::pre_key_count_notification(&id, self.wall, count);
            if self.send(conn, &node) {
                self.event(ServerEvent::PreKeysLow { conn, count });
            }
        }
    }
}
