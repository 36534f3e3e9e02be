//! The planned restart hour (`RESTART_AT=HH:MM` UTC, spread over
//! `RESTART_SPREAD_MINUTES`): when, from the wall clock at start, the
//! keeper's own graceful cycle is due. Pure arithmetic on a drawn offset.

use crate::time::UnixMillis;

const DAY_MS: u64 = 24 * 3_600_000;
/// A process restarts at the earliest this long after it read the wall
/// clock: the one a planned restart started does not restart again in the
/// same window, and a start just before the hour waits for the next day.
pub const MIN_UPTIME_MS: u64 = 3_600_000;
/// The largest spread accepted: the window must end well before the next
/// day's (see [`MIN_UPTIME_MS`]).
pub const SPREAD_MINUTES_MAX: u32 = 180;

/// The daily restart: a minute of the day (UTC) and the spread after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyRestart {
    /// 0 ..= 1439: HH * 60 + MM.
    pub minute_of_day: u32,
    /// The restart falls at a random point in [0, spread] minutes after
    /// the hour (so dynos of many bots do not all cycle at once).
    pub spread_minutes: u32,
}

impl DailyRestart {
    /// The spread in ms, the range the offset is drawn from (inclusive).
    pub fn spread_ms(&self) -> u64 {
        u64::from(self.spread_minutes.min(SPREAD_MINUTES_MAX)) * 60_000
    }

    /// Milliseconds from `wall` until the restart, given the drawn
    /// `offset_ms` (at most [`DailyRestart::spread_ms`]): the first day's
    /// window that opens at least [`MIN_UPTIME_MS`] from now.
    pub fn delay_ms(&self, wall: UnixMillis, offset_ms: u64) -> u64 {
        let now = wall.as_millis();
        let minute_ms = u64::from(self.minute_of_day % (24 * 60)) * 60_000;
        let mut window = now - now % DAY_MS + minute_ms;
        while window < now.saturating_add(MIN_UPTIME_MS) {
            window += DAY_MS;
        }
        window + offset_ms.min(self.spread_ms()) - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-01-01T00:00:00Z.
    const DAY0: u64 = 1_735_689_600_000;

    fn at(h: u64, m: u64) -> UnixMillis {
        UnixMillis(DAY0 + h * 3_600_000 + m * 60_000)
    }

    #[test]
    fn the_next_window_at_least_an_hour_away() {
        let daily = DailyRestart {
            minute_of_day: 4 * 60,
            spread_minutes: 30,
        };
        // 01:00 → 04:00 today.
        assert_eq!(daily.delay_ms(at(1, 0), 0), 3 * 3_600_000);
        // 03:30 → too close: 04:00 tomorrow.
        assert_eq!(daily.delay_ms(at(3, 30), 0), (24 * 60 + 30) * 60_000);
        // 05:00 → 04:00 tomorrow, plus the offset.
        assert_eq!(daily.delay_ms(at(5, 0), 7 * 60_000), (23 * 60 + 7) * 60_000);
        // An offset past the spread is cut to it.
        assert_eq!(daily.delay_ms(at(1, 0), u64::MAX), (3 * 60 + 30) * 60_000);
    }

    #[test]
    fn the_process_a_planned_restart_started_waits_a_day() {
        let daily = DailyRestart {
            minute_of_day: 4 * 60,
            spread_minutes: SPREAD_MINUTES_MAX,
        };
        // Restarted at the end of the widest window: the next is tomorrow's.
        let delay = daily.delay_ms(at(7, 1), 0);
        assert_eq!(delay, (20 * 60 + 59) * 60_000);
    }
}
