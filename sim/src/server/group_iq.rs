//! The bot's `w:g2` iqs, answered as WhatsApp answers them (whatsmeow's
//! group.go, Baileys' groups.ts):
//!
//! - to `G@g.us`: `get <query request=interactive/>` → `<group>`;
//!   `get <invite/>` → `<invite code/>`, `set <invite/>` revokes it;
//!   `set <add|remove|promote|demote><participant jid/>…` → the same tag
//!   with one `<participant jid [error]/>` each (409 already in, 404 not
//!   in, 406 the creator); `set <subject>text</subject>`; `set
//!   <description id prev? [delete=true]><body/></description>`; `set
//!   <announcement/>` / `<not_announcement/>` / `<locked/>` / `<unlocked/>`.
//! - to `@g.us`: `get <participating><participants/><description/>` →
//!   `<groups><group/>…</groups>`; `set <leave><group id/>…</leave>`;
//!   `set <create subject key><participant jid/>…</create>` → `<group>`.
//!
//! Refusals are `<iq type=error><error code text/>`: 404 item-not-found
//! (no such group), 403 forbidden (the bot is not in it: whatsmeow's
//! `ErrNotInGroup`), 401 not-authorized (the bot is not an admin:
//! whatsmeow's `ErrGroupInviteLinkUnauthorized`, the 401 Baileys users
//! meet for settings), 406 not-acceptable (a subject too long), 409
//! conflict (a description whose `prev` is not the current one), 400
//! bad-request (a malformed request).
//!
//! Every change the bot makes is also told, as the `w:gp2` notification,
//! to the account's devices online (WhatsApp tells all members' devices).

use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::group_controls::{NewGroup, ParticipantAction};
use super::group_stanzas::group_jid;
use super::groups::{Rank, check_description, check_subject};
use super::output::ConnId;
use super::users::User;

/// Groups one `<leave>` or members one `<create>` may name.
const GROUPS_PER_REQUEST_MAX: usize = 256;

