//! `<notification type="w:gp2">`: what changed in a group (members
//! added, removed, leaving, promoted, demoted; subject, description,
//! settings), read into typed changes that update the cached metadata
//! and reach the bot as events.

use std::fmt;

use super::metadata::{Description, GroupInfo, Participant, Rank};
use crate::wire::binary::{Jid, NodeRef};

/// The most members one change names (a bigger list is cut).
pub const CHANGED_MEMBERS_LEN_MAX: usize = 1_024;

/// One change to a group.
#[derive(Clone, PartialEq, Eq)]
pub enum GroupChange {
    Added(Vec<Jid>),
    Removed(Vec<Jid>),
    Left(Vec<Jid>),
    Promoted(Vec<Jid>),
    Demoted(Vec<Jid>),
    Subject(String),
    Description(Option<String>),
    /// Only admins may write (`true`), or everyone again.
    Announce(bool),
    /// Only admins may edit the group's info (`true`), or everyone again.
    Locked(bool),
    /// The invite link was reset.
    InviteReset,
}

impl fmt::Debug for GroupChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Members are counted, texts measured: no numbers in logs.
        match self {
            GroupChange::Added(who) => write!(f, "Added({})", who.len()),
            GroupChange::Removed(who) => write!(f, "Removed({})", who.len()),
            GroupChange::Left(who) => write!(f, "Left({})", who.len()),
            GroupChange::Promoted(who) => write!(f, "Promoted({})", who.len()),
            GroupChange::Demoted(who) => write!(f, "Demoted({})", who.len()),
            GroupChange::Subject(text) => write!(f, "Subject({} chars)", text.chars().count()),
            GroupChange::Description(text) => {
                write!(
                    f,
                    "Description({:?} chars)",
                    text.as_ref().map(|t| t.chars().count())
                )
            }
            GroupChange::Announce(on) => write!(f, "Announce({on})"),
            GroupChange::Locked(on) => write!(f, "Locked({on})"),
            GroupChange::InviteReset => f.write_str("InviteReset"),
        }
    }
}

impl GroupChange {
    /// Members who are no longer in the group after it.
    #[must_use]
    pub fn departed(&self) -> &[Jid] {
        match self {
            GroupChange::Removed(who) | GroupChange::Left(who) => who,
            _ => &[],
        }
    }
}

/// What one notification says about one group.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupEvent {
    pub group: Jid,
    /// Who made the change, when the notification says.
    pub actor: Option<Jid>,
    pub changes: Vec<GroupChange>,
}

impl fmt::Debug for GroupEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupEvent")
            .field("group", &self.group.to_string())
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

/// Reads a `w:gp2` notification; `None` if it names no group or says
/// nothing this model knows.
#[must_use]
pub fn parse_notification(node: NodeRef<'_>) -> Option<GroupEvent> {
    let group = node.attr_jid("from").filter(|jid| jid.server() == "g.us")?;
    let changes: Vec<GroupChange> = node.children().filter_map(change_of).collect();
    if changes.is_empty() {
        return None;
    }
    Some(GroupEvent {
        group,
        actor: node.attr_jid("participant"),
        changes,
    })
}

fn change_of(child: NodeRef<'_>) -> Option<GroupChange> {
    let members = || {
        child
            .children_named("participant")
            .filter_map(|p| p.attr_jid("jid"))
            .take(CHANGED_MEMBERS_LEN_MAX)
            .collect::<Vec<_>>()
    };
    Some(match child.tag() {
        "add" => GroupChange::Added(members()),
        "remove" => GroupChange::Removed(members()),
        "leave" => GroupChange::Left(members()),
        "promote" => GroupChange::Promoted(members()),
        "demote" => GroupChange::Demoted(members()),
        "subject" => GroupChange::Subject(child.attr("subject").unwrap_or_default().to_owned()),
        "description" => GroupChange::Description(
            child
                .child("body")
                .and_then(|body| body.text())
                .map(str::to_owned),
        ),
        "announcement" => GroupChange::Announce(true),
        "not_announcement" => GroupChange::Announce(false),
        "locked" => GroupChange::Locked(true),
        "unlocked" => GroupChange::Locked(false),
        "invite" => GroupChange::InviteReset,
        _ => return None,
    })
}

