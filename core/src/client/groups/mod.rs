//! Groups: their metadata as WhatsApp describes it (`metadata`), the
//! `w:gp2` notifications that change it (`notification`), and the cache
//! the client keeps of the groups it is in. The cache is kept in the
//! store too (`Session::groups`): after a restart the bot knows its
//! groups, their members and admins before the login's list comes.

pub mod admin;
pub mod metadata;
pub mod notification;
pub mod phash;

use std::collections::BTreeMap;

use crate::session::{StoredGroup, Write};
use crate::time::UnixMillis;
use crate::wire::binary::{Decoded, Jid, encode};
use metadata::{GroupInfo, group_node, parse_group};
use notification::GroupEvent;

/// The most groups cached; past it the one fetched longest ago goes.
pub const GROUPS_LEN_MAX: usize = 2_048;

/// The groups we know, by JID, with when each was last read from the
/// server.
#[derive(Debug, Default)]
pub struct GroupCache {
    groups: BTreeMap<String, Cached>,
}

#[derive(Debug)]
struct Cached {
    info: GroupInfo,
    fetched_at: UnixMillis,
}

impl GroupCache {
    /// The groups a store kept. One that no longer reads is left out: it
    /// is read from the server when next needed.
    #[must_use]
    pub fn from_stored(stored: &BTreeMap<String, StoredGroup>) -> GroupCache {
        let mut decoded = Decoded::new();
        let groups = stored
            .values()
            .filter_map(|kept| {
                let info = parse_group(decoded.decode(&kept.node).ok()?).ok()?;
                Some((
                    key(&info.jid),
                    Cached {
                        info,
                        fetched_at: kept.fetched_at,
                    },
                ))
            })
            .take(GROUPS_LEN_MAX)
            .collect();
        GroupCache { groups }
    }

    /// `group`, if read within `ttl_ms` of `now`.
    #[must_use]
    pub fn get(&self, group: &Jid, now: UnixMillis, ttl_ms: u64) -> Option<&GroupInfo> {
        self.groups
            .get(&key(group))
            .filter(|cached| now.as_millis() < cached.fetched_at.as_millis().saturating_add(ttl_ms))
            .map(|cached| &cached.info)
    }

    /// `group` however old.
    #[must_use]
    pub fn any(&self, group: &Jid) -> Option<&GroupInfo> {
        self.groups.get(&key(group)).map(|cached| &cached.info)
    }

    /// Caches `info`, read from the server at `now`; returns the store's
    /// writes: the group kept, and the one fetched longest ago forgotten
    /// when the cache is full.
    pub fn put(&mut self, info: GroupInfo, now: UnixMillis) -> Vec<Write> {
        let key = key(&info.jid);
        let mut writes = Vec::new();
        if !self.groups.contains_key(&key) && self.groups.len() >= GROUPS_LEN_MAX {
            let oldest = self
                .groups
                .iter()
                .min_by_key(|(_, cached)| cached.fetched_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.groups.remove(&oldest);
                writes.push(Write::ForgetGroup { group: oldest });
            }
        }
        let cached = Cached {
            info,
            fetched_at: now,
        };
        writes.extend(cached.kept(&key));
        self.groups.insert(key, cached);
        writes
    }

    /// Applies what a notification says to the cached group (a group not
    /// cached is read when next needed); returns the store's write of the
    /// group as it now is.
    pub fn apply(&mut self, event: &GroupEvent) -> Option<Write> {
        let key = key(&event.group);
        let cached = self.groups.get_mut(&key)?;
        for change in &event.changes {
            notification::apply(&mut cached.info, change);
        }
        cached.kept(&key)
    }

    /// Forgets `group`; returns the store's write to forget it too.
    pub fn forget(&mut self, group: &Jid) -> Write {
        let key = key(group);
        self.groups.remove(&key);
        Write::ForgetGroup { group: key }
    }

    /// Every cached group.
    pub fn infos(&self) -> impl Iterator<Item = &GroupInfo> {
        self.groups.values().map(|cached| &cached.info)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

impl Cached {
    /// The store's write of this group (none for one too large to encode:
    /// it is read again after a restart).
    fn kept(&self, key: &str) -> Option<Write> {
        let node = encode(&group_node(&self.info)).ok()?;
        Some(Write::Group {
            group: key.to_owned(),
            stored: StoredGroup {
                node,
                fetched_at: self.fetched_at,
            },
        })
    }
}

fn key(group: &Jid) -> String {
    format!("{}@{}", group.user(), group.server())
}
