//! Effects that need the server (a group admin's action, a block) are
//! performed off the store worker's loop: the worker commits the
//! connection's writes, so it must never wait on a socket. Each such
//! effect runs in a task of its own that asks the session
//! ([`crate::session::asks`]) and hands its outcome back to the worker,
//! which marks the effect done with its answer in one transaction.
//!
//! A transient failure (not online, no answer, the connection lost) waits
//! and asks again, backing off; the effect stays pending in the store
//! meanwhile, so a restart asks again too. After `TIMEOUTS_MAX` requests
//! the server let time out, it is given up on.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use blacksky_core::client::ask::{Answer, Request};
use blacksky_core::session::Write;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::media::MediaRetry;
use crate::session::asks::{AskFailure, Asks};
use crate::store::EffectRecord;

/// Effects being performed or waiting to be tried again, at most; more
/// wait in the store for a later round.
pub const PERFORMING_MAX: usize = 16;
/// How long one request may wait for an online connection and its answer.
const ASK_WITHIN: Duration = Duration::from_secs(30);
/// The first wait after a transient failure, doubled each time up to the
/// last.
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Transient failures after which an effect is given up on (the server
/// never answering it is no connection problem).
pub const FAILURES_MAX: u32 = 30;

/// How a media send went (an upload, not a request: see
/// [`crate::media::send`]): the writes to commit, or why it waits.
#[derive(Debug)]
pub struct Sent {
    pub effect: EffectRecord,
    pub outcome: Result<Vec<Write>, MediaRetry>,
}

/// How an effect's requests went.
#[derive(Debug)]
pub struct Performed {
    pub effect: EffectRecord,
    /// Each request's answer in order, or the first failure.
    pub outcome: Result<Vec<Answer>, AskFailure>,
}

#[derive(Debug, Clone, Copy)]
enum Attempt {
    Running {
        failures: u32,
    },
    Waiting {
        until: Instant,
        failures: u32,
    },
    /// Its wait is over: started again when the store next lists it.
    Due {
        failures: u32,
    },
}

/// What the worker does next with a failed effect.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Wait and ask again.
    Retry,
    /// Too many tries: mark it done with no answer.
    GiveUp { failures: u32 },
}

/// The effects being performed.
#[derive(Debug)]
pub struct Performing {
    asks: Asks,
    done_tx: mpsc::Sender<Performed>,
    done_rx: mpsc::Receiver<Performed>,
    attempts: HashMap<String, Attempt>,
}

impl Performing {
    #[must_use]
    pub fn new(asks: Asks) -> Performing {
        let (done_tx, done_rx) = mpsc::channel(PERFORMING_MAX);
        Performing {
            asks,
            done_tx,
            done_rx,
            attempts: HashMap::new(),
        }
    }

    /// Starts `effect`'s requests unless it is running, waiting for its
    /// next try, or there is no room; true if started.
    pub fn start(&mut self, effect: &EffectRecord, requests: Vec<Request>, now: Instant) -> bool {
        if !self.claim(effect, now) {
            return false;
        }
        let asks = self.asks.clone();
        let done = self.done_tx.clone();
        let effect = effect.clone();
        tokio::spawn(async move {
            let mut answers = Vec::with_capacity(requests.len());
            let mut outcome = Ok(());
            for request in requests {
                match asks.ask(request, ASK_WITHIN).await {
                    Ok(answer) => answers.push(answer),
                    Err(failure) => {
                        outcome = Err(failure);
                        break;
                    }
                }
            }
            let outcome = outcome.map(|()| answers);
            // The worker gone means the process is stopping: the effect is
            // still pending in the store.
            let _ = done.send(Performed { effect, outcome }).await;
        });
        true
    }

    /// Marks `effect` running unless it is, or waits for its next try, or
    /// there is no room; true if it may start.
    fn claim(&mut self, effect: &EffectRecord, now: Instant) -> bool {
        let failures = match self.attempts.get(&effect.id) {
            Some(Attempt::Running { .. }) => return false,
            Some(Attempt::Waiting { until, .. }) if *until > now => return false,
            Some(Attempt::Waiting { failures, .. } | Attempt::Due { failures }) => *failures,
            None if self.attempts.len() >= PERFORMING_MAX => return false,
            None => 0,
        };
        self.attempts
            .insert(effect.id.clone(), Attempt::Running { failures });
        true
    }

