//! Shows a person what the session's events mean for them: QR codes and
//! pairing codes on stdout, everything else in the log.

use std::io::Write;

use blacksky_core::client::Event;

use crate::host::qr;

/// Shows what the user must see. QR texts and codes go to stdout as plain
/// lines (`qr: …`, `pairing code: …`): scripts and tests read them.
/// `console` off (the simulation) logs that they are ready instead.
pub fn present(event: &Event, console: bool) {
    match event {
        Event::Qr {
            text,
            index,
            valid_ms,
        } => {
            if !console {
                tracing::info!(index, "QR code ready (console output off)");
                return;
            }
            let mut out = std::io::stdout().lock();
            if let Some(drawing) = qr::render(text) {
                let _ = writeln!(out, "{drawing}");
            }
            let _ = writeln!(out, "qr: {text}");
            let _ = out.flush();
            tracing::info!(
                index,
                valid_s = valid_ms / 1000,
                "scan the QR code with WhatsApp → Linked devices"
            );
        }
        Event::PairingCode { code } => {
            if !console {
                tracing::info!("pairing code ready (console output off)");
                return;
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "pairing code: {code}");
            let _ = out.flush();
            tracing::info!(
                "enter the pairing code in WhatsApp → Linked devices → Link with phone number"
            );
        }
        Event::Paired { jid, platform } => tracing::info!(%jid, ?platform, "linked to the phone"),
        Event::LoggedIn { jid } => tracing::info!(%jid, "logged in"),
        Event::Online => tracing::info!("online"),
        Event::OfflineDelivered { count } => tracing::info!(count, "offline messages delivered"),
        Event::MessageStored { id, from } => tracing::info!(%id, %from, "message stored"),
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
