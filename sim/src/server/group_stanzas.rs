//! The group stanzas the server writes, as whatsmeow's group.go and
//! Baileys' groups.ts / messages-recv.ts read them:
//!
//! - `<group id subject s_t s_o creation creator addressing_mode size>
//!   <participant jid type? lid|phone_number/>…<description id t
//!   participant><body/></description>[<announcement/>][<locked/>]</group>`
//!   (the answer to `<query request=interactive>`, each group of
//!   `<participating>`, the `<create>` notification). In a LID group
//!   members are named by LID with `phone_number`, and `creator` / `s_o`
//!   are LIDs with `creator_pn` / `s_o_pn`; in a PN group members carry
//!   `lid`.
//! - `<notification type=w:gp2 from=G@g.us participant=actor
//!   [participant_pn] id t notify>` with one child: `add` / `remove` /
//!   `promote` / `demote` with `<participant jid/>` children (a member
//!   who leaves is a `remove` whose actor is the member itself: Baileys
//!   turns that into a leave, whatsmeow reads `remove` as `Leave`),
//!   `subject subject s_t s_o`, `description id` with `<body>` or
//!   `<delete/>`, `announcement` / `not_announcement` / `locked` /
//!   `unlocked` (`v_id`), `invite code`, `create` with the `<group>`.

use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::groups::{Group, GroupAddressing, Rank};
use super::output::ServerEvent;
use super::users::{Addressing, User};

/// The group's JID.
pub(crate) fn group_jid(id: &str) -> Jid {
    Jid::new(id.to_owned(), "g.us")
}

impl FakeServer {
    /// Who a member's number names: the account (the bot) or a contact.
    pub(crate) fn member_user(&self, phone: &str) -> User {
        if phone == self.config.phone {
            User::Own
        } else {
            User::Contact(phone.to_owned())
        }
    }

    /// The member's user JID as the group names it.
    pub(crate) fn member_jid(&mut self, addressing: GroupAddressing, phone: &str) -> Jid {
        let user = self.member_user(phone);
        self.device_jid(&user, to_addressing(addressing), 0)
    }

    /// The member's JID in the other form (its number in a LID group, its
    /// LID in a PN group).
    fn member_other_jid(&mut self, addressing: GroupAddressing, phone: &str) -> Jid {
        let other = match addressing {
            GroupAddressing::Pn => GroupAddressing::Lid,
            GroupAddressing::Lid => GroupAddressing::Pn,
        };
        self.member_jid(other, phone)
    }

    /// `<participant jid type? lid|phone_number/>`; `rank` `None` leaves
    /// `type` out (the children of a notification).
    pub(crate) fn participant_node(
        &mut self,
        addressing: GroupAddressing,
        phone: &str,
        rank: Option<Rank>,
    ) -> Node {
        let jid = self.member_jid(addressing, phone);
        let other = self.member_other_jid(addressing, phone);
        let mut node = Node::new("participant").with_attr("jid", jid);
        if let Some(kind) = rank.and_then(Rank::type_attr) {
            node = node.with_attr("type", kind);
        }
        match addressing {
            GroupAddressing::Pn => node.with_attr("lid", other),
            GroupAddressing::Lid => node.with_attr("phone_number", other),
        }
    }

    /// The `<group>` node of `id` (`None` for an unknown group).
    pub(crate) fn group_node(&mut self, id: &str) -> Option<Node> {
        let group = self.groups.get(id)?;
        let snapshot = Snapshot::of(group);
        let addressing = snapshot.addressing;
        let mut node = Node::new("group")
            .with_attr("id", id.to_owned())
            .with_attr("subject", snapshot.subject.clone())
            .with_attr("s_t", snapshot.subject_t.to_string());
        let s_o = self.member_jid(addressing, &snapshot.subject_by);
        node = node.with_attr("s_o", s_o);
        if addressing == GroupAddressing::Lid {
            let pn = self.member_jid(GroupAddressing::Pn, &snapshot.subject_by);
            node = node.with_attr("s_o_pn", pn);
        }
        let creator = self.member_jid(addressing, &snapshot.creator);
        node = node
            .with_attr("creation", snapshot.creation.to_string())
            .with_attr("creator", creator);
        if addressing == GroupAddressing::Lid {
            let pn = self.member_jid(GroupAddressing::Pn, &snapshot.creator);
            node = node.with_attr("creator_pn", pn);
        }
        node = node
            .with_attr("addressing_mode", addressing.attr())
            .with_attr("size", snapshot.members.len().to_string());
        let mut children: Vec<Node> = snapshot
            .members
            .iter()
            .map(|(phone, rank)| self.participant_node(addressing, phone, Some(*rank)))
            .collect();
        if let Some((desc_id, body, by, t)) = snapshot.description {
            let by = self.member_jid(addressing, &by);
            children.push(
                Node::new("description")
                    .with_attr("id", desc_id)
                    .with_attr("t", t.to_string())
                    .with_attr("participant", by)
                    .with_children(vec![Node::new("body").with_bytes(body.into_bytes())]),
            );
        }
        if snapshot.announce {
            children.push(Node::new("announcement"));
        }
        if snapshot.locked {
            children.push(Node::new("locked"));
        }
        Some(node.with_children(children))
    }

