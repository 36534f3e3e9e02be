//! A `<message>` the bot sends to a group, as WhatsApp's server and the
//! members' devices take it (Baileys' messages-send.ts group branch,
//! whatsmeow's send.go `sendGroup`):
//!
//! `<message id to=G@g.us type><participants><to jid=device><enc v=2
//! type=pkmsg|msg/></to>…</participants><enc v=2 type=skmsg/>
//! [<device-identity/>]</message>`.
//!
//! Each named device opens its pairwise `<enc>`: a `Message` carrying
//! `senderKeyDistributionMessage{groupId, axolotl…}` (the same for the
//! bot's own devices: no `deviceSentMessage` in a group), and keeps the
//! bot device's sender key for the group. Then every device of every
//! member (the account's phone included) reads the `skmsg` with the key
//! it holds, and each that read it sends `<receipt from=G@g.us
//! participant=device id t>` after the server's `<ack>`.
//!
//! A message whose `phash` names a member list the group had before its
//! latest changes was sealed before the bot heard of them: a member added
//! since asks again (a retry receipt) instead of being a violation, and
//! a member removed since may still read it. The bot's answer to such a
//! retry, `<message to=G@g.us participant=device><enc/>`, is read in
//! `bot_group_resends`.
//!
//! Violations: the bot is not in the group; a member's device present at
//! send time cannot read the skmsg; a device of a non-member was sent the
//! sender key; a removed member could still read it with the key it held
//! (the bot must rotate its sender key on a removal or a leave); in a LID
//! group a device named by phone number.

use std::collections::BTreeSet;

use blacksky_core::message::padding::unpad;
use blacksky_core::signal::group::{group_decrypt, process_distribution};
use blacksky_core::wire::binary::{Jid, Node};
use blacksky_proto::Message;
use blacksky_proto::wa;

use super::FakeServer;
use super::bot_messages::{enc_kind, owner, plain, text_of};
use super::contacts::{EncKind, group_jid_text};
use super::groups::{GroupAddressing, Holder};
use super::output::{ConnId, ServerEvent};
use super::peer::{OpenFailure, Opened};
use super::received::ReceivedText;
use super::retry_request::RetryAsked;
use super::users::{Addressing, User};
use super::violations::{Violation, ViolationKind};

/// One pairwise `<enc>` (the sender key's carrier) and its device.
pub(super) struct Pairwise {
    pub(super) jid: Jid,
    pub(super) user: User,
    pub(super) phone: String,
    pub(super) device: u8,
    pub(super) kind: EncKind,
    pub(super) bytes: Vec<u8>,
}

/// A member's device.
type MemberDevice = (User, u8);

/// What a member device made of the pairwise `<enc>` it was sent.
pub(super) enum Taken {
    /// Opened now: the message it carried (its sender key kept).
    Opened(Box<wa::Message>),
    /// A msg on the session the device dropped when it asked for a
    /// message again: it asks again, as for 1:1, with its keys from the
    /// second time on. The bot could not know.
    AskAgain,
    /// Opened before, or refused (a violation says why).
    Nothing,
}

/// The message, read.
struct GroupPlan {
    skmsg: Vec<u8>,
    pairwise: Vec<Pairwise>,
}

/// What the message is, for records and receipts.
pub(super) struct GroupContext<'a> {
    pub(super) conn: ConnId,
    pub(super) id: &'a str,
    pub(super) group: &'a str,
    pub(super) sender: u8,
    pub(super) t: u64,
    pub(super) addressing: GroupAddressing,
}

impl GroupContext<'_> {
    fn violation(&self, user: Option<&User>, device: Option<u8>, kind: ViolationKind) -> Violation {
        Violation {
            id: self.id.to_owned(),
            owner: user.map(owner),
            device,
            kind,
        }
    }
}

