//! The session loop: open the store and decide what the session resumes
//! from (live tables, a snapshot, SESSION_DATA, or a new device), start the
//! store worker and the HTTP services, then hand over to the keeper's loop
//! (`supervise`), which connects, reconnects and shuts down.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use blacksky_core::client::{ClientConfig, Event, PairingMethod};
use rand_core::{OsRng, RngCore};
use tokio::sync::watch;

use crate::host::anti_idle;
use crate::host::clock::{Clock, SystemClock};
use crate::host::config::{Config, Pairing};
use crate::host::http::{self, QrPageConfig};
use crate::host::memory::{RssSampler, ShedHooks};
use crate::host::qr;
use crate::host::status::StatusBoard;
use crate::session::supervise::{Services, supervise};
use crate::session::transport::WsDialer;
use crate::session::worker::{LogHandler, StoreHealth, StoreWorker, WorkerConfig};
use crate::store::AnyStore;
use crate::store::backup::{self, PrepareError, Sealer, Source};

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

pub(crate) fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    seed
}

/// Shows what the user must see. QR texts and codes go to stdout as plain
/// lines (`qr: …`, `pairing code: …`): scripts and tests read them.
pub(crate) fn present(event: &Event, console: bool) {
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
            biased;
            _ = shutdown.changed() => return Ok(0),
            () = tokio::time::sleep(delay) => {}
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
    let board = StatusBoard::new(SystemClock.now(), SystemClock.wall());
    board.set_memory_limit(config.memory_limit_mb.map(|mb| mb * 1024 * 1024));
    if let Some(me) = &worker.durable_creds().0.me {
        board.set_jid(&me.jid);
    }
    let (services_stop, services_stopped) = watch::channel(false);
    let mut services = start_services(config, &board, services_stopped).await?;
    let finished = supervise(
        config,
        WsDialer::default(),
        SystemClock,
        &mut worker,
        &mut shutdown,
        &mut services,
    )
    .await;
    if finished.finalized {
        worker.stop().await;
    } else {
        worker
            .close(Duration::from_millis(config.shutdown_grace_ms))
            .await;
    }
    let _ = services_stop.send(true);
    if finished.exit_code == 0 {
        tracing::info!("shut down cleanly");
    }
    Ok(finished.exit_code)
}

/// The HTTP server (health, status, the pairing page) and the anti-idle
/// pinger, as configured. They stop when `stop` turns true.
async fn start_services(
    config: &Config,
    board: &StatusBoard,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Services> {
    let until_stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let mut code_requests = None;
    let mut pairing_page_on = false;
    if config.health_check {
        let listener = http::bind(config.port)
            .await
            .map_err(|err| anyhow::anyhow!("PORT {}: cannot listen: {err}", config.port))?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let qr = QrPageConfig::from_config(config, Some(tx));
        pairing_page_on = qr.access_kind() != "off";
        code_requests = Some(rx);
        tracing::info!(
            port = listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(config.port),
            pairing_page = qr.access_kind(),
            "HTTP server listening (/health /ready /status /stats /metrics /qr)"
        );
        let board = board.clone();
        let stopped = until_stopped(stop.clone());
        tokio::spawn(async move {
            if let Err(err) = http::serve(listener, board, qr, stopped).await {
                tracing::error!(%err, "the HTTP server stopped");
            }
        });
    }
    if let Some(url) = &config.heroku_app_url {
        let interval = Duration::from_secs(config.anti_idle_min * 60);
        match anti_idle::spawn(url, interval, until_stopped(stop.clone())) {
            Ok(_) => tracing::info!(every_min = config.anti_idle_min, "anti-idle pings on"),
            Err(err) => tracing::warn!(%err, "anti-idle pings off"),
        }
    }
    Ok(Services {
        board: board.clone(),
        code_requests,
        shed: ShedHooks::new(),
        rss: RssSampler::default(),
        console: true,
        pairing_page_on,
        seed: os_seed(),
        tune_client: None,
    })
}
