//! A `<message>` the bot sends, as WhatsApp's server and the recipients'
//! devices take it (whatsmeow's send.go, Baileys' messages-send.ts):
//!
//! - fan-out: `<message id to=user type><participants><to jid=device><enc
//!   v=2 type=pkmsg|msg/></to>…</participants>[<device-identity/>]`: one
//!   `<enc>` for each device of the recipient and each of the account's
//!   other devices (the phone gets `Message{deviceSentMessage}`);
//! - direct (the answer to a retry receipt): `<message id to=device
//!   type><enc v=2 type count/>[<device-identity/>]`.
//!
//! Each addressed device the server plays (a contact's, the account's
//! phone) opens its `<enc>` with its own session, checks the padding and
//! reads the `Message`; the server acks the bot with `<ack class=message
//! id from=to t>`, then each device that read it sends its delivery
//! receipt (the phone a `type=sender` one). A device that cannot open its
//! `<enc>` asks for it again with a retry receipt. What a real server or
//! contact would hold against the message is recorded as a
//! [`super::violations::Violation`]. Media a message carries is fetched
//! from the media host and checked once (`super::media`).

use std::collections::BTreeSet;

use blacksky_core::client::pairing::{self, ACCOUNT_SIG_PREFIX};
use blacksky_core::crypto::xeddsa;
use blacksky_core::message::padding::unpad;
use blacksky_core::wire::binary::{Jid, Node};
use blacksky_proto::Message;
use blacksky_proto::wa::{self, AdvSignedDeviceIdentity};

use super::FakeServer;
use super::contacts::EncKind;
use super::output::{ConnId, ServerEvent};
use super::peer::{OpenFailure, Opened};
use super::received::ReceivedText;
use super::retry_request::RetryAsked;
use super::users::{Addressing, User};
use super::violations::{Owner, Violation, ViolationKind};

/// One `<enc>` of the message and the device it is for.
struct Target {
    user: User,
    device: u8,
    kind: EncKind,
    bytes: Vec<u8>,
}

/// The message, read.
struct Plan {
    /// The chat: the recipient user.
    chat: User,
    addressing: Addressing,
    /// A fan-out names every device; a direct message one.
    fanout: bool,
    targets: Vec<Target>,
}

/// What the message was, for the receipts and records.
struct Context<'a> {
    conn: ConnId,
    id: &'a str,
    to: &'a Jid,
    sender: u8,
    t: u64,
    plan_addressing: Addressing,
}

pub(super) fn owner(user: &User) -> Owner {
    match user {
        User::Own => Owner::Own,
        User::Contact(_) => Owner::Contact,
    }
}

pub(super) fn plain(jid: &Jid) -> Jid {
    Jid::new(jid.user().to_owned(), jid.server().to_owned())
}

pub(super) fn enc_kind(enc: &Node) -> Result<EncKind, String> {
    if enc.attr("v") != Some("2") {
        return Err(format!("<enc> has v={:?}, expected 2", enc.attr("v")));
    }
    match enc.attr("type") {
        Some("pkmsg") => Ok(EncKind::PkMsg),
        Some("msg") => Ok(EncKind::Msg),
        other => Err(format!("1:1 <enc> of type {other:?}")),
    }
}

/// The text a `Message` shows.
pub(super) fn text_of(message: &wa::Message) -> String {
    message
        .conversation
        .clone()
        .or_else(|| {
            message
                .extended_text_message
                .as_ref()
                .and_then(|m| m.text.clone())
        })
        .unwrap_or_default()
}

/// A device's reading of the plaintext: its text, a DSM's destination, and
/// the message itself (a DSM's inner one), for its media.
type Read = (String, Option<String>, wa::Message);

/// Unpads and reads the plaintext: a DSM for our own phone (its text and
/// destination), a plain message for a contact.
fn read_content(padded: &[u8], own: bool) -> Result<Read, ViolationKind> {
    let plain = unpad(padded).map_err(|e| ViolationKind::BadPadding {
        what: e.to_string(),
    })?;
    let message = wa::Message::decode(plain).map_err(|e| ViolationKind::BadContent {
        what: format!("not a Message: {e}"),
    })?;
    let bad = |what: &str| ViolationKind::BadContent { what: what.into() };
    match (own, &message.device_sent_message) {
        (true, Some(dsm)) => {
            let inner = dsm
                .message
                .as_deref()
                .ok_or_else(|| bad("deviceSentMessage without a message"))?;
            let destination = dsm
                .destination_jid
                .clone()
                .ok_or_else(|| bad("deviceSentMessage without destinationJid"))?;
            Ok((text_of(inner), Some(destination), inner.clone()))
        }
        (true, None) => Err(bad("our own phone got a message without deviceSentMessage")),
        (false, Some(_)) => Err(bad("a contact got a deviceSentMessage")),
        (false, None) => Ok((text_of(&message), None, message)),
    }
}

