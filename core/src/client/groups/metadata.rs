//! A group as WhatsApp describes it (the `w:g2` `<group>` node): subject,
//! description, creation, settings, how its members are addressed, and
//! the members with their rank. Built from the answer to the metadata
//! query (one group) and the participating query (every group we are in).

use std::fmt;

use thiserror::Error;

use crate::wire::binary::{Jid, Node, NodeRef};

/// The most members a group is read with (WhatsApp's limit is 1,024).
pub const PARTICIPANTS_LEN_MAX: usize = 2_048;
/// The longest subject or description kept, in bytes.
pub const TEXT_BYTES_MAX: usize = 4_096;

/// A member's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Member,
    Admin,
    SuperAdmin,
}

impl Rank {
    fn of(kind: Option<&str>) -> Rank {
        match kind {
            Some("superadmin") => Rank::SuperAdmin,
            Some("admin") => Rank::Admin,
            _ => Rank::Member,
        }
    }

    #[must_use]
    pub fn is_admin(self) -> bool {
        self >= Rank::Admin
    }
}

/// How the group names its members (and how messages to it are sealed):
/// by phone number, or by LID (WhatsApp's newer groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    Pn,
    Lid,
}

/// One member: the JID the group names them by, and their other address
/// when the group gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Participant {
    /// As the group addresses them (`…@s.whatsapp.net` or `…@lid`).
    pub jid: Jid,
    /// Their phone number JID in a LID group, their LID in a PN group.
    pub alternate: Option<Jid>,
    pub rank: Rank,
}

impl fmt::Debug for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Phone numbers stay out of Debug.
        f.debug_struct("Participant")
            .field("server", &self.jid.server())
            .field("rank", &self.rank)
            .finish()
    }
}

/// A group's metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// `…@g.us`.
    pub jid: Jid,
    pub subject: String,
    pub description: Option<Description>,
    /// Unix seconds.
    pub created_at: u64,
    pub creator: Option<Jid>,
    pub addressing: Addressing,
    /// Only admins may write.
    pub announce: bool,
    /// Only admins may edit the group's info.
    pub locked: bool,
    pub participants: Vec<Participant>,
}

/// The group's description and its id (a change names the one it
/// replaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub id: String,
    pub text: String,
}

impl fmt::Debug for GroupInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupInfo")
            .field("jid", &self.jid.to_string())
            .field("subject_chars", &self.subject.chars().count())
            .field("addressing", &self.addressing)
            .field("announce", &self.announce)
            .field("locked", &self.locked)
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

impl GroupInfo {
    /// The member named `user` (either of their addresses), if any.
    #[must_use]
    pub fn participant(&self, user: &Jid) -> Option<&Participant> {
        let same = |jid: &Jid| jid.user() == user.user() && jid.server() == user.server();
        self.participants
            .iter()
            .find(|p| same(&p.jid) || p.alternate.as_ref().is_some_and(same))
    }

    /// The members' user JIDs as the group addresses them.
    pub fn member_users(&self) -> impl Iterator<Item = Jid> + '_ {
        self.participants
            .iter()
            .map(|p| Jid::new(p.jid.user().to_owned(), p.jid.server().to_owned()))
    }
}

/// A `<group>` node that does not describe a group.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupParseError {
    #[error("<group> without an id")]
    MissingId,
    #[error("<group> id is not a group JID")]
    BadId,
    #[error("<group> has more than {PARTICIPANTS_LEN_MAX} participants")]
    TooManyParticipants,
}