    /// `<notification type=w:gp2 from=G@g.us participant=actor id t>` with
    /// `child`, for every linked device (kept until acked: `group_notices`).
    pub(crate) fn notify_group(&mut self, id: &str, actor: &str, child: Node) {
        let Some(addressing) = self.groups.get(id).map(|g| g.addressing) else {
            return;
        };
        let actor_jid = self.member_jid(addressing, actor);
        let mut node = Node::new("notification")
            .with_attr("from", group_jid(id))
            .with_attr("type", "w:gp2")
            .with_attr("participant", actor_jid);
        if addressing == GroupAddressing::Lid {
            let pn = self.member_jid(GroupAddressing::Pn, actor);
            node = node
                .with_attr("participant_pn", pn)
                .with_attr("addressing_mode", "lid");
        }
        let change = child.tag.to_string();
        let stanza_id = self.next_stanza_id();
        let node = node
            .with_attr("id", stanza_id.clone())
            .with_attr("t", self.wall.as_secs().to_string())
            .with_attr("notify", "fake-wa")
            .with_children(vec![child]);
        self.send_group_notice(stanza_id, node);
        self.event(ServerEvent::GroupNotified {
            group: id.to_owned(),
            change,
        });
    }

    /// `<tag><participant jid/>…</tag>` for a notification.
    pub(crate) fn participants_child(&mut self, id: &str, tag: &str, phones: &[String]) -> Node {
        let addressing = self
            .groups
            .get(id)
            .map_or(GroupAddressing::Pn, |g| g.addressing);
        let children = phones
            .iter()
            .map(|phone| self.participant_node(addressing, phone, None))
            .collect();
        Node::new(tag.to_owned()).with_children(children)
    }

    /// `<subject subject s_t s_o/>` for a notification.
    pub(crate) fn subject_child(&mut self, id: &str) -> Option<Node> {
        let group = self.groups.get(id)?;
        let (subject, t, by, addressing) = (
            group.subject.clone(),
            group.subject_t,
            group.subject_by.clone(),
            group.addressing,
        );
        let s_o = self.member_jid(addressing, &by);
        Some(
            Node::new("subject")
                .with_attr("subject", subject)
                .with_attr("s_t", t.to_string())
                .with_attr("s_o", s_o),
        )
    }
}

pub(super) fn to_addressing(addressing: GroupAddressing) -> Addressing {
    match addressing {
        GroupAddressing::Pn => Addressing::Pn,
        GroupAddressing::Lid => Addressing::Lid,
    }
}

/// What a `<group>` node shows, copied out so the JIDs can be made.
struct Snapshot {
    subject: String,
    subject_by: String,
    subject_t: u64,
    creator: String,
    creation: u64,
    addressing: GroupAddressing,
    members: Vec<(String, Rank)>,
    description: Option<(String, String, String, u64)>,
    announce: bool,
    locked: bool,
}

impl Snapshot {
    fn of(group: &Group) -> Snapshot {
        Snapshot {
            subject: group.subject.clone(),
            subject_by: group.subject_by.clone(),
            subject_t: group.subject_t,
            creator: group.creator.clone(),
            creation: group.creation,
            addressing: group.addressing,
            members: group.members.iter().map(|(p, r)| (p.clone(), *r)).collect(),
            description: group
                .description
                .as_ref()
                .map(|d| (d.id.clone(), d.body.clone(), d.by.clone(), d.t)),
            announce: group.announce,
            locked: group.locked,
        }
    }
}
