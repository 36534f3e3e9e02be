//! Who may run what: the owner (`OWNER_NUMBER`, and the linked account
//! itself), a group's admins, everyone.

use std::fmt;

use blacksky_core::message::Sender;
use blacksky_core::wire::binary::Jid;

use super::facts::{GroupInfo, same_user};

/// Numbers in `OWNER_NUMBER` past this are refused.
pub const OWNERS_MAX: usize = 32;

/// What a command asks of its caller. Each right includes the ones
/// below it: the owner may run group admin commands too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    Everyone,
    /// An admin of the group it is used in (outside groups: the owner).
    GroupAdmin,
    Owner,
}

/// What the caller of one command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Everyone,
    GroupAdmin,
    Owner,
}

impl Permission {
    #[must_use]
    pub fn allows(self, role: Role) -> bool {
        let needed = match self {
            Permission::Everyone => Role::Everyone,
            Permission::GroupAdmin => Role::GroupAdmin,
            Permission::Owner => Role::Owner,
        };
        role >= needed
    }
}

/// The owners' phone numbers (digits only).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Owners {
    numbers: Vec<String>,
}

/// An `OWNER_NUMBER` entry that is no phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnersError {
    #[error(
        "OWNER_NUMBER entry {position} is not a phone number: give 5 to 15 digits with the country code (spaces, `+` and `-` are ignored)"
    )]
    NotANumber { position: usize },
    #[error("OWNER_NUMBER has {count} numbers; at most {OWNERS_MAX}")]
    TooMany { count: usize },
}

impl Owners {
    /// A comma list, e.g. `+49 155 6123456, 15550001111`; empty: none.
    pub fn parse(list: &str) -> Result<Owners, OwnersError> {
        let mut numbers = Vec::new();
        for (index, entry) in list.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let digits: String = entry
                .chars()
                .filter(|c| !matches!(c, ' ' | '+' | '-' | '(' | ')'))
                .collect();
            let valid =
                (5..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
            if !valid {
                return Err(OwnersError::NotANumber {
                    position: index + 1,
                });
            }
            if !numbers.contains(&digits) {
                numbers.push(digits);
            }
        }
        if numbers.len() > OWNERS_MAX {
            return Err(OwnersError::TooMany {
                count: numbers.len(),
            });
        }
        Ok(Owners { numbers })
    }

    #[must_use]
    pub fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// The owners as JIDs to mention.
    #[must_use]
    pub fn jids(&self) -> Vec<Jid> {
        self.numbers
            .iter()
            .map(|number| Jid::new(number.clone(), "s.whatsapp.net"))
            .collect()
    }

    fn includes(&self, jid: &Jid) -> bool {
        jid.server() == "s.whatsapp.net" && self.numbers.iter().any(|n| n == jid.user())
    }
}

/// The linked account: the bot's own number and LID, once known.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub pn: Option<Jid>,
    pub lid: Option<Jid>,
}

impl Account {
    /// Whether `jid` is the bot itself.
    #[must_use]
    pub fn is(&self, jid: &Jid) -> bool {
        [&self.pn, &self.lid]
            .into_iter()
            .flatten()
            .any(|own| same_user(own, jid))
    }

    /// Its JIDs, to find it among a group's participants.
    pub fn jids(&self) -> impl Iterator<Item = &Jid> + Clone {
        [&self.pn, &self.lid].into_iter().flatten()
    }
}

/// Whether `jid` is an owner or the bot itself: people commands never
/// kick, demote or block.
#[must_use]
pub fn is_protected(jid: &Jid, owners: &Owners, account: &Account) -> bool {
    owners.includes(jid) || account.is(jid)
}

/// The role of the sender of a message in `group` (when in one).
#[must_use]
pub fn role_of(
    sender: &Sender,
    owners: &Owners,
    account: &Account,
    group: Option<&GroupInfo>,
) -> Role {
    let jids = [&sender.pn, &sender.lid].into_iter().flatten();
    if jids
        .clone()
        .any(|jid| owners.includes(jid) || account.is(jid))
    {
        return Role::Owner;
    }
    match group.and_then(|group| group.rank_of(jids)) {
        Some(rank) if rank.is_admin() => Role::GroupAdmin,
        _ => Role::Everyone,
    }
}

// Phone numbers stay out of logs.
impl fmt::Debug for Owners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Owners({} numbers)", self.numbers.len())
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("pn", &self.pn.as_ref().map(|_| "<set>"))
            .field("lid", &self.lid.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::facts::{Participant, Rank};

    fn sender(pn: Option<&str>, lid: Option<&str>) -> Sender {
        Sender {
            pn: pn.map(|user| Jid::ad(user.to_owned(), 0, 3)),
            lid: lid.map(|user| Jid::new(user.to_owned(), "lid")),
        }
    }

    #[test]
    fn owners_parse_from_a_comma_list_and_bad_entries_are_named() {
        let owners = Owners::parse(" +49 155 6123456, 15550001111,,15550001111 ").expect("valid");
        assert_eq!(owners.numbers(), ["491556123456", "15550001111"]);
        assert_eq!(Owners::parse(""), Ok(Owners::default()));
        let err = Owners::parse("15550001111, call me").expect_err("not a number");
        assert_eq!(err, OwnersError::NotANumber { position: 2 });
        assert!(
            !err.to_string().contains("call me"),
            "the entry is not echoed"
        );
        assert!(!format!("{owners:?}").contains("4915"), "{owners:?}");
    }

    #[test]
    fn the_owner_the_account_and_admins_by_number_or_lid() {
        let owners = Owners::parse("491556123456").expect("valid");
        let account = Account {
            pn: Some(Jid::ad("15550000000", 0, 7)),
            lid: Some(Jid::new("999000", "lid")),
        };
        let group = GroupInfo {
            subject: "g".into(),
            participants: vec![
                Participant {
                    pn: None,
                    lid: Some(Jid::new("777000111", "lid")),
                    rank: Rank::Admin,
                },
                Participant {
                    pn: Some(Jid::new("15550002222", "s.whatsapp.net")),
                    lid: None,
                    rank: Rank::Member,
                },
            ],
        };
        let role = |s: Sender| role_of(&s, &owners, &account, Some(&group));
        assert_eq!(role(sender(Some("491556123456"), None)), Role::Owner);
        assert_eq!(
            role(sender(Some("15550000000"), None)),
            Role::Owner,
            "the account"
        );
        assert_eq!(
            role(sender(None, Some("999000"))),
            Role::Owner,
            "the account's LID"
        );
        assert_eq!(
            role(sender(Some("15550003333"), Some("777000111"))),
            Role::GroupAdmin,
            "an admin known by LID"
        );
        assert_eq!(role(sender(Some("15550002222"), None)), Role::Everyone);
        assert_eq!(
            role_of(&sender(None, Some("777000111")), &owners, &account, None),
            Role::Everyone,
            "no group: no admin"
        );
        assert!(Permission::GroupAdmin.allows(Role::Owner));
        assert!(!Permission::Owner.allows(Role::GroupAdmin));
        assert!(Permission::Everyone.allows(Role::Everyone));
    }
}