/// `info` after `change`.
pub fn apply(info: &mut GroupInfo, change: &GroupChange) {
    let same = |a: &Jid, b: &Jid| a.user() == b.user() && a.server() == b.server();
    let is = |p: &Participant, who: &Jid| {
        same(&p.jid, who) || p.alternate.as_ref().is_some_and(|alt| same(alt, who))
    };
    match change {
        GroupChange::Added(who) => {
            for member in who {
                if info.participant(member).is_none()
                    && info.participants.len() < super::metadata::PARTICIPANTS_LEN_MAX
                {
                    info.participants.push(Participant {
                        jid: Jid::new(member.user().to_owned(), member.server().to_owned()),
                        alternate: None,
                        rank: Rank::Member,
                    });
                }
            }
        }
        GroupChange::Removed(who) | GroupChange::Left(who) => {
            info.participants
                .retain(|p| !who.iter().any(|member| is(p, member)));
        }
        GroupChange::Promoted(who) | GroupChange::Demoted(who) => {
            let rank = if matches!(change, GroupChange::Promoted(_)) {
                Rank::Admin
            } else {
                Rank::Member
            };
            for p in &mut info.participants {
                if who.iter().any(|member| is(p, member)) {
                    p.rank = rank;
                }
            }
        }
        GroupChange::Subject(subject) => info.subject.clone_from(subject),
        GroupChange::Description(text) => {
            info.description = text.as_ref().map(|text| Description {
                id: String::new(),
                text: text.clone(),
            });
        }
        GroupChange::Announce(on) => info.announce = *on,
        GroupChange::Locked(on) => info.locked = *on,
        GroupChange::InviteReset => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::groups::metadata::Addressing;
    use crate::wire::binary::{Decoded, Node, encode};

    fn user(n: &str) -> Jid {
        Jid::new(n.to_owned(), "s.whatsapp.net")
    }

    fn parse(node: &Node) -> Option<GroupEvent> {
        let bytes = encode(node).expect("encode");
        let mut decoded = Decoded::new();
        parse_notification(decoded.decode(&bytes).expect("decode"))
    }

    fn participants(tag: &str, who: &[&str]) -> Node {
        Node::new(tag.to_owned()).with_children(
            who.iter()
                .map(|n| Node::new("participant").with_attr("jid", user(n)))
                .collect(),
        )
    }

    #[test]
    fn changes_read_and_update_the_cached_group() {
        let node = Node::new("notification")
            .with_attr("type", "w:gp2")
            .with_attr("from", Jid::new("1203630001", "g.us"))
            .with_attr("participant", user("100"))
            .with_children(vec![
                participants("add", &["300"]),
                participants("remove", &["200"]),
                participants("promote", &["300"]),
                Node::new("subject").with_attr("subject", "New name"),
                Node::new("announcement"),
            ]);
        let event = parse(&node).expect("a group event");
        assert_eq!(event.actor, Some(user("100")));
        assert_eq!(event.changes.len(), 5);
        let mut info = GroupInfo {
            jid: event.group.clone(),
            subject: "Old".into(),
            description: None,
            created_at: 0,
            creator: None,
            addressing: Addressing::Pn,
            announce: false,
            locked: false,
            participants: vec![
                Participant {
                    jid: user("100"),
                    alternate: None,
                    rank: Rank::SuperAdmin,
                },
                Participant {
                    jid: user("200"),
                    alternate: None,
                    rank: Rank::Member,
                },
            ],
        };
        for change in &event.changes {
            apply(&mut info, change);
        }
        let members: Vec<(String, Rank)> = info
            .participants
            .iter()
            .map(|p| (p.jid.user().to_owned(), p.rank))
            .collect();
        assert_eq!(
            members,
            [
                ("100".into(), Rank::SuperAdmin),
                ("300".into(), Rank::Admin)
            ]
        );
        assert_eq!(info.subject, "New name");
        assert!(info.announce);
        assert_eq!(event.changes[1].departed(), [user("200")]);
    }

    #[test]
    fn a_notification_about_no_group_is_none() {
        let node = Node::new("notification")
            .with_attr("type", "w:gp2")
            .with_attr("from", user("100"))
            .with_child(participants("add", &["300"]));
        assert_eq!(parse(&node), None);
    }
}
