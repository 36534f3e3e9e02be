//! What the bot knows from outside, as the shell hands it in: how the
//! runtime is doing (for `stats`, `uptime`, `session`) and who is in a
//! group (for admin commands, antilink, welcome texts). Small traits the
//! shell implements over its status board and group cache, so the
//! commands stay sans-I/O.

use std::fmt;

use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

/// The runtime's numbers at one moment: what `/stats` knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeSnapshot {
    /// Messages received and sent since the start.
    pub messages_in: u64,
    pub messages_out: u64,
    /// When the process started.
    pub started_at: UnixMillis,
    /// Since when the connection is up; `None` while offline.
    pub online_since: Option<UnixMillis>,
    /// Resident memory, when the platform tells it.
    pub rss_bytes: Option<u64>,
    /// Reconnects since the start.
    pub reconnects: u64,
    /// The store in use, as a word (`sqlite`, `postgres`).
    pub store: String,
    /// The newest backup, if one was made.
    pub last_backup: Option<Backup>,
    /// One-time pre-keys left on the server, when known.
    pub pre_keys_left: Option<u64>,
}

/// A backup (snapshot) that was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    pub generation: u64,
    pub at: UnixMillis,
}

/// How the runtime is doing; the shell reads its status board.
pub trait RuntimeFacts: Send + 'static {
    fn snapshot(&self, now: UnixMillis) -> RuntimeSnapshot;
}

/// A participant's standing in a group (as the group's metadata says).
pub use blacksky_core::client::groups::metadata::Rank;

/// One member of a group, by phone number and/or LID (WhatsApp names
/// members by LID in LID-addressed groups).
#[derive(Clone, PartialEq, Eq)]
pub struct Participant {
    pub pn: Option<Jid>,
    pub lid: Option<Jid>,
    pub rank: Rank,
}

impl Participant {
    /// Whether `jid` (with or without a device) is this member.
    #[must_use]
    pub fn is(&self, jid: &Jid) -> bool {
        [&self.pn, &self.lid]
            .into_iter()
            .flatten()
            .any(|own| same_user(own, jid))
    }

    /// The JID to mention them by: the phone number when known.
    #[must_use]
    pub fn jid(&self) -> Option<&Jid> {
        self.pn.as_ref().or(self.lid.as_ref())
    }
}

/// What the bot knows of one group.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    pub subject: String,
    pub participants: Vec<Participant>,
}

impl GroupInfo {
    /// The rank of whoever has one of `jids` (their phone number, LID),
    /// `None` when they are not in the group.
    #[must_use]
    pub fn rank_of<'a>(&self, jids: impl IntoIterator<Item = &'a Jid> + Clone) -> Option<Rank> {
        self.participants
            .iter()
            .find(|member| jids.clone().into_iter().any(|jid| member.is(jid)))
            .map(|member| member.rank)
    }
}

/// Who is in which group; the shell reads its group metadata cache.
/// `None`: not known (yet).
pub trait GroupFacts: Send + 'static {
    fn group(&self, group: &Jid) -> Option<GroupInfo>;
}

/// Knows nothing: every number unknown, no group's members.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFacts;

impl RuntimeFacts for NoFacts {
    fn snapshot(&self, _: UnixMillis) -> RuntimeSnapshot {
        RuntimeSnapshot::default()
    }
}

impl GroupFacts for NoFacts {
    fn group(&self, _: &Jid) -> Option<GroupInfo> {
        None
    }
}

/// The same person: user and server equal, devices aside.
#[must_use]
pub fn same_user(a: &Jid, b: &Jid) -> bool {
    a.user() == b.user() && a.server() == b.server()
}

// Members are phone numbers and a subject may be private: Debug counts.
impl fmt::Debug for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Participant")
            .field("pn", &self.pn.as_ref().map(|_| "<set>"))
            .field("lid", &self.lid.as_ref().map(|_| "<set>"))
            .field("rank", &self.rank)
            .finish()
    }
}

impl fmt::Debug for GroupInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupInfo")
            .field("subject_chars", &self.subject.chars().count())
            .field("participants", &self.participants.len())
            .finish()
    }
}
