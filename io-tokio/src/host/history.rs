//! The last 24 hours, minute by minute, for the dashboard's plots:
//! messages in and out, resident memory, reconnects, and the spans the bot
//! was offline. A fixed ring of [`HISTORY_MINUTES`] slots (no allocation
//! per message; old minutes are overwritten) and a bounded list of spans.
//! Like the rate ring, it never moves backwards when the wall clock does.

use std::collections::VecDeque;

use blacksky_core::time::UnixMillis;

/// Minutes kept: a day.
pub const HISTORY_MINUTES: usize = 1440;
/// Offline spans kept (the oldest fall out; a span older than the window
/// is not drawn anyway).
pub const OFFLINE_SPANS_KEPT_MAX: usize = 256;

const MINUTE_MS: u64 = 60_000;
const EMPTY: u64 = u64::MAX;

/// One minute's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteSample {
    /// Minutes since the epoch.
    pub minute: u64,
    pub received: u64,
    pub sent: u64,
    pub reconnects: u64,
    /// The highest resident-memory sample of the minute.
    pub rss_bytes: Option<u64>,
}

impl MinuteSample {
    fn empty(minute: u64) -> MinuteSample {
        MinuteSample {
            minute,
            received: 0,
            sent: 0,
            reconnects: 0,
            rss_bytes: None,
        }
    }
}

/// A time the bot was not online; `end: None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineSpan {
    pub start: UnixMillis,
    pub end: Option<UnixMillis>,
}

/// The ring. See the module docs.
#[derive(Debug, Clone)]
pub struct History {
    slots: Vec<MinuteSample>,
    newest_minute: Option<u64>,
    spans: VecDeque<OfflineSpan>,
}

impl History {
    /// A history for a process that starts at `started`, offline until
    /// its first connection opens.
    pub fn new(started: UnixMillis) -> History {
        History {
            slots: vec![MinuteSample::empty(EMPTY); HISTORY_MINUTES],
            newest_minute: None,
            spans: VecDeque::from([OfflineSpan {
                start: started,
                end: None,
            }]),
        }
    }

    fn minute_of(&self, wall: UnixMillis) -> u64 {
        let minute = wall.as_millis() / MINUTE_MS;
        self.newest_minute.map_or(minute, |n| minute.max(n))
    }

    fn slot(&mut self, wall: UnixMillis) -> &mut MinuteSample {
        let minute = self.minute_of(wall);
        self.newest_minute = Some(minute);
        let slot = &mut self.slots[(minute % HISTORY_MINUTES as u64) as usize];
        if slot.minute != minute {
            *slot = MinuteSample::empty(minute);
        }
        slot
    }

    pub fn received(&mut self, wall: UnixMillis, count: u64) {
        let slot = self.slot(wall);
        slot.received = slot.received.saturating_add(count);
    }

    pub fn sent(&mut self, wall: UnixMillis, count: u64) {
        let slot = self.slot(wall);
        slot.sent = slot.sent.saturating_add(count);
    }

    pub fn memory(&mut self, wall: UnixMillis, rss_bytes: u64) {
        let slot = self.slot(wall);
        slot.rss_bytes = Some(slot.rss_bytes.map_or(rss_bytes, |r| r.max(rss_bytes)));
    }

    /// The connection ended: a reconnect follows, and an offline span
    /// begins (unless one is open).
    pub fn disconnected(&mut self, wall: UnixMillis) {
        let slot = self.slot(wall);
        slot.reconnects = slot.reconnects.saturating_add(1);
        self.offline(wall);
    }

    /// Not online from `wall` on (a span opens unless one is open).
    pub fn offline(&mut self, wall: UnixMillis) {
        if self.spans.back().is_some_and(|s| s.end.is_none()) {
            return;
        }
        if self.spans.len() >= OFFLINE_SPANS_KEPT_MAX {
            self.spans.pop_front();
        }
        self.spans.push_back(OfflineSpan {
            start: wall,
            end: None,
        });
    }

    /// Online from `wall` on: the open span ends.
    pub fn online(&mut self, wall: UnixMillis) {
        if let Some(span) = self.spans.back_mut()
            && span.end.is_none()
        {
            span.end = Some(wall.max(span.start));
        }
    }

    /// The last [`HISTORY_MINUTES`] minutes up to the one `wall` falls in,
    /// oldest first (minutes nothing was recorded in are zero).
    pub fn minutes(&self, wall: UnixMillis) -> Vec<MinuteSample> {
        let current = self.minute_of(wall);
        (0..HISTORY_MINUTES as u64)
            .rev()
            .map(|back| {
                let minute = current.saturating_sub(back);
                let slot = self.slots[(minute % HISTORY_MINUTES as u64) as usize];
                if slot.minute == minute {
                    slot
                } else {
                    MinuteSample::empty(minute)
                }
            })
            .collect()
    }

    /// The offline spans that reach into the last day, oldest first.
    pub fn offline_spans(&self, wall: UnixMillis) -> Vec<OfflineSpan> {
        let from = wall
            .as_millis()
            .saturating_sub(HISTORY_MINUTES as u64 * MINUTE_MS);
        self.spans
            .iter()
            .filter(|s| s.end.is_none_or(|end| end.as_millis() >= from))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_735_689_600_000;

    fn at(minute: u64) -> UnixMillis {
        UnixMillis(T0 + minute * MINUTE_MS)
    }

    #[test]
    fn a_day_of_minutes_is_kept_and_no_more() {
        let mut history = History::new(at(0));
        history.received(at(0), 3);
        history.sent(at(1), 2);
        history.memory(at(1), 10);
        history.memory(at(1), 7);
        let minutes = history.minutes(at(2));
        assert_eq!(minutes.len(), HISTORY_MINUTES);
        let last3: Vec<(u64, u64, Option<u64>)> = minutes[HISTORY_MINUTES - 3..]
            .iter()
            .map(|m| (m.received, m.sent, m.rss_bytes))
            .collect();
        assert_eq!(last3, [(3, 0, None), (0, 2, Some(10)), (0, 0, None)]);
        // A day later minute 0 is gone, overwritten by minute 1440.
        history.received(at(1440), 1);
        let minutes = history.minutes(at(1440));
        assert_eq!(minutes.iter().map(|m| m.received).sum::<u64>(), 1);
        assert_eq!(minutes[0].minute, at(1).as_millis() / MINUTE_MS);
    }

    #[test]
    fn offline_spans_open_and_close_and_stay_bounded() {
        let mut history = History::new(at(0));
        history.online(at(1));
        history.disconnected(at(5));
        history.disconnected(at(6));
        history.online(at(9));
        let spans = history.offline_spans(at(10));
        assert_eq!(
            spans,
            [
                OfflineSpan {
                    start: at(0),
                    end: Some(at(1))
                },
                OfflineSpan {
                    start: at(5),
                    end: Some(at(9))
                },
            ]
        );
        assert_eq!(history.minutes(at(10))[HISTORY_MINUTES - 6].reconnects, 1);
        for i in 0..1000 {
            history.offline(at(20 + i * 2));
            history.online(at(21 + i * 2));
        }
        assert_eq!(history.spans.len(), OFFLINE_SPANS_KEPT_MAX);
    }
}
