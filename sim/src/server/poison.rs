//! Poison: stanzas a client cannot use, sent on demand, to show it never
//! loops on one. Each is kept and sent again at every login until the
//! client answers it, as WhatsApp's offline queue keeps what was not
//! acked: a client that hangs up on one meets it again at once, and
//! again; one that answers it (ack or nack) or skips it stays online.
//!
//! Control: `POST /poison?kind=K[&conn=I]` sends one (to every online
//! device connection, or to `conn`); `GET /poison` lists what was sent,
//! how often, and the answers. The kinds:
//!
//! | kind | what | WhatsApp expects |
//! |---|---|---|
//! | `message-without-id` | a `<message>` with no id | nothing can answer it: skip it |
//! | `undecodable` | a sealed frame that is no binary node | skip it |
//! | `message-unreadable` | a `<message>` whose `<enc>` has an unknown type | a nack (`error`) |
//! | `count-notification` | `<notification type=encrypt><count/>` without a value | an ack |
//! | `count-answer` | from now on, the answer to the pre-key count request has no value; the live connections are dropped, so the client asks again at its next login | go on without an upload |

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use blacksky_core::wire::binary::{Jid, Node};
use serde::Serialize;
use serde_json::json;

use super::output::{ConnId, Target};
use super::{FakeServer, stanzas};
use crate::net::FakeWa;

/// The most poison stanzas kept; one past it replaces the oldest.
pub const POISON_LEN_MAX: usize = 64;

/// The contact poison messages claim to come from.
const POISON_FROM: &str = "491700000666";

/// What the control can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoisonKind {
    MessageWithoutId,
    Undecodable,
    MessageUnreadable,
    CountNotification,
    CountAnswer,
}

impl PoisonKind {
    /// The kind a control query names.
    #[must_use]
    pub fn parse(text: &str) -> Option<PoisonKind> {
        Some(match text {
            "message-without-id" => PoisonKind::MessageWithoutId,
            "undecodable" => PoisonKind::Undecodable,
            "message-unreadable" => PoisonKind::MessageUnreadable,
            "count-notification" => PoisonKind::CountNotification,
            "count-answer" => PoisonKind::CountAnswer,
            _ => return None,
        })
    }
}

/// One poison stanza sent, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoisonSent {
    pub kind: PoisonKind,
    /// The stanza's id, for the kinds that have one.
    pub id: Option<String>,
    /// Times it went out (first send and every login after).
    pub deliveries: u32,
    /// The client's answer: `ack`, or `nack <code>`.
    pub answer: Option<String>,
}

/// The poison the server holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Poison {
    pub sent: Vec<PoisonSent>,
    /// Pre-key count answers go out without a value.
    pub count_answer_armed: bool,
    /// Pre-key count answers sent that way.
    pub count_answers_sent: u32,
}

impl FakeServer {
    /// Sends poison of `kind` to `target`'s online device connections
    /// (kept for every login after, until answered). For `count-answer`,
    /// arms it and drops the live connections. Returns the connections
    /// it went to.
    pub fn send_poison(&mut self, kind: PoisonKind, target: Target) -> Vec<ConnId> {
        let conns: Vec<ConnId> = self
            .targets(target)
            .into_iter()
            .filter(|conn| self.conns.get(conn).is_some_and(|c| c.online))
            .collect();
        if kind == PoisonKind::CountAnswer {
            self.poison.count_answer_armed = true;
            for &conn in &conns {
                self.close(conn);
            }
            return conns;
        }
        let id = match kind {
            PoisonKind::MessageUnreadable => Some(self.new_message_id()),
            PoisonKind::CountNotification => Some(self.next_stanza_id()),
            _ => None,
        };
        if self.poison.sent.len() >= POISON_LEN_MAX {
            self.poison.sent.remove(0);
        }
        self.poison.sent.push(PoisonSent {
            kind,
            id,
            deliveries: 0,
            answer: None,
        });
        let index = self.poison.sent.len() - 1;
        for &conn in &conns {
            self.deliver_poison(conn, index);
        }
        conns
    }

    /// What poison was sent and answered.
    #[must_use]
    pub fn poison(&self) -> &Poison {
        &self.poison
    }

    /// At a login: every poison stanza not answered yet goes out again.
    pub(crate) fn redeliver_poison(&mut self, conn: ConnId) {
        for index in 0..self.poison.sent.len() {
            if self.poison.sent[index].answer.is_none() {
                self.deliver_poison(conn, index);
            }
        }
    }