/// An iq refusal: code and text.
type Refusal = (u16, &'static str);

const NOT_FOUND: Refusal = (404, "item-not-found");
const FORBIDDEN: Refusal = (403, "forbidden");
const NOT_AUTHORIZED: Refusal = (401, "not-authorized");
const BAD_REQUEST: Refusal = (400, "bad-request");

/// `<iq from type=result id>` with `children`.
fn result(id: &str, from: Jid, children: Vec<Node>) -> Node {
    Node::new("iq")
        .with_attr("from", from)
        .with_attr("type", "result")
        .with_attr("id", id.to_owned())
        .with_children(children)
}

fn error(id: &str, from: Jid, (code, text): Refusal) -> Node {
    Node::new("iq")
        .with_attr("from", from)
        .with_attr("type", "error")
        .with_attr("id", id.to_owned())
        .with_children(vec![
            Node::new("error")
                .with_attr("code", code.to_string())
                .with_attr("text", text),
        ])
}

/// A group id as `<group id>` or `<leave>` names it: with or without `@g.us`.
fn group_user(id: &str) -> &str {
    id.strip_suffix("@g.us").unwrap_or(id)
}

impl FakeServer {
    /// `<iq xmlns=w:g2>` from a logged-in device.
    pub(crate) fn on_group_iq(&mut self, conn: ConnId, id: &str, kind: &str, iq: &Node) {
        let from = iq.attr_jid("to").unwrap_or_else(|| Jid::at("g.us"));
        let answer = match (iq.attr_jid("to"), iq.children().first()) {
            (Some(to), Some(child)) if to.server() == "g.us" => {
                if to.user().is_empty() {
                    self.on_groups_iq(id, kind, child)
                } else {
                    self.on_one_group_iq(id, kind, to.user(), child)
                }
            }
            _ => Err(BAD_REQUEST),
        };
        let node = answer.unwrap_or_else(|refusal| error(id, from, refusal));
        self.send(conn, &node);
    }

    /// An iq to `@g.us`: about all groups.
    fn on_groups_iq(&mut self, id: &str, kind: &str, child: &Node) -> Result<Node, Refusal> {
        let from = Jid::at("g.us");
        match (kind, child.tag.as_str()) {
            ("get", "participating") => {
                let own = self.config.phone.clone();
                let ids: Vec<String> = self
                    .groups
                    .by_id
                    .iter()
                    .filter(|(_, g)| g.members.contains_key(&own))
                    .map(|(id, _)| id.clone())
                    .collect();
                let groups = ids.iter().filter_map(|g| self.group_node(g)).collect();
                Ok(result(
                    id,
                    from,
                    vec![Node::new("groups").with_children(groups)],
                ))
            }
            ("set", "leave") => {
                let asked: Vec<String> = child
                    .children_named("group")
                    // Text ("…@g.us") or, as WhatsApp Web encodes it, a JID.
                    .filter_map(|g| match g.attr_jid("id") {
                        Some(jid) => Some(jid.user().to_owned()),
                        None => g.attr("id").map(|g| group_user(g).to_owned()),
                    })
                    .collect();
                if asked.is_empty() || asked.len() > GROUPS_PER_REQUEST_MAX {
                    return Err(BAD_REQUEST);
                }
                let own = self.config.phone.clone();
                let mut answers = Vec::with_capacity(asked.len());
                for group in asked {
                    let mut node = Node::new("group").with_attr("id", group_jid(&group));
                    match self.groups.get(&group).map(|g| g.rank(&own)) {
                        None => node = node.with_attr("error", "404"),
                        Some(None) => node = node.with_attr("error", "403"),
                        Some(Some(_)) => {
                            self.apply_leave(&group, &own);
                            let left = vec![own.clone()];
                            let child = self.participants_child(&group, "remove", &left);
                            self.notify_group(&group, &own, child);
                        }
                    }
                    answers.push(node);
                }
                Ok(result(
                    id,
                    from,
                    vec![Node::new("leave").with_children(answers)],
                ))
            }
            ("set", "create") => self.on_create_iq(id, child),
            _ => Err(BAD_REQUEST),
        }
    }

    /// `<create subject key><participant jid/>…</create>`: the bot makes a
    /// group and is its superadmin.
    fn on_create_iq(&mut self, id: &str, child: &Node) -> Result<Node, Refusal> {
        let subject = child.attr("subject").ok_or(BAD_REQUEST)?.to_owned();
        if check_subject(&subject).is_err() {
            return Err((406, "not-acceptable"));
        }
        let jids: Vec<Jid> = child
            .children_named("participant")
            .filter_map(|p| p.attr_jid("jid"))
            .collect();
        if jids.len() > GROUPS_PER_REQUEST_MAX {
            return Err(BAD_REQUEST);
        }
        let mut members = Vec::new();
        for jid in &jids {
            if let Some(User::Contact(phone)) = self.phone_of(jid) {
                members.push(phone);
            }
        }
        let own = self.config.phone.clone();
        let spec = NewGroup {
            id: None,
            subject,
            creator: own,
            admins: Vec::new(),
            members,
            bot: Some(Rank::Superadmin),
            addressing: Default::default(),
        };
        let group = self.create_group(&spec).map_err(|_| BAD_REQUEST)?;
        let node = self.group_node(&group).ok_or(NOT_FOUND)?;
        Ok(result(id, Jid::at("g.us"), vec![node]))
    }

    /// The user a participant JID names (PN or a LID handed out).
    fn phone_of(&mut self, jid: &Jid) -> Option<User> {
        let plain = Jid::new(jid.user().to_owned(), jid.server().to_owned());
        self.user_of(&plain).map(|(user, _)| user)
    }

    /// An iq to one group.
    fn on_one_group_iq(
        &mut self,
        id: &str,
        kind: &str,
        group: &str,
        child: &Node,
    ) -> Result<Node, Refusal> {
        let from = group_jid(group);
        let own = self.config.phone.clone();
        let (rank, locked) = {
            let g = self.groups.get(group).ok_or(NOT_FOUND)?;
            (g.rank(&own).ok_or(FORBIDDEN)?, g.locked)
        };
        let admin = |needed: bool| {
            if needed && !rank.is_admin() {
                Err(NOT_AUTHORIZED)
            } else {
                Ok(())
            }
        };
        let tag = child.tag.as_str();
        match (kind, tag) {
            ("get", "query") => {
                let node = self.group_node(group).ok_or(NOT_FOUND)?;
                Ok(result(id, from, vec![node]))
            }
            ("get", "invite") => {
                admin(true)?;
                let code = self
                    .groups
                    .get(group)
                    .map(|g| g.invite_code.clone())
                    .ok_or(NOT_FOUND)?;
                let invite = Node::new("invite").with_attr("code", code);
                Ok(result(id, from, vec![invite]))
            }
            ("set", "invite") => {
                admin(true)?;
                let code = self.apply_revoke_invite(group).ok_or(NOT_FOUND)?;
                let invite = Node::new("invite").with_attr("code", code);
                self.notify_group(group, &own, invite.clone());
                Ok(result(id, from, vec![invite]))
            }
            ("set", "add" | "remove" | "promote" | "demote") => {
                admin(true)?;
                let action = ParticipantAction::from_tag(tag).ok_or(BAD_REQUEST)?;
                self.on_participants_iq(id, group, action, child)
            }
            ("set", "subject") => {
                admin(locked)?;
                let subject = child.text().ok_or(BAD_REQUEST)?.to_owned();
                if check_subject(&subject).is_err() {
                    return Err((406, "not-acceptable"));
                }
                if let Some(node) = self.apply_subject(group, &own, &subject) {
                    self.notify_group(group, &own, node);
                }
                Ok(result(id, from, Vec::new()))
            }
            ("set", "description") => {
                admin(locked)?;
                self.on_description_iq(group, child)?;
                Ok(result(id, from, Vec::new()))
            }
            ("set", "announcement" | "not_announcement" | "locked" | "unlocked") => {
                admin(true)?;
                let (setting, on) = match tag {
                    "announcement" => ("announce", true),
                    "not_announcement" => ("announce", false),
                    "locked" => ("locked", true),
                    _ => ("locked", false),
                };
                if let Some(node) = self.apply_setting(group, setting, on) {
                    self.notify_group(group, &own, node);
                }
                Ok(result(id, from, Vec::new()))
            }
            _ => Err(BAD_REQUEST),
        }
    }

    /// `<add|remove|promote|demote>`: each participant on its own; the
    /// answer names each, with `error` where it did not take effect.
    fn on_participants_iq(
        &mut self,
        id: &str,
        group: &str,
        action: ParticipantAction,
        child: &Node,
    ) -> Result<Node, Refusal> {
        let asked: Vec<Jid> = child
            .children_named("participant")
            .filter_map(|p| p.attr_jid("jid"))
            .collect();
        if asked.is_empty() || asked.len() > GROUPS_PER_REQUEST_MAX {
            return Err(BAD_REQUEST);
        }
        let own = self.config.phone.clone();
        let mut answers = Vec::with_capacity(asked.len());
        let mut done = Vec::new();
        for jid in asked {
            let phone = match self.phone_of(&jid) {
                Some(User::Own) => Some(own.clone()),
                Some(User::Contact(phone)) => Some(phone),
                None => None,
            };
            let outcome = match &phone {
                Some(phone) => self.apply_participant(group, action, phone),
                None => Err(404),
            };
            let mut node = Node::new("participant").with_attr("jid", jid);
            match (outcome, phone) {
                (Ok(()), Some(phone)) => done.push(phone),
                (Err(code), _) => node = node.with_attr("error", code.to_string()),
                (Ok(()), None) => node = node.with_attr("error", "404"),
            }
            answers.push(node);
        }
        if !done.is_empty() {
            let notice = self.participants_child(group, action.tag(), &done);
            self.notify_group(group, &own, notice);
        }
        Ok(result(
            id,
            group_jid(group),
            vec![Node::new(action.tag()).with_children(answers)],
        ))
    }

    /// `<description id prev? delete?><body/>`.
    fn on_description_iq(&mut self, group: &str, child: &Node) -> Result<(), Refusal> {
        let current = self
            .groups
            .get(group)
            .and_then(|g| g.description.as_ref().map(|d| d.id.clone()));
        if let Some(prev) = child.attr("prev")
            && current.as_deref() != Some(prev)
        {
            return Err((409, "conflict"));
        }
        let delete = child.attr("delete") == Some("true");
        let body = if delete {
            None
        } else {
            let body = child
                .child("body")
                .and_then(Node::text)
                .ok_or(BAD_REQUEST)?;
            if check_description(body).is_err() {
                return Err((406, "not-acceptable"));
            }
            Some(body.to_owned())
        };
        let desc_id = match child.attr("id") {
            Some(desc_id) => desc_id.to_owned(),
            None if delete => self.new_message_id(),
            None => return Err(BAD_REQUEST),
        };
        let own = self.config.phone.clone();
        if let Some(node) = self.apply_description(group, &own, &desc_id, body.as_deref()) {
            self.notify_group(group, &own, node);
        }
        Ok(())
    }
}
