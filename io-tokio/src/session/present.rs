//! Shows a person what the session's events mean for them: QR codes and
//! pairing codes on stdout where a person watches a terminal (the /qr page
//! shows them everywhere), everything else in the log.
//!
//! A QR text carries the ADV secret and a pairing code links a phone, so
//! neither is ever logged; on a public host they stay off stdout too
//! ([`CodeDisplay`]), and the log says where to find them instead.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use blacksky_core::client::Event;

use crate::host::config::CodeDisplay;
use crate::host::qr;
use crate::host::redact::LogId;

/// Shows what the user must see. With [`CodeDisplay::Terminal`], QR texts
/// and codes go to stdout as plain lines (`qr: …`, `pairing code: …`):
/// scripts and tests read them. With [`CodeDisplay::PageOnly`] the log
/// points at the /qr page (`page_on`), or says how to turn it on.
pub fn present(event: &Event, display: CodeDisplay, page_on: bool) {
    match event {
        Event::Qr {
            text,
            index,
            valid_ms,
        } => {
            let valid_s = valid_ms / 1000;
            match display {
                CodeDisplay::Terminal => {
                    let mut out = std::io::stdout().lock();
                    if let Some(drawing) = qr::render(text) {
                        let _ = writeln!(out, "{drawing}");
                    }
                    let _ = writeln!(out, "qr: {text}");
                    let _ = out.flush();
                    tracing::info!(
                        index,
                        valid_s,
                        "scan the QR code with WhatsApp → Linked devices"
                    );
                }
                CodeDisplay::PageOnly if page_on => tracing::info!(
                    index,
                    valid_s,
                    "QR code ready: scan it on the /qr page (kept off stdout on a public host)"
                ),
                CodeDisplay::PageOnly => tracing::warn!(index, "{}", shown_nowhere("QR code")),
            }
        }
        Event::PairingCode { code } => match display {
            CodeDisplay::Terminal => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "pairing code: {code}");
                let _ = out.flush();
                tracing::info!(
                    "enter the pairing code in WhatsApp → Linked devices → Link with phone number"
                );
            }
            CodeDisplay::PageOnly if page_on => tracing::info!(
                "pairing code ready: read it on the /qr page (kept off stdout on a public host)"
            ),
            CodeDisplay::PageOnly => tracing::warn!("{}", shown_nowhere("pairing code")),
        },
        Event::Paired { jid, platform } => {
            tracing::info!(jid = %LogId(jid), ?platform, "linked to the phone");
        }
        Event::LoggedIn { jid } => tracing::info!(jid = %LogId(jid), "logged in"),
        Event::Online => tracing::info!("online"),
        Event::OfflineDelivered { count } => tracing::info!(count, "offline messages delivered"),
        Event::MessageStored { id, from } => {
            tracing::info!(%id, from = %LogId(from), "message stored");
        }
        Event::DecryptFailed { id, count, reason } => {
            if let Some(suppressed) = E2E_FAILURE_LOGS.admit() {
                tracing::warn!(%id, count, suppressed, "message did not decrypt ({reason}): retry receipt sent");
            }
        }
        Event::MessageUnreadable { id, reason } => {
            if let Some(suppressed) = E2E_FAILURE_LOGS.admit() {
                tracing::warn!(%id, suppressed, "message unreadable ({reason}): recorded and acked");
            }
        }
        Event::IdentityChanged { address } => {
            tracing::info!(
                address = %LogId(address),
                "a contact's device has a new identity key (accepted)"
            );
        }
        Event::PreKeysUploaded { count } => tracing::info!(count, "pre-keys uploaded"),
        Event::MessageSent { id } => tracing::debug!(%id, "message sent"),
        Event::SendFailed { id, reason } => {
            tracing::warn!(%id, "message not sent: {reason}");
        }
        Event::RetryAnswered { id, fresh_session } => {
            tracing::info!(%id, fresh_session, "a recipient's device asked for a message again: sent");
        }
        Event::RetryNotAnswered { id, reason } => {
            tracing::info!(%id, "a retry receipt not answered: {reason}");
        }
        Event::GroupsRead { count } => tracing::info!(count, "groups the bot is in, read"),
        Event::GroupKnown(info) => tracing::debug!(?info, "group metadata"),
        Event::GroupLeft { .. } => tracing::info!("the bot is no longer in a group"),
        Event::GroupsNotRead { code } => {
            tracing::info!(
                "the server would not list the bot's groups ({code}): each is read when first needed"
            )
        }
        Event::GroupChanged(event) => tracing::info!(?event, "a group changed"),
        Event::BundleRefused { reason, .. } => {
            tracing::warn!(
                "a device of a recipient gets no copy: its pre-key bundle was refused ({reason})"
            );
        }
        Event::KeysTakenFromStore { count } => tracing::info!(
            count,
            "keys another process of this session stored were taken from the store"
        ),
        Event::SignedPreKeyRotated { id } => {
            tracing::info!(
                id,
                "signed pre-key rotated (the previous one kept for a grace period)"
            )
        }
        Event::IqTimedOut { purpose } => tracing::warn!(?purpose, "request timed out"),
        // Routed to the asker by the driver, never shown.
        Event::Answered(answered) => tracing::debug!(?answered, "request answered"),
        Event::StoreFailed { op, error } => tracing::error!(?op, %error, "store write failed"),
        Event::LimitReached { limit } => tracing::warn!(
            limit = limit.as_str(),
            "a limit was reached: the connection holds back instead of growing"
        ),
        Event::StanzaIgnored { what } => {
            if let Some(suppressed) = IGNORED_STANZA_LOGS.admit() {
                tracing::warn!(
                    kind = what.kind(),
                    suppressed,
                    "{what}: skipped, the connection stays"
                );
            }
        }
        Event::Disconnected { reason } => tracing::warn!(%reason, "disconnected"),
    }
}

