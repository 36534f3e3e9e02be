//! A group admin's requests (`w:g2` iqs: add, remove, promote, demote,
//! subject, description, announce and locked settings, the invite code,
//! leave) and their answers, as WhatsApp Web sends and reads them.
//!
//! The server refuses a whole request with an `<error code>` (401 when we
//! are not an admin, 403 when not a member, 404 for no such group, 406 for
//! a subject or description it does not take, 409 for a stale description
//! edit); a participant change is answered per person, with an `error`
//! attribute on each one that did not take (403 their privacy settings,
//! 404 not a WhatsApp user or not in the group, 409 already in it).

use std::fmt;

use crate::wire::binary::{Jid, Node, NodeRef};

/// People a request may name at once (WhatsApp Web's own cap is higher;
/// a command naming more is refused before it reaches the server).
pub const PEOPLE_PER_REQUEST_MAX: usize = 256;
/// The longest subject WhatsApp takes, in characters.
pub const SUBJECT_CHARS_MAX: usize = 100;
/// The longest description WhatsApp takes, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 2048;

/// What a participant change does to each person named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantChange {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantChange {
    /// The request's (and the answer's) tag.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            ParticipantChange::Add => "add",
            ParticipantChange::Remove => "remove",
            ParticipantChange::Promote => "promote",
            ParticipantChange::Demote => "demote",
        }
    }
}

/// One thing a group admin (or member, for `Leave`) asks of the server.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminAction {
    Participants {
        change: ParticipantChange,
        people: Vec<Jid>,
    },
    Subject(String),
    /// `None` deletes the description.
    Description(Option<String>),
    /// On: only admins may write.
    Announce(bool),
    /// On: only admins may edit the group's info.
    Locked(bool),
    /// The current invite code.
    InviteCode,
    /// A new invite code (the old link stops working).
    RevokeInvite,
    Leave,
}

// Names and texts stay out of logs: the kind and a count.
impl fmt::Debug for AdminAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminAction::Participants { change, people } => {
                write!(f, "Participants({change:?}, {} people)", people.len())
            }
            AdminAction::Subject(_) => f.write_str("Subject"),
            AdminAction::Description(text) => {
                write!(
                    f,
                    "Description({})",
                    if text.is_some() { "set" } else { "delete" }
                )
            }
            AdminAction::Announce(on) => write!(f, "Announce({on})"),
            AdminAction::Locked(on) => write!(f, "Locked({on})"),
            AdminAction::InviteCode => f.write_str("InviteCode"),
            AdminAction::RevokeInvite => f.write_str("RevokeInvite"),
            AdminAction::Leave => f.write_str("Leave"),
        }
    }
}

/// Why a request, or one person in it, did not take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: we are not an admin of the group.
    NotAdmin,
    /// 403: we are not a member (for a request), or the person's privacy
    /// settings keep them from being added (for a person).
    Forbidden,
    /// 404: no such group, or no such person (in it).
    NotFound,
    /// 406: the server does not take this subject or description.
    NotAcceptable,
    /// 409: already so (a person already in the group), or a description
    /// edited meanwhile.
    Conflict,
    /// 429: too many requests; try later.
    RateLimited,
    /// Any other code, as the server gave it.
    Other(u16),
}

impl Refusal {
    /// The refusal a server's `code` stands for.
    #[must_use]
    pub fn from_code(code: u16) -> Refusal {
        match code {
            401 => Refusal::NotAdmin,
            403 => Refusal::Forbidden,
            404 => Refusal::NotFound,
            406 => Refusal::NotAcceptable,
            409 => Refusal::Conflict,
            429 => Refusal::RateLimited,
            other => Refusal::Other(other),
        }
    }

    /// Reads a code attribute; one that is not a number counts as 0.
    #[must_use]
    pub fn from_attr(code: &str) -> Refusal {
        Refusal::from_code(code.trim().parse().unwrap_or(0))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAdmin => f.write_str("not an admin (401)"),
            Refusal::Forbidden => f.write_str("forbidden (403)"),
            Refusal::NotFound => f.write_str("not found (404)"),
            Refusal::NotAcceptable => f.write_str("not acceptable (406)"),
            Refusal::Conflict => f.write_str("conflict (409)"),
            Refusal::RateLimited => f.write_str("rate limited (429)"),
            Refusal::Other(code) => write!(f, "refused ({code})"),
        }
    }
}

/// How one person named in a participant change fared.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonOutcome {
    pub person: Jid,
    pub result: Result<(), Refusal>,
}

impl fmt::Debug for PersonOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonOutcome")
            .field("result", &self.result)
            .finish_non_exhaustive()
    }
}

