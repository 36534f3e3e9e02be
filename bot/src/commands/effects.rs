//! What commands ask the shell to do beyond sending messages: group admin
//! actions and owner controls. Plain data with a stable JSON form, kept
//! with the handled mark like any answer, so each is done once.

use std::fmt;

use blacksky_core::wire::binary::Jid;
use serde::{Deserialize, Serialize};

use super::settings::Toggle;

/// A change to a group (the bot must be one of its admins).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum GroupChange {
    Add {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
    Remove {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
    Promote {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
    Demote {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
    Subject {
        subject: String,
    },
    Description {
        description: String,
    },
    /// On: only admins may write.
    Announce {
        state: Toggle,
    },
    /// On: only admins may edit the group's info.
    Locked {
        state: Toggle,
    },
    /// Fetch the invite link and send `answer` to the group with `{link}`
    /// replaced by `https://chat.whatsapp.com/<code>`.
    InviteLink {
        answer: String,
    },
    /// Revoke the invite link, then send `answer` with the new one as
    /// `{link}`.
    RevokeInviteLink {
        answer: String,
    },
    Leave,
}

/// What only the owner may ask for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum OwnerControl {
    /// A graceful cycle: send what is queued, a final snapshot, exit for
    /// the host to start the bot again.
    Restart,
    /// A snapshot now; then send `answer` to `to` with `{generation}`
    /// replaced by the snapshot's generation.
    BackupNow {
        #[serde(with = "crate::jid_serde")]
        to: Jid,
        answer: String,
    },
    Block {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
    Unblock {
        #[serde(with = "crate::jid_serde::list")]
        people: Vec<Jid>,
    },
}

// People and texts stay out of logs: Debug names the kind and counts.
impl fmt::Debug for GroupChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupChange::Add { people } => write!(f, "Add({} people)", people.len()),
            GroupChange::Remove { people } => write!(f, "Remove({} people)", people.len()),
            GroupChange::Promote { people } => write!(f, "Promote({} people)", people.len()),
            GroupChange::Demote { people } => write!(f, "Demote({} people)", people.len()),
            GroupChange::Subject { .. } => f.write_str("Subject"),
            GroupChange::Description { .. } => f.write_str("Description"),
            GroupChange::Announce { state } => write!(f, "Announce({state:?})"),
            GroupChange::Locked { state } => write!(f, "Locked({state:?})"),
            GroupChange::InviteLink { .. } => f.write_str("InviteLink"),
            GroupChange::RevokeInviteLink { .. } => f.write_str("RevokeInviteLink"),
            GroupChange::Leave => f.write_str("Leave"),
        }
    }
}

impl fmt::Debug for OwnerControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnerControl::Restart => f.write_str("Restart"),
            OwnerControl::BackupNow { .. } => f.write_str("BackupNow"),
            OwnerControl::Block { people } => write!(f, "Block({} people)", people.len()),
            OwnerControl::Unblock { people } => write!(f, "Unblock({} people)", people.len()),
        }
    }
}
