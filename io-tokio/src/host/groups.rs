//! The groups the bot is in, as the connection last read or was told
//! them (`Event::GroupKnown`, `Event::GroupLeft`): what bot commands know
//! of a group's members and admins. Shared by the status board that
//! takes the events and the facts the commands read; bounded like the
//! client's own cache.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use blacksky_bot::commands::{GroupFacts, GroupInfo as BotGroupInfo, Participant};
use blacksky_core::client::groups::GROUPS_LEN_MAX;
use blacksky_core::client::groups::metadata::GroupInfo;
use blacksky_core::wire::binary::Jid;

#[derive(Debug, Clone, Default)]
pub struct GroupDirectory {
    groups: Arc<Mutex<BTreeMap<String, GroupInfo>>>,
}

impl GroupDirectory {
    pub fn put(&self, info: &GroupInfo) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let key = key(&info.jid);
        if !groups.contains_key(&key) && groups.len() >= GROUPS_LEN_MAX {
            // The client keeps at most as many: one it dropped goes here too.
            let first = groups.keys().next().cloned();
            if let Some(first) = first {
                groups.remove(&first);
            }
        }
        groups.insert(key, info.clone());
    }

    pub fn forget(&self, group: &Jid) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(group));
    }

    #[must_use]
    pub fn get(&self, group: &Jid) -> Option<GroupInfo> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key(group))
            .cloned()
    }

    /// Every group's JID.
    #[must_use]
    pub fn jids(&self) -> Vec<Jid> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|info| info.jid.clone())
            .collect()
    }
}

impl GroupFacts for GroupDirectory {
    fn group(&self, group: &Jid) -> Option<BotGroupInfo> {
        self.get(group).map(|info| as_bot_info(&info))
    }
}

/// The commands' view of a group: each member by number and LID, as far
/// as the group names them.
fn as_bot_info(info: &GroupInfo) -> BotGroupInfo {
    let participants = info
        .participants
        .iter()
        .map(|p| {
            let (named, other) = (Some(p.jid.clone()), p.alternate.clone());
            let (pn, lid) = if p.jid.server() == "lid" {
                (other, named)
            } else {
                (named, other)
            };
            Participant {
                pn,
                lid,
                rank: p.rank,
            }
        })
        .collect();
    BotGroupInfo {
        subject: info.subject.clone(),
        participants,
    }
}

fn key(group: &Jid) -> String {
    format!("{}@{}", group.user(), group.server())
}

#[cfg(test)]
mod tests {
    use blacksky_core::client::groups::metadata::{Addressing, Participant as Member, Rank};

    use super::*;

    #[test]
    fn members_by_lid_get_their_number_and_ranks_carry_over() {
        let directory = GroupDirectory::default();
        let group = Jid::new("120363000000000001", "g.us");
        directory.put(&GroupInfo {
            jid: group.clone(),
            subject: "Weekend".into(),
            description: None,
            created_at: 0,
            creator: None,
            addressing: Addressing::Lid,
            announce: false,
            locked: false,
            participants: vec![Member {
                jid: Jid::new("99887766", "lid"),
                alternate: Some(Jid::new("15550001111", "s.whatsapp.net")),
                rank: Rank::Admin,
            }],
        });
        let info = directory.group(&group).expect("known");
        assert_eq!(info.subject, "Weekend");
        let member = &info.participants[0];
        assert_eq!(member.pn, Some(Jid::new("15550001111", "s.whatsapp.net")));
        assert_eq!(member.lid, Some(Jid::new("99887766", "lid")));
        assert!(member.rank.is_admin());
        directory.forget(&group);
        assert!(directory.group(&group).is_none());
    }
}