/// What the server answered to a request it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAnswer {
    /// Subject, description, settings: done.
    Done,
    /// A participant change: each person's outcome, in the server's order.
    People(Vec<PersonOutcome>),
    /// The invite code (current, or the new one after a revoke).
    InviteCode(InviteCode),
    /// We left the group.
    Left,
}

/// A group's invite code; the link is `https://chat.whatsapp.com/<code>`.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode(pub String);

impl InviteCode {
    #[must_use]
    pub fn link(&self) -> String {
        format!("https://chat.whatsapp.com/{}", self.0)
    }
}

// Anyone holding the code can join: it stays out of logs.
impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteCode(<redacted>)")
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminAnswerError {
    #[error("the answer lacks its <{0}> node")]
    Missing(&'static str),
    #[error("the invite answer has no code")]
    NoInviteCode,
}

/// What a description change must name besides its text: a fresh id for
/// the new one and, when known, the id of the one it replaces (the server
/// refuses with 409 when that is no longer current).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptionIds {
    pub new_id: String,
    pub previous: Option<String>,
}

/// The iq for `action` on `group`, with iq id `id`.
#[must_use]
pub fn admin_request(id: &str, group: &Jid, action: &AdminAction, ids: &DescriptionIds) -> Node {
    let (kind, to, child) = match action {
        AdminAction::Participants { change, people } => (
            "set",
            group.clone(),
            Node::new(change.tag()).with_children(
                people
                    .iter()
                    .map(|person| Node::new("participant").with_attr("jid", person.clone()))
                    .collect(),
            ),
        ),
        AdminAction::Subject(subject) => (
            "set",
            group.clone(),
            Node::new("subject").with_text(subject.clone()),
        ),
        AdminAction::Description(text) => {
            let mut node = Node::new("description").with_attr("id", ids.new_id.clone());
            if let Some(previous) = &ids.previous {
                node = node.with_attr("prev", previous.clone());
            }
            node = match text {
                Some(text) => node.with_child(Node::new("body").with_text(text.clone())),
                None => node.with_attr("delete", "true"),
            };
            ("set", group.clone(), node)
        }
        AdminAction::Announce(on) => (
            "set",
            group.clone(),
            Node::new(if *on {
                "announcement"
            } else {
                "not_announcement"
            }),
        ),
        AdminAction::Locked(on) => (
            "set",
            group.clone(),
            Node::new(if *on { "locked" } else { "unlocked" }),
        ),
        AdminAction::InviteCode => ("get", group.clone(), Node::new("invite")),
        AdminAction::RevokeInvite => ("set", group.clone(), Node::new("invite")),
        AdminAction::Leave => (
            "set",
            Jid::at("g.us"),
            Node::new("leave").with_child(Node::new("group").with_attr("id", group.clone())),
        ),
    };
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", kind)
        .with_attr("xmlns", "w:g2")
        .with_attr("to", to)
        .with_child(child)
}

/// Reads the `type=result` answer to `action`.
pub fn parse_admin_answer(
    action: &AdminAction,
    answer: NodeRef<'_>,
) -> Result<Result<AdminAnswer, Refusal>, AdminAnswerError> {
    Ok(Ok(match action {
        AdminAction::Participants { change, .. } => {
            let list = answer
                .child(change.tag())
                .ok_or(AdminAnswerError::Missing(change.tag()))?;
            AdminAnswer::People(
                list.children_named("participant")
                    .filter_map(|node| {
                        let person = node.attr_jid("jid")?;
                        let result = match node.attr("error") {
                            Some(code) => Err(Refusal::from_attr(code)),
                            None => Ok(()),
                        };
                        Some(PersonOutcome { person, result })
                    })
                    .take(PEOPLE_PER_REQUEST_MAX)
                    .collect(),
            )
        }
        AdminAction::InviteCode | AdminAction::RevokeInvite => {
            let code = answer
                .child("invite")
                .and_then(|invite| invite.attr("code"))
                .filter(|code| !code.is_empty())
                .ok_or(AdminAnswerError::NoInviteCode)?;
            AdminAnswer::InviteCode(InviteCode(code.to_owned()))
        }
        AdminAction::Leave => {
            // Refused per group, like a participant change.
            let group = answer
                .child("leave")
                .and_then(|leave| leave.child("group"))
                .ok_or(AdminAnswerError::Missing("leave"))?;
            if let Some(code) = group.attr("error") {
                return Ok(Err(Refusal::from_attr(code)));
            }
            AdminAnswer::Left
        }
        AdminAction::Subject(_)
        | AdminAction::Description(_)
        | AdminAction::Announce(_)
        | AdminAction::Locked(_) => AdminAnswer::Done,
    }))
}

#[cfg(test)]
mod tests;
