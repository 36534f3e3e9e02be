//! Wall-clock time as a value. The core never reads a clock: the shell
//! reads it and passes a [`UnixMillis`] in, so tests and the simulator can
//! put the wall clock anywhere (expired certificates, clock jumps).

use std::fmt;

/// Milliseconds since the Unix epoch (UTC). The only wall-clock type the
/// core knows, and the only one ever persisted.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The epoch itself.
    pub const EPOCH: UnixMillis = UnixMillis(0);

    /// From whole seconds; saturates instead of overflowing.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        UnixMillis(secs.saturating_mul(1000))
    }

    /// Whole seconds, rounded down.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// The raw millisecond count.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + ms`, saturating.
    #[must_use]
    pub const fn saturating_add_millis(self, ms: u64) -> Self {
        UnixMillis(self.0.saturating_add(ms))
    }
}

impl fmt::Debug for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixMillis({})", self.0)
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_round_trip_and_saturate() {
        assert_eq!(UnixMillis::from_secs(12).as_millis(), 12_000);
        assert_eq!(UnixMillis(12_999).as_secs(), 12);
        assert_eq!(UnixMillis::from_secs(u64::MAX).as_millis(), u64::MAX);
        assert_eq!(
            UnixMillis(u64::MAX).saturating_add_millis(5),
            UnixMillis(u64::MAX)
        );
        assert_eq!(UnixMillis(1_500).to_string(), "1.500s");
    }
}