/// Reads a `<group>` node (its id is the JID's user part).
pub fn parse_group(node: NodeRef<'_>) -> Result<GroupInfo, GroupParseError> {
    let id = node.attr("id").ok_or(GroupParseError::MissingId)?;
    let jid = if id.contains('@') {
        Jid::parse(id).ok_or(GroupParseError::BadId)?
    } else {
        Jid::new(id.to_owned(), "g.us".to_owned())
    };
    if jid.server() != "g.us" || jid.user().is_empty() {
        return Err(GroupParseError::BadId);
    }
    let addressing = match node.attr("addressing_mode") {
        Some("lid") => Addressing::Lid,
        _ => Addressing::Pn,
    };
    let mut participants = Vec::new();
    for participant in node.children_named("participant") {
        let Some(member) = participant.attr_jid("jid") else {
            continue;
        };
        if participants.len() >= PARTICIPANTS_LEN_MAX {
            return Err(GroupParseError::TooManyParticipants);
        }
        let alternate = participant
            .attr_jid("phone_number")
            .or_else(|| participant.attr_jid("lid"));
        participants.push(Participant {
            jid: member,
            alternate,
            rank: Rank::of(participant.attr("type")),
        });
    }
    let description = node.child("description").map(|d| Description {
        id: d.attr("id").unwrap_or_default().to_owned(),
        text: d
            .child("body")
            .and_then(|body| body.text())
            .map(|text| capped(text.to_owned()))
            .unwrap_or_default(),
    });
    Ok(GroupInfo {
        jid,
        subject: capped(node.attr("subject").unwrap_or_default().to_owned()),
        description,
        created_at: node
            .attr("creation")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        creator: node.attr_jid("creator"),
        addressing,
        announce: node.child("announcement").is_some(),
        locked: node.child("locked").is_some(),
        participants,
    })
}

/// `info` as the `<group>` node [`parse_group`] reads back as `info`:
/// the form the store keeps a group in.
#[must_use]
pub fn group_node(info: &GroupInfo) -> Node {
    let mut node = Node::new("group")
        .with_attr("id", info.jid.user().to_owned())
        .with_attr("subject", info.subject.clone())
        .with_attr("creation", info.created_at.to_string());
    if let Some(creator) = &info.creator {
        node = node.with_attr("creator", creator.clone());
    }
    if info.addressing == Addressing::Lid {
        node = node.with_attr("addressing_mode", "lid");
    }
    let mut children: Vec<Node> = info
        .participants
        .iter()
        .map(|p| {
            let mut member = Node::new("participant").with_attr("jid", p.jid.clone());
            match p.rank {
                Rank::Member => {}
                Rank::Admin => member = member.with_attr("type", "admin"),
                Rank::SuperAdmin => member = member.with_attr("type", "superadmin"),
            }
            if let Some(alternate) = &p.alternate {
                let name = if alternate.server() == "lid" {
                    "lid"
                } else {
                    "phone_number"
                };
                member = member.with_attr(name, alternate.clone());
            }
            member
        })
        .collect();
    if let Some(description) = &info.description {
        children.push(
            Node::new("description")
                .with_attr("id", description.id.clone())
                .with_child(Node::new("body").with_bytes(description.text.as_bytes().to_vec())),
        );
    }
    if info.announce {
        children.push(Node::new("announcement"));
    }
    if info.locked {
        children.push(Node::new("locked"));
    }
    node.with_children(children)
}

