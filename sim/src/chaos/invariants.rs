//! The promises every run is held to, checked the moment they could break
//! (an ack, a handler call, a login, a state change) rather than only at
//! the end, so a violation is reported with the time it happened:
//!
//! 1. **No message lost:** when the server receives an ack, the message is
//!    already in the durable inbox.
//! 2. **None handled twice:** the handler is never given a message whose
//!    handling was already committed. (A call whose commit never landed,
//!    cut by a crash, may be repeated: its replies were never stored, so
//!    nothing reached anyone twice.)
//! 3. **Never two live connections, never a fight:** the server keeps one
//!    socket per device (a login ends the other), and a process never
//!    replaces a socket it still holds itself. A newer process takes the
//!    session from an older one (the hand-over of overlapping dynos). An
//!    older process may take it from a newer one only by a late login,
//!    one begun before the newer process started: no check before a login
//!    can stop that, since the server fences nothing. Then the newer
//!    process takes it back within [`TAKEBACK_BOUND`] of being able to
//!    (its network and database working, not shutting down), unless it
//!    has stopped.
//! 4. **The session never goes backwards:** snapshot generations and the
//!    pre-key counter only grow; once linked, the identity and the device
//!    stay the same.
//! 5. **Reconnect delays stay within bounds:** each backoff is at most
//!    `reconnect_max_ms`, and the bot reconnects when it said it would.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blacksky_io::status::ReconnectRecord;

use blacksky_core::session::Creds;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Violations found so far, each with the simulated time it happened.
#[derive(Debug, Clone, Default)]
pub struct Violations(Arc<Mutex<Vec<String>>>);

impl Violations {
    pub fn report(&self, what: String) {
        let at = turmoil::sim_elapsed().unwrap_or_default();
        self.report_at(at, what);
    }

    pub fn report_at(&self, at: Duration, what: String) {
        let mut found = lock(&self.0);
        // A broken promise tends to repeat every step: keep the first few.
        if found.len() < 50 {
            found.push(format!("at {at:?}: {what}"));
        }
    }

    #[must_use]
    pub fn list(&self) -> Vec<String> {
        lock(&self.0).clone()
    }
}

/// What the session looked like at the last check (promise 4).
#[derive(Debug, Default)]
pub struct SessionWatch {
    generation: u64,
    next_pre_key_id: u32,
    identity: Option<[u8; 32]>,
    device: Option<String>,
}

impl SessionWatch {
    /// Compares the stored session with the last one seen.
    pub fn check(&mut self, generation: u64, creds: Option<&Creds>) -> Vec<String> {
        let mut found = Vec::new();
        if generation < self.generation {
            found.push(format!(
                "snapshot generation went back from {} to {generation}",
                self.generation
            ));
        }
        self.generation = self.generation.max(generation);
        let Some(creds) = creds else {
            if self.identity.is_some() {
                found.push("the stored creds disappeared".to_owned());
            }
            return found;
        };
        if creds.next_pre_key_id < self.next_pre_key_id {
            found.push(format!(
                "the pre-key counter went back from {} to {} (pre-key ids would be reused)",
                self.next_pre_key_id, creds.next_pre_key_id
            ));
        }
        self.next_pre_key_id = self.next_pre_key_id.max(creds.next_pre_key_id);
        let identity = *creds.identity_key.public();
        match self.identity {
            Some(seen) if seen != identity => {
                found.push("the stored identity key was replaced by a new one".to_owned());
            }
            _ => self.identity = Some(identity),
        }
        let device = creds.me.as_ref().map(|me| me.jid.to_string());
        match (&self.device, device) {
            (Some(seen), Some(now)) if *seen != now => {
                found.push(format!("the linked device changed from {seen} to {now}"));
            }
            (Some(_), _) => {}
            (None, now) => self.device = now,
        }
        found
    }
}

/// Promise 5 for one bot's board: each backoff the keeper announces is
/// within bounds, and the connect it promised begins on time.
#[derive(Debug, Default)]
pub struct BackoffWatch {
    checked: Option<ReconnectRecord>,
}

impl BackoffWatch {
    /// Looks at the board's last backoff once its connect began (a bot
    /// that never reconnects is caught by the "online again" bound);
    /// `slack` covers the simulation's step.
    pub fn check(
        &mut self,
        record: Option<ReconnectRecord>,
        max_ms: u64,
        slack: Duration,
    ) -> Option<String> {
        let record = record?;
        let began = record.connecting_at?;
        if self.checked == Some(record) {
            return None;
        }
        let promised = record.scheduled_at + Duration::from_millis(record.delay_ms) + slack;
        self.checked = Some(record);
        if record.delay_ms > max_ms {
            return Some(format!(
                "a backoff of {} ms, over the {max_ms} ms bound",
                record.delay_ms
            ));
        }
        (began > promised).then(|| {
            format!(
                "the bot said it would reconnect in {} ms and had not after {:?}",
                record.delay_ms,
                began - record.scheduled_at
            )
        })
    }
}

