//! Who a JID in a bot's request names: the account itself (its phone and
//! linked devices) or a mock contact; and their device lists, as usync
//! and the pre-key fetch see them.

use blacksky_core::wire::binary::Jid;

use super::FakeServer;
use super::contacts::check_phone;

/// The user a JID names, by its user part and server.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum User {
    /// The account: device 0 is its phone, the others linked devices.
    Own,
    /// A mock contact, by phone number (digits).
    Contact(String),
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Phone numbers stay out of logs.
        f.write_str(match self {
            User::Own => "Own",
            User::Contact(_) => "Contact",
        })
    }
}

/// Whether a JID used the phone-number or the LID form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addressing {
    Pn,
    Lid,
}

impl FakeServer {
    /// The user `jid` names. Any phone number is on WhatsApp here (the
    /// contact is made on first use); a LID must be one handed out.
    pub(crate) fn user_of(&mut self, jid: &Jid) -> Option<(User, Addressing)> {
        match jid.server() {
            "s.whatsapp.net" if jid.user() == self.config.phone => {
                Some((User::Own, Addressing::Pn))
            }
            "s.whatsapp.net" => {
                check_phone(jid.user()).ok()?;
                self.contacts
                    .get_or_create(jid.user(), &mut self.rng)
                    .ok()?;
                Some((User::Contact(jid.user().to_owned()), Addressing::Pn))
            }
            "lid" if jid.user() == self.config.lid_user => Some((User::Own, Addressing::Lid)),
            "lid" => {
                let phone = self.contacts.phone_of_lid(jid.user())?.to_owned();
                Some((User::Contact(phone), Addressing::Lid))
            }
            _ => None,
        }
    }

    /// The user's devices and each one's key index (0 for a phone), in
    /// id order. Our own list has the phone and every linked device.
    pub(crate) fn devices_of(&self, user: &User) -> Vec<(u8, u32)> {
        match user {
            User::Own => std::iter::once((0, 0))
                .chain(
                    self.devices
                        .values()
                        .filter(|d| d.paired)
                        .map(|d| (d.id, d.key_index)),
                )
                .collect(),
            User::Contact(phone) => self
                .contacts
                .get(phone)
                .map(|c| {
                    c.device_ids()
                        .into_iter()
                        .map(|id| (id, u32::from(id)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The JID of `device` of `user` in the given addressing (device 0 as
    /// a plain user JID, as WhatsApp writes a phone).
    pub(crate) fn device_jid(&mut self, user: &User, addressing: Addressing, device: u8) -> Jid {
        let (name, domain, server) = match (user, addressing) {
            (User::Own, Addressing::Pn) => (
                self.config.phone.clone(),
                Jid::DOMAIN_WHATSAPP,
                "s.whatsapp.net",
            ),
            (User::Own, Addressing::Lid) => (self.config.lid_user.clone(), Jid::DOMAIN_LID, "lid"),
            (User::Contact(phone), Addressing::Pn) => {
                (phone.clone(), Jid::DOMAIN_WHATSAPP, "s.whatsapp.net")
            }
            (User::Contact(phone), Addressing::Lid) => (
                self.contacts
                    .lid_of(phone, &mut self.rng)
                    .unwrap_or_else(|_| phone.clone()),
                Jid::DOMAIN_LID,
                "lid",
            ),
        };
        if device == 0 {
            Jid::new(name, server)
        } else {
            Jid::ad(name, domain, device)
        }
    }
}
