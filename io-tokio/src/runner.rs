//! The session loop: load (or create) the creds, connect, run the
//! connection, and connect again. The policy for *when* to reconnect is a
//! small placeholder here until the keeper machine takes it over.

use std::io::Write;
use std::time::Duration;

use blacksky_core::client::{Client, ClientConfig, DisconnectReason, Event, PairingMethod};
use blacksky_core::session::Creds;
use rand_core::{OsRng, RngCore};
use tokio::sync::watch;

use crate::clock::SystemClock;
use crate::config::{Config, Pairing};
use crate::driver::{Ended, run_connection};
use crate::store::{FileStore, Store};
use crate::{qr, transport};

/// Exit code when the phone removed this device (pair again).
pub const EXIT_LOGGED_OUT: i32 = 3;

/// The core's client settings from the shell's config.
pub fn client_config(config: &Config) -> ClientConfig {
    ClientConfig {
        root_public_key: config.root_pubkey,
        frame_bytes_max: config.frame_bytes_max,
        pairing: match &config.pairing {
            Pairing::Qr => PairingMethod::Qr,
            Pairing::Code { phone } => PairingMethod::Code {
                phone: phone.clone(),
            },
        },
        ..ClientConfig::default()
    }
}

fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    seed
}

/// Shows what the user must see. QR texts and codes go to stdout as plain
/// lines (`qr: …`, `pairing code: …`): scripts and tests read them.
fn present(event: &Event) {
    match event {
        Event::Qr {
            text,
            index,
            valid_ms,
        } => {
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
        Event::Disconnected { reason } => tracing::warn!(%reason, "disconnected"),
    }
}

/// Runs the bot until shutdown (exit 0) or until it must stop.
pub async fn run(config: &Config, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<i32> {
    let mut store = FileStore::open(&config.data_dir, &config.session_id)?;
    let mut creds = match store.load_creds().await? {
        Some(creds) => {
            tracing::info!(
                registered = creds.is_registered(),
                "loaded the stored session"
            );
            creds
        }
        None => {
            tracing::info!("no stored session: linking a new device");
            Creds::generate(&mut OsRng)
        }
    };
    let client_config = client_config(config);
    let mut backoff = Duration::from_millis(1000);
    loop {
        let mut client = Client::new(client_config.clone(), creds.clone(), os_seed());
        let reason = match transport::dial(&config.ws_url, Duration::from_secs(20)).await {
            Ok(ws) => {
                tracing::info!(url = %config.ws_url, "connected");
                let mut went_online = false;
                let ended = run_connection(
                    &mut client,
                    ws,
                    &mut store,
                    &SystemClock,
                    &mut shutdown,
                    |event| {
                        went_online |= *event == Event::Online;
                        present(event);
                    },
                )
                .await;
                if went_online {
                    backoff = Duration::from_millis(1000);
                }
                match ended {
                    Ended::Shutdown => {
                        tracing::info!("shut down cleanly");
                        return Ok(0);
                    }
                    Ended::Disconnected(reason) => reason,
                }
            }
            Err(err) => {
                tracing::warn!(%err, "could not connect");
                DisconnectReason::ConnectionClosed
            }
        };
        // What is durable is what counts: reload rather than trust memory.
        if let Some(stored) = store.load_creds().await? {
            creds = stored;
        } else if client.creds().is_registered() {
            anyhow::bail!(
                "the session was linked but could not be stored; refusing to start over silently"
            );
        }
        let delay = match reason {
            DisconnectReason::RestartRequired => Duration::ZERO,
            DisconnectReason::LoggedOut | DisconnectReason::Forbidden => {
                tracing::error!(%reason, "this device was logged out: pair it again (remove the data directory)");
                return Ok(EXIT_LOGGED_OUT);
            }
            _ => {
                let jittered =
                    Duration::from_millis(OsRng.next_u64() % (backoff.as_millis() as u64 + 1));
                backoff = (backoff * 2).min(Duration::from_secs(60));
                jittered
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return Ok(0),
        }
    }
}
