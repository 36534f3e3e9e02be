//! Requests the shell asks the client to make over the session (a group
//! admin's actions, `media_conn` for uploads, the block list): each goes
//! out as an iq once the session is online, and its answer (or refusal,
//! or silence past the iq deadline) comes back as [`Event::Answered`]
//! with the shell's [`AskId`]. Nothing here is stored: the shell keeps
//! what it asked for (a stored effect) until an answer says it is done,
//! so a connection lost meanwhile means asking again, on the next one.

use std::fmt;
use std::time::Instant;

use rand_core::RngCore;

use super::groups::admin::{
    AdminAction, AdminAnswer, DescriptionIds, ParticipantChange, PersonOutcome, Refusal,
    admin_request, parse_admin_answer,
};
use super::groups::notification::{GroupChange, GroupEvent};
use super::{Client, Event, IqPurpose, ms};
use crate::media::conn::{MediaConn, media_conn_request};
use crate::message::ids;
use crate::wire::binary::{Jid, Node, NodeRef};

/// The shell's name for one request, echoed in its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AskId(pub u64);

/// What the shell can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A group admin's action (or leaving the group).
    Group { group: Jid, action: AdminAction },
    /// Block or unblock a person (`blocklist` iq).
    Block { person: Jid, block: bool },
    /// Where media goes and with what auth.
    MediaConn,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Group(AdminAnswer),
    /// A block or unblock took effect.
    Blocked,
    MediaConn(MediaConn),
}

/// Why a request got no answer the shell can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// The session is not online (yet, or any more): ask again once it is.
    #[error("the session is not online")]
    NotOnline,
    /// No answer within the iq deadline.
    #[error("no answer in time")]
    TimedOut,
    /// The server refused the whole request.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The server answered something this client cannot read.
    #[error("an unreadable answer: {0}")]
    BadAnswer(String),
}

/// An answer with its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Answered {
    pub id: AskId,
    pub outcome: Result<Answer, AskError>,
}

// `Answer` keeps its secrets out of `Debug` (the media auth, the invite
// code); this names the outcome only.
impl fmt::Debug for Answered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.outcome {
            Ok(Answer::Group(_)) => "group answer",
            Ok(Answer::Blocked) => "blocked",
            Ok(Answer::MediaConn(_)) => "media_conn",
            Err(AskError::NotOnline) => "not online",
            Err(AskError::TimedOut) => "timed out",
            Err(AskError::Refused(_)) => "refused",
            Err(AskError::BadAnswer(_)) => "bad answer",
        };
        f.debug_struct("Answered")
            .field("id", &self.id)
            .field("outcome", &outcome)
            .finish()
    }
}

impl Client {
    pub(super) fn on_ask(&mut self, now: Instant, id: AskId, request: Request) {
        if !self.is_online() {
            return self.answered(id, Err(AskError::NotOnline));
        }
        let timeout = ms(self.config.iq_timeout_ms);
        let iq_id = self.iqs.start(
            IqPurpose::Ask {
                id,
                request: Box::new(request.clone()),
            },
            now,
            timeout,
        );
        let node = match &request {
            Request::Group { group, action } => {
                let ids = self.description_ids(group);
                admin_request(&iq_id, group, action, &ids)
            }
            Request::Block { person, block } => block_request(&iq_id, person, *block),
            Request::MediaConn => media_conn_request(&iq_id),
        };
        self.send(&node);
    }

    /// The answer to request `id`, of type `result` or `error`.
    pub(super) fn on_ask_answer(
        &mut self,
        now: Instant,
        id: AskId,
        request: &Request,
        answer: NodeRef<'_>,
    ) {
        if answer.attr("type") == Some("error") {
            let refusal = Refusal::from_attr(
                answer
                    .child("error")
                    .and_then(|error| error.attr("code"))
                    .unwrap_or_default(),
            );
            return self.answered(id, Err(AskError::Refused(refusal)));
        }
        let outcome = match request {
            Request::Group { action, .. } => match parse_admin_answer(action, answer) {
                Ok(Ok(answer)) => Ok(Answer::Group(answer)),
                Ok(Err(refusal)) => Err(AskError::Refused(refusal)),
                Err(err) => Err(AskError::BadAnswer(err.to_string())),
            },
            Request::Block { .. } => Ok(Answer::Blocked),
            Request::MediaConn => MediaConn::parse(&answer.to_node())
                .map(Answer::MediaConn)
                .map_err(|err| AskError::BadAnswer(err.to_string())),
        };
        if let (Request::Group { group, action }, Ok(Answer::Group(AdminAnswer::People(people)))) =
            (request, &outcome)
        {
            // Our own change is known from its answer, before the server's
            // notification: a message sealed next goes to the members as
            // they are now (never our key to someone just removed).
            if let Some(event) = own_change(group, action, people) {
                self.on_group_event(now, event);
            }
        }
        self.answered(id, outcome);
    }

    pub(super) fn answered(&mut self, id: AskId, outcome: Result<Answer, AskError>) {
        self.event(Event::Answered(Answered { id, outcome }));
    }

    /// A fresh id for a new description, and the current one's (the
    /// server refuses an edit of a description changed meanwhile).
    fn description_ids(&mut self, group: &Jid) -> DescriptionIds {
        let mut random = [0u8; 16];
        self.rng.fill_bytes(&mut random);
        DescriptionIds {
            new_id: ids::id_from(&random),
            previous: self.outbox.description_id(group),
        }
    }
}

/// The group event our participant change made, for those it took for.
fn own_change(group: &Jid, action: &AdminAction, people: &[PersonOutcome]) -> Option<GroupEvent> {
    let AdminAction::Participants { change, .. } = action else {
        return None;
    };
    let done: Vec<Jid> = people
        .iter()
        .filter(|person| person.result.is_ok())
        .map(|person| person.person.clone())
        .collect();
    if done.is_empty() {
        return None;
    }
    let change = match change {
        ParticipantChange::Add => GroupChange::Added(done),
        ParticipantChange::Remove => GroupChange::Removed(done),
        ParticipantChange::Promote => GroupChange::Promoted(done),
        ParticipantChange::Demote => GroupChange::Demoted(done),
    };
    Some(GroupEvent {
        group: group.clone(),
        actor: None,
        changes: vec![change],
    })
}

/// `<iq xmlns=blocklist type=set><item action=block|unblock jid/></iq>`.
fn block_request(id: &str, person: &Jid, block: bool) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", "set")
        .with_attr("xmlns", "blocklist")
        .with_attr("to", Jid::at("s.whatsapp.net"))
        .with_child(
            Node::new("item")
                .with_attr("action", if block { "block" } else { "unblock" })
                .with_attr("jid", person.clone()),
        )
}