    /// Starts a media send, `send` (its upload and message), under the
    /// same rules as [`Performing::start`]; its outcome goes to `done`
    /// (a channel of [`PERFORMING_MAX`]). True if started.
    pub fn start_media<F>(
        &mut self,
        effect: &EffectRecord,
        send: F,
        done: &mpsc::Sender<Sent>,
        now: Instant,
    ) -> bool
    where
        F: Future<Output = Result<Vec<Write>, MediaRetry>> + Send + 'static,
    {
        if !self.claim(effect, now) {
            return false;
        }
        let done = done.clone();
        let effect = effect.clone();
        tokio::spawn(async move {
            let outcome = send.await;
            let _ = done.send(Sent { effect, outcome }).await;
        });
        true
    }

    /// The next effect whose requests finished.
    pub async fn next(&mut self) -> Option<Performed> {
        self.done_rx.recv().await
    }

    /// When an effect waiting to be tried again is due.
    #[must_use]
    pub fn next_retry(&self) -> Option<Instant> {
        self.attempts
            .values()
            .filter_map(|attempt| match attempt {
                Attempt::Waiting { until, .. } => Some(*until),
                Attempt::Running { .. } | Attempt::Due { .. } => None,
            })
            .min()
    }

    /// The waits over by `now` end: those effects may start again (true
    /// if any did).
    pub fn wake_due(&mut self, now: Instant) -> bool {
        let mut woke = false;
        for attempt in self.attempts.values_mut() {
            if let Attempt::Waiting { until, failures } = *attempt
                && until <= now
            {
                *attempt = Attempt::Due { failures };
                woke = true;
            }
        }
        woke
    }

    /// `id` is done (or given up on): forgotten.
    pub fn finished(&mut self, id: &str) {
        self.attempts.remove(id);
    }

    /// `id` failed for a passing reason: wait, or give up.
    pub fn failed(&mut self, id: &str, now: Instant) -> AfterFailure {
        let failures = match self.attempts.get(id) {
            Some(
                Attempt::Running { failures }
                | Attempt::Waiting { failures, .. }
                | Attempt::Due { failures },
            ) => failures + 1,
            None => 1,
        };
        if failures >= FAILURES_MAX {
            self.attempts.remove(id);
            return AfterFailure::GiveUp { failures };
        }
        let wait = RETRY_FIRST
            .saturating_mul(1 << (failures - 1).min(16))
            .min(RETRY_MAX);
        self.attempts.insert(
            id.to_owned(),
            Attempt::Waiting {
                until: now + wait,
                failures,
            },
        );
        AfterFailure::Retry
    }
}

#[cfg(test)]
mod tests {
    use blacksky_core::time::UnixMillis;

    use super::*;

    fn effect(id: &str) -> EffectRecord {
        EffectRecord {
            id: id.into(),
            inbox_id: "M".into(),
            json: "{}".into(),
            created_at: UnixMillis(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_effect_runs_once_at_a_time_and_waits_longer_after_each_failure() {
        let mut performing = Performing::new(Asks::default());
        let now = Instant::now();
        assert!(performing.start(&effect("a"), vec![Request::MediaConn], now));
        assert!(
            !performing.start(&effect("a"), vec![Request::MediaConn], now),
            "already running"
        );
        // No connection takes it: it comes back as not taken.
        let performed = performing.next().await.expect("performed");
        assert_eq!(performed.outcome, Err(AskFailure::NotTaken));
        let now = Instant::now();
        assert_eq!(performing.failed("a", now), AfterFailure::Retry);
        assert_eq!(performing.next_retry(), Some(now + RETRY_FIRST));
        assert!(!performing.start(&effect("a"), Vec::new(), now), "waiting");
        assert!(performing.wake_due(now + RETRY_FIRST));
        assert_eq!(performing.next_retry(), None, "due, not waiting");
        assert!(performing.start(&effect("a"), Vec::new(), now + RETRY_FIRST));
        assert_eq!(performing.failed("a", now), AfterFailure::Retry);
        assert_eq!(performing.next_retry(), Some(now + RETRY_FIRST * 2));
        for _ in 2..FAILURES_MAX - 1 {
            assert_eq!(performing.failed("a", now), AfterFailure::Retry);
        }
        assert!(performing.next_retry().expect("waiting") <= now + RETRY_MAX);
        assert_eq!(
            performing.failed("a", now),
            AfterFailure::GiveUp {
                failures: FAILURES_MAX
            }
        );
        assert_eq!(performing.next_retry(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn effects_performed_at_once_are_bounded() {
        let mut performing = Performing::new(Asks::default());
        let now = Instant::now();
        for i in 0..PERFORMING_MAX {
            assert!(performing.start(&effect(&format!("e{i}")), Vec::new(), now));
        }
        assert!(!performing.start(&effect("one more"), Vec::new(), now));
        performing.finished("e0");
        assert!(performing.start(&effect("one more"), Vec::new(), now));
    }
}
