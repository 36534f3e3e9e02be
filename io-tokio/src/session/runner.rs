//! One session's start and shutdown: open the store and decide what the
//! session resumes from (live tables, a snapshot, SESSION_DATA, or a new
//! device), start the store worker and the process's HTTP services, hand
//! over to the keeper's loop (`supervise`), which connects, reconnects and
//! orders the shutdown, then close the worker within the grace budget.
//!
//! Generic over what [`RunSetup`] gives it, so the simulation runs this
//! very start and shutdown over turmoil.

use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tokio::sync::watch;

use blacksky_core::alerts::{IncidentConfig, Incidents, Observation};

use crate::alerts::dispatch::open_incidents;
use crate::alerts::webhook::Webhook;
use crate::alerts::{AlertLink, Dispatcher, OwnerLine};
use crate::host::clock::{Clock, SharedClock};
use crate::host::config::Config;
use crate::host::memory::ShedHooks;
use crate::host::runtime_facts::BoardFacts;
use crate::host::services;
use crate::host::status::StatusBoard;
use crate::session::proactive::{Outbox, Proactive};
use crate::session::setup::{OpenStore, RunSetup};
use crate::session::supervise::{Services, supervise};
use crate::session::transport::Dialer;
use crate::session::worker::{InboxHandler, StoreWorker};
use crate::store::backup::{self, PrepareError, Prepared, Sealer, Source};
use crate::store::{AnyStore, Store};
use blacksky_core::wire::binary::Jid;

/// Exit code when stored credentials exist but none can be read (the log
/// says what is corrupt and how to recover).
pub const EXIT_SESSION_UNREADABLE: i32 = 4;

/// How long an exit after an incident (a logout, reconnects exhausted, a
/// planned restart, a refused start) waits for its alert to be delivered;
/// a clean exit waits less (its grace is the host's). What is left goes
/// out with the next start.
const ALERT_EXIT_BUDGET: Duration = Duration::from_secs(10);
const ALERT_CLEAN_EXIT_BUDGET: Duration = Duration::from_secs(2);

/// The longest wait between two tries of a store that does not answer.
const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// Runs the bot with `handler` until shutdown (exit 0) or until it must
/// stop; proactive sends come in through `proactive`, and `facts` (what
/// the bot's commands read of the process) get the status board.
pub async fn run<H: InboxHandler>(
    config: &Config,
    shutdown: watch::Receiver<bool>,
    handler: H,
    proactive: Proactive,
    facts: BoardFacts,
) -> anyhow::Result<i32> {
    let mut setup = RunSetup::production(config, facts.health(), handler);
    setup.proactive = Some(proactive);
    setup.hooks = Box::new(facts);
    run_with(config, shutdown, setup).await
}

