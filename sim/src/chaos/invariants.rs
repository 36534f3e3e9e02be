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
//! 3. **Never two live connections:** a login never takes the session from
//!    a socket a bot process still holds, unless it is a newer process's
//!    (the hand-over of overlapping dynos); an older process never takes
//!    it back.
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
