//! Which devices a user has: the `usync` device query and its answer, and
//! a bounded cache of the answers with an expiry (a device list changes
//! when the user links or unlinks a device; the server also says so with
//! a `devices` notification, which drops the entry).

use std::collections::BTreeMap;

use super::super::stanzas;
use crate::time::UnixMillis;
use crate::wire::binary::{Jid, Node, NodeRef};

/// Devices one user may have (WhatsApp allows the phone and four
/// companions; a margin for hosted devices).
pub const DEVICES_PER_USER_MAX: usize = 16;

/// The `usync` query for the device lists of `users` (user JIDs, no
/// device part), as WhatsApp Web sends it before a message.
pub fn device_query(id: &str, sid: &str, users: &[Jid]) -> Node {
    let list = users
        .iter()
        .map(|user| Node::new("user").with_attr("jid", user.clone()))
        .collect();
    stanzas::iq(
        id,
        "get",
        "usync",
        vec![
            Node::new("usync")
                .with_attr("sid", sid.to_owned())
                .with_attr("mode", "query")
                .with_attr("last", "true")
                .with_attr("index", "0")
                .with_attr("context", "message")
                .with_children(vec![
                    Node::new("query").with_child(Node::new("devices").with_attr("version", "2")),
                    Node::new("list").with_children(list),
                ]),
        ],
    )
}

/// The device ids of each user in a `usync` answer (`<usync><list><user
/// jid><devices><device-list><device id/>`). Users without a readable
/// list are left out; hosted devices are skipped (they are not E2E peers
/// of a 1:1 chat in this version).
pub fn parse_device_lists(answer: NodeRef<'_>) -> Vec<(Jid, Vec<u16>)> {
    let Some(list) = answer.child("usync").and_then(|usync| usync.child("list")) else {
        return Vec::new();
    };
    list.children_named("user")
        .filter_map(|user| {
            let jid = user.attr_jid("jid")?;
            let devices = user.child("devices")?.child("device-list")?;
            let mut ids: Vec<u16> = devices
                .children_named("device")
                .filter(|device| device.attr("is_hosted") != Some("true"))
                .filter_map(|device| device.attr("id")?.parse().ok())
                .take(DEVICES_PER_USER_MAX)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            Some((
                Jid::new(jid.user().to_owned(), jid.server().to_owned()),
                ids,
            ))
        })
        .collect()
}

/// Device lists by user JID (text), each with when it was fetched.
#[derive(Debug, Default)]
pub struct DeviceCache {
    lists: BTreeMap<String, (Vec<u16>, UnixMillis)>,
}

impl DeviceCache {
    /// The devices of `user` if known and younger than `max_age_ms`.
    pub fn get(&self, user: &Jid, now: UnixMillis, max_age_ms: u64) -> Option<&[u16]> {
        let (devices, at) = self.lists.get(&user.to_string())?;
        let fresh = now.as_millis().saturating_sub(at.as_millis()) < max_age_ms;
        fresh.then_some(devices.as_slice())
    }

    /// Keeps `devices` for `user`; the oldest entry goes past `len_max`.
    pub fn put(&mut self, user: &Jid, devices: Vec<u16>, now: UnixMillis, len_max: usize) {
        let key = user.to_string();
        if !self.lists.contains_key(&key) && self.lists.len() >= len_max.max(1) {
            let oldest = self
                .lists
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.lists.remove(&oldest);
            }
        }
        self.lists.insert(key, (devices, now));
    }

    /// Drops what is known of `user` (its devices changed).
    pub fn forget(&mut self, user: &Jid) {
        self.lists.remove(&user.to_string());
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::binary::{Decoded, encode};

    fn answer(users: Vec<Node>) -> Node {
        Node::new("iq")
            .with_attr("type", "result")
            .with_child(Node::new("usync").with_child(Node::new("list").with_children(users)))
    }

    fn user(jid: &str, ids: &[&str]) -> Node {
        let devices = ids
            .iter()
            .map(|id| Node::new("device").with_attr("id", (*id).to_owned()))
            .collect();
        user_with(jid, devices)
    }

    fn user_with(jid: &str, devices: Vec<Node>) -> Node {
        Node::new("user")
            .with_attr("jid", Jid::parse(jid).expect("jid"))
            .with_child(
                Node::new("devices").with_child(Node::new("device-list").with_children(devices)),
            )
    }

    fn parsed(node: &Node) -> Vec<(String, Vec<u16>)> {
        let bytes = encode(node).expect("encodes");
        let mut decoded = Decoded::new();
        let root = decoded.decode(&bytes).expect("decodes");
        parse_device_lists(root)
            .into_iter()
            .map(|(jid, ids)| (jid.to_string(), ids))
            .collect()
    }

    #[test]
    fn each_users_devices_are_read_in_order_without_duplicates() {
        let node = answer(vec![
            user("491511111@s.whatsapp.net", &["3", "0", "3"]),
            user("123456789@lid", &["0"]),
        ]);
        assert_eq!(
            parsed(&node),
            [
                ("491511111@s.whatsapp.net".to_owned(), vec![0, 3]),
                ("123456789@lid".to_owned(), vec![0])
            ]
        );
    }

    #[test]
    fn hosted_devices_and_garbage_ids_are_skipped() {
        let hosted = user_with(
            "4915@s.whatsapp.net",
            vec![
                Node::new("device").with_attr("id", "0"),
                Node::new("device")
                    .with_attr("id", "99")
                    .with_attr("is_hosted", "true"),
                Node::new("device").with_attr("id", "x"),
            ],
        );
        assert_eq!(
            parsed(&answer(vec![hosted])),
            [("4915@s.whatsapp.net".to_owned(), vec![0])]
        );
    }

    #[test]
    fn the_cache_expires_and_keeps_its_bound() {
        let mut cache = DeviceCache::default();
        let a = Jid::new("1", "s.whatsapp.net");
        let b = Jid::new("2", "s.whatsapp.net");
        cache.put(&a, vec![0], UnixMillis::from_secs(10), 1);
        assert_eq!(
            cache.get(&a, UnixMillis::from_secs(11), 5_000),
            Some(&[0][..])
        );
        assert_eq!(cache.get(&a, UnixMillis::from_secs(16), 5_000), None);
        cache.put(&b, vec![0, 2], UnixMillis::from_secs(12), 1);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&a, UnixMillis::from_secs(12), 5_000), None);
    }
}
