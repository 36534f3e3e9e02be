//! Receipts from linked devices: delivery and read receipts are recorded;
//! a retry receipt (the device could not decrypt a message) makes the
//! contact encrypt that message again for that device — on a fresh
//! session when the receipt brings the device's keys, else on the
//! existing one — and the server redelivers it under the same id.
//!
//! `<receipt type="retry" id to [participant]><retry count id t v/>
//! <registration>4 bytes</registration>[<keys><type/><identity/><key><id/>
//! <value/></key><skey><id/><value/><signature/></skey><device-identity/>
//! </keys>]</receipt>`

use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::message::padding::pad;
use blacksky_core::signal::{IdentityKey, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic};
use blacksky_core::wire::binary::Node;
use blacksky_proto::Message;

use super::FakeServer;
use super::account::be_uint;
use super::contacts::{distribution_content, text_message};
use super::iq::{bytes_of, key32};
use super::mailbox::Chat;
use super::output::{ConnId, ControlError, ReceiptKind, RetryOutcome, ServerEvent};
use super::stanzas;

/// Retry receipts answered per message and device; later ones are
/// recorded and otherwise ignored.
pub const RETRIES_PER_MESSAGE_MAX: u32 = 5;

/// A retry receipt's `<keys>`: the device's bundle, as it sends it.
fn parse_retry_keys(receipt: &Node, keys: &Node) -> Result<PreKeyBundle, String> {
    let registration_id = be_uint("registration", bytes_of(receipt, "registration")?)?;
    let key_type = bytes_of(keys, "type")?;
    if key_type != [KEY_TYPE_DJB] {
        return Err(format!("retry key type is {key_type:02x?}, expected [05]"));
    }
    let identity = IdentityKey::from(key32(keys, "identity")?);
    let one_time_pre_key = keys
        .child("key")
        .map(|key| {
            Ok::<_, String>(OneTimePreKeyPublic {
                id: be_uint("key id", bytes_of(key, "id")?)?,
                key: key32(key, "value")?.into(),
            })
        })
        .transpose()?;
    let skey = keys.child("skey").ok_or("retry keys lack <skey>")?;
    let signed_pre_key = SignedPreKeyPublic::from_raw(
        be_uint("skey id", bytes_of(skey, "id")?)?,
        &key32(skey, "value")?,
        bytes_of(skey, "signature")?,
    )
    .map_err(|err| format!("retry keys: {err}"))?;
    Ok(PreKeyBundle {
        registration_id,
        identity,
        signed_pre_key,
        one_time_pre_key,
    })
}

impl FakeServer {
    /// `<receipt id to [participant] [type]>` from a connection.
    pub(crate) fn on_receipt(&mut self, conn: ConnId, receipt: &Node) {
        let (Some(device), Some(id)) = (
            self.conns.get(&conn).and_then(|c| c.device()),
            receipt.attr("id").map(str::to_owned),
        ) else {
            return;
        };
        self.send(conn, &stanzas::receipt_ack(receipt));
        let kind = match receipt.attr("type") {
            None => ReceiptKind::Delivery,
            Some("read") => ReceiptKind::Read,
            Some("retry") => ReceiptKind::Retry,
            Some(other) => ReceiptKind::Other {
                kind: other.to_owned(),
            },
        };
        let retry = kind == ReceiptKind::Retry;
        self.event(ServerEvent::Receipt {
            conn,
            id: id.clone(),
            kind,
        });
        if retry {
            let count = receipt
                .child("retry")
                .and_then(|r| r.attr("count"))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let outcome = self.answer_retry(conn, device, &id, receipt);
            self.event(ServerEvent::Retry {
                conn,
                id,
                count,
                outcome,
            });
        }
    }

    /// Encrypts message `id` again for `device` and redelivers it on
    /// `conn`; says what became of the receipt.
    fn answer_retry(&mut self, conn: ConnId, device: u8, id: &str, receipt: &Node) -> RetryOutcome {
        let to = receipt.attr_jid("to");
        let participant = receipt.attr_jid("participant");
        let Some(sent) = self
            .mailbox
            .sent
            .get(id)
            .filter(|s| s.chat.is_named_by(to.as_ref(), participant.as_ref()))
            .cloned()
        else {
            return RetryOutcome::UnknownMessage;
        };
        let Some(index) = self
            .mailbox
            .entries
            .iter()
            .position(|e| e.id == id && e.device == device)
        else {
            return RetryOutcome::UnknownMessage;
        };
        let retries = self.mailbox.entries[index].retries;
        if retries >= RETRIES_PER_MESSAGE_MAX {
            return RetryOutcome::TooManyRetries { retries };
        }
        let bundle = match receipt
            .child("keys")
            .map(|keys| parse_retry_keys(receipt, keys))
        {
            Some(Ok(bundle)) => Some(bundle),
            Some(Err(what)) => return RetryOutcome::BadKeys { what },
            None => None,
        };
        let registered = self
            .devices
            .get(&device)
            .map(|d| d.companion.identity_public);
        if let Some(bundle) = &bundle
            && registered != Some(*bundle.identity.raw())
        {
            // A device's identity is fixed when it is linked.
            return RetryOutcome::BadKeys {
                what: "retry keys name another identity key than the device's".into(),
            };
        }
        let phone = sent.chat.sender_phone().to_owned();
        match self.reencrypt(&phone, device, &sent.chat, &sent.text, bundle.as_ref()) {
            Ok(enc) => {
                let entry = &mut self.mailbox.entries[index];
                entry.encs = vec![enc];
                entry.retries += 1;
                // A new delivery for the device to ack.
                entry.acked = false;
                self.deliver(conn, index, false);
                RetryOutcome::Resent {
                    fresh_session: bundle.is_some(),
                }
            }
            Err(err @ ControlError::Signal(_)) if bundle.is_some() => RetryOutcome::BadKeys {
                what: err.to_string(),
            },
            Err(err) => RetryOutcome::Failed {
                what: err.to_string(),
            },
        }
    }

    /// The message's content again, 1:1 for `device`: on a fresh session
    /// from `bundle` if given. A group message carries the sender key too
    /// (the device may have lost it), as WhatsApp clients resend them.
    fn reencrypt(
        &mut self,
        phone: &str,
        device: u8,
        chat: &Chat,
        text: &str,
        bundle: Option<&PreKeyBundle>,
    ) -> Result<super::contacts::EncPart, ControlError> {
        let FakeServer { contacts, rng, .. } = self;
        let contact = contacts
            .get_mut(phone)
            .ok_or(ControlError::NoSession { device })?;
        if let Some(bundle) = bundle {
            contact.start_session(device, bundle, rng)?;
        }
        let skdm = match chat {
            Chat::Direct { .. } => None,
            Chat::Group { group, .. } => {
                let distribution = contact.sender_key(group, rng)?.distribution()?;
                Some(distribution_content(group, &distribution))
            }
        };
        let content = text_message(Some(text), skdm).encode_to_vec();
        let padded = pad(&content, rng);
        self.seal_for(phone, device, &padded)
    }
}
