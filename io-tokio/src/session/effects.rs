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
//! - `Delete`: the revoke message, queued in the transaction that marks
//!   it done.
//! - Group actions and blocks: requests to the server, made off the
//!   worker's loop ([`crate::session::performing`]); once answered, marked
//!   done with their answer (the invite link, or the refusal worded by the
//!   handler) queued in the same transaction.
//! - `Media`: the file uploaded off the worker's loop (`media_conn` asked
//!   of the session), then the message queued in the transaction that
//!   marks it done, with the upload kept for the next send of that file.

use blacksky_bot::commands::{GroupChange, OwnerControl, Toggle};
use blacksky_bot::{Action, Jid, MediaSpec, Reply, chat_of, compose};
use blacksky_core::client::ask::{Answer, Request};
use blacksky_core::client::groups::admin::{
    AdminAction, AdminAnswer, ParticipantChange, PersonOutcome, Refusal,
};
use blacksky_core::message::ids;
use blacksky_core::session::Outbound;
use prost::Message as _;

use crate::store::EffectRecord;

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
    /// Queue this message while marking it done.
    Queue(Outbound),
    /// Ask the server for each of `requests` in order (off the worker's
    /// loop), then mark it done with what `then` says of the answers.
    Ask { requests: Vec<Request>, then: Then },
    /// Upload the file (or send an earlier upload of it again), off the
    /// worker's loop, then queue the media message to `to` while marking
    /// it done.
    Media {
        to: Jid,
        media: Box<MediaSpec>,
        caption: Reply,
        unusable: Option<Reply>,
    },
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
        Action::Owner(OwnerControl::Block { people }) => blocks(people, true),
        Action::Owner(OwnerControl::Unblock { people }) => blocks(people, false),
        Action::Broadcast { text } => Plan::Broadcast { text },
        Action::Delete { chat, id, author } => {
            let to = chat_of(&chat);
            Plan::Queue(Outbound {
                id: ids::reply_id(&effect.id, 0),
                to: to.to_string(),
                message: compose::revoke(&to, &id, author.as_ref()).encode_to_vec(),
                stanza: None,
            })
        }
        Action::Group {
            group,
            change,
            done,
        } => group_plan(group, change, done),
        Action::Media {
            to,
            media,
            caption,
            unusable,
        } => Plan::Media {
            to,
            media,
            caption,
            unusable,
        },
        // Messages and settings are stored as such, never as effects.
        Action::Text { .. } | Action::React { .. } | Action::Setting(_) => Plan::Unreadable {
            why: "a message or setting stored as an effect".to_owned(),
        },
    }
}

/// What is sent once the server answered an effect's requests.
#[derive(Debug, PartialEq, Eq)]
pub enum Then {
    /// Nothing: the server tells the group itself (a notification).
    Nothing,
    /// `answer` to `group`, with `{link}` the invite link the server gave.
    Link { group: Jid, answer: String },
    /// `reply` to `group`: the change is made.
    Done { group: Jid, reply: Reply },
}

/// Who hears of a refusal: the chat the action was about.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub chat: Jid,
    pub refusal: Refusal,
    /// For a participant change: the people it did not take for.
    pub people: Vec<Jid>,
}

fn blocks(people: Vec<Jid>, block: bool) -> Plan {
    Plan::Ask {
        requests: people
            .into_iter()
            .map(|person| Request::Block {
                person: chat_of(&person),
                block,
            })
            .collect(),
        then: Then::Nothing,
    }
}

/// A group change as the server's request.
fn group_plan(group: Jid, change: GroupChange, done: Option<Reply>) -> Plan {
    let on = |state: Toggle| state.is_on();
    let participants = |change, people: Vec<Jid>| AdminAction::Participants {
        change,
        people: people.iter().map(chat_of).collect(),
    };
    let mut then = match done {
        Some(reply) => Then::Done {
            group: group.clone(),
            reply,
        },
        None => Then::Nothing,
    };
    let action = match change {
        GroupChange::Add { people } => participants(ParticipantChange::Add, people),
        GroupChange::Remove { people } => participants(ParticipantChange::Remove, people),
        GroupChange::Promote { people } => participants(ParticipantChange::Promote, people),
        GroupChange::Demote { people } => participants(ParticipantChange::Demote, people),
        GroupChange::Subject { subject } => AdminAction::Subject(subject),
        GroupChange::Description { description } => {
            AdminAction::Description(Some(description).filter(|text| !text.is_empty()))
        }
        GroupChange::Announce { state } => AdminAction::Announce(on(state)),
        GroupChange::Locked { state } => AdminAction::Locked(on(state)),
        GroupChange::InviteLink { answer } => {
            then = Then::Link {
                group: group.clone(),
                answer,
            };
            AdminAction::InviteCode
        }
        GroupChange::RevokeInviteLink { answer } => {
            then = Then::Link {
                group: group.clone(),
                answer,
            };
            AdminAction::RevokeInvite
        }
        GroupChange::Leave => AdminAction::Leave,
    };
    let group = chat_of(&group);
    Plan::Ask {
        requests: vec![Request::Group { group, action }],
        then,
    }
}

/// The message `then` asks for once `answers` came, if any.
#[must_use]
pub fn answer_of(effect_id: &str, then: &Then, answers: &[Answer]) -> Option<Outbound> {
    let (group, answer) = match then {
        Then::Nothing => return None,
        Then::Done { group, reply } => return Some(text_to(effect_id, group, reply)),
        Then::Link { group, answer } => (group, answer),
    };
    let code = answers.iter().find_map(|answer| match answer {
        Answer::Group(AdminAnswer::InviteCode(code)) => Some(code),
        _ => None,
    })?;
    Some(text_to(
        effect_id,
        group,
        &Reply::text(answer.replace("{link}", &code.link())),
    ))
}