impl FakeServer {
    /// `<message to=G@g.us>` from bot device `sender`.
    pub(crate) fn on_bot_group_message(
        &mut self,
        conn: ConnId,
        node: &Node,
        id: &str,
        to: &Jid,
        sender: u8,
    ) {
        let group = to.user().to_owned();
        let own = self.config.phone.clone();
        let Some(addressing) = self.groups.get(&group).map(|g| g.addressing) else {
            let what = "a group the server does not know".to_owned();
            let kind = ViolationKind::Malformed { what };
            self.violation(conn, plain_violation(id, kind));
            return self.send_message_ack(conn, id, Some(to), Some(404));
        };
        if self.groups.get(&group).and_then(|g| g.rank(&own)).is_none() {
            self.violation(conn, plain_violation(id, ViolationKind::NotInGroup));
            return self.send_message_ack(conn, id, Some(to), Some(403));
        }
        let cx = GroupContext {
            conn,
            id,
            group: &group,
            sender,
            t: self.wall.as_secs(),
            addressing,
        };
        if node.attr_value("participant").is_some() {
            return self.on_bot_group_resend(&cx, node, to);
        }
        // A member added (or removed) after the bot sealed is judged by
        // the list the bot sealed for, when its phash names one we had.
        let sealed_for = self.sealed_for(&group, addressing, node.attr("phash"));
        let plan = match self.read_group_plan(node) {
            Ok(plan) => plan,
            Err(what) => {
                self.violation(conn, plain_violation(id, ViolationKind::Malformed { what }));
                return self.send_message_ack(conn, id, Some(to), Some(400));
            }
        };
        let any_pkmsg = plan.pairwise.iter().any(|p| p.kind == EncKind::PkMsg);
        let identity_ok = !any_pkmsg || self.check_message_identity(conn, id, sender, node);
        let mut ask_again = BTreeSet::new();
        for pairwise in &plan.pairwise {
            if let Taken::AskAgain = self.take_sender_key(&cx, pairwise, identity_ok) {
                ask_again.insert((pairwise.phone.clone(), pairwise.device));
            }
        }
        let (read, unread) = self.read_skmsg(&cx, &plan.skmsg, sealed_for.as_ref(), &ask_again);
        self.check_former_members(&cx, &plan.skmsg, sealed_for.as_ref());
        self.send_message_ack(conn, id, Some(to), None);
        for (user, device) in &read {
            let receipt = self.group_receipt(&cx, user, *device);
            self.send(conn, &receipt);
        }
        let addressing = match addressing {
            GroupAddressing::Pn => Addressing::Pn,
            GroupAddressing::Lid => Addressing::Lid,
        };
        for (user, device) in unread {
            // A device that cannot read it asks for it again, as for 1:1.
            let asked = RetryAsked {
                id,
                t: cx.t,
                group: Some(&group),
            };
            let _ = self.send_retry_receipt(conn, &user, addressing, device, sender, &asked);
        }
        self.event(ServerEvent::BotMessage {
            conn,
            id: id.to_owned(),
            opened: u32::try_from(read.len()).unwrap_or(u32::MAX),
        });
    }

    fn read_group_plan(&mut self, node: &Node) -> Result<GroupPlan, String> {
        let skmsg = node
            .children_named("enc")
            .find(|e| e.attr("type") == Some("skmsg"))
            .ok_or("a group <message> without <enc type=skmsg>")?;
        if skmsg.attr("v") != Some("2") {
            return Err(format!(
                "<enc type=skmsg> has v={:?}, expected 2",
                skmsg.attr("v")
            ));
        }
        let skmsg = skmsg
            .bytes()
            .ok_or("<enc type=skmsg> without bytes")?
            .to_vec();
        let mut pairwise = Vec::new();
        let own = self.config.phone.clone();
        for to_node in node
            .child("participants")
            .map(|p| p.children_named("to").collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let jid = to_node.attr_jid("jid").ok_or("<to> without a jid")?;
            let (user, _) = self
                .user_of(&plain(&jid))
                .ok_or("<to> names a user the server does not know")?;
            let phone = match &user {
                User::Own => own.clone(),
                User::Contact(phone) => phone.clone(),
            };
            let device = u8::try_from(jid.device().unwrap_or(0))
                .map_err(|_| format!("device {:?} is out of range", jid.device()))?;
            let enc = to_node.child("enc").ok_or("<to> without an <enc>")?;
            pairwise.push(Pairwise {
                jid,
                user,
                phone,
                device,
                kind: enc_kind(enc)?,
                bytes: enc.bytes().ok_or("<enc> without bytes")?.to_vec(),
            });
        }
        Ok(GroupPlan { skmsg, pairwise })
    }

