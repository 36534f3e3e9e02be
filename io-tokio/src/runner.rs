//! The session loop: open the store and decide what the session resumes
//! from (live tables, a snapshot, SESSION_DATA, or a new device), start the
//! store worker, connect, run the connection, and connect again; at the
//! end, flush the store and take the final snapshot. The policy for *when*
//! to reconnect is a small placeholder here until the keeper machine takes
//! it over.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use blacksky_core::client::{Client, ClientConfig, DisconnectReason, Event, PairingMethod};
use blacksky_core::session::Write as StoreWrite;
use rand_core::{OsRng, RngCore};
use tokio::sync::watch;

use crate::clock::SystemClock;
use crate::config::{Config, Pairing};
use crate::driver::{Ended, run_connection};
use crate::store::backup::{self, PrepareError, Sealer, Source};
use crate::store::worker::LogHandler;
use crate::store::{AnyStore, StoreHealth, StoreWorker, WorkerConfig};
use crate::{qr, transport};

/// Exit code when the phone removed this device (pair again).
pub const EXIT_LOGGED_OUT: i32 = 3;
/// Exit code when stored credentials exist but none can be read (the log
/// says what is corrupt and how to recover).
pub const EXIT_SESSION_UNREADABLE: i32 = 4;

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

/// The worker's settings from the shell's config.
pub fn worker_config(config: &Config) -> WorkerConfig {
    WorkerConfig {
        backup_interval: config
            .session_backup
            .then(|| Duration::from_secs(config.backup_interval_min * 60)),
        backup_keep: config.backup_keep,
        ..WorkerConfig::default()
    }
}

/// Runs the bot until shutdown (exit 0) or until it must stop.
pub async fn run(config: &Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<i32> {
    run_with(config, shutdown, StoreHealth::new()).await
}

/// [`run`], reporting the store's health into `health` (for /metrics).
pub async fn run_with(
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
    health: Arc<StoreHealth>,
) -> anyhow::Result<i32> {
    backup::announce_encryption(config.session_secret.as_ref());
    tracing::info!(
        store = %AnyStore::describe(config),
        session = %config.session_id,
        "opening the session store"
    );
    let mut keys = backup::keyring(config.session_secret.as_ref());
    let mut delay = Duration::from_millis(500);
    // The store must answer before anything else happens: a store that is
    // down is waited for, never taken for an empty one.
    let (store, prepared) = loop {
        let attempt = match AnyStore::open(config).await {
            Ok(mut store) => {
                match backup::prepare(&mut store, config.session_data.as_ref(), &mut keys).await {
                    Ok(prepared) => break (store, prepared),
                    Err(err) => err,
                }
            }
            Err(err) => PrepareError::Store(err),
        };
        match attempt {
            PrepareError::Refused(refusal) => {
                tracing::error!("{refusal}");
                return Ok(EXIT_SESSION_UNREADABLE);
            }
            PrepareError::Import(err) => {
                tracing::error!("{err}");
                return Ok(EXIT_SESSION_UNREADABLE);
            }
            PrepareError::Store(err) if err.is_permanent() => return Err(err.into()),
            PrepareError::Store(err) => {
                tracing::warn!(
                    retry_ms = delay.as_millis() as u64,
                    "the store is not available yet: {err}"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return Ok(0),
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    };
    match &prepared.source {
        Source::Live => tracing::info!(
            registered = prepared.creds.is_registered(),
            "loaded the stored session"
        ),
        Source::Restored { generation } => tracing::warn!(
            generation,
            registered = prepared.creds.is_registered(),
            "resumed from a snapshot"
        ),
        Source::Imported => tracing::info!(
            registered = prepared.creds.is_registered(),
            "imported the session string"
        ),
        Source::New => tracing::info!("no stored session: linking a new device"),
    }
    let sealer = Sealer::standard(&config.session_id, config.session_secret.as_ref());
    let mut worker = StoreWorker::spawn(
        store,
        (prepared.creds, prepared.login_confirmed),
        sealer,
        Box::new(LogHandler),
        worker_config(config),
        health,
    );
    let result = session_loop(config, &mut shutdown, &mut worker).await;
    worker
        .close(Duration::from_millis(config.shutdown_grace_ms))
        .await;
    if matches!(result, Ok(0)) {
        tracing::info!("shut down cleanly");
    }
    result
}

async fn session_loop(
    config: &Config,
    shutdown: &mut watch::Receiver<bool>,
    worker: &mut StoreWorker,
) -> anyhow::Result<i32> {
    let client_config = client_config(config);
    let mut backoff = Duration::from_millis(1000);
    // Creds to use instead of the stored ones, until the store has them.
    let mut pending_creds = None;
    let mut login_seen = false;
    loop {
        // What is durable is what counts: the store worker's last committed
        // creds, not the client's memory.
        let creds = pending_creds
            .take()
            .unwrap_or_else(|| worker.durable_creds().0);
        let mut client = Client::new(client_config.clone(), creds, os_seed());
        let mut link = worker.link();
        let reason = match transport::dial(&config.ws_url, Duration::from_secs(20)).await {
            Ok(ws) => {
                tracing::info!(url = %config.ws_url, "connected");
                let mut went_online = false;
                let ended = run_connection(
                    &mut client,
                    ws,
                    &mut link,
                    &SystemClock,
                    shutdown,
                    |event| {
                        went_online |= *event == Event::Online;
                        login_seen |= matches!(event, Event::LoggedIn { .. });
                        present(event);
                    },
                )
                .await;
                if went_online {
                    backoff = Duration::from_millis(1000);
                }
                match ended {
                    Ended::Shutdown => return Ok(0),
                    Ended::Disconnected(reason) => reason,
                }
            }
            Err(err) => {
                tracing::warn!(%err, "could not connect");
                DisconnectReason::ConnectionClosed
            }
        };
        let delay = match reason {
            DisconnectReason::RestartRequired => Duration::ZERO,
            DisconnectReason::LoggedOut | DisconnectReason::Forbidden => {
                let (stored, confirmed) = worker.durable_creds();
                if reason == DisconnectReason::LoggedOut
                    && stored.is_registered()
                    && !confirmed
                    && !login_seen
                {
                    // Stored at pair-success, but the server never got our
                    // confirmation (a crash in between): the device does not
                    // exist there. Link again with the same keys.
                    tracing::warn!(
                        "the server does not know this device: its linking never completed; \
                         linking again with the same keys"
                    );
                    let mut unlinked = stored;
                    unlinked.me = None;
                    unlinked.account = None;
                    unlinked.platform = None;
                    if let Err(err) =
                        worker.submit(vec![StoreWrite::Creds(Box::new(unlinked.clone()))])
                    {
                        tracing::warn!(%err, "could not store the unlinked creds yet");
                    }
                    pending_creds = Some(unlinked);
                    Duration::ZERO
                } else {
                    tracing::error!(
                        %reason,
                        "this device was logged out: link it again (`blacksky session wipe --yes`, then start)"
                    );
                    return Ok(EXIT_LOGGED_OUT);
                }
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