/// The people a participant change did not take for, with the first
/// refusal among them.
#[must_use]
pub fn refused_people(effect: &EffectRecord, answers: &[Answer]) -> Option<Refused> {
    let Ok(Action::Group { group, .. }) = Action::from_json(&effect.json) else {
        return None;
    };
    let refused: Vec<&PersonOutcome> = answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Group(AdminAnswer::People(people)) => Some(people),
            _ => None,
        })
        .flatten()
        .filter(|person| person.result.is_err())
        .collect();
    let refusal = refused.first()?.result.err()?;
    Some(Refused {
        chat: chat_of(&group),
        refusal,
        people: refused.iter().map(|person| person.person.clone()).collect(),
    })
}

/// Who hears that the server refused `effect` as a whole.
#[must_use]
pub fn refused_whole(effect: &EffectRecord, refusal: Refusal) -> Option<Refused> {
    // A refused block has no chat to tell (the owner's command named
    // people, not where to answer): it is logged only.
    let Action::Group { group, .. } = Action::from_json(&effect.json).ok()? else {
        return None;
    };
    Some(Refused {
        chat: chat_of(&group),
        refusal,
        people: Vec::new(),
    })
}

/// `reply` to `to`, as the answer of effect `effect_id` (one per effect:
/// performed twice, it is queued once).
#[must_use]
pub fn text_to(effect_id: &str, to: &Jid, reply: &Reply) -> Outbound {
    let to = chat_of(to);
    Outbound {
        id: ids::reply_id(effect_id, 0),
        to: to.to_string(),
        message: compose::text(reply, None, &to).encode_to_vec(),
        stanza: None,
    }
}

/// The backup's answer to `to`, as the outbox keeps it: its id derives
/// from the effect's, so performing it twice (a crash before the done
/// mark) queues it once.
#[must_use]
pub fn backup_answer(effect_id: &str, to: &Jid, answer: &str, generation: u64) -> Outbound {
    let text = answer.replace("{generation}", &generation.to_string());
    text_to(effect_id, to, &Reply::text(text))
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
    fn owner_controls_are_performed_and_group_work_asks_the_server() {
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
            done: None,
        };
        assert_eq!(
            plan(&record(&group)),
            Plan::Ask {
                requests: vec![Request::Group {
                    group: Jid::new("1203630001", "g.us"),
                    action: AdminAction::Leave
                }],
                then: Then::Nothing
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
            Plan::Ask {
                requests: vec![Request::Block {
                    person: owner.clone(),
                    block: true
                }],
                then: Then::Nothing
            }
        );
        let mut broken = record(&broadcast);
        broken.json = "{\"action\":\"launch\"}".into();
        assert!(matches!(plan(&broken), Plan::Unreadable { .. }));
    }

    #[test]
    fn an_invite_link_answer_fills_in_the_link_and_refused_people_are_named() {
        let group = Jid::new("1203630001", "g.us");
        let asked = record(&Action::Group {
            group: group.clone(),
            change: GroupChange::InviteLink {
                answer: "Join: {link}".into(),
            },
            done: None,
        });
        let Plan::Ask { then, .. } = plan(&asked) else {
            panic!("a request to the server");
        };
        let code = blacksky_core::client::groups::admin::InviteCode("AbC".into());
        let answer = answer_of(
            &asked.id,
            &then,
            &[Answer::Group(AdminAnswer::InviteCode(code))],
        )
        .expect("an answer");
        let message =
            blacksky_proto::wa::Message::decode(answer.message.as_slice()).expect("proto");
        assert_eq!(
            message.conversation.as_deref(),
            Some("Join: https://chat.whatsapp.com/AbC")
        );
        assert_eq!(answer.to, "1203630001@g.us");

        let ana = Jid::new("15550001111", "s.whatsapp.net");
        let ben = Jid::new("15550002222", "s.whatsapp.net");
        let added = record(&Action::Group {
            group: group.clone(),
            change: GroupChange::Add {
                people: vec![ana.clone(), ben.clone()],
            },
            done: Some(Reply::text("Adding them")),
        });
        let people = Answer::Group(AdminAnswer::People(vec![
            PersonOutcome {
                person: ana,
                result: Ok(()),
            },
            PersonOutcome {
                person: ben.clone(),
                result: Err(Refusal::Forbidden),
            },
        ]));
        assert_eq!(
            refused_people(&added, &[people]),
            Some(Refused {
                chat: group.clone(),
                refusal: Refusal::Forbidden,
                people: vec![ben]
            })
        );
        assert_eq!(
            refused_whole(&added, Refusal::NotAdmin).map(|r| r.chat),
            Some(group)
        );
        let Plan::Ask { then, .. } = plan(&added) else {
            panic!("a request to the server");
        };
        let done = answer_of(&added.id, &then, &[]).expect("the done text");
        let message = blacksky_proto::wa::Message::decode(done.message.as_slice()).expect("proto");
        assert_eq!(message.conversation.as_deref(), Some("Adding them"));
    }

    #[test]
    fn a_media_send_is_performed_off_the_loop_with_what_it_names() {
        let chat = Jid::new("1203630001", "g.us");
        let action = Action::Media {
            to: chat.clone(),
            media: Box::new(MediaSpec::reaction_clip("hug")),
            caption: Reply::text("*Ana hugs Ben*"),
            unusable: None,
        };
        let Plan::Media {
            to, media, caption, ..
        } = plan(&record(&action))
        else {
            panic!("a media plan");
        };
        assert_eq!(to, chat);
        assert_eq!(*media, MediaSpec::reaction_clip("hug"));
        assert_eq!(caption.text, "*Ana hugs Ben*");
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
