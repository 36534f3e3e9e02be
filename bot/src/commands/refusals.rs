//! A refused command says so once per episode: the first refusal of a
//! command to a sender is answered, the ones that follow it closely (for
//! the same reason) are not. An episode ends after [`EPISODE_QUIET_MS`]
//! without such a refusal.

use std::collections::HashMap;

use blacksky_core::time::UnixMillis;

/// How long a sender must leave a refused command alone before the next
/// refusal is told again.
pub const EPISODE_QUIET_MS: u64 = 10 * 60_000;

/// Who was refused which command, and why.
type Key = (String, &'static str, &'static str);

/// Recent refusals: (sender, command, reason) → the last one.
#[derive(Debug)]
pub struct Refusals {
    last: HashMap<Key, UnixMillis>,
    max: usize,
}

impl Refusals {
    /// Following at most `max` (sender, command) pairs at once (the
    /// oldest are forgotten first).
    #[must_use]
    pub fn new(max: usize) -> Refusals {
        Refusals {
            last: HashMap::new(),
            max: max.max(1),
        }
    }

    /// `sender` was refused `command` for `reason` at `now`: whether to
    /// tell them.
    pub fn tell(
        &mut self,
        sender: &str,
        command: &'static str,
        reason: &'static str,
        now: UnixMillis,
    ) -> bool {
        let key = (sender.to_owned(), command, reason);
        let ongoing = self
            .last
            .get(&key)
            .is_some_and(|at| now.as_millis().saturating_sub(at.as_millis()) < EPISODE_QUIET_MS);
        if !self.last.contains_key(&key) && self.last.len() >= self.max {
            self.forget_oldest(now);
        }
        self.last.insert(key, now);
        !ongoing
    }

    /// Pairs followed now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.last.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    fn forget_oldest(&mut self, now: UnixMillis) {
        let since = now.as_millis().saturating_sub(EPISODE_QUIET_MS);
        self.last.retain(|_, at| at.as_millis() > since);
        if self.last.len() >= self.max {
            let oldest = self
                .last
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(key, _)| key.clone());
            if let Some(key) = oldest {
                self.last.remove(&key);
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
    fn told_once_per_episode_per_sender_and_command() {
        let mut refusals = Refusals::new(100);
        assert!(refusals.tell("a", "kick", "admin", at(0)));
        assert!(!refusals.tell("a", "kick", "admin", at(5)));
        assert!(
            !refusals.tell("a", "kick", "admin", at(500)),
            "still within 10 min of the last"
        );
        assert!(
            refusals.tell("a", "kick", "groups", at(500)),
            "another reason"
        );
        assert!(
            refusals.tell("a", "restart", "admin", at(500)),
            "another command"
        );
        assert!(
            refusals.tell("b", "kick", "admin", at(500)),
            "another sender"
        );
        assert!(
            refusals.tell("a", "kick", "admin", at(500 + 600)),
            "a new episode"
        );
    }

    #[test]
    fn the_pairs_followed_are_bounded() {
        let mut refusals = Refusals::new(10);
        for n in 0..1000u64 {
            refusals.tell(&format!("sender {n}"), "kick", "admin", at(n));
            assert!(refusals.len() <= 10);
        }
    }
}
