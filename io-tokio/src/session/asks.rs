//! The shell's side of `client::ask`: any task may ask the session for
//! something only the server can do (a group admin's action, a block,
//! `media_conn` for an upload). Requests wait here, bounded; the
//! connection's driver hands them to its client once online and routes
//! each answer back. A connection that ends drops what it had in flight:
//! its callers hear `Gone` and ask again (their effect is still pending in
//! the store), so nothing depends on one socket's life.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use blacksky_core::client::ask::{Answer, Answered, AskError, AskId, Request};
use thiserror::Error;
use tokio::sync::{Notify, oneshot};

/// Requests waiting for an online connection, at most; past it a caller
/// is told `Busy` at once.
pub const ASKS_WAITING_MAX: usize = 64;
/// Requests one connection has out at once, at most.
pub const ASKS_IN_FLIGHT_MAX: usize = 32;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AskFailure {
    /// The client's own verdict: not online, refused, timed out, unreadable.
    #[error("{0}")]
    Client(#[from] AskError),
    /// The connection it went out on ended before the answer.
    #[error("the connection ended before the answer")]
    Gone,
    /// Too many requests wait already.
    #[error("too many requests wait for the connection")]
    Busy,
    /// No connection took it within the caller's time.
    #[error("no connection took it in time")]
    NotTaken,
}

impl AskFailure {
    /// True when asking again later may work (a connection issue, not the
    /// server's answer).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            AskFailure::Client(AskError::NotOnline | AskError::TimedOut)
            | AskFailure::Gone
            | AskFailure::Busy
            | AskFailure::NotTaken => true,
            AskFailure::Client(AskError::Refused(_) | AskError::BadAnswer(_)) => false,
        }
    }
}

type Reply = oneshot::Sender<Result<Answer, AskFailure>>;

/// A request and where its answer goes.
#[derive(Debug)]
struct Asked {
    request: Request,
    reply: Reply,
}

/// Where requests wait for the connection; cloned by every asker and by
/// each connection's driver.
#[derive(Clone, Default)]
pub struct Asks {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<VecDeque<Asked>>,
    arrived: Notify,
}

impl std::fmt::Debug for Asks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Asks")
            .field("waiting", &self.waiting_len())
            .finish()
    }
}

impl Asks {
    /// Asks for `request`; gives up (`NotTaken`, or the client's
    /// `TimedOut`) after `within`.
    pub async fn ask(&self, request: Request, within: Duration) -> Result<Answer, AskFailure> {
        let (reply, answer) = oneshot::channel();
        {
            let mut waiting = self.waiting();
            // Callers that gave up leave their requests behind: drop them
            // before judging the room.
            waiting.retain(|asked| !asked.reply.is_closed());
            if waiting.len() >= ASKS_WAITING_MAX {
                return Err(AskFailure::Busy);
            }
            waiting.push_back(Asked { request, reply });
        }
        self.shared.arrived.notify_one();
        match tokio::time::timeout(within, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(AskFailure::Gone),
            Err(_) => Err(AskFailure::NotTaken),
        }
    }

    /// Resolves when a request may be waiting (at once if one came since
    /// the last call).
    pub async fn arrived(&self) {
        self.shared.arrived.notified().await;
    }

    fn take(&self) -> Option<Asked> {
        let mut waiting = self.waiting();
        while let Some(asked) = waiting.pop_front() {
            if !asked.reply.is_closed() {
                return Some(asked);
            }
        }
        None
    }

    fn waiting_len(&self) -> usize {
        self.waiting().len()
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<Asked>> {
        self.shared
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's requests out to its client; dropped with the
/// connection (its callers then hear `Gone`).
#[derive(Debug, Default)]
pub struct InFlight {
    next: u64,
    replies: HashMap<AskId, Reply>,
}

impl InFlight {
    /// True while the connection may take another request.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.replies.len() < ASKS_IN_FLIGHT_MAX
    }

    /// The next waiting request to hand the client, with the id its
    /// answer will carry.
    pub fn take(&mut self, asks: &Asks) -> Option<(AskId, Request)> {
        if !self.has_room() {
            return None;
        }
        let asked = asks.take()?;
        self.next += 1;
        let id = AskId(self.next);
        self.replies.insert(id, asked.reply);
        Some((id, asked.request))
    }

    /// The client's answer to one of ours.
    pub fn answered(&mut self, answered: Answered) {
        if let Some(reply) = self.replies.remove(&answered.id) {
            let _ = reply.send(answered.outcome.map_err(AskFailure::Client));
        }
    }
}

#[cfg(test)]
mod tests {
    use blacksky_core::client::groups::admin::Refusal;

    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn an_answer_reaches_its_asker_and_a_lost_connection_says_gone() {
        let asks = Asks::default();
        let asker = {
            let asks = asks.clone();
            tokio::spawn(async move { asks.ask(Request::MediaConn, LONG).await })
        };
        let refused = {
            let asks = asks.clone();
            tokio::spawn(async move { asks.ask(Request::MediaConn, LONG).await })
        };
        let lost = {
            let asks = asks.clone();
            tokio::spawn(async move { asks.ask(Request::MediaConn, LONG).await })
        };
        tokio::task::yield_now().await;
        asks.arrived().await;
        let mut conn = InFlight::default();
        let (first, _) = conn.take(&asks).expect("the first request");
        let (second, _) = conn.take(&asks).expect("the second request");
        conn.answered(Answered {
            id: first,
            outcome: Ok(Answer::Blocked),
        });
        conn.answered(Answered {
            id: second,
            outcome: Err(AskError::Refused(Refusal::NotAdmin)),
        });
        let (_third, _) = conn.take(&asks).expect("the third request");
        drop(conn);
        assert_eq!(asker.await.expect("task"), Ok(Answer::Blocked));
        assert_eq!(
            refused.await.expect("task"),
            Err(AskFailure::Client(AskError::Refused(Refusal::NotAdmin)))
        );
        let lost = lost.await.expect("task");
        assert_eq!(lost, Err(AskFailure::Gone));
        assert!(AskFailure::Gone.is_transient());
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_no_connection_takes_times_out_and_is_not_handed_in_later() {
        let asks = Asks::default();
        let outcome = asks.ask(Request::MediaConn, Duration::from_secs(5)).await;
        assert_eq!(outcome, Err(AskFailure::NotTaken));
        assert!(InFlight::default().take(&asks).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_are_bounded() {
        let asks = Asks::default();
        let mut askers = Vec::new();
        for _ in 0..ASKS_WAITING_MAX {
            let asks = asks.clone();
            askers.push(tokio::spawn(async move {
                asks.ask(Request::MediaConn, LONG).await
            }));
        }
        while asks.waiting_len() < ASKS_WAITING_MAX {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            asks.ask(Request::MediaConn, LONG).await,
            Err(AskFailure::Busy)
        );
        let mut conn = InFlight::default();
        let mut taken = 0;
        while conn.take(&asks).is_some() {
            taken += 1;
        }
        assert_eq!(taken, ASKS_IN_FLIGHT_MAX, "one connection's share at most");
    }
}
