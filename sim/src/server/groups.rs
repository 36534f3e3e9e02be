//! The groups WhatsApp keeps on its side: who is in them with which rank,
//! their subject, description and settings, and the invite code. Members
//! are phone numbers: mock contacts, and the account itself (the bot,
//! named by the account's number). Besides the model, each group keeps
//! what its members' devices hold of the bot's sender keys (taken in from
//! the SKDMs the bot sent them), so the server can play every member
//! reading the bot's `skmsg`; a member removed keeps what it held, so a
//! key the bot did not rotate shows.
//!
//! Bounded: [`GROUPS_LEN_MAX`] groups, [`MEMBERS_PER_GROUP_MAX`] members
//! each (WhatsApp's own limit), [`HELD_KEYS_PER_GROUP_MAX`] held keys.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use blacksky_core::signal::group::SenderKeyRecord;
use serde::{Deserialize, Serialize};

use super::output::ControlError;

/// Groups the server keeps.
pub const GROUPS_LEN_MAX: usize = 1_000;
/// Members one group has (WhatsApp's limit is 1,024).
pub const MEMBERS_PER_GROUP_MAX: usize = 1_024;
/// Sender keys of the bot held by member devices (current and former
/// members) in one group; past it a new SKDM is refused as undeliverable.
pub const HELD_KEYS_PER_GROUP_MAX: usize = 16_384;
/// Characters in a subject (WhatsApp allows 100).
pub const SUBJECT_CHARS_MAX: usize = 100;
/// Characters in a description (WhatsApp allows 2,048).
pub const DESCRIPTION_CHARS_MAX: usize = 2_048;

/// A member's rank, as `<participant type>` names it (none for a member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    Member,
    Admin,
    /// The creator: an admin nobody can demote.
    Superadmin,
}

impl Rank {
    /// The `type` attribute of `<participant>`, if any.
    pub(crate) fn type_attr(self) -> Option<&'static str> {
        match self {
            Rank::Member => None,
            Rank::Admin => Some("admin"),
            Rank::Superadmin => Some("superadmin"),
        }
    }

    pub(crate) fn is_admin(self) -> bool {
        self != Rank::Member
    }
}

/// How the group names its members: by phone number or by LID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupAddressing {
    #[default]
    Pn,
    Lid,
}

impl GroupAddressing {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            GroupAddressing::Pn => "pn",
            GroupAddressing::Lid => "lid",
        }
    }
}

/// The description and who set it when.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Description {
    pub(crate) id: String,
    pub(crate) body: String,
    pub(crate) by: String,
    pub(crate) t: u64,
}

/// A member device holding a key: the bot device that sent it, and the
/// member's number and device.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Holder {
    pub(crate) bot_device: u8,
    pub(crate) phone: String,
    pub(crate) device: u8,
}

/// One group.
pub(crate) struct Group {
    pub(crate) subject: String,
    /// Who set the subject (a phone number), and when (seconds).
    pub(crate) subject_by: String,
    pub(crate) subject_t: u64,
    pub(crate) description: Option<Description>,
    pub(crate) creator: String,
    pub(crate) creation: u64,
    pub(crate) addressing: GroupAddressing,
    /// By phone number (the account's own number for the bot).
    pub(crate) members: BTreeMap<String, Rank>,
    /// Only admins write.
    pub(crate) announce: bool,
    /// Only admins edit the subject and description.
    pub(crate) locked: bool,
    pub(crate) invite_code: String,
    /// The bot's sender keys as current members' devices hold them.
    pub(crate) held: BTreeMap<Holder, SenderKeyRecord>,
    /// What removed members' devices still hold.
    pub(crate) former: BTreeMap<Holder, SenderKeyRecord>,
    /// The member lists before the latest changes, newest last (at most
    /// [`EARLIER_MEMBER_LISTS_MAX`]): a message's `phash` may name one,
    /// when the bot sealed it before it heard of a change.
    pub(crate) earlier_members: VecDeque<BTreeSet<String>>,
}