impl FakeServer {
    /// `<message>` from a logged-in device.
    pub(crate) fn on_bot_message(&mut self, conn: ConnId, node: &Node) {
        let Some(sender) = self.conns.get(&conn).and_then(|c| c.device()) else {
            return self.client_error(conn, "<message> before login".into());
        };
        let id = node.attr("id").unwrap_or_default().to_owned();
        let malformed = |id: &str, what: String| Violation {
            id: id.to_owned(),
            owner: None,
            device: None,
            kind: ViolationKind::Malformed { what },
        };
        if id.is_empty() {
            // Nothing to ack it by.
            return self.violation(conn, malformed("", "<message> without an id".into()));
        }
        let Some(to) = node.attr_jid("to") else {
            self.violation(conn, malformed(&id, "<message> without a to".into()));
            return self.send_message_ack(conn, &id, None, Some(400));
        };
        if to.server() == "g.us" {
            return self.on_bot_group_message(conn, node, &id, &to, sender);
        }
        let plan = match self.read_plan(node, &to) {
            Ok(plan) => plan,
            Err(what) => {
                self.violation(conn, malformed(&id, what));
                return self.send_message_ack(conn, &id, Some(&to), Some(400));
            }
        };
        let any_pkmsg = plan.targets.iter().any(|t| t.kind == EncKind::PkMsg);
        let identity_ok = !any_pkmsg || self.check_message_identity(conn, &id, sender, node);
        let cx = Context {
            conn,
            id: &id,
            to: &to,
            sender,
            t: self.wall.as_secs(),
            plan_addressing: plan.addressing,
        };
        if plan.fanout {
            self.check_coverage(&cx, &plan);
        }
        let mut read = Vec::new();
        let mut retries = Vec::new();
        for target in &plan.targets {
            match self.deliver_to_device(&cx, target, identity_ok) {
                Delivery::Read => read.push((target.user.clone(), target.device)),
                Delivery::Retry => retries.push((target.user.clone(), target.device)),
                Delivery::Nothing => {}
            }
        }
        self.send_message_ack(conn, &id, Some(&to), None);
        for (user, device) in &read {
            let receipt = self.delivery_receipt(&cx, user, *device);
            self.send(conn, &receipt);
        }
        for (user, device) in retries {
            // A device that cannot read a message asks for it again.
            let asked = RetryAsked {
                id: &id,
                t: cx.t,
                group: None,
            };
            let _ = self.send_retry_receipt(conn, &user, plan.addressing, device, sender, &asked);
        }
        self.event(ServerEvent::BotMessage {
            conn,
            id: id.clone(),
            opened: u32::try_from(read.len()).unwrap_or(u32::MAX),
        });
    }

    /// Reads the chat and the `<enc>`s, each with its device.
    fn read_plan(&mut self, node: &Node, to: &Jid) -> Result<Plan, String> {
        let (chat, addressing) = self
            .user_of(&plain(to))
            .ok_or_else(|| format!("to is not a user the server knows ({})", to.server()))?;
        let device_of = |jid: &Jid| {
            u8::try_from(jid.device().unwrap_or(0))
                .map_err(|_| format!("device {:?} is out of range", jid.device()))
        };
        if let Some(participants) = node.child("participants") {
            let mut targets = Vec::new();
            for to_node in participants.children_named("to") {
                let jid = to_node
                    .attr_jid("jid")
                    .ok_or("<to> without a jid".to_owned())?;
                let (user, _) = self
                    .user_of(&plain(&jid))
                    .ok_or_else(|| "<to> names a user the server does not know".to_owned())?;
                if user != chat && user != User::Own {
                    return Err("<to> names a third user, neither the chat nor us".into());
                }
                let enc = to_node.child("enc").ok_or("<to> without an <enc>")?;
                targets.push(Target {
                    device: device_of(&jid)?,
                    user,
                    kind: enc_kind(enc)?,
                    bytes: enc.bytes().ok_or("<enc> without bytes")?.to_vec(),
                });
            }
            if targets.is_empty() {
                return Err("<participants> without a <to>".into());
            }
            return Ok(Plan {
                chat,
                addressing,
                fanout: true,
                targets,
            });
        }
        let enc = node
            .child("enc")
            .ok_or("<message> with neither <participants> nor <enc>")?;
        Ok(Plan {
            targets: vec![Target {
                user: chat.clone(),
                device: device_of(to)?,
                kind: enc_kind(enc)?,
                bytes: enc.bytes().ok_or("<enc> without bytes")?.to_vec(),
            }],
            chat,
            addressing,
            fanout: false,
        })
    }