    /// One pairwise `<enc>` at its device: opened, and the sender key it
    /// carries kept for the group.
    pub(super) fn take_sender_key(
        &mut self,
        cx: &GroupContext<'_>,
        target: &Pairwise,
        identity_ok: bool,
    ) -> Taken {
        let user = Some(&target.user);
        let device = Some(target.device);
        if cx.addressing == GroupAddressing::Lid && target.jid.server() != "lid" {
            let what = "a LID group names its members' devices by LID".to_owned();
            let kind = ViolationKind::Malformed { what };
            self.violation(cx.conn, cx.violation(user, device, kind));
        }
        let is_member = self
            .groups
            .get(cx.group)
            .is_some_and(|g| g.members.contains_key(&target.phone));
        if !is_member {
            let kind = ViolationKind::SenderKeyToNonMember {
                device: target.device,
            };
            self.violation(cx.conn, cx.violation(user, device, kind));
            return Taken::Nothing;
        }
        let exists = self
            .devices_of(&target.user)
            .iter()
            .any(|&(d, _)| d == target.device);
        if !exists || (target.user == User::Own && target.device == cx.sender) {
            let kind = ViolationKind::UnknownDevice {
                device: u16::from(target.device),
            };
            self.violation(cx.conn, cx.violation(user, device, kind));
            return Taken::Nothing;
        }
        if target.user == User::Own && target.device != 0 {
            // Another linked device of the bot: not played here.
            return Taken::Nothing;
        }
        if target.kind == EncKind::PkMsg && !identity_ok {
            return Taken::Nothing;
        }
        let Some(bot_identity) = self
            .devices
            .get(&cx.sender)
            .map(|d| d.companion.identity_public)
        else {
            return Taken::Nothing;
        };
        let opened = {
            let FakeServer {
                contacts,
                own_phone,
                account_key,
                rng,
                ..
            } = self;
            let peer = match &target.user {
                User::Own => Some(own_phone.peer(account_key, rng)),
                User::Contact(phone) => contacts
                    .get_mut(phone)
                    .and_then(|c| c.device_mut(target.device)),
            };
            let Some(peer) = peer else {
                return Taken::Nothing;
            };
            peer.open(cx.sender, &bot_identity, target.kind, &target.bytes, rng)
        };
        let padded = match opened {
            Ok(Opened::Fresh(padded)) => padded,
            // Opened before: its key was taken in then.
            Ok(Opened::Duplicate) => return Taken::Nothing,
            Err(OpenFailure::AfterDrop) => return Taken::AskAgain,
            Err(OpenFailure::KeyReused { counter }) => {
                let kind = ViolationKind::KeyReused { counter };
                self.violation(cx.conn, cx.violation(user, device, kind));
                return Taken::Nothing;
            }
            Err(OpenFailure::IdentityMismatch) => {
                let kind = ViolationKind::IdentityMismatch;
                self.violation(cx.conn, cx.violation(user, device, kind));
                return Taken::Nothing;
            }
            Err(OpenFailure::Undecryptable { what }) => {
                let kind = ViolationKind::Undecryptable { what };
                self.violation(cx.conn, cx.violation(user, device, kind));
                return Taken::Nothing;
            }
        };
        match self.keep_distribution(cx, target, &padded) {
            Ok(message) => Taken::Opened(Box::new(message)),
            Err(kind) => {
                self.violation(cx.conn, cx.violation(user, device, kind));
                Taken::Nothing
            }
        }
    }