/// Member lists a group remembers for the `phash` of late messages.
pub(crate) const EARLIER_MEMBER_LISTS_MAX: usize = 16;

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Numbers, subjects and keys stay out of logs.
        f.debug_struct("Group")
            .field("members", &self.members.len())
            .field("addressing", &self.addressing)
            .field("announce", &self.announce)
            .field("locked", &self.locked)
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl Group {
    /// The member's rank, if it is one.
    pub(crate) fn rank(&self, phone: &str) -> Option<Rank> {
        self.members.get(phone).copied()
    }

    /// Adds `phone` as a plain member; false if it already was one.
    pub(crate) fn add(&mut self, phone: &str) -> Result<bool, ControlError> {
        if self.members.contains_key(phone) {
            return Ok(false);
        }
        if self.members.len() >= MEMBERS_PER_GROUP_MAX {
            return Err(ControlError::TooManyMembers {
                max: MEMBERS_PER_GROUP_MAX,
            });
        }
        self.remember_members();
        self.members.insert(phone.to_owned(), Rank::Member);
        // Back in: what it held before is stale (the bot rotated, or must).
        self.former.retain(|h, _| h.phone != phone);
        Ok(true)
    }

    /// Removes `phone`; its devices keep what they held, as former
    /// members. False if it was no member.
    pub(crate) fn remove(&mut self, phone: &str) -> bool {
        if !self.members.contains_key(phone) {
            return false;
        }
        self.remember_members();
        self.members.remove(phone);
        let held: Vec<Holder> = self
            .held
            .keys()
            .filter(|h| h.phone == phone)
            .cloned()
            .collect();
        for holder in held {
            if let Some(record) = self.held.remove(&holder) {
                self.former.insert(holder, record);
            }
        }
        true
    }

    /// Keeps the member list as it is, before a change.
    fn remember_members(&mut self) {
        if self.earlier_members.len() >= EARLIER_MEMBER_LISTS_MAX {
            self.earlier_members.pop_front();
        }
        self.earlier_members
            .push_back(self.members.keys().cloned().collect());
    }

    /// Sets the rank of a member; false if it is no member or already
    /// has it. The creator (superadmin) keeps its rank.
    pub(crate) fn set_rank(&mut self, phone: &str, rank: Rank) -> bool {
        match self.members.get_mut(phone) {
            Some(Rank::Superadmin) => false,
            Some(current) if *current != rank => {
                *current = rank;
                true
            }
            _ => false,
        }
    }

    /// Stores the bot's sender key as `holder` holds it now.
    pub(crate) fn hold(
        &mut self,
        holder: Holder,
        record: SenderKeyRecord,
    ) -> Result<(), ControlError> {
        if !self.held.contains_key(&holder)
            && self.held.len() + self.former.len() >= HELD_KEYS_PER_GROUP_MAX
        {
            return Err(ControlError::TooManyHeldKeys {
                max: HELD_KEYS_PER_GROUP_MAX,
            });
        }
        self.held.insert(holder, record);
        Ok(())
    }
}

/// `Ok` for a group JID user part the server hands out: `creator-seconds`
/// (the old form) or digits (`1203…`, the new one).
pub(crate) fn check_group_id(id: &str) -> Result<(), ControlError> {
    super::contacts::check_group(id)?;
    let parts: Vec<&str> = id.split('-').collect();
    let well_formed = match parts.as_slice() {
        [digits] => !digits.is_empty(),
        [creator, seconds] => !creator.is_empty() && !seconds.is_empty(),
        _ => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(ControlError::BadGroup)
    }
}

/// A subject WhatsApp takes: 1 to 100 characters.
pub(crate) fn check_subject(subject: &str) -> Result<(), ControlError> {
    let chars = subject.chars().count();
    if chars == 0 || chars > SUBJECT_CHARS_MAX {
        return Err(ControlError::BadSubject {
            max: SUBJECT_CHARS_MAX,
        });
    }
    Ok(())
}