/// A code that neither stdout nor the page may show: how to see it.
fn shown_nowhere(what: &str) -> String {
    format!(
        "{what} ready, but shown nowhere: on a public host it stays off stdout and the /qr page \
         is off without QR_TOKEN. Set QR_TOKEN and open /qr?token=…, or set PRINT_QR=true to \
         print it on stdout"
    )
}

/// Decryption failures come in storms (a contact's broken session, a
/// flood of poison): at most this many lines a minute, then a count.
const E2E_FAILURE_LOGS_PER_MINUTE: u32 = 20;

static E2E_FAILURE_LOGS: LogBudget = LogBudget::new(E2E_FAILURE_LOGS_PER_MINUTE);

/// A server resending a stanza we skip would fill the log the same way.
static IGNORED_STANZA_LOGS: LogBudget = LogBudget::new(E2E_FAILURE_LOGS_PER_MINUTE);

/// A per-minute allowance of log lines for one kind of event.
struct LogBudget {
    per_minute: u32,
    /// The minute's start, lines logged in it, lines held back since the
    /// last one logged.
    window: Mutex<Option<(Instant, u32, u64)>>,
}

impl LogBudget {
    const fn new(per_minute: u32) -> LogBudget {
        LogBudget {
            per_minute,
            window: Mutex::new(None),
        }
    }

    /// `Some(lines held back before this one)` when this line may be
    /// logged, `None` when it is held back.
    fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, logged, held) = window.get_or_insert((now, 0, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *logged = 0;
        }
        if *logged >= self.per_minute {
            *held += 1;
            return None;
        }
        *logged += 1;
        Some(std::mem::take(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_cut_to_the_allowance_and_the_rest_is_counted() {
        let budget = LogBudget::new(3);
        let admitted: Vec<Option<u64>> = (0..5).map(|_| budget.admit()).collect();
        assert_eq!(admitted, [Some(0), Some(0), Some(0), None, None]);
        // A new minute: the next line says how many were held back.
        if let Some((start, _, _)) = budget.window.lock().expect("the window lock").as_mut() {
            *start -= Duration::from_secs(61);
        }
        assert_eq!(budget.admit(), Some(2));
    }
}