/// Runs one session with what `setup` gives it, until shutdown (exit 0)
/// or until it must stop; returns the process's exit code.
pub async fn run_with<O, D, C, H>(
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
    setup: RunSetup<O, D, C, H>,
) -> anyhow::Result<i32>
where
    O: OpenStore,
    D: Dialer,
    C: Clock + Clone + 'static,
    H: InboxHandler,
{
    let RunSetup {
        open_store,
        dialer,
        clock,
        inbox_handler,
        proactive,
        store_health,
        mut worker,
        sealer_kdf_iterations,
        prepare_seed,
        loop_seed,
        rss,
        console,
        #[cfg(feature = "testing")]
        tune_client,
        mut hooks,
        version_lookup,
    } = setup;
    backup::announce_encryption(config.session_secret.as_ref());
    tracing::info!(
        store = %AnyStore::describe(config),
        session = %config.session_id,
        "opening the session store"
    );
    let (store, prepared) =
        match wait_for_store(config, open_store, prepare_seed, &mut shutdown).await {
            Ok(ready) => ready,
            Err(NotStarted::Exit(code)) => return Ok(code),
            Err(NotStarted::Refused { why, outbox }) => {
                alert_refused_start(config, outbox, &clock, why).await;
                return Ok(EXIT_SESSION_UNREADABLE);
            }
            Err(NotStarted::Failed(err)) => return Err(err),
        };
    let outbox = store.alert_outbox();
    announce_source(&prepared);
    let sealer = Sealer::for_store(
        &store,
        config.session_secret.as_ref(),
        sealer_kdf_iterations,
    );
    worker.clock = SharedClock(Arc::new(clock.clone()));
    let mut worker = StoreWorker::spawn(
        store,
        prepared.session.clone(),
        sealer,
        Box::new(inbox_handler),
        worker,
        store_health,
    );
    let owner = match proactive {
        Some(Proactive { outbox, intake }) => {
            worker.take_proactive(intake);
            owner_line(config, outbox)
        }
        None => None,
    };
    let board = StatusBoard::new(clock.now(), clock.wall());
    board.set_memory_limit(config.memory_limit_mb.map(|mb| mb * 1024 * 1024));
    if let Some(me) = &worker.durable_creds().0.me {
        board.set_jid(&me.jid);
    }
    hooks.board_ready(&board);
    let (dispatcher, resumed) = start_alerts(config, outbox, &clock, Some(board.clone())).await;
    let (services_stop, services_stopped) = watch::channel(false);
    let web_pairing = services::start(config, &board, services_stopped).await?;
    let mut services = Services {
        board,
        code_requests: web_pairing.code_requests,
        shed: ShedHooks::new(),
        rss,
        console,
        pairing_page_on: web_pairing.page_on,
        seed: loop_seed,
        #[cfg(feature = "testing")]
        tune_client,
        incidents: Incidents::new(incident_config(config), clock.now(), resumed),
        alerts: dispatcher
            .as_ref()
            .map_or_else(AlertLink::none, Dispatcher::link)
            .with_owner(owner),
        version_lookup,
    };
    let finished = supervise(
        config,
        dialer,
        clock,
        &mut worker,
        &mut shutdown,
        &mut services,
    )
    .await;
    hooks.loop_ended(&finished);
    match &finished.shutdown {
        Some(budget) => worker.stop_by(budget.worker_stop_deadline()).await,
        None => {
            worker
                .close(Duration::from_millis(config.shutdown_grace_ms))
                .await;
        }
    }
    if let Some(dispatcher) = dispatcher {
        let budget = match &finished.shutdown {
            // A shutdown's alerts get their share of its grace, at most
            // the clean exit's budget (the rest go at the next start).
            Some(grace) => grace
                .alerts_deadline()
                .saturating_duration_since(std::time::Instant::now())
                .min(ALERT_CLEAN_EXIT_BUDGET),
            None if finished.exit_code == 0 => ALERT_CLEAN_EXIT_BUDGET,
            None => ALERT_EXIT_BUDGET,
        };
        dispatcher.finish(budget).await;
    }
    let _ = services_stop.send(true);
    if finished.exit_code == 0 {
        tracing::info!("shut down cleanly");
    }
    Ok(finished.exit_code)
}

/// Where `ALERT_OWNER=true` tells the owner the bot is back: the chat of
/// the first number in `OWNER_NUMBER` (one message, not one per owner:
/// the others are co-owners of the commands, not on call).
fn owner_line(config: &Config, outbox: Outbox) -> Option<OwnerLine> {
    let number = config
        .owner_numbers
        .first()
        .filter(|_| config.alert_owner)?;
    Some(OwnerLine {
        outbox,
        owner: Jid::new(number.digits().to_owned(), "s.whatsapp.net"),
    })
}

/// The incident thresholds from the configuration.
fn incident_config(config: &Config) -> IncidentConfig {
    let after_ms = config.alert_offline_min.saturating_mul(60_000);
    IncidentConfig {
        offline_after_ms: after_ms,
        store_down_after_ms: after_ms,
        ..IncidentConfig::default()
    }
}

/// Starts the alert dispatcher on the store's outbox (none for a store
/// without one) and reads the incidents earlier processes left open.
async fn start_alerts<C: Clock + Clone + 'static>(
    config: &Config,
    outbox: Option<AnyStore>,
    clock: &C,
    board: Option<StatusBoard>,
) -> (Option<Dispatcher>, Vec<blacksky_core::alerts::OpenIncident>) {
    let Some(mut outbox) = outbox else {
        return (None, Vec::new());
    };
    let resumed = open_incidents(&mut outbox).await;
    for incident in &resumed {
        tracing::info!(incident = %incident.id(), "an incident a previous process left open");
    }
    let webhook =
        config
            .alert_webhook_url
            .as_ref()
            .and_then(|url| match Webhook::new(url.expose()) {
                Ok(webhook) => Some(webhook),
                Err(err) => {
                    tracing::error!("alerts stay in the store: {err}");
                    None
                }
            });
    let dispatcher = Dispatcher::spawn(
        outbox,
        webhook,
        config.alert_format,
        &config.session_id,
        SharedClock(Arc::new(clock.clone())),
        board,
    );
    (Some(dispatcher), resumed)
}

