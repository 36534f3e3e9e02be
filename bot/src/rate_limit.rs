//! The per-sender rate limit on what the bot sends in answer
//! (`RATE_LIMIT_PER_MIN`): at most `per_min` answers to one sender in any
//! 60 seconds. A sender past it gets one notice, then nothing until the
//! window has room again; one spamming contact cannot make the bot flood
//! a chat or get its number banned.

use std::collections::{HashMap, VecDeque};

use blacksky_core::time::UnixMillis;

const WINDOW_MS: u64 = 60_000;

/// What one message's answers may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// How many of the answers may go (the first ones).
    pub admitted: usize,
    /// The sender just went over the limit: tell them once.
    pub notice: bool,
}

/// Answer times per sender, for the last minute.
#[derive(Debug)]
pub struct RateLimit {
    per_min: u32,
    senders_max: usize,
    senders: HashMap<String, Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// When each answer of the last minute went, oldest first (at most
    /// `per_min`).
    sent: VecDeque<UnixMillis>,
    /// The sender was told they are over the limit, and has not been
    /// answered since.
    noticed: bool,
    last_seen: UnixMillis,
}

impl RateLimit {
    /// `per_min` answers per sender and minute (0: no limit), for at most
    /// `senders_max` senders at once (the quietest are forgotten first).
    #[must_use]
    pub fn new(per_min: u32, senders_max: usize) -> RateLimit {
        RateLimit {
            per_min,
            senders_max: senders_max.max(1),
            senders: HashMap::new(),
        }
    }

    /// `wanted` answers to `sender` at `now`.
    pub fn admit(&mut self, sender: &str, now: UnixMillis, wanted: usize) -> Admission {
        if self.per_min == 0 || wanted == 0 {
            return Admission {
                admitted: wanted,
                notice: false,
            };
        }
        if !self.senders.contains_key(sender) && self.senders.len() >= self.senders_max {
            self.forget_one(now);
        }
        let per_min = self.per_min as usize;
        let window = self.senders.entry(sender.to_owned()).or_default();
        window.last_seen = now;
        let since = UnixMillis(now.as_millis().saturating_sub(WINDOW_MS));
        while window.sent.front().is_some_and(|at| *at <= since) {
            window.sent.pop_front();
        }
        let admitted = wanted.min(per_min - window.sent.len().min(per_min));
        window.sent.extend(std::iter::repeat_n(now, admitted));
        let notice = admitted < wanted && !window.noticed;
        window.noticed = admitted < wanted;
        Admission { admitted, notice }
    }

    /// Senders tracked now.
    #[must_use]
    pub fn senders(&self) -> usize {
        self.senders.len()
    }

    /// Makes room: everyone quiet for a minute, or else the quietest.
    fn forget_one(&mut self, now: UnixMillis) {
        let since = now.as_millis().saturating_sub(WINDOW_MS);
        self.senders
            .retain(|_, window| window.last_seen.as_millis() > since);
        if self.senders.len() >= self.senders_max {
            let quietest = self
                .senders
                .iter()
                .min_by_key(|(_, window)| window.last_seen)
                .map(|(sender, _)| sender.clone());
            if let Some(sender) = quietest {
                self.senders.remove(&sender);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UnixMillis {
        UnixMillis(1_700_000_000_000 + secs * 1000)
    }

    #[test]
    fn past_the_limit_answers_stop_with_one_notice_and_resume_after_a_minute() {
        let mut limit = RateLimit::new(3, 100);
        let results: Vec<Admission> = (0..5).map(|n| limit.admit("a", at(n), 1)).collect();
        let admitted: Vec<usize> = results.iter().map(|a| a.admitted).collect();
        let notices: Vec<bool> = results.iter().map(|a| a.notice).collect();
        assert_eq!(admitted, [1, 1, 1, 0, 0]);
        assert_eq!(notices, [false, false, false, true, false], "one notice");
        // Another sender is not held back by the first.
        assert_eq!(limit.admit("b", at(4), 1).admitted, 1);
        // A minute after the first answer, room for one again; the next
        // one over the limit starts a new episode, with a new notice.
        let later = limit.admit("a", at(60), 1);
        assert_eq!(
            later,
            Admission {
                admitted: 1,
                notice: false
            }
        );
        let over = limit.admit("a", at(60), 1);
        assert_eq!(
            over,
            Admission {
                admitted: 0,
                notice: true
            }
        );
    }

    #[test]
    fn several_answers_to_one_message_take_what_room_is_left() {
        let mut limit = RateLimit::new(3, 100);
        assert_eq!(limit.admit("a", at(0), 2).admitted, 2);
        let second = limit.admit("a", at(1), 2);
        assert_eq!(
            second,
            Admission {
                admitted: 1,
                notice: true
            }
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let mut limit = RateLimit::new(0, 1);
        for n in 0..1000 {
            assert_eq!(limit.admit("a", at(0), 1).admitted, 1, "answer {n}");
        }
        assert_eq!(limit.senders(), 0, "nothing tracked");
    }

    #[test]
    fn the_senders_tracked_are_bounded() {
        let mut limit = RateLimit::new(5, 10);
        for n in 0..1000u64 {
            limit.admit(&format!("sender {n}"), at(n / 100), 1);
            assert!(limit.senders() <= 10);
        }
    }
}
