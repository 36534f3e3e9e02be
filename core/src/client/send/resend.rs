//! Retry receipts from the devices we sent to: a device that could not
//! read one of our messages asks for it again (`<receipt type=retry>`,
//! with its keys from the second time on). The message is sealed once
//! more for that device alone, from a bounded memory of what this
//! process sent, on a fresh session when the receipt carries keys;
//! committed before it leaves, like every seal.

use std::collections::{BTreeMap, VecDeque};

use super::seal::{self, Resend};
use crate::client::{AfterStore, Client, Event};
use crate::session::Session;
use crate::signal::address::is_lid;
use crate::wire::binary::{self, Jid, NodeRef};

/// Messages this process sent that a retry receipt may still ask for
/// (whatsmeow keeps 256 too); older ones are answered no more.
pub(crate) const RECENT_SENT_LEN_MAX: usize = 256;
/// Answers to one device for one message; past it its receipts are
/// ignored (a device that never reads it must not make us seal forever).
pub(crate) const RESENDS_PER_DEVICE_MAX: u32 = 5;
/// Devices of one message that get answers.
const RESEND_DEVICES_MAX: usize = 64;

/// What was sent, for the retry receipts that may follow.
#[derive(Debug, Default)]
pub(crate) struct RecentSent {
    messages: VecDeque<Recent>,
}

#[derive(Debug)]
struct Recent {
    id: String,
    to: Jid,
    message: Vec<u8>,
    /// Answers sent, by device.
    resends: BTreeMap<String, u32>,
}

impl RecentSent {
    pub(crate) fn remember(&mut self, id: &str, to: &Jid, message: &[u8]) {
        if self.messages.iter().any(|m| m.id == id) {
            return;
        }
        if self.messages.len() >= RECENT_SENT_LEN_MAX {
            self.messages.pop_front();
        }
        self.messages.push_back(Recent {
            id: id.to_owned(),
            to: to.clone(),
            message: message.to_vec(),
            resends: BTreeMap::new(),
        });
    }
}

/// Why a retry receipt gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoResend {
    Unknown,
    NotARecipient,
    TooMany,
}

impl NoResend {
    fn reason(self) -> &'static str {
        match self {
            NoResend::Unknown => "not among the messages this process sent lately",
            NoResend::NotARecipient => "the device asking is not one the message went to",
            NoResend::TooMany => "answered the most times already",
        }
    }
}

impl Client {
    /// `<receipt type=retry from=device id><retry count/>[<registration/>
    /// <keys/>]` (in a group: `from=group participant=device`): seal the
    /// message again for that device.
    pub(crate) fn on_retry_receipt(&mut self, receipt: NodeRef<'_>) {
        let Some(from) = receipt.attr_jid("from") else {
            return;
        };
        let device = if from.server() == "g.us" {
            receipt.attr_jid("participant")
        } else {
            Some(from)
        };
        let (Some(id), Some(device)) = (receipt.attr("id"), device) else {
            return;
        };
        let count = receipt
            .child("retry")
            .and_then(|retry| retry.attr("count"))
            .and_then(|count| count.parse::<u32>().ok())
            .unwrap_or(1);
        let (chat, message, given) = match self.take_resend(id, &device) {
            Ok((chat, message)) if chat.server() == "g.us" => {
                // The device missed our sender key or its message: it gets
                // the message 1:1, with the key for the next ones.
                match super::group::with_own_distribution(&self.session, &chat, &message) {
                    Some((message, given)) => (chat, message, Some(given)),
                    None => {
                        return self.event(Event::RetryNotAnswered {
                            id: id.to_owned(),
                            reason: "our sender key for the group is gone".to_owned(),
                        });
                    }
                }
            }
            Ok((chat, message)) => (chat, message, None),
            Err(why) => {
                return self.event(Event::RetryNotAnswered {
                    id: id.to_owned(),
                    reason: why.reason().to_owned(),
                });
            }
        };
        let bundle = match receipt.child("keys") {
            None => None,
            Some(_) => match super::bundles::bundle_of(receipt) {
                Ok(bundle) => Some(bundle),
                Err(error) => {
                    return self.event(Event::BundleRefused {
                        device: device.to_string(),
                        reason: error.to_string(),
                    });
                }
            },
        };
        let resend = Resend {
            id,
            chat: &chat,
            device: &device,
            message: &message,
            count,
        };
        let sealed = match seal::seal_resend(&self.session, &resend, bundle.as_ref(), &mut self.rng)
        {
            Ok(sealed) => sealed,
            Err(error) => {
                return self.event(Event::RetryNotAnswered {
                    id: id.to_owned(),
                    reason: error.to_string(),
                });
            }
        };
        let Ok(stanza) = binary::encode(&sealed.stanza) else {
            return;
        };
        let mut writes = sealed.writes;
        if let Some(given) = given {
            writes.push(crate::session::Write::SenderKeyShared {
                group: chat.to_string(),
                devices: vec![device.to_string()],
                given,
            });
        }
        self.event(Event::RetryAnswered {
            id: id.to_owned(),
            fresh_session: bundle.is_some(),
        });
        self.store(writes, AfterStore::Resend { stanza });
    }