    /// A message with a pkmsg must carry the sending device's signed
    /// identity: the account's signature over it, and the device's own.
    pub(super) fn check_message_identity(
        &mut self,
        conn: ConnId,
        id: &str,
        sender: u8,
        node: &Node,
    ) -> bool {
        let kind = match node.child("device-identity").and_then(Node::bytes) {
            None => ViolationKind::MissingDeviceIdentity,
            Some(bytes) => match self.verify_device_identity(sender, bytes) {
                Ok(()) => return true,
                Err(what) => ViolationKind::BadDeviceIdentity { what },
            },
        };
        self.violation(
            conn,
            Violation {
                id: id.to_owned(),
                owner: None,
                device: None,
                kind,
            },
        );
        false
    }

    fn verify_device_identity(&self, sender: u8, bytes: &[u8]) -> Result<(), String> {
        let device = self
            .devices
            .get(&sender)
            .ok_or("the sending device has no record")?;
        let signed = AdvSignedDeviceIdentity::decode(bytes)
            .map_err(|e| format!("not an ADVSignedDeviceIdentity: {e}"))?;
        let details = signed.details.as_deref().ok_or("no details")?;
        if details != device.adv_details.as_slice() {
            return Err("details are not the ones the phone signed for this device".into());
        }
        let account = self.account_key.public();
        match signed.account_signature_key.as_deref() {
            Some(key) if key == account.as_slice() => {}
            Some(_) => return Err("accountSignatureKey is not the account's key".into()),
            None => return Err("no accountSignatureKey".into()),
        }
        let companion = &device.companion.identity_public;
        let signature = signed
            .account_signature
            .as_deref()
            .ok_or("no accountSignature")?;
        xeddsa::verify_parts(
            account,
            &[&ACCOUNT_SIG_PREFIX, details, companion],
            signature,
        )
        .map_err(|_| "the account signature does not verify".to_owned())?;
        pairing::verify_device_signature(bytes, account, companion).map_err(|e| e.to_string())
    }

    /// Every device of the recipient, and every other device of our own
    /// account, must get an `<enc>`.
    fn check_coverage(&mut self, cx: &Context<'_>, plan: &Plan) {
        let addressed: BTreeSet<(Owner, u8)> = plan
            .targets
            .iter()
            .map(|t| (owner(&t.user), t.device))
            .collect();
        let mut expected: BTreeSet<(Owner, u8)> = self
            .devices_of(&User::Own)
            .into_iter()
            .filter(|&(device, _)| device != cx.sender)
            .map(|(device, _)| (Owner::Own, device))
            .collect();
        if plan.chat != User::Own {
            expected.extend(
                self.devices_of(&plan.chat)
                    .into_iter()
                    .map(|(device, _)| (Owner::Contact, device)),
            );
        }
        for (owner, device) in expected.difference(&addressed) {
            self.violation(
                cx.conn,
                Violation {
                    id: cx.id.to_owned(),
                    owner: Some(*owner),
                    device: Some(*device),
                    kind: ViolationKind::DeviceLeftOut { device: *device },
                },
            );
        }
    }

