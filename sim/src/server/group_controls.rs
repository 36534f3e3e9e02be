//! Groups driven from outside (tests, the control API): made with mock
//! contacts and the bot, then changed by one of their admins. Every change
//! is applied to the model and told to the bot's devices online as the
//! `w:gp2` notification WhatsApp sends, when the bot is (or was, until
//! this change) a member. The bot's own admin actions come as iqs
//! (`group_iq`) and end in the same `apply_*` functions.

use std::collections::BTreeMap;
use std::fmt;

use blacksky_core::wire::binary::Node;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::FakeServer;
use super::contacts::check_phone;
use super::groups::{
    Description, Group, GroupAddressing, Rank, check_description, check_group_id, check_subject,
};
use super::output::ControlError;

/// A group to make: `creator` (a contact, or the account's own number)
/// is its superadmin; `admins` and `members` join as such; `bot` puts the
/// account in with that rank (`None`: the bot is not in it).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    /// The JID user part; `None` picks a new `1203…` id.
    pub id: Option<String>,
    pub subject: String,
    pub creator: String,
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub members: Vec<String>,
    pub bot: Option<Rank>,
    #[serde(default)]
    pub addressing: GroupAddressing,
}

/// A change to a group by one of its members (`actor`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupChange {
    Add {
        phones: Vec<String>,
    },
    Remove {
        phones: Vec<String>,
    },
    Promote {
        phones: Vec<String>,
    },
    Demote {
        phones: Vec<String>,
    },
    /// The actor leaves.
    Leave,
    Subject {
        subject: String,
    },
    /// `None` deletes it.
    Description {
        body: Option<String>,
    },
    Announce {
        on: bool,
    },
    Locked {
        on: bool,
    },
    /// A new invite code; the old one stops working.
    RevokeInvite,
}

/// What a participant change can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantAction {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            ParticipantAction::Add => "add",
            ParticipantAction::Remove => "remove",
            ParticipantAction::Promote => "promote",
            ParticipantAction::Demote => "demote",
        }
    }

    pub(crate) fn from_tag(tag: &str) -> Option<ParticipantAction> {
        Some(match tag {
            "add" => ParticipantAction::Add,
            "remove" => ParticipantAction::Remove,
            "promote" => ParticipantAction::Promote,
            "demote" => ParticipantAction::Demote,
            _ => return None,
        })
    }
}

/// A group as the control API shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    pub id: String,
    pub subject: String,
    pub description: Option<String>,
    pub creator: String,
    pub addressing: GroupAddressing,
    /// By phone number (the account's own number for the bot).
    pub members: BTreeMap<String, Rank>,
    pub announce: bool,
    pub locked: bool,
    pub invite_code: String,
    /// Member devices holding a sender key of the bot.
    pub held_keys: usize,
}

// Numbers, subjects and texts stay out of Debug output (logs).

impl fmt::Debug for NewGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewGroup")
            .field("id", &self.id)
            .field("admins", &self.admins.len())
            .field("members", &self.members.len())
            .field("bot", &self.bot)
            .field("addressing", &self.addressing)
            .finish_non_exhaustive()
    }
}

impl GroupChange {
    /// The change's name, as the JSON `kind` gives it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            GroupChange::Add { .. } => "add",
            GroupChange::Remove { .. } => "remove",
            GroupChange::Promote { .. } => "promote",
            GroupChange::Demote { .. } => "demote",
            GroupChange::Leave => "leave",
            GroupChange::Subject { .. } => "subject",
            GroupChange::Description { .. } => "description",
            GroupChange::Announce { .. } => "announce",
            GroupChange::Locked { .. } => "locked",
            GroupChange::RevokeInvite => "revoke_invite",
        }
    }
}

impl fmt::Debug for GroupChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("GroupChange");
        out.field("kind", &self.kind());
        match self {
            GroupChange::Add { phones }
            | GroupChange::Remove { phones }
            | GroupChange::Promote { phones }
            | GroupChange::Demote { phones } => out.field("phones", &phones.len()),
            GroupChange::Announce { on } | GroupChange::Locked { on } => out.field("on", on),
            _ => &mut out,
        };
        out.finish_non_exhaustive()
    }
}

impl fmt::Debug for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupState")
            .field("id", &self.id)
            .field("addressing", &self.addressing)
            .field("members", &self.members.len())
            .field("announce", &self.announce)
            .field("locked", &self.locked)
            .field("held_keys", &self.held_keys)
            .finish_non_exhaustive()
    }
}

/// A WhatsApp invite code: 22 letters and digits.
fn invite_code(rng: &mut impl RngCore) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..22)
        .map(|_| char::from(ALPHABET[(rng.next_u32() % ALPHABET.len() as u32) as usize]))
        .collect()
}

