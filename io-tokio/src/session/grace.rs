//! How `SHUTDOWN_GRACE_MS` is shared among the steps of a shutdown, so a
//! store that stops answering costs each step its share and never the
//! exit: the host's SIGKILL (Heroku's at 30 s) must not come first.
//!
//! Each step ends by its own point in the grace, counted from the
//! signal: time a step leaves unused goes to the ones after it. In order:
//! drain (the writes in flight, so their acks go out), the final
//! snapshot, the socket's close (the keeper's sequence ends there), the
//! store worker's stop, the alerts still queued, and a slack for the
//! process to exit.

use std::time::{Duration, Instant};

use blacksky_core::keeper::ShutdownStep;

/// Where each step must have ended, in thousandths of the grace.
const DRAIN_END_PERMILLE: u32 = 400;
const FINAL_SNAPSHOT_END_PERMILLE: u32 = 650;
const CLOSE_END_PERMILLE: u32 = 750;
const WORKER_STOP_END_PERMILLE: u32 = 900;
const ALERTS_END_PERMILLE: u32 = 950;

/// The shutdown's deadlines, from the moment it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceBudget {
    started: Instant,
    grace: Duration,
}

impl GraceBudget {
    #[must_use]
    pub fn new(started: Instant, grace: Duration) -> GraceBudget {
        GraceBudget { started, grace }
    }

    /// The keeper's share of a grace of `grace_ms`: its sequence (drain,
    /// final snapshot, close) ends here, whatever is stuck.
    #[must_use]
    pub fn keeper_ms(grace_ms: u64) -> u64 {
        grace_ms.saturating_mul(u64::from(CLOSE_END_PERMILLE)) / 1000
    }

    /// When `step` must have ended.
    #[must_use]
    pub fn step_deadline(&self, step: ShutdownStep) -> Instant {
        self.at(match step {
            ShutdownStep::Drain => DRAIN_END_PERMILLE,
            ShutdownStep::FinalSnapshot => FINAL_SNAPSHOT_END_PERMILLE,
            ShutdownStep::Close => CLOSE_END_PERMILLE,
        })
    }

    /// When the store worker must have stopped.
    #[must_use]
    pub fn worker_stop_deadline(&self) -> Instant {
        self.at(WORKER_STOP_END_PERMILLE)
    }

    /// When the alerts still queued must have gone (or wait for the next
    /// start): the rest of the grace is the process's own exit.
    #[must_use]
    pub fn alerts_deadline(&self) -> Instant {
        self.at(ALERTS_END_PERMILLE)
    }

    /// Where the grace ends.
    #[must_use]
    pub fn end(&self) -> Instant {
        self.started + self.grace
    }

    fn at(&self, permille: u32) -> Instant {
        self.started + self.grace * permille / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_end_in_order_inside_the_grace() {
        let t0 = Instant::now();
        let budget = GraceBudget::new(t0, Duration::from_millis(25_000));
        let ends = [
            budget.step_deadline(ShutdownStep::Drain),
            budget.step_deadline(ShutdownStep::FinalSnapshot),
            budget.step_deadline(ShutdownStep::Close),
            budget.worker_stop_deadline(),
            budget.alerts_deadline(),
            budget.end(),
        ];
        let ms: Vec<u128> = ends.iter().map(|t| (*t - t0).as_millis()).collect();
        assert_eq!(ms, [10_000, 16_250, 18_750, 22_500, 23_750, 25_000]);
        assert_eq!(GraceBudget::keeper_ms(25_000), 18_750);
    }
}