    /// Reads the SKDM out of a pairwise plaintext and keeps the key.
    fn keep_distribution(
        &mut self,
        cx: &GroupContext<'_>,
        target: &Pairwise,
        padded: &[u8],
    ) -> Result<wa::Message, ViolationKind> {
        let bad = |what: String| ViolationKind::BadContent { what };
        let plain = unpad(padded).map_err(|e| ViolationKind::BadPadding {
            what: e.to_string(),
        })?;
        let message = wa::Message::decode(plain).map_err(|e| bad(format!("not a Message: {e}")))?;
        let skdm = message
            .sender_key_distribution_message
            .as_ref()
            .ok_or_else(|| {
                bad("a group's pairwise message without senderKeyDistributionMessage".into())
            })?;
        if skdm.group_id.as_deref() != Some(group_jid_text(cx.group).as_str()) {
            return Err(bad(
                "senderKeyDistributionMessage.groupId is not this group".into(),
            ));
        }
        let bytes = skdm
            .axolotl_sender_key_distribution_message
            .as_deref()
            .ok_or_else(|| bad("senderKeyDistributionMessage without axolotl bytes".into()))?;
        let holder = Holder {
            bot_device: cx.sender,
            phone: target.phone.clone(),
            device: target.device,
        };
        let next = {
            let Some(group) = self.groups.get(cx.group) else {
                return Ok(message);
            };
            let current = group.held.get(&holder).cloned().unwrap_or_default();
            process_distribution(&current, bytes)
                .map_err(|e| bad(format!("the sender key does not parse: {e}")))?
        };
        if let Some(group) = self.groups.get_mut(cx.group) {
            group.hold(holder, next).map_err(|e| bad(e.to_string()))?;
        }
        Ok(message)
    }

    /// Every device of every member reads the skmsg with the key it
    /// holds; returns the devices that read it and those that could not.
    fn read_skmsg(
        &mut self,
        cx: &GroupContext<'_>,
        skmsg: &[u8],
        sealed_for: Option<&BTreeSet<String>>,
        ask_again: &BTreeSet<(String, u8)>,
    ) -> (Vec<MemberDevice>, Vec<MemberDevice>) {
        let members: Vec<String> = self
            .groups
            .get(cx.group)
            .map(|g| g.members.keys().cloned().collect())
            .unwrap_or_default();
        let mut read = Vec::new();
        let mut unread = Vec::new();
        for phone in members {
            let user = self.member_user(&phone);
            let devices: Vec<u8> = match &user {
                // The bot's other linked devices are not played.
                User::Own => vec![0],
                User::Contact(_) => self.devices_of(&user).into_iter().map(|(d, _)| d).collect(),
            };
            for device in devices {
                if self.read_before(&user, cx.id, device) {
                    // Sent again (a retry answered, a resend): a copy if
                    // it opens, and no harm if not.
                    if let Ok(message) = self.open_skmsg(cx, &phone, device, skmsg) {
                        self.record_group_read(cx, &user, device, &message);
                    }
                    read.push((user.clone(), device));
                    continue;
                }
                match self.open_skmsg(cx, &phone, device, skmsg) {
                    Ok(message) => {
                        self.record_group_read(cx, &user, device, &message);
                        read.push((user.clone(), device));
                    }
                    Err(what) => {
                        // A member the bot had not heard of when it sealed
                        // asks again, as WhatsApp's clients do: no fault.
                        // Nor one whose carrier came on a session it had
                        // dropped.
                        let sealed = sealed_for.is_none_or(|sealed| sealed.contains(&phone));
                        if sealed && !ask_again.contains(&(phone.clone(), device)) {
                            let kind = ViolationKind::MemberCannotRead { device, what };
                            self.violation(cx.conn, cx.violation(Some(&user), Some(device), kind));
                        }
                        unread.push((user.clone(), device));
                    }
                }
            }
        }
        (read, unread)
    }