/// How long the newest process may leave the session to an older one
/// after a late login, once it can act: the 440 comes at once, the store
/// answers in milliseconds (or, if it failed then, is asked again within
/// 10 s), and a refused login backs off a few seconds.
pub const TAKEBACK_BOUND: Duration = Duration::from_secs(60);

/// A late login of an older process, not yet answered.
#[derive(Debug, Clone, Copy)]
struct LateLogin {
    /// The start that lost the session, and the one that took it.
    newer: u32,
    older: u32,
    /// Since when the newer one could act (the clock restarts while it
    /// cannot).
    since: Duration,
}

/// Promise 3, fed by the server's events (`on_takeover`, `on_login`) and
/// checked every step (`check`). Clones share their state.
#[derive(Debug, Clone, Default)]
pub struct TakeoverWatch(Arc<Mutex<Option<LateLogin>>>);

impl TakeoverWatch {
    /// A login of start `by` took the session from a socket that start
    /// `from` still holds. Returns the broken promise, if one is.
    pub fn on_takeover(&self, from: u32, by: u32, at: Duration) -> Option<String> {
        if by == from {
            return Some(format!(
                "two live connections: start #{by} logged in again while it still held its other socket"
            ));
        }
        if by < from {
            lock(&self.0).get_or_insert(LateLogin {
                newer: from,
                older: by,
                since: at,
            });
        }
        None
    }

    /// Start `by` logged in: a late login is answered once a process at
    /// least as new as the one that lost the session holds it again.
    pub fn on_login(&self, by: u32) {
        let mut pending = lock(&self.0);
        if pending.is_some_and(|late| by >= late.newer) {
            *pending = None;
        }
    }

    /// Judges an open late login: fine while the newer start can act for
    /// less than `TAKEBACK_BOUND`, or once it has stopped.
    pub fn check(
        &self,
        now: Duration,
        running: impl Fn(u32) -> bool,
        newer_can_act: bool,
    ) -> Option<String> {
        let mut pending = lock(&self.0);
        let late = pending.as_mut()?;
        if !running(late.newer) {
            *pending = None;
            return None;
        }
        if !newer_can_act {
            late.since = now;
            return None;
        }
        if now.saturating_sub(late.since) <= TAKEBACK_BOUND {
            return None;
        }
        let broken = format!(
            "an older process keeps the session: start #{} took it from start #{} by a late login, and #{} had not taken it back {TAKEBACK_BOUND:?} after it could",
            late.older, late.newer, late.newer
        );
        *pending = None;
        Some(broken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_hand_over_to_a_newer_process_is_fine() {
        let watch = TakeoverWatch::default();
        assert_eq!(watch.on_takeover(1, 2, S), None);
        assert_eq!(watch.check(S * 300, |_| true, true), None);
    }

    #[test]
    fn a_process_replacing_its_own_live_socket_is_two_connections() {
        let watch = TakeoverWatch::default();
        assert!(watch.on_takeover(2, 2, S).is_some());
    }

    #[test]
    fn a_late_login_left_unanswered_is_caught() {
        let watch = TakeoverWatch::default();
        assert_eq!(watch.on_takeover(3, 2, S), None);
        assert_eq!(watch.check(S + TAKEBACK_BOUND, |_| true, true), None);
        let broken = watch.check(S * 2 + TAKEBACK_BOUND, |_| true, true);
        assert!(broken.is_some_and(|b| b.contains("#2 took it from start #3")));
    }

    #[test]
    fn a_late_login_answered_or_outlived_is_fine() {
        let answered = TakeoverWatch::default();
        let _ = answered.on_takeover(3, 2, S);
        answered.on_login(2);
        assert!(
            answered.check(S * 100, |_| true, true).is_some(),
            "an older login answers nothing"
        );
        let answered = TakeoverWatch::default();
        let _ = answered.on_takeover(3, 2, S);
        answered.on_login(3);
        assert_eq!(answered.check(S * 100, |_| true, true), None);
        let stopped = TakeoverWatch::default();
        let _ = stopped.on_takeover(3, 2, S);
        assert_eq!(stopped.check(S * 100, |start| start != 3, true), None);
    }

    #[test]
    fn the_bound_counts_from_when_the_newer_process_can_act() {
        let watch = TakeoverWatch::default();
        let _ = watch.on_takeover(3, 2, S);
        assert_eq!(watch.check(S * 200, |_| true, false), None, "cut off");
        assert_eq!(watch.check(S * 200 + TAKEBACK_BOUND, |_| true, true), None);
        assert!(
            watch
                .check(S * 201 + TAKEBACK_BOUND, |_| true, true)
                .is_some()
        );
    }
}