impl FakeServer {
    /// Makes a group (see [`NewGroup`]); returns its JID user part. When
    /// the bot is in it, its devices online get the `<create>` notification.
    pub fn create_group(&mut self, spec: &NewGroup) -> Result<String, ControlError> {
        check_subject(&spec.subject)?;
        check_phone(&spec.creator)?;
        for phone in spec.admins.iter().chain(&spec.members) {
            check_phone(phone)?;
        }
        let own = self.config.phone.clone();
        let mut members = BTreeMap::new();
        for phone in &spec.members {
            members.insert(phone.clone(), Rank::Member);
        }
        for phone in &spec.admins {
            members.insert(phone.clone(), Rank::Admin);
        }
        if let Some(rank) = spec.bot {
            members.insert(own.clone(), rank);
        }
        members.insert(spec.creator.clone(), Rank::Superadmin);
        if members.len() > super::groups::MEMBERS_PER_GROUP_MAX {
            return Err(ControlError::TooManyMembers {
                max: super::groups::MEMBERS_PER_GROUP_MAX,
            });
        }
        let id = match &spec.id {
            Some(id) => {
                check_group_id(id)?;
                id.clone()
            }
            None => self.groups.new_id(),
        };
        for phone in members.keys() {
            if *phone != own {
                self.contacts.get_or_create(phone, &mut self.rng)?;
            }
        }
        let now = self.wall.as_secs();
        let group = Group {
            subject: spec.subject.clone(),
            subject_by: spec.creator.clone(),
            subject_t: now,
            description: None,
            creator: spec.creator.clone(),
            creation: now,
            addressing: spec.addressing,
            members,
            announce: false,
            locked: false,
            invite_code: invite_code(&mut self.rng),
            held: BTreeMap::new(),
            former: BTreeMap::new(),
            earlier_members: std::collections::VecDeque::new(),
        };
        let bot_in = group.members.contains_key(&own);
        self.groups.insert(id.clone(), group)?;
        if bot_in && let Some(node) = self.group_node(&id) {
            let create = Node::new("create")
                .with_attr("reason", "create")
                .with_children(vec![node]);
            self.notify_group(&id, &spec.creator, create);
        }
        Ok(id)
    }

    /// `actor` (a member's number) changes the group; returns the numbers
    /// the change took effect for (for participant changes), else empty.
    /// Refused with [`ControlError::NotAdmin`] as WhatsApp refuses it:
    /// participants, settings and the invite need an admin; the subject
    /// and description only while the group is locked.
    pub fn change_group(
        &mut self,
        id: &str,
        actor: &str,
        change: &GroupChange,
    ) -> Result<Vec<String>, ControlError> {
        check_phone(actor)?;
        let group = self.groups.known_mut(id)?;
        let rank = group
            .rank(actor)
            .ok_or(ControlError::NotAMember { role: "actor" })?;
        let needs_admin = match change {
            GroupChange::Leave => false,
            GroupChange::Subject { .. } | GroupChange::Description { .. } => group.locked,
            _ => true,
        };
        if needs_admin && !rank.is_admin() {
            return Err(ControlError::NotAdmin { role: "actor" });
        }
        let own = self.config.phone.clone();
        let bot_was_in = group.members.contains_key(&own);
        let (done, child) = match change {
            GroupChange::Add { phones } => {
                self.participants_change(id, ParticipantAction::Add, phones)?
            }
            GroupChange::Remove { phones } => {
                self.participants_change(id, ParticipantAction::Remove, phones)?
            }
            GroupChange::Promote { phones } => {
                self.participants_change(id, ParticipantAction::Promote, phones)?
            }
            GroupChange::Demote { phones } => {
                self.participants_change(id, ParticipantAction::Demote, phones)?
            }
            GroupChange::Leave => {
                if !self.apply_leave(id, actor) {
                    return Err(ControlError::NotAMember { role: "actor" });
                }
                let left = vec![actor.to_owned()];
                let child = self.participants_child(id, "remove", &left);
                (left, Some(child))
            }
            GroupChange::Subject { subject } => {
                check_subject(subject)?;
                (Vec::new(), self.apply_subject(id, actor, subject))
            }
            GroupChange::Description { body } => {
                if let Some(body) = body {
                    check_description(body)?;
                }
                let desc_id = self.new_message_id();
                (
                    Vec::new(),
                    self.apply_description(id, actor, &desc_id, body.as_deref()),
                )
            }
            GroupChange::Announce { on } => (Vec::new(), self.apply_setting(id, "announce", *on)),
            GroupChange::Locked { on } => (Vec::new(), self.apply_setting(id, "locked", *on)),
            GroupChange::RevokeInvite => {
                let code = self.apply_revoke_invite(id);
                (
                    Vec::new(),
                    code.map(|code| Node::new("invite").with_attr("code", code)),
                )
            }
        };
        let bot_is_in = self
            .groups
            .get(id)
            .is_some_and(|g| g.members.contains_key(&own));
        if let Some(child) = child
            && (bot_was_in || bot_is_in)
        {
            self.notify_group(id, actor, child);
        }
        Ok(done)
    }

    /// The group as plain data (`None` for an unknown group).
    #[must_use]
    pub fn group_state(&self, id: &str) -> Option<GroupState> {
        let g = self.groups.get(id)?;
        Some(GroupState {
            id: id.to_owned(),
            subject: g.subject.clone(),
            description: g.description.as_ref().map(|d| d.body.clone()),
            creator: g.creator.clone(),
            addressing: g.addressing,
            members: g.members.clone(),
            announce: g.announce,
            locked: g.locked,
            invite_code: g.invite_code.clone(),
            held_keys: g.held.len(),
        })
    }