    /// One `<enc>` at its device.
    fn deliver_to_device(
        &mut self,
        cx: &Context<'_>,
        target: &Target,
        identity_ok: bool,
    ) -> Delivery {
        let exists = self
            .devices_of(&target.user)
            .iter()
            .any(|&(device, _)| device == target.device);
        let violation = |kind| Violation {
            id: cx.id.to_owned(),
            owner: Some(owner(&target.user)),
            device: Some(target.device),
            kind,
        };
        if !exists || (target.user == User::Own && target.device == cx.sender) {
            let kind = ViolationKind::UnknownDevice {
                device: u16::from(target.device),
            };
            self.violation(cx.conn, violation(kind));
            return Delivery::Nothing;
        }
        if target.user == User::Own && target.device != 0 {
            // Another linked device of the bot: relayed in WhatsApp, not
            // played here (the server has no keys of it).
            return Delivery::Nothing;
        }
        if target.kind == EncKind::PkMsg && !identity_ok {
            // A real device refuses a new session it cannot tie to the account.
            return Delivery::Nothing;
        }
        let Some(bot_identity) = self
            .devices
            .get(&cx.sender)
            .map(|d| d.companion.identity_public)
        else {
            return Delivery::Nothing;
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
                return Delivery::Nothing;
            };
            peer.open(cx.sender, &bot_identity, target.kind, &target.bytes, rng)
        };
        let padded = match opened {
            Ok(Opened::Fresh(padded)) => padded,
            Ok(Opened::Duplicate) => return Delivery::Read,
            Err(OpenFailure::AfterDrop) => return Delivery::Retry,
            Err(OpenFailure::KeyReused { counter }) => {
                self.violation(cx.conn, violation(ViolationKind::KeyReused { counter }));
                return Delivery::Nothing;
            }
            Err(OpenFailure::IdentityMismatch) => {
                self.violation(cx.conn, violation(ViolationKind::IdentityMismatch));
                return Delivery::Nothing;
            }
            Err(OpenFailure::Undecryptable { what }) => {
                self.violation(cx.conn, violation(ViolationKind::Undecryptable { what }));
                return Delivery::Retry;
            }
        };
        let own = target.user == User::Own;
        let (text, dsm_destination, message) = match read_content(&padded, own) {
            Ok(read) => read,
            Err(kind) => {
                self.violation(cx.conn, violation(kind));
                return Delivery::Nothing;
            }
        };
        let media =
            self.check_bot_media(cx.conn, cx.id, owner(&target.user), target.device, &message);
        let received = ReceivedText {
            id: cx.id.to_owned(),
            text,
            device: target.device,
            from_device: cx.sender,
            dsm_destination,
            copies: 1,
            t: cx.t,
            via_lid: cx.plan_addressing == Addressing::Lid,
            group: None,
            media,
        };
        match &target.user {
            User::Own => self.own_phone.record_received(received),
            User::Contact(phone) => {
                if let Some(contact) = self.contacts.get_mut(phone) {
                    contact.record_received(received);
                }
            }
        }
        Delivery::Read
    }

    /// `<ack class=message id from=to t>` (with `error` for a message the
    /// server refuses).
    pub(super) fn send_message_ack(
        &mut self,
        conn: ConnId,
        id: &str,
        to: Option<&Jid>,
        error: Option<u16>,
    ) {
        let mut ack = Node::new("ack")
            .with_attr("class", "message")
            .with_attr("id", id.to_owned());
        if let Some(to) = to {
            ack = ack.with_attr("from", to.clone());
        }
        ack = ack.with_attr("t", self.wall.as_secs().to_string());
        if let Some(code) = error {
            ack = ack.with_attr("error", code.to_string());
        }
        self.send(conn, &ack);
    }

    /// The delivery receipt of `device`: `<receipt from=device id t>`, or
    /// from our own phone `<receipt from id recipient=chat type=sender t>`.
    fn delivery_receipt(&mut self, cx: &Context<'_>, user: &User, device: u8) -> Node {
        let from = self.device_jid(user, cx.plan_addressing, device);
        let receipt = Node::new("receipt")
            .with_attr("from", from)
            .with_attr("id", cx.id.to_owned());
        let receipt = match user {
            User::Own => receipt
                .with_attr("recipient", plain(cx.to))
                .with_attr("type", "sender"),
            User::Contact(_) => receipt,
        };
        receipt.with_attr("t", cx.t.to_string())
    }
}

/// What became of one `<enc>` at its device.
enum Delivery {
    /// Read (or read before): it sends a delivery receipt.
    Read,
    /// It could not read it and asks again.
    Retry,
    /// Refused, or not a device the server plays.
    Nothing,
}
