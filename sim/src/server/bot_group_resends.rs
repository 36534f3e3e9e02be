//! What the bot sends a member device that asked for a group message
//! again (whatsmeow's `handleRetryReceipt`): the message 1:1, with the
//! bot's sender key for the group in it,
//! `<message id to=G@g.us participant=device type><enc v=2
//! type=pkmsg|msg/>[<device-identity/>]</message>`. The device opens it,
//! keeps the key and reads the message (a receipt follows).
//!
//! And which member list a group message was sealed for, from its
//! `phash` (see `blacksky_core::client::groups::phash`).

use std::collections::BTreeSet;

use blacksky_core::client::groups::phash::participant_hash;
use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::bot_group_messages::{GroupContext, Pairwise, Taken, plain_violation};
use super::bot_messages::{enc_kind, plain};
use super::contacts::EncKind;
use super::group_stanzas::to_addressing;
use super::groups::GroupAddressing;
use super::output::ServerEvent;
use super::retry_request::RetryAsked;
use super::users::User;
use super::violations::ViolationKind;

impl FakeServer {
    /// A group message sent again to the one device named by `participant`.
    pub(super) fn on_bot_group_resend(&mut self, cx: &GroupContext<'_>, node: &Node, to: &Jid) {
        let target = match self.read_resend(node) {
            Ok(target) => target,
            Err(what) => {
                let kind = ViolationKind::Malformed { what };
                self.violation(cx.conn, plain_violation(cx.id, kind));
                return self.send_message_ack(cx.conn, cx.id, Some(to), Some(400));
            }
        };
        let identity_ok = target.kind != EncKind::PkMsg
            || self.check_message_identity(cx.conn, cx.id, cx.sender, node);
        let taken = self.take_sender_key(cx, &target, identity_ok);
        self.send_message_ack(cx.conn, cx.id, Some(to), None);
        let message = match taken {
            Taken::Opened(message) => message,
            Taken::Nothing => return,
            Taken::AskAgain => {
                // A msg on the session it dropped when it asked: it asks
                // again, with its keys from the second time on.
                let asked = RetryAsked {
                    id: cx.id,
                    t: cx.t,
                    group: Some(cx.group),
                };
                let addressing = to_addressing(cx.addressing);
                let _ = self.send_retry_receipt(
                    cx.conn,
                    &target.user,
                    addressing,
                    target.device,
                    cx.sender,
                    &asked,
                );
                return;
            }
        };
        self.record_group_read(cx, &target.user, target.device, &message);
        let receipt = self.group_receipt(cx, &target.user, target.device);
        self.send(cx.conn, &receipt);
        self.event(ServerEvent::BotMessage {
            conn: cx.conn,
            id: cx.id.to_owned(),
            opened: 1,
        });
    }

    fn read_resend(&mut self, node: &Node) -> Result<Pairwise, String> {
        let jid = node
            .attr_jid("participant")
            .ok_or("participant is not a JID")?;
        let (user, _) = self
            .user_of(&plain(&jid))
            .ok_or("participant names a user the server does not know")?;
        let phone = match &user {
            User::Own => self.config.phone.clone(),
            User::Contact(phone) => phone.clone(),
        };
        let device = u8::try_from(jid.device().unwrap_or(0))
            .map_err(|_| format!("device {:?} is out of range", jid.device()))?;
        let enc = node
            .child("enc")
            .ok_or("a group message sent again without an <enc>")?;
        if node.child("participants").is_some() || enc.attr("type") == Some("skmsg") {
            return Err("a group message sent again to one device is 1:1 only".into());
        }
        Ok(Pairwise {
            kind: enc_kind(enc)?,
            bytes: enc.bytes().ok_or("<enc> without bytes")?.to_vec(),
            jid,
            user,
            phone,
            device,
        })
    }

    /// The member list (by number) a message with this `phash` was sealed
    /// for, when it names one the group had; `None` (judge by the members
    /// now) without a phash or when it names none.
    pub(super) fn sealed_for(
        &mut self,
        group: &str,
        addressing: GroupAddressing,
        phash: Option<&str>,
    ) -> Option<BTreeSet<String>> {
        let phash = phash?;
        let lists: Vec<BTreeSet<String>> = {
            let g = self.groups.get(group)?;
            std::iter::once(g.members.keys().cloned().collect())
                .chain(g.earlier_members.iter().rev().cloned())
                .collect()
        };
        lists
            .into_iter()
            .find(|members| self.phash_of(addressing, members) == phash)
    }

    /// The phash of `members`' devices as they are now, named as the
    /// group names them.
    fn phash_of(&mut self, addressing: GroupAddressing, members: &BTreeSet<String>) -> String {
        let mut devices = Vec::new();
        for phone in members {
            let user = self.member_user(phone);
            for (device, _) in self.devices_of(&user) {
                devices.push(self.device_jid(&user, to_addressing(addressing), device));
            }
        }
        participant_hash(&devices)
    }
}
