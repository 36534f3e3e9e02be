//! `w:gp2` notifications kept until each linked device acks them, as the
//! real server keeps them: a device online gets one at once; a device
//! offline (or one that did not ack before its connection dropped) gets
//! it again in its next offline batch, before `<ib><offline count>`. So a
//! bot that was down while a member was removed still learns of it before
//! it writes to the group again.

use std::collections::{BTreeSet, VecDeque};

use blacksky_core::wire::binary::Node;

use super::FakeServer;
use super::output::ConnId;

/// Notifications kept; past it the oldest go (a device that was away
/// that long reads the groups again anyway).
pub const GROUP_NOTICES_LEN_MAX: usize = 10_000;

/// One notification and the devices that have not acked it.
#[derive(Debug)]
struct Notice {
    id: String,
    node: Node,
    unacked: BTreeSet<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct GroupNotices {
    ring: VecDeque<Notice>,
}

impl FakeServer {
    /// Sends `node` (with id `id`) to every linked device online, and keeps
    /// it for each paired device until that device acks it.
    pub(crate) fn send_group_notice(&mut self, id: String, node: Node) {
        let paired: BTreeSet<u8> = self
            .devices
            .values()
            .filter(|d| d.paired)
            .map(|d| d.id)
            .collect();
        if paired.is_empty() {
            return;
        }
        // Online: past its offline batch (one still in passive mode gets
        // the notice in that batch).
        let live: Vec<ConnId> = paired
            .iter()
            .filter_map(|&device| self.online_conn(device))
            .collect();
        for conn in live {
            self.send(conn, &node);
        }
        let ring = &mut self.group_notices.ring;
        ring.push_back(Notice {
            id,
            node,
            unacked: paired,
        });
        while ring.len() > GROUP_NOTICES_LEN_MAX {
            ring.pop_front();
        }
    }

    /// `<ack class=notification id>` from a logged-in device.
    pub(crate) fn on_notification_ack(&mut self, conn: ConnId, ack: &Node) {
        let (Some(device), Some(id)) = (
            self.conns.get(&conn).and_then(|c| c.device()),
            ack.attr("id"),
        ) else {
            return;
        };
        let ring = &mut self.group_notices.ring;
        if let Some(notice) = ring.iter_mut().find(|n| n.id == id) {
            notice.unacked.remove(&device);
        }
        ring.retain(|n| !n.unacked.is_empty());
    }

    /// What `device` has not acked, sent again (its offline batch);
    /// returns how many.
    pub(crate) fn deliver_group_notices(&mut self, conn: ConnId, device: u8) -> usize {
        let pending: Vec<Node> = self
            .group_notices
            .ring
            .iter()
            .filter(|n| n.unacked.contains(&device))
            .map(|n| n.node.clone().with_attr("offline", "1"))
            .collect();
        pending.iter().filter(|node| self.send(conn, node)).count()
    }

    /// Group notifications some linked device has not acked yet.
    #[must_use]
    pub fn pending_group_notices(&self) -> usize {
        self.group_notices.ring.len()
    }
}
