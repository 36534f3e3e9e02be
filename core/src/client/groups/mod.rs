//! Groups: their metadata as WhatsApp describes it (`metadata`), the
//! `w:gp2` notifications that change it (`notification`), and the cache
//! the client keeps of the groups it is in.

pub mod admin;
pub mod metadata;
pub mod notification;

use std::collections::BTreeMap;

use crate::time::UnixMillis;
use crate::wire::binary::Jid;
use metadata::GroupInfo;
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

    pub fn put(&mut self, info: GroupInfo, now: UnixMillis) {
        let key = key(&info.jid);
        if !self.groups.contains_key(&key) && self.groups.len() >= GROUPS_LEN_MAX {
            let oldest = self
                .groups
                .iter()
                .min_by_key(|(_, cached)| cached.fetched_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.groups.remove(&oldest);
            }
        }
        self.groups.insert(
            key,
            Cached {
                info,
                fetched_at: now,
            },
        );
    }

    /// Applies what a notification says to the cached group (a group not
    /// cached is read when next needed).
    pub fn apply(&mut self, event: &GroupEvent) {
        if let Some(cached) = self.groups.get_mut(&key(&event.group)) {
            for change in &event.changes {
                notification::apply(&mut cached.info, change);
            }
        }
    }

    pub fn forget(&mut self, group: &Jid) {
        self.groups.remove(&key(group));
    }

    /// Every cached group's JID.
    pub fn jids(&self) -> impl Iterator<Item = &Jid> {
        self.groups.values().map(|cached| &cached.info.jid)
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

fn key(group: &Jid) -> String {
    format!("{}@{}", group.user(), group.server())
}
