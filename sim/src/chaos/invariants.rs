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
//! 3. **Never two live connections, never a fight, never unattended:** the
//!    server keeps one socket per device (a login ends the other); no
//!    process replaces a socket it still holds itself; running processes
//!    take the session from each other at most [`FIGHT_MAX`] times in
//!    [`FIGHT_WINDOW`] (a hand-over of overlapping dynos is one; an old
//!    dyno's late login and the take-back are two more); and once linked,
//!    the session is never left without a running process holding it for
//!    longer than [`UNATTENDED_BOUND`] while the current dyno can act (its
//!    network and database working, not shutting down), unless someone
//!    outside took it (an injected 440, 401 or 403: a person's call).
//! 4. **The session never goes backwards:** snapshot generations and the
//!    pre-key counter only grow; once linked, the identity and the device
//!    stay the same; the server never gets a pre-key id again with another
//!    key (checked on its events in `world.rs`).
//! 5. **Reconnect delays stay within bounds:** each backoff is at most
//!    `reconnect_max_ms`, and the bot reconnects when it said it would.
//! 6. **End to end, nothing lost to our own state:** every acked message is
//!    stored decrypted, with the very text its contact sent (1:1 and group);
//!    and the bot never sends a retry receipt: no fault here alters a
//!    message, so a message it cannot open means its own Signal state was
//!    lost or went backwards across a crash, an outage or a hand-over
//!    (checked in `world.rs`, on the server's events and at the end).
//! 7. **Every answer goes out once:** the harness's handler answers each
//!    1:1 text with one pong. Each pong a contact's phone reads answers a
//!    message whose handling was committed, under one id (the reply id),
//!    and fake-wa objects to nothing the bot sends (no message key used
//!    twice with other bytes across crashes, a valid device identity,
//!    padding; each objection reported as it happens); once the world is
//!    healed and quiet, every committed handling's pong has been read by
//!    its contact's phone and no outbox row is left unsent (checked in
//!    `world.rs`: `reply_violations`, `await_replies`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blacksky_io::host::status::ReconnectRecord;

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

/// How long the session may go without a holder while the current dyno
/// can act: a backoff of at most 30 s and a dial of at most 20 s, or a
/// process standing by for a newer one that stopped (its mark cleared at
/// exit, or stale after 45 s) and the 15 s it waits to be sure.
pub const UNATTENDED_BOUND: Duration = Duration::from_secs(90);
/// At most this many take-overs between running processes in a window.
pub const FIGHT_MAX: usize = 6;
pub const FIGHT_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Holding {
    /// The peer address of the socket the server counts as the session's
    /// (the last login's), until it closes.
    session_peer: Option<String>,
    linked: bool,
    /// Someone outside the bot's store has the session (or the phone
    /// removed the device), until the next login.
    outside: bool,
    takeovers: VecDeque<Duration>,
    unattended_since: Option<Duration>,
}

/// Promise 3, fed by the server's events (`on_takeover`, `on_login`,
/// `on_closed`) and the scenario (`taken_from_outside`), and checked every
/// step (`check`). Clones share their state.
#[derive(Debug, Clone, Default)]
pub struct TakeoverWatch(Arc<Mutex<Holding>>);

impl TakeoverWatch {
    /// A login of start `by` took the session from a socket that start
    /// `from` still holds. Returns the broken promise, if one is.
    pub fn on_takeover(&self, from: u32, by: u32, at: Duration) -> Option<String> {
        if by == from {
            return Some(format!(
                "two live connections: start #{by} logged in again while it still held its other socket"
            ));
        }
        let mut holding = lock(&self.0);
        holding.takeovers.push_back(at);
        while holding
            .takeovers
            .front()
            .is_some_and(|t| at.saturating_sub(*t) > FIGHT_WINDOW)
        {
            holding.takeovers.pop_front();
        }
        (holding.takeovers.len() > FIGHT_MAX).then(|| {
            holding.takeovers.clear();
            format!(
                "a fight: more than {FIGHT_MAX} take-overs between running processes within {FIGHT_WINDOW:?} (the last: start #{by} from #{from})"
            )
        })
    }