/// A refused start is an incident too: stored (once, however often the
/// host restarts the process) and delivered before the exit if it can be.
async fn alert_refused_start<C: Clock + Clone + 'static>(
    config: &Config,
    outbox: Option<AnyStore>,
    clock: &C,
    why: String,
) {
    let (Some(dispatcher), resumed) = start_alerts(config, outbox, clock, None).await else {
        return;
    };
    let mut incidents = Incidents::new(incident_config(config), clock.now(), resumed);
    incidents.handle(clock.now(), clock.wall(), Observation::RefusedStart { why });
    let link = dispatcher.link();
    while let Some(record) = incidents.poll_output() {
        link.send(record).await;
    }
    dispatcher.finish(ALERT_EXIT_BUDGET).await;
}

/// Why the wait for the store ended without a session.
enum NotStarted {
    /// Exit with this code (a shutdown while waiting).
    Exit(i32),
    /// Stored creds that cannot be read (exit 4); `why` names them.
    Refused {
        why: String,
        outbox: Option<AnyStore>,
    },
    /// A store that can never work.
    Failed(anyhow::Error),
}

/// Opens the store and prepares the session, retrying with backoff: a
/// store that is down is waited for, never taken for an empty one.
async fn wait_for_store<O: OpenStore>(
    config: &Config,
    mut open_store: O,
    prepare_seed: [u8; 32],
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(O::Store, Prepared), NotStarted> {
    let mut keys = backup::keyring(config.session_secret.as_ref());
    let mut delay = Duration::from_millis(500);
    loop {
        // Every try draws from the same seed: the credentials a fresh
        // store gets do not depend on how many tries it took.
        let mut rng = ChaCha20Rng::from_seed(prepare_seed);
        let attempt = match open_store.open(config).await {
            Ok(mut store) => {
                backup::learn_row_key(&mut keys, &store);
                match backup::prepare_with(
                    &mut store,
                    config.session_data.as_ref(),
                    &mut keys,
                    &mut rng,
                )
                .await
                {
                    Ok(prepared) => return Ok((store, prepared)),
                    Err(PrepareError::Refused(refusal)) => {
                        tracing::error!("{refusal}");
                        return Err(NotStarted::Refused {
                            why: refusal.to_string(),
                            outbox: store.alert_outbox(),
                        });
                    }
                    Err(err) => err,
                }
            }
            Err(err) => PrepareError::Store(err),
        };
        match attempt {
            PrepareError::Refused(refusal) => {
                tracing::error!("{refusal}");
                return Err(NotStarted::Refused {
                    why: refusal.to_string(),
                    outbox: None,
                });
            }
            err @ (PrepareError::SessionString(_)
            | PrepareError::OtherDeviceLinked { .. }
            | PrepareError::NothingToExport { .. }
            | PrepareError::Seal(_)) => {
                tracing::error!("{err}");
                return Err(NotStarted::Exit(EXIT_SESSION_UNREADABLE));
            }
            PrepareError::Store(err) if err.is_permanent() => {
                return Err(NotStarted::Failed(err.into()));
            }
            PrepareError::Store(err) => {
                tracing::warn!(
                    retry_ms = delay.as_millis() as u64,
                    "the store is not available yet: {err}"
                );
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Err(NotStarted::Exit(0)),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(STORE_RETRY_MAX);
    }
}

/// Says in the log what the session resumes from.
fn announce_source(prepared: &Prepared) {
    let registered = prepared.session.creds.is_registered();
    match &prepared.source {
        Source::Live => tracing::info!(registered, "loaded the stored session"),
        Source::Restored { generation } => {
            tracing::warn!(generation, registered, "resumed from a snapshot");
        }
        Source::Imported => tracing::info!(registered, "imported the session string"),
        Source::New => tracing::info!("no stored session: linking a new device"),
    }
}