/// Every `<group>` of a participating answer (`<groups><group/>…`) that
/// reads; the others are skipped.
pub fn parse_participating(answer: NodeRef<'_>) -> Vec<GroupInfo> {
    answer
        .child("groups")
        .map(|groups| {
            groups
                .children_named("group")
                .filter_map(|group| parse_group(group).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn capped(mut text: String) -> String {
    if text.len() > TEXT_BYTES_MAX {
        let mut end = TEXT_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `<iq type=get xmlns=w:g2 to=group><query request="interactive"/></iq>`.
#[must_use]
pub fn metadata_query(id: &str, group: &Jid) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", "get")
        .with_attr("xmlns", "w:g2")
        .with_attr("to", group.clone())
        .with_child(Node::new("query").with_attr("request", "interactive"))
}

/// `<iq type=get xmlns=w:g2 to=@g.us><participating><participants/>
/// <description/></participating></iq>`: every group we are in.
#[must_use]
pub fn participating_query(id: &str) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", "get")
        .with_attr("xmlns", "w:g2")
        .with_attr("to", Jid::new(String::new(), "g.us".to_owned()))
        .with_child(
            Node::new("participating")
                .with_child(Node::new("participants"))
                .with_child(Node::new("description")),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::binary::{Decoded, encode};

    fn reads(node: &Node) -> Result<GroupInfo, GroupParseError> {
        let bytes = encode(node).expect("encode");
        let mut decoded = Decoded::new();
        parse_group(decoded.decode(&bytes).expect("decode"))
    }

    fn group_node() -> Node {
        Node::new("group")
            .with_attr("id", "120363000000000001")
            .with_attr("subject", "Weekend")
            .with_attr("creation", "1700000000")
            .with_attr("creator", Jid::new("15550001111", "s.whatsapp.net"))
            .with_children(vec![
                Node::new("participant")
                    .with_attr("jid", Jid::new("15550001111", "s.whatsapp.net"))
                    .with_attr("type", "superadmin"),
                Node::new("participant")
                    .with_attr("jid", Jid::new("15550002222", "s.whatsapp.net"))
                    .with_attr("type", "admin"),
                Node::new("participant")
                    .with_attr("jid", Jid::new("15550003333", "s.whatsapp.net")),
                Node::new("description")
                    .with_attr("id", "D1")
                    .with_child(Node::new("body").with_bytes(b"Plans".to_vec())),
                Node::new("announcement"),
            ])
    }

    #[test]
    fn a_group_node_reads_with_members_ranks_and_settings() {
        let info = reads(&group_node()).expect("reads");
        assert_eq!(info.jid.to_string(), "120363000000000001@g.us");
        assert_eq!(info.subject, "Weekend");
        assert_eq!(info.created_at, 1_700_000_000);
        assert_eq!(info.addressing, Addressing::Pn);
        assert!(info.announce && !info.locked);
        let ranks: Vec<Rank> = info.participants.iter().map(|p| p.rank).collect();
        assert_eq!(ranks, [Rank::SuperAdmin, Rank::Admin, Rank::Member]);
        assert_eq!(
            info.description,
            Some(Description {
                id: "D1".into(),
                text: "Plans".into()
            })
        );
        let admin = Jid::new("15550002222", "s.whatsapp.net");
        assert!(info.participant(&admin).is_some_and(|p| p.rank.is_admin()));
    }

    #[test]
    fn a_lid_group_names_members_by_lid_with_their_number() {
        let node = Node::new("group")
            .with_attr("id", "120363000000000002")
            .with_attr("addressing_mode", "lid")
            .with_child(
                Node::new("participant")
                    .with_attr("jid", Jid::new("99887766", "lid"))
                    .with_attr("phone_number", Jid::new("15550003333", "s.whatsapp.net")),
            );
        let info = reads(&node).expect("reads");
        assert_eq!(info.addressing, Addressing::Lid);
        let by_number = Jid::new("15550003333", "s.whatsapp.net");
        assert!(info.participant(&by_number).is_some());
        let users: Vec<String> = info.member_users().map(|j| j.to_string()).collect();
        assert_eq!(users, ["99887766@lid"]);
    }

    #[test]
    fn a_group_reads_back_from_its_stored_node() {
        let mut info = reads(&group_node()).expect("reads");
        info.locked = true;
        info.addressing = Addressing::Lid;
        info.participants[2].alternate = Some(Jid::new("99887766", "lid"));
        info.participants[1].alternate = Some(Jid::new("15550002222", "s.whatsapp.net"));
        assert_eq!(reads(&super::group_node(&info)), Ok(info.clone()));
        info.description = None;
        info.creator = None;
        info.subject = String::new();
        assert_eq!(reads(&super::group_node(&info)), Ok(info));
    }

    #[test]
    fn nodes_that_are_no_group_are_named() {
        assert_eq!(reads(&Node::new("group")), Err(GroupParseError::MissingId));
        let user = Node::new("group").with_attr("id", "1555@s.whatsapp.net");
        assert_eq!(reads(&user), Err(GroupParseError::BadId));
    }
}