    /// The device logged in over the socket from `peer`.
    pub fn on_login(&self, peer: Option<String>) {
        let mut holding = lock(&self.0);
        holding.session_peer = peer;
        holding.linked = true;
        holding.outside = false;
    }

    /// The server's socket from `peer` closed.
    pub fn on_closed(&self, peer: Option<&str>) {
        let mut holding = lock(&self.0);
        if peer.is_some() && holding.session_peer.as_deref() == peer {
            holding.session_peer = None;
        }
    }

    /// The server refused a login (WhatsApp down for the bot): the bot
    /// did act, so the unattended clock starts again.
    pub fn on_login_refused(&self, at: Duration) {
        let mut holding = lock(&self.0);
        if holding.unattended_since.is_some() {
            holding.unattended_since = Some(at);
        }
    }

    /// The scenario had someone outside take the session.
    pub fn taken_from_outside(&self) {
        lock(&self.0).outside = true;
    }

    /// The session's socket's peer address, if a socket is the session's.
    #[must_use]
    pub fn session_peer(&self) -> Option<String> {
        lock(&self.0).session_peer.clone()
    }

    /// Judges the moment: `held`, a running process holds the session's
    /// socket; `can_act`, the current dyno could take it.
    pub fn check(&self, now: Duration, held: bool, can_act: bool) -> Option<String> {
        let mut holding = lock(&self.0);
        if held || !holding.linked || holding.outside || !can_act {
            holding.unattended_since = None;
            return None;
        }
        let since = *holding.unattended_since.get_or_insert(now);
        (now.saturating_sub(since) > UNATTENDED_BOUND).then(|| {
            holding.unattended_since = None;
            format!(
                "the session went unattended: no running process held it for {UNATTENDED_BOUND:?} while the current dyno could act (since {since:?})"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_hand_over_between_processes_is_fine_a_fight_is_not() {
        let watch = TakeoverWatch::default();
        for n in 0..FIGHT_MAX as u32 {
            assert_eq!(watch.on_takeover(n + 1, n + 2, S * n), None);
        }
        assert!(watch.on_takeover(9, 8, S * 10).is_some());
        // Spread over more than the window, as many are fine.
        let watch = TakeoverWatch::default();
        for n in 0..=FIGHT_MAX as u32 {
            assert_eq!(watch.on_takeover(1, 2, FIGHT_WINDOW * n), None);
        }
    }

    #[test]
    fn a_process_replacing_its_own_live_socket_is_two_connections() {
        let watch = TakeoverWatch::default();
        assert!(watch.on_takeover(2, 2, S).is_some());
    }

    #[test]
    fn an_unattended_session_is_caught_after_the_bound() {
        let watch = TakeoverWatch::default();
        assert_eq!(watch.check(S, false, true), None, "not linked yet");
        watch.on_login(Some("10.0.0.2:49152".into()));
        assert_eq!(watch.session_peer().as_deref(), Some("10.0.0.2:49152"));
        assert_eq!(watch.check(S * 2, true, true), None);
        watch.on_closed(Some("10.0.0.2:49152"));
        assert_eq!(watch.session_peer(), None);
        assert_eq!(watch.check(S * 3, false, true), None);
        assert_eq!(watch.check(S * 3 + UNATTENDED_BOUND, false, true), None);
        let broken = watch.check(S * 4 + UNATTENDED_BOUND, false, true);
        assert!(broken.is_some_and(|b| b.contains("unattended")));
    }

    #[test]
    fn the_bound_counts_while_the_dyno_can_act_and_not_after_an_outside_takeover() {
        let watch = TakeoverWatch::default();
        watch.on_login(None);
        assert_eq!(watch.check(S, false, true), None);
        assert_eq!(watch.check(S * 200, false, false), None, "cut off");
        assert_eq!(watch.check(S * 201, false, true), None);
        assert_eq!(watch.check(S * 201 + UNATTENDED_BOUND, false, true), None);
        watch.taken_from_outside();
        assert_eq!(watch.check(S * 1000, false, true), None);
        assert_eq!(
            watch.check(S * 1000 + UNATTENDED_BOUND * 2, false, true),
            None
        );
    }
}