    /// The skmsg opened by one member device with the key it holds (kept
    /// moved on); the message it shows.
    fn open_skmsg(
        &mut self,
        cx: &GroupContext<'_>,
        phone: &str,
        device: u8,
        skmsg: &[u8],
    ) -> Result<wa::Message, String> {
        let holder = Holder {
            bot_device: cx.sender,
            phone: phone.to_owned(),
            device,
        };
        let group = self.groups.get_mut(cx.group).ok_or("no group")?;
        let record = group
            .held
            .get(&holder)
            .ok_or("it holds no sender key of the bot device")?;
        let (padded, next) = group_decrypt(record, skmsg).map_err(|e| e.to_string())?;
        group.held.insert(holder, next);
        let plain = unpad(&padded).map_err(|e| format!("padding: {e}"))?;
        wa::Message::decode(plain).map_err(|e| format!("not a Message: {e}"))
    }

    /// Removed members' devices try the key they kept.
    fn check_former_members(
        &mut self,
        cx: &GroupContext<'_>,
        skmsg: &[u8],
        sealed_for: Option<&BTreeSet<String>>,
    ) {
        let Some(group) = self.groups.get(cx.group) else {
            return;
        };
        let could_read: Vec<Holder> = group
            .former
            .iter()
            .filter(|(h, _)| h.bot_device == cx.sender)
            // Removed after the bot sealed: it could not know.
            .filter(|(h, _)| !sealed_for.is_some_and(|sealed| sealed.contains(&h.phone)))
            .filter(|(_, record)| group_decrypt(record, skmsg).is_ok())
            .map(|(h, _)| h.clone())
            .collect();
        for holder in could_read {
            let user = self.member_user(&holder.phone);
            let kind = ViolationKind::FormerMemberCouldRead {
                device: holder.device,
            };
            self.violation(
                cx.conn,
                cx.violation(Some(&user), Some(holder.device), kind),
            );
        }
    }

    /// The device read this message before (the bot sent it again).
    fn read_before(&self, user: &User, id: &str, device: u8) -> bool {
        let ring = match user {
            User::Own => Some(self.own_phone.received()),
            User::Contact(phone) => self.contacts.get(phone).map(|c| c.received()),
        };
        ring.is_some_and(|r| r.iter().any(|t| t.id == id && t.device == device))
    }

    /// What a member device read; its media fetched and checked as a
    /// 1:1 recipient's is (once per message).
    pub(super) fn record_group_read(
        &mut self,
        cx: &GroupContext<'_>,
        user: &User,
        device: u8,
        message: &wa::Message,
    ) {
        let media = self.check_bot_media(cx.conn, cx.id, owner(user), device, message);
        let received = ReceivedText {
            id: cx.id.to_owned(),
            text: text_of(message),
            device,
            from_device: cx.sender,
            dsm_destination: None,
            copies: 1,
            t: cx.t,
            via_lid: cx.addressing == GroupAddressing::Lid,
            group: Some(cx.group.to_owned()),
            media,
        };
        match user {
            User::Own => self.own_phone.record_received(received),
            User::Contact(phone) => {
                if let Some(contact) = self.contacts.get_mut(phone) {
                    contact.record_received(received);
                }
            }
        }
    }

    /// `<receipt from=G@g.us participant=device id t>`; our own phone's
    /// carries `type=sender`.
    pub(super) fn group_receipt(&mut self, cx: &GroupContext<'_>, user: &User, device: u8) -> Node {
        let addressing = match cx.addressing {
            GroupAddressing::Pn => Addressing::Pn,
            GroupAddressing::Lid => Addressing::Lid,
        };
        let participant = self.device_jid(user, addressing, device);
        let receipt = Node::new("receipt")
            .with_attr("from", Jid::new(cx.group.to_owned(), "g.us"))
            .with_attr("id", cx.id.to_owned())
            .with_attr("participant", participant);
        let receipt = match user {
            User::Own => receipt.with_attr("type", "sender"),
            User::Contact(_) => receipt,
        };
        receipt.with_attr("t", cx.t.to_string())
    }
}

/// A violation about the whole message.
pub(super) fn plain_violation(id: &str, kind: ViolationKind) -> Violation {
    Violation {
        id: id.to_owned(),
        owner: None,
        device: None,
        kind,
    }
}