/// A description WhatsApp takes: at most 2,048 characters.
pub(crate) fn check_description(body: &str) -> Result<(), ControlError> {
    if body.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(ControlError::BadDescription {
            max: DESCRIPTION_CHARS_MAX,
        });
    }
    Ok(())
}

/// The groups, by JID user part.
#[derive(Default)]
pub(crate) struct Groups {
    pub(crate) by_id: BTreeMap<String, Group>,
    /// For new ids: `1203630…` and a counter, as WhatsApp's new ids look.
    pub(crate) next_serial: u64,
}

impl fmt::Debug for Groups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Groups")
            .field("len", &self.by_id.len())
            .finish()
    }
}

impl Groups {
    pub(crate) fn get(&self, id: &str) -> Option<&Group> {
        self.by_id.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Group> {
        self.by_id.get_mut(id)
    }

    /// The group `id`, or the control error naming it unknown.
    pub(crate) fn known_mut(&mut self, id: &str) -> Result<&mut Group, ControlError> {
        self.by_id
            .get_mut(id)
            .ok_or_else(|| ControlError::UnknownGroup {
                group: id.to_owned(),
            })
    }

    /// A fresh id in WhatsApp's new form (18 digits from `120363`).
    pub(crate) fn new_id(&mut self) -> String {
        loop {
            self.next_serial += 1;
            let id = format!("120363{:012}", 100_000_000_000 + self.next_serial);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn insert(&mut self, id: String, group: Group) -> Result<(), ControlError> {
        if self.by_id.contains_key(&id) {
            return Err(ControlError::GroupExists { group: id });
        }
        if self.by_id.len() >= GROUPS_LEN_MAX {
            return Err(ControlError::TooManyGroupsKept {
                max: GROUPS_LEN_MAX,
            });
        }
        self.by_id.insert(id, group);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Group {
        Group {
            subject: "s".into(),
            subject_by: "1".into(),
            subject_t: 0,
            description: None,
            creator: "1".into(),
            creation: 0,
            addressing: GroupAddressing::Pn,
            members: BTreeMap::from([("1".to_owned(), Rank::Superadmin)]),
            announce: false,
            locked: false,
            invite_code: "c".into(),
            held: BTreeMap::new(),
            former: BTreeMap::new(),
            earlier_members: VecDeque::new(),
        }
    }

    #[test]
    fn a_removed_member_keeps_what_it_held_until_it_is_added_again() {
        let mut g = group();
        assert_eq!(g.add("2"), Ok(true));
        assert_eq!(g.add("2"), Ok(false), "already in");
        let holder = Holder {
            bot_device: 7,
            phone: "2".into(),
            device: 0,
        };
        g.hold(holder.clone(), SenderKeyRecord::default())
            .expect("room");
        assert!(g.remove("2"));
        assert!(!g.remove("2"), "no longer in");
        assert!(g.held.is_empty());
        assert!(g.former.contains_key(&holder));
        assert_eq!(g.add("2"), Ok(true));
        assert!(g.former.is_empty());
    }

    #[test]
    fn the_creator_keeps_its_rank_and_members_are_bounded() {
        let mut g = group();
        assert!(!g.set_rank("1", Rank::Member));
        g.add("2").expect("room");
        assert!(g.set_rank("2", Rank::Admin));
        assert!(!g.set_rank("2", Rank::Admin), "already admin");
        for i in 0..MEMBERS_PER_GROUP_MAX {
            let _ = g.add(&format!("9{i}"));
        }
        assert_eq!(g.members.len(), MEMBERS_PER_GROUP_MAX);
        assert!(matches!(
            g.add("8"),
            Err(ControlError::TooManyMembers { .. })
        ));
    }

    #[test]
    fn group_ids_take_both_forms() {
        assert!(check_group_id("120363000000000001").is_ok());
        assert!(check_group_id("4915112345678-1750000000").is_ok());
        assert!(check_group_id("1-2-3").is_err());
        assert!(check_group_id("-2").is_err());
        assert!(check_group_id("").is_err());
    }
}
