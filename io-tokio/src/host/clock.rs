//! Time for the shell: the core takes `Instant`s for deadlines and
//! `UnixMillis` for the wall clock; this is where they are read. Through
//! tokio's clock, so a paused runtime (tests, the simulation) controls it.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use blacksky_core::time::UnixMillis;

/// Reads monotonic and wall time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn wall(&self) -> UnixMillis;
}

/// The real clocks (tokio's monotonic one, so pausing works).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn wall(&self) -> UnixMillis {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock behind an `Arc`, for tasks that outlive a borrow (the store
/// worker stamps rows with its wall time). The system clock by default;
/// the simulation passes its own.
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedClock")
    }
}

impl Clock for SharedClock {
    fn now(&self) -> Instant {
        self.0.now()
    }

    fn wall(&self) -> UnixMillis {
        self.0.wall()
    }
}