    /// The chat and message `id` went out as, if `device` may have it
    /// again; counts the answer.
    fn take_resend(&mut self, id: &str, device: &Jid) -> Result<(Jid, Vec<u8>), NoResend> {
        let recent = self
            .outbox
            .recent
            .messages
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(NoResend::Unknown)?;
        let recipient = if recent.to.server() == "g.us" {
            // A member of the group as we know it, or one of our devices.
            is_own(&self.session, device)
                || self
                    .outbox
                    .groups
                    .any(&recent.to)
                    .is_some_and(|group| group.participant(device).is_some())
        } else {
            is_recipient(&self.session, &recent.to, device)
        };
        if !recipient {
            return Err(NoResend::NotARecipient);
        }
        let key = device.to_string();
        if !recent.resends.contains_key(&key) && recent.resends.len() >= RESEND_DEVICES_MAX {
            return Err(NoResend::TooMany);
        }
        let answered = recent.resends.entry(key).or_insert(0);
        if *answered >= RESENDS_PER_DEVICE_MAX {
            return Err(NoResend::TooMany);
        }
        *answered += 1;
        Ok((recent.to.clone(), recent.message.clone()))
    }
}

/// True when `device` belongs to the chat's user (by number or LID) or to
/// our own account (the copy our phone gets): nobody else may have a
/// message sealed for them.
fn is_recipient(session: &Session, to: &Jid, device: &Jid) -> bool {
    let user = device.user();
    if is_own(session, device) || user == to.user() {
        return true;
    }
    if is_lid(device) {
        session
            .lid_for_pn
            .get(to.user())
            .is_some_and(|lid| lid == user)
    } else {
        session
            .lid_for_pn
            .get(user)
            .is_some_and(|lid| lid == to.user())
    }
}

/// One of our own account's devices (by number or LID).
fn is_own(session: &Session, device: &Jid) -> bool {
    let user = device.user();
    session.creds.me.as_ref().is_some_and(|me| {
        me.jid.user() == user || me.lid.as_ref().is_some_and(|lid| lid.user() == user)
    })
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::session::{Creds, Me};

    fn session() -> Session {
        let mut creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1));
        creds.me = Some(Me {
            jid: Jid::ad("491556123456".to_owned(), Jid::DOMAIN_WHATSAPP, 7),
            lid: Some(Jid::new("88000111", "lid")),
            push_name: None,
        });
        let mut session = Session::new(creds);
        session
            .lid_for_pn
            .insert("4915112345678".to_owned(), "77000222".to_owned());
        session
    }

    #[test]
    fn only_the_recipient_by_number_or_lid_and_our_own_devices_may_ask() {
        let session = session();
        let to = Jid::new("4915112345678", "s.whatsapp.net");
        let asks = |user: &str, domain: u8| {
            is_recipient(&session, &to, &Jid::ad(user.to_owned(), domain, 2))
        };
        assert!(asks("4915112345678", Jid::DOMAIN_WHATSAPP), "the contact");
        assert!(asks("77000222", Jid::DOMAIN_LID), "the contact by LID");
        assert!(asks("491556123456", Jid::DOMAIN_WHATSAPP), "our phone");
        assert!(asks("88000111", Jid::DOMAIN_LID), "our account by LID");
        assert!(!asks("4915199999999", Jid::DOMAIN_WHATSAPP), "a stranger");
        assert!(!asks("77000333", Jid::DOMAIN_LID), "a stranger by LID");
        let by_lid = Jid::new("77000222", "lid");
        assert!(is_recipient(
            &session,
            &by_lid,
            &Jid::ad("4915112345678".to_owned(), Jid::DOMAIN_WHATSAPP, 0)
        ));
    }

    #[test]
    fn what_was_sent_is_remembered_to_a_bound_once_each() {
        let mut recent = RecentSent::default();
        let to = Jid::new("4915112345678", "s.whatsapp.net");
        for n in 0..RECENT_SENT_LEN_MAX + 10 {
            recent.remember(&format!("id{n}"), &to, b"m");
            recent.remember(&format!("id{n}"), &to, b"m");
        }
        assert_eq!(recent.messages.len(), RECENT_SENT_LEN_MAX);
        assert_eq!(recent.messages.front().map(|m| m.id.as_str()), Some("id10"));
    }
}