    /// Every group, by id.
    #[must_use]
    pub fn group_states(&self) -> Vec<GroupState> {
        self.groups
            .by_id
            .keys()
            .filter_map(|id| self.group_state(id))
            .collect()
    }

    // ---- the changes themselves, shared with the iqs ----

    /// Applies `action` to each of `phones`; returns those it took effect
    /// for and the notification child naming them (none if no one).
    fn participants_change(
        &mut self,
        id: &str,
        action: ParticipantAction,
        phones: &[String],
    ) -> Result<(Vec<String>, Option<Node>), ControlError> {
        for phone in phones {
            check_phone(phone)?;
        }
        let done: Vec<String> = phones
            .iter()
            .filter(|phone| self.apply_participant(id, action, phone).is_ok())
            .cloned()
            .collect();
        let child = (!done.is_empty()).then(|| self.participants_child(id, action.tag(), &done));
        Ok((done, child))
    }

    /// One participant change; `Err(code)` is the `error` WhatsApp puts on
    /// that `<participant>`: 409 already in, 404 not in, 406 the creator's
    /// rank, 500 the group is full.
    pub(crate) fn apply_participant(
        &mut self,
        id: &str,
        action: ParticipantAction,
        phone: &str,
    ) -> Result<(), u16> {
        let own = self.config.phone.clone();
        if action == ParticipantAction::Add && phone != own {
            self.contacts
                .get_or_create(phone, &mut self.rng)
                .map_err(|_| 500u16)?;
        }
        let group = self.groups.get_mut(id).ok_or(404u16)?;
        match action {
            ParticipantAction::Add => match group.add(phone) {
                Ok(true) => Ok(()),
                Ok(false) => Err(409),
                Err(_) => Err(500),
            },
            ParticipantAction::Remove => {
                if group.rank(phone) == Some(Rank::Superadmin) {
                    return Err(406);
                }
                if group.remove(phone) {
                    Ok(())
                } else {
                    Err(404)
                }
            }
            ParticipantAction::Promote | ParticipantAction::Demote => {
                let rank = group.rank(phone).ok_or(404u16)?;
                if rank == Rank::Superadmin {
                    return Err(406);
                }
                let to = if action == ParticipantAction::Promote {
                    Rank::Admin
                } else {
                    Rank::Member
                };
                group.set_rank(phone, to);
                Ok(())
            }
        }
    }

    /// `phone` leaves (the creator too, unlike a removal); false if it
    /// was no member.
    pub(crate) fn apply_leave(&mut self, id: &str, phone: &str) -> bool {
        self.groups.get_mut(id).is_some_and(|g| g.remove(phone))
    }

    /// Sets the subject; the notification's `<subject>`.
    pub(crate) fn apply_subject(&mut self, id: &str, actor: &str, subject: &str) -> Option<Node> {
        let t = self.wall.as_secs();
        let group = self.groups.get_mut(id)?;
        group.subject = subject.to_owned();
        group.subject_by = actor.to_owned();
        group.subject_t = t;
        self.subject_child(id)
    }

    /// Sets (or with `None` deletes) the description under `desc_id`;
    /// the notification's `<description>`.
    pub(crate) fn apply_description(
        &mut self,
        id: &str,
        actor: &str,
        desc_id: &str,
        body: Option<&str>,
    ) -> Option<Node> {
        let t = self.wall.as_secs();
        let group = self.groups.get_mut(id)?;
        group.description = body.map(|body| Description {
            id: desc_id.to_owned(),
            body: body.to_owned(),
            by: actor.to_owned(),
            t,
        });
        let node = Node::new("description").with_attr("id", desc_id.to_owned());
        Some(match body {
            Some(body) => {
                node.with_children(vec![Node::new("body").with_bytes(body.as_bytes().to_vec())])
            }
            None => node.with_children(vec![Node::new("delete")]),
        })
    }

    /// `announce` or `locked` on or off; the notification child
    /// (`announcement` / `not_announcement` / `locked` / `unlocked`).
    pub(crate) fn apply_setting(&mut self, id: &str, setting: &str, on: bool) -> Option<Node> {
        let v_id = self.wall.0.to_string();
        let group = self.groups.get_mut(id)?;
        let tag = match (setting, on) {
            ("announce", true) => {
                group.announce = true;
                "announcement"
            }
            ("announce", false) => {
                group.announce = false;
                "not_announcement"
            }
            (_, true) => {
                group.locked = true;
                "locked"
            }
            (_, false) => {
                group.locked = false;
                "unlocked"
            }
        };
        Some(Node::new(tag).with_attr("v_id", v_id))
    }

    /// A new invite code for the group; returns it.
    pub(crate) fn apply_revoke_invite(&mut self, id: &str) -> Option<String> {
        let code = invite_code(&mut self.rng);
        let group = self.groups.get_mut(id)?;
        group.invite_code = code.clone();
        Some(code)
    }
}
