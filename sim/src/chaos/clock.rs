//! Time inside the simulation: monotonic from the host's tokio clock
//! (which turmoil advances tick by tick), wall from a fixed epoch plus the
//! simulation's elapsed time, plus a jump the scenario can set (a host
//! whose NTP is off, a VM resumed after hours).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use blacksky_core::time::UnixMillis;
use blacksky_io::host::clock::Clock;

/// The simulated wall clock's zero: 2025-01-01T00:00:00Z. Fixed, so the
/// same seed gives the same stamps.
pub const SIM_EPOCH: UnixMillis = UnixMillis(1_735_689_600_000);

/// The bot's (and the server's) clock in the simulation. Clones share the
/// jump.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    jump_ms: Arc<AtomicI64>,
}

impl SimClock {
    #[must_use]
    pub fn new() -> SimClock {
        SimClock::default()
    }

    /// From now on the wall clock reads `offset_ms` off (negative: behind).
    /// The monotonic clock is not touched.
    pub fn set_jump_ms(&self, offset_ms: i64) {
        self.jump_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// The wall clock after `elapsed` of simulated time (for code outside
    /// a host, which reads `Sim::elapsed`).
    #[must_use]
    pub fn wall_at(&self, elapsed: Duration) -> UnixMillis {
        let elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        let base = i64::try_from(SIM_EPOCH.0).unwrap_or(i64::MAX);
        let ms = base
            .saturating_add(elapsed_ms)
            .saturating_add(self.jump_ms.load(Ordering::SeqCst));
        UnixMillis(u64::try_from(ms).unwrap_or(0))
    }
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// Inside a host: the simulation's elapsed time (which a bounce does not
    /// reset). Outside any host: the epoch itself.
    fn wall(&self) -> UnixMillis {
        self.wall_at(turmoil::sim_elapsed().unwrap_or_default())
    }
}
