//! What the shell does with the effects a handler asked for (owner
//! controls, broadcasts, group actions): each is stored with its
//! message's handled mark (`Write::Effect`), read back after the commit
//! and performed by the store worker, then marked done
//! (`Write::EffectDone`). This module decides what each stored effect
//! means; the worker carries it out.
//!
//! - `Restart`: marked done first (a restart never loops), then the
//!   keeper's graceful cycle (drain, final snapshot, exit 75).
//! - `BackupNow`: a snapshot, then the answer with its `{generation}`,
//!   queued in the transaction that marks the effect done (sent once).
//! - `Broadcast`: one text per group the inbox knows, queued in the
//!   transaction that marks it done (durable, sent once each, in order
//!   from the outbox).
//! - Blocks, deletes and group actions need the group layer (group IQs):
//!   they stay pending, said once.

use blacksky_bot::commands::OwnerControl;
use blacksky_bot::{Action, Jid, Reply, chat_of, compose};
use blacksky_core::message::ids;
use blacksky_core::session::Outbound;
use prost::Message as _;

use crate::store::EffectRecord;

/// Effects left pending that the worker remembers having logged, at most
/// (past it, they are logged again: never a leak).
pub const LEFT_PENDING_MAX: usize = 1024;

/// What one stored effect asks the worker to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Mark it done, then ask the keeper for a planned restart.
    Restart,
    /// Take a snapshot now, then queue `answer` (with `{generation}`
    /// filled in) to `to` while marking it done.
    Backup { to: Jid, answer: String },
    /// Queue `text` to every known group while marking it done.
    Broadcast { text: String },
    /// Not performed by this shell yet: left pending for the layer that
    /// will (`what` names it for the log).
    NeedsGroupLayer { what: &'static str },
    /// The stored JSON does not read (a newer or broken row): marked done
    /// so it is not read at every start, and logged.
    Unreadable { why: String },
}

/// What `effect` asks for.
#[must_use]
pub fn plan(effect: &EffectRecord) -> Plan {
    let action = match Action::from_json(&effect.json) {
        Ok(action) => action,
        Err(err) => {
            return Plan::Unreadable {
                why: err.to_string(),
            };
        }
    };
    match action {
        Action::Owner(OwnerControl::Restart) => Plan::Restart,
        Action::Owner(OwnerControl::BackupNow { to, answer }) => Plan::Backup { to, answer },
        Action::Owner(OwnerControl::Block { .. }) => Plan::NeedsGroupLayer { what: "block" },
        Action::Owner(OwnerControl::Unblock { .. }) => Plan::NeedsGroupLayer { what: "unblock" },
        Action::Broadcast { text } => Plan::Broadcast { text },
        Action::Delete { .. } => Plan::NeedsGroupLayer { what: "delete" },
        Action::Group { .. } => Plan::NeedsGroupLayer {
            what: "group change",
        },
        // Messages and settings are stored as such, never as effects.
        Action::Text { .. } | Action::React { .. } | Action::Setting(_) => Plan::Unreadable {
            why: "a message or setting stored as an effect".to_owned(),
        },
    }
}

/// The backup's answer to `to`, as the outbox keeps it: its id derives
/// from the effect's, so performing it twice (a crash before the done
/// mark) queues it once.
#[must_use]
pub fn backup_answer(effect_id: &str, to: &Jid, answer: &str, generation: u64) -> Outbound {
    let text = answer.replace("{generation}", &generation.to_string());
    let to = chat_of(to);
    Outbound {
        id: ids::reply_id(effect_id, 0),
        to: to.to_string(),
        message: compose::text(&Reply::text(text), None, &to).encode_to_vec(),
        stanza: None,
    }
}

/// The broadcast's text to `group`, as the outbox keeps it: its id
/// derives from the effect's and the group's, so performing it again
/// queues nothing twice, whatever other groups joined the list meanwhile.
/// `None` for a group JID that does not read.
#[must_use]
pub fn broadcast_text(effect_id: &str, group: &str, text: &str) -> Option<Outbound> {
    let to = Jid::parse(group).filter(|jid| jid.server() == "g.us")?;
    let to = chat_of(&to);
    Some(Outbound {
        id: ids::reply_id(&format!("{effect_id}>{to}"), 0),
        to: to.to_string(),
        message: compose::text(&Reply::text(text), None, &to).encode_to_vec(),
        stanza: None,
    })
}

#[cfg(test)]
mod tests {
    use blacksky_bot::commands::GroupChange;
    use blacksky_core::time::UnixMillis;

    use super::*;

    fn record(action: &Action) -> EffectRecord {
        EffectRecord {
            id: "MSG1:e0".into(),
            inbox_id: "MSG1".into(),
            json: action.to_json(),
            created_at: UnixMillis(1),
        }
    }

    #[test]
    fn owner_controls_are_performed_and_group_work_waits() {
        let owner = Jid::new("15550001111", "s.whatsapp.net");
        assert_eq!(
            plan(&record(&Action::Owner(OwnerControl::Restart))),
            Plan::Restart
        );
        let backup = Action::Owner(OwnerControl::BackupNow {
            to: owner.clone(),
            answer: "Backup {generation} saved".into(),
        });
        assert_eq!(
            plan(&record(&backup)),
            Plan::Backup {
                to: owner.clone(),
                answer: "Backup {generation} saved".into()
            }
        );
        let group = Action::Group {
            group: Jid::new("1203630001", "g.us"),
            change: GroupChange::Leave,
        };
        assert_eq!(
            plan(&record(&group)),
            Plan::NeedsGroupLayer {
                what: "group change"
            }
        );
        let broadcast = Action::Broadcast { text: "hi".into() };
        assert_eq!(
            plan(&record(&broadcast)),
            Plan::Broadcast { text: "hi".into() }
        );
        let block = Action::Owner(OwnerControl::Block {
            people: vec![owner.clone()],
        });
        assert_eq!(
            plan(&record(&block)),
            Plan::NeedsGroupLayer { what: "block" }
        );
        let mut broken = record(&broadcast);
        broken.json = "{\"action\":\"launch\"}".into();
        assert!(matches!(plan(&broken), Plan::Unreadable { .. }));
    }

    #[test]
    fn a_backup_answer_names_its_generation_and_keeps_its_id() {
        let to = Jid::new("15550001111", "s.whatsapp.net");
        let first = backup_answer("MSG1:e0", &to, "Backup {generation} saved", 7);
        let again = backup_answer("MSG1:e0", &to, "Backup {generation} saved", 8);
        assert_eq!(first.id, again.id, "one answer however often performed");
        assert_eq!(first.to, "15550001111@s.whatsapp.net");
        let message = blacksky_proto::wa::Message::decode(first.message.as_slice()).expect("proto");
        let text = message.conversation.unwrap_or_default();
        assert_eq!(text, "Backup 7 saved");
    }

    #[test]
    fn a_broadcast_text_goes_to_its_group_once() {
        let a = broadcast_text("M:e0", "1203630001@g.us", "news").expect("a group");
        let again = broadcast_text("M:e0", "1203630001@g.us", "news").expect("a group");
        let other = broadcast_text("M:e0", "1203630002@g.us", "news").expect("a group");
        assert_eq!(a.id, again.id);
        assert_ne!(a.id, other.id);
        assert_eq!(a.to, "1203630001@g.us");
        assert!(broadcast_text("M:e0", "15550001111@s.whatsapp.net", "news").is_none());
        assert!(broadcast_text("M:e0", "not a jid", "news").is_none());
    }
}