    fn deliver_poison(&mut self, conn: ConnId, index: usize) {
        let Some(sent) = self.poison.sent.get(index).cloned() else {
            return;
        };
        let wall = self.wall.as_secs().to_string();
        let went = match sent.kind {
            PoisonKind::Undecodable => {
                // Flags byte 2 (compressed), then no zlib stream.
                self.send_garbage(conn, &[0x02, 0xFF, 0xFF, 0xFF])
                    .unwrap_or(false)
            }
            PoisonKind::MessageWithoutId => {
                let message = Node::new("message")
                    .with_attr("from", Jid::new(POISON_FROM, "s.whatsapp.net"))
                    .with_attr("type", "text")
                    .with_attr("t", wall)
                    .with_children(vec![enc("msg")]);
                self.send(conn, &message)
            }
            PoisonKind::MessageUnreadable => {
                let message = Node::new("message")
                    .with_attr("from", Jid::new(POISON_FROM, "s.whatsapp.net"))
                    .with_attr("type", "text")
                    .with_attr("id", sent.id.clone().unwrap_or_default())
                    .with_attr("t", wall)
                    .with_children(vec![enc("frobnicated")]);
                self.send(conn, &message)
            }
            PoisonKind::CountNotification => {
                let notification = Node::new("notification")
                    .with_attr("from", stanzas::server_jid())
                    .with_attr("type", "encrypt")
                    .with_attr("id", sent.id.clone().unwrap_or_default())
                    .with_attr("t", wall)
                    .with_children(vec![Node::new("count")]);
                self.send(conn, &notification)
            }
            PoisonKind::CountAnswer => false,
        };
        if went && let Some(sent) = self.poison.sent.get_mut(index) {
            sent.deliveries = sent.deliveries.saturating_add(1);
        }
    }

    /// An `<ack>` for a poison stanza: recorded. False when it is not one.
    pub(crate) fn on_poison_ack(&mut self, ack: &Node) -> bool {
        let Some(id) = ack.attr("id") else {
            return false;
        };
        let Some(sent) = self
            .poison
            .sent
            .iter_mut()
            .find(|s| s.id.as_deref() == Some(id))
        else {
            return false;
        };
        sent.answer = Some(match ack.attr("error") {
            Some(code) => format!("nack {code}"),
            None => "ack".to_owned(),
        });
        true
    }

    /// True when the pre-key count answer must lack its value (then it
    /// was sent so).
    pub(crate) fn poison_count_answer(&mut self, conn: ConnId, id: &str) -> bool {
        if !self.poison.count_answer_armed {
            return false;
        }
        self.poison.count_answers_sent = self.poison.count_answers_sent.saturating_add(1);
        self.send(conn, &stanzas::iq_result_with(id, vec![Node::new("count")]));
        true
    }
}

/// An `<enc>` of `kind` with bytes no session opens.
fn enc(kind: &'static str) -> Node {
    Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", kind)
        .with_bytes(vec![0x33; 40])
}

// ---- the control routes ----

/// `POST /poison?kind=K[&conn=I]` and `GET /poison`.
pub fn routes() -> Router<FakeWa> {
    Router::new().route("/poison", post(send).get(list))
}

type Answer = (StatusCode, axum::Json<serde_json::Value>);

fn bad_request(message: String) -> Answer {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": "bad_request", "message": message })),
    )
}

async fn send(State(fake): State<FakeWa>, Query(params): Query<HashMap<String, String>>) -> Answer {
    let Some(kind) = params.get("kind").and_then(|k| PoisonKind::parse(k)) else {
        return bad_request(
            "kind= one of message-without-id, undecodable, message-unreadable, \
             count-notification, count-answer"
                .to_owned(),
        );
    };
    let target = match params.get("conn").map(|c| c.parse::<u64>()) {
        None => Target::AllLive,
        Some(Ok(conn)) => Target::Conn(ConnId(conn)),
        Some(Err(_)) => return bad_request("conn= is not a connection number".to_owned()),
    };
    let conns = fake.with_server(|s| s.send_poison(kind, target));
    (StatusCode::OK, axum::Json(json!({ "sent_to": conns })))
}

async fn list(State(fake): State<FakeWa>) -> Answer {
    let poison = fake.with_server(|s| s.poison().clone());
    match serde_json::to_value(poison) {
        Ok(value) => (StatusCode::OK, axum::Json(value)),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": "internal", "message": err.to_string() })),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_by_its_name() {
        for kind in [
            PoisonKind::MessageWithoutId,
            PoisonKind::Undecodable,
            PoisonKind::MessageUnreadable,
            PoisonKind::CountNotification,
            PoisonKind::CountAnswer,
        ] {
            let name = serde_json::to_value(kind).expect("a name");
            assert_eq!(
                PoisonKind::parse(name.as_str().unwrap_or_default()),
                Some(kind)
            );
        }
        assert_eq!(PoisonKind::parse("arsenic"), None);
    }
}
