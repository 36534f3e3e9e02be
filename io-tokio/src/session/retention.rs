//! Retention: inbox rows handled and outbox rows sent more than
//! `INBOX_RETENTION_DAYS` ago are deleted now and then by the store worker,
//! so a busy bot's database holds its last days, not its whole history.
//! Unhandled and unsent rows are never touched.
//!
//! Each round deletes at most [`PRUNE_ROWS_MAX`] rows of each table (one
//! short transaction: the worker's writes wait behind it, and the
//! connection's acks behind those); a round that hits the bound comes
//! back after [`PRUNE_BACKLOG_PAUSE`] until the backlog is gone.

use std::time::Duration;

use blacksky_core::time::UnixMillis;
use tokio::time::Instant;

use crate::store::{Store, StoreError};

/// `INBOX_RETENTION_DAYS` unless configured.
pub const INBOX_RETENTION_DEFAULT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The first round, after the start's burst of offline messages.
pub const PRUNE_FIRST_AFTER: Duration = Duration::from_secs(60);
/// Between rounds that found nothing more to delete.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Between rounds while a backlog lasts (the first round after an upgrade).
pub const PRUNE_BACKLOG_PAUSE: Duration = Duration::from_secs(1);
/// After a round the store did not answer.
pub const PRUNE_RETRY: Duration = Duration::from_secs(5 * 60);
/// Rows of each table one round deletes at most.
pub const PRUNE_ROWS_MAX: u32 = 5_000;

/// The retention schedule of one store worker.
#[derive(Debug, Clone)]
pub enum Retention {
    /// `INBOX_RETENTION_DAYS=0`: rows are kept forever.
    KeepForever,
    Prune {
        keep: Duration,
        next_round: Instant,
    },
}

impl Retention {
    /// Rows older than `keep` go, the first round [`PRUNE_FIRST_AFTER`]
    /// from now; `None` keeps them forever.
    pub fn new(keep: Option<Duration>) -> Retention {
        match keep {
            None => Retention::KeepForever,
            Some(keep) => Retention::Prune {
                keep,
                next_round: Instant::now() + PRUNE_FIRST_AFTER,
            },
        }
    }

    /// When the next round is due (`None`: never).
    pub fn next_round(&self) -> Option<Instant> {
        match self {
            Retention::KeepForever => None,
            Retention::Prune { next_round, .. } => Some(*next_round),
        }
    }

    /// Runs one round on `store` with `wall` as now (the clock that stamped
    /// the rows), cut off after `timeout_ms`, and schedules the next.
    pub async fn run<S: Store>(&mut self, store: &mut S, wall: UnixMillis, timeout_ms: u64) {
        let Retention::Prune { keep, next_round } = self else {
            return;
        };
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        let before = UnixMillis(wall.as_millis().saturating_sub(keep_ms));
        let limit = Duration::from_millis(timeout_ms);
        let result = match tokio::time::timeout(limit, store.prune(before, PRUNE_ROWS_MAX)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::TimedOut(timeout_ms)),
        };
        let wait = match result {
            Ok(count) => {
                if count.inbox > 0 || count.outbox > 0 || count.effects > 0 {
                    tracing::info!(
                        inbox = count.inbox,
                        outbox = count.outbox,
                        effects = count.effects,
                        keep_days = keep.as_secs() / 86_400,
                        "deleted handled inbox rows, sent outbox rows and done effects past their retention"
                    );
                }
                if count.hit(PRUNE_ROWS_MAX) {
                    PRUNE_BACKLOG_PAUSE
                } else {
                    PRUNE_INTERVAL
                }
            }
            Err(err) => {
                tracing::warn!("old inbox rows not deleted this time: {err}");
                PRUNE_RETRY
            }
        };
        *next_round = Instant::now() + wait;
    }
}
