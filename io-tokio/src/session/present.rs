//! Shows a person what the session's events mean for them: QR codes and
//! pairing codes on stdout where a person watches a terminal (the /qr page
//! shows them everywhere), everything else in the log.
//!
//! A QR text carries the ADV secret and a pairing code links a phone, so
//! neither is ever logged; on a public host they stay off stdout too
//! ([`CodeDisplay`]), and the log says where to find them instead.

use std::io::Write;

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
        Event::PreKeysUploaded { count } => tracing::info!(count, "pre-keys uploaded"),
        Event::IqTimedOut { purpose } => tracing::warn!(?purpose, "request timed out"),
        Event::StoreFailed { op, error } => tracing::error!(?op, %error, "store write failed"),
        Event::LimitReached { limit } => tracing::warn!(
            limit = limit.as_str(),
            "a limit was reached: the connection holds back instead of growing"
        ),
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
