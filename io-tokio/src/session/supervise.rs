//! The keeper's shell: runs `blacksky_core::keeper::Keeper` and carries out
//! what it decides. Connections run as tasks the loop controls (run, drain,
//! close); their events feed the keeper and the status board; memory
//! samples, the store's health, shutdown signals and pairing requests from
//! the web page come in here too. The policy itself lives in the keeper.
//!
//! Generic over the dialer and the clock, so the simulation runs this very
//! loop over turmoil's network and clock.

use std::time::{Duration, Instant};

use blacksky_core::alerts::{Incidents, Link, Observation};
use blacksky_core::client::{Client, DisconnectReason, Event, PairingMethod};
use blacksky_core::keeper::{
    Alert, ConnState, Input as KeeperInput, Keeper, Output as KeeperOutput, ShutdownStep,
    StandByCause,
};
use blacksky_core::session::{AppVersion, Creds, Session};

/// How long a new connection waits for the session to be read back from
/// the store before it starts from the one in memory.
const RELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::alerts::AlertLink;
use crate::host::clock::Clock;
use crate::host::config::{CodeDisplay, Config};
use crate::host::http::PairingPhone;
use crate::host::memory::{RssSampler, ShedHooks};
use crate::host::redact::mask_url;
use crate::host::status::StatusBoard;
use crate::session::client_version::{self, InUse, Lookup, LookupError, Source};
use crate::session::driver::{Control, Ended, run_connection};
use crate::session::events::{self, EVENTS_LEN_MAX, EventSender};
use crate::session::grace::GraceBudget;
use crate::session::present::present;
use crate::session::settings::{client_config, keeper_config};
use crate::session::transport::Dialer;
use crate::session::worker::{StoreLink, StoreWorker};
use crate::store::Standing;

/// How long "which other processes run this session?" may take: before a
/// connect, a store that cannot say must not keep the bot offline (it
/// connects); after a 440 it stands by, and asks again while it does.
const STANDING_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How often memory and store health are sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// What the loop shares with the rest of the process.
#[derive(Debug)]
pub struct Services {
    pub board: StatusBoard,
    /// Phone numbers from the web page's "pair by code" form.
    pub code_requests: Option<mpsc::Receiver<PairingPhone>>,
    pub shed: ShedHooks,
    /// The memory samples the keeper's MEMORY_LIMIT_MB policy reads.
    pub rss: RssSampler,
    /// Where QR codes and pairing codes show besides the /qr page (stdout
    /// where a person watches a terminal; never in the simulation, whose
    /// output is for failures).
    pub console: CodeDisplay,
    /// True when a person can link again through the web page, so a logout
    /// waits for them instead of exiting.
    pub pairing_page_on: bool,
    /// Drives every random choice of the loop (keeper jitter, client keys
    /// and ids): the OS's in production, the scenario's in the simulation,
    /// so a seed replays a run.
    pub seed: [u8; 32],
    /// TEST ONLY: adjusts the client's settings (the chaos harness uses it
    /// to plant a deliberately broken policy and show that it is caught).
    #[cfg(feature = "testing")]
    pub tune_client: Option<fn(&mut blacksky_core::client::ClientConfig)>,
    /// What counts as an incident (resumed with those a previous process
    /// left open), and where its alerts go.
    pub incidents: Incidents,
    pub alerts: AlertLink,
    /// Where a newer client version is looked up after a 405.
    pub version_lookup: Lookup,
}

/// Feeds the incident machine and hands its alerts to the dispatcher.
async fn observe<C: Clock>(services: &mut Services, clock: &C, observation: Observation) {
    services
        .incidents
        .handle(clock.now(), clock.wall(), observation);
    forward_alerts(services).await;
}

async fn forward_alerts(services: &mut Services) {
    while let Some(record) = services.incidents.poll_output() {
        services.alerts.send(record).await;
    }
}

/// The keeper's alerts that are incidents.
fn incident_of(alert: &Alert) -> Option<Observation> {
    match alert {
        Alert::NeedsPairing { reason } => Some(Observation::LoggedOut {
            code: reason.code(),
        }),
        Alert::GaveUp { attempts } => Some(Observation::ReconnectsExhausted {
            attempts: *attempts,
        }),
        Alert::PlannedRestart { rss_bytes } => Some(Observation::MemoryRestart {
            rss_bytes: *rss_bytes,
        }),
        // A 440 is judged by where the keeper stands after the register
        // answered (`link_of`); the rest are no incidents of their own.
        Alert::Replaced | Alert::ShutdownAbandoned { .. } | Alert::MemoryOverLimit { .. } => None,
    }
}

/// Where the connection stands, for the incident machine.
fn link_of(keeper: &Keeper) -> Link {
    match keeper.health().state {
        ConnState::Online => Link::Online,
        ConnState::ShuttingDown => Link::Excused,
        ConnState::StandingBy => match keeper.standing_by() {
            Some(StandByCause::NewerProcess) => Link::Excused,
            Some(StandByCause::Unexplained) | None => Link::TakenOutside,
        },
        _ => Link::Offline,
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub exit_code: i32,
    /// The shutdown sequence ran (drain, final snapshot, close) on this
    /// budget, whose rest the store worker's stop gets; `None`: the
    /// keeper exited without it, and the worker is closed on a whole grace.
    pub shutdown: Option<GraceBudget>,
}

/// A connection task and the switch that steers it.
struct Connection {
    control: watch::Sender<Control>,
    task: JoinHandle<Outcome>,
}

/// What a connection task ends with.
enum Outcome {
    /// `resume` is what the client said the next connection must start
    /// from instead of the stored creds (`Client::resume_creds`).
    Ended {
        ended: Ended,
        resume: Option<Box<Creds>>,
    },
    DialFailed,
}

/// Dials and runs `client` in a task of its own.
fn start_connection<D: Dialer, C: Clock + Clone + 'static>(
    mut client: Client,
    dialer: &D,
    url: &str,
    mut link: StoreLink,
    clock: C,
    events: EventSender,
) -> Connection {
    let (control, mut control_rx) = watch::channel(Control::Run);
    let dialer = dialer.clone();
    let url = url.to_owned();
    let task = tokio::spawn(async move {
        // `biased`: a fixed order keeps the simulation replayable (an
        // unbiased select draws from a process-wide random source).
        let ws = tokio::select! {
            biased;
            _ = control_rx.wait_for(|c| *c == Control::Close) => return Outcome::Ended { ended: Ended::Closed, resume: None },
            dialed = dialer.dial(&url) => match dialed {
                Ok(ws) => ws,
                Err(err) => {
                    tracing::warn!(%err, "could not connect");
                    return Outcome::DialFailed;
                }
            },
        };
        tracing::info!(url = %mask_url(&url), "connected");
        let ended =
            run_connection(&mut client, ws, &mut link, &clock, &mut control_rx, &events).await;
        let resume = client.resume_creds().cloned().map(Box::new);
        Outcome::Ended { ended, resume }
    });
    Connection { control, task }
}

/// Closes `conn` and waits for its task, taking its events meanwhile: a
/// connection waiting for room in a full events channel must get it to
/// see the close.
async fn close_and_join(
    conn: Connection,
    events: &mut mpsc::Receiver<Event>,
    mut on_event: impl FnMut(Event),
) {
    let _ = conn.control.send(Control::Close);
    let mut task = conn.task;
    loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => on_event(event),
            _ = &mut task => return,
        }
    }
}

async fn join(connection: &mut Option<Connection>) -> Outcome {
    match connection {
        Some(conn) => match (&mut conn.task).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(%err, "the connection task failed");
                Outcome::Ended {
                    ended: Ended::Disconnected(DisconnectReason::ConnectionClosed),
                    resume: None,
                }
            }
        },
        None => std::future::pending().await,
    }
}

async fn join_lookup(
    lookup: &mut Option<JoinHandle<Result<AppVersion, LookupError>>>,
) -> Result<AppVersion, LookupError> {
    match lookup {
        Some(task) => match task.await {
            Ok(result) => result,
            Err(err) => Err(LookupError::Request(format!(
                "the lookup task failed: {err}"
            ))),
        },
        None => std::future::pending().await,
    }
}

async fn next_code(requests: &mut Option<mpsc::Receiver<PairingPhone>>) -> Option<PairingPhone> {
    match requests {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Runs the keeper until it says exit.
pub async fn supervise<D: Dialer, C: Clock + Clone + 'static>(
    config: &Config,
    dialer: D,
    clock: C,
    worker: &mut StoreWorker,
    shutdown: &mut watch::Receiver<bool>,
    services: &mut Services,
) -> Finished {
    let board = services.board.clone();
    let mut rng = ChaCha20Rng::from_seed(services.seed);
    let mut keeper = Keeper::new(
        keeper_config(config, services.pairing_page_on),
        clock.now(),
        seed(&mut rng),
    );
    keeper.handle_input(clock.now(), KeeperInput::Start);
    keeper.handle_input(clock.now(), KeeperInput::WallClock(clock.wall()));
    if let Some(at) = keeper.daily_restart_at() {
        tracing::info!(
            in_min = at.saturating_duration_since(clock.now()).as_secs() / 60,
            "planned daily restart scheduled (RESTART_AT)"
        );
    }
    // The words BLACKSKY-MD's users were told to watch for.
    tracing::info!(
        reconnect_base_ms = config.reconnect_base_ms,
        reconnect_max_ms = config.reconnect_max_ms,
        "Connection keeper active"
    );
    let (events_tx, mut events_rx) = events::channel(EVENTS_LEN_MAX, board.clone());
    let mut connection: Option<Connection> = None;
    let mut client_config = client_config(config);
    let mut version = version_at_start(config, worker).await;
    client_config.app_version = version.version;
    #[cfg(feature = "testing")]
    if let Some(tune) = services.tune_client {
        tune(&mut client_config);
    }
    // The lookup after a 405, while it runs.
    let mut lookup: Option<JoinHandle<Result<AppVersion, LookupError>>> = None;
    // Creds to use instead of the stored ones, until the store has them
    // (a relink with a new identity, or what a client said to resume from).
    let mut pending_creds: Option<Creds> = None;
    let mut samples = tokio::time::interval(SAMPLE_INTERVAL);
    // The owner's `.restart` (its effect is marked done already).
    let mut restart = worker.restart_requested();
    let mut restart_asked = false;
    loop {
        while let Some(output) = keeper.poll_output() {
            match output {
                KeeperOutput::Connect => {
                    board.on_connecting(clock.now());
                    if let Ok(standing) = worker.instance_standing(STANDING_CHECK_TIMEOUT).await
                        && standing.newer_alive
                    {
                        // An old dyno whose socket dropped during a hand-over:
                        // taking the session back would leave the new one
                        // standing by, and this one is about to be stopped.
                        tracing::warn!(
                            "a newer process runs this session: not connecting, standing by"
                        );
                        board.record_disconnect(&DisconnectReason::Replaced, clock.wall());
                        keeper.handle_input(clock.now(), peers(standing));
                        continue;
                    }
                    // New or unlinked creds start with no keys; else the
                    // store's session, with the writes still on their way.
                    let session = match pending_creds.take() {
                        Some(creds) => Session::new(creds),
                        None => {
                            // Another process of this session may have
                            // written keys since this one read them.
                            if !worker.reload(RELOAD_TIMEOUT).await {
                                tracing::debug!(
                                    "starting from the session in memory: the store did not answer"
                                );
                            }
                            worker.session()
                        }
                    };
                    connection = Some(start_connection(
                        Client::new(client_config.clone(), session, seed(&mut rng)),
                        &dialer,
                        config.ws_url.expose(),
                        worker.link(client_config.store_ops_in_flight_max),
                        clock.clone(),
                        events_tx.clone(),
                    ));
                }
                KeeperOutput::CloseConnection => match &connection {
                    Some(conn) => {
                        let _ = conn.control.send(Control::Close);
                    }
                    None => keeper.handle_input(clock.now(), KeeperInput::ConnectionClosed),
                },
                KeeperOutput::NewIdentity => {
                    tracing::info!("linking a new device: the stored one was logged out");
                    pending_creds = Some(Creds::generate(&mut rng));
                }
                KeeperOutput::ReconnectIn {
                    delay_ms,
                    attempt,
                    after,
                } => {
                    tracing::info!(delay_ms, attempt, reason = %after, "reconnecting after a pause");
                    board.on_reconnect_scheduled(delay_ms, clock.now());
                }
                KeeperOutput::RefreshVersion => match (version.source, &services.version_lookup) {
                    (Source::Pinned, _) => {
                        tracing::error!(
                            version = %version.version,
                            "WhatsApp refused the client version WA_VERSION sets (405): set a \
                             newer one, or unset it to look the current one up; backing off"
                        );
                        keeper.handle_input(clock.now(), KeeperInput::VersionRefreshFailed);
                    }
                    (_, Lookup::Off) => {
                        tracing::error!(
                            version = %version.version,
                            "WhatsApp refused this client version (405) and no lookup is \
                             configured; backing off"
                        );
                        keeper.handle_input(clock.now(), KeeperInput::VersionRefreshFailed);
                    }
                    (_, web) => {
                        tracing::warn!(
                            version = %version.version,
                            url = %web.shown(),
                            "WhatsApp refused this client version (405): looking up the current one"
                        );
                        let web = web.clone();
                        lookup = Some(tokio::spawn(async move { web.current().await }));
                    }
                },
                KeeperOutput::Snapshot => {}
                KeeperOutput::ShedCaches => {
                    let report = services.shed.shed_all();
                    tracing::warn!(
                        freed_bytes = report.total_bytes,
                        "memory over the limit: caches shed"
                    );
                }
                KeeperOutput::Shutdown(ShutdownStep::Drain) => {
                    let budget = GraceBudget::new(
                        clock.now(),
                        Duration::from_millis(config.shutdown_grace_ms),
                    );
                    let code = shut_down(
                        &mut keeper,
                        connection.take(),
                        &mut events_rx,
                        worker,
                        &clock,
                        services,
                        budget,
                    )
                    .await;
                    return Finished {
                        exit_code: code,
                        shutdown: Some(budget),
                    };
                }
                KeeperOutput::Shutdown(_) => {}
                KeeperOutput::Exit(code) => {
                    if let Some(conn) = connection.take() {
                        close_and_join(conn, &mut events_rx, |event| {
                            show(&event, services, &clock);
                        })
                        .await;
                    }
                    return Finished {
                        exit_code: code,
                        shutdown: None,
                    };
                }
                KeeperOutput::Alert(alert) => {
                    tracing::error!(?alert, "keeper alert");
                    board.on_alert(&alert, clock.wall());
                    if let Some(observation) = incident_of(&alert) {
                        observe(services, &clock, observation).await;
                    }
                }
                KeeperOutput::DailyRestart { waited_ms } => {
                    tracing::info!(
                        waited_ms,
                        "planned daily restart (RESTART_AT): draining, then exit 75 for a fresh process"
                    );
                }
            }
        }
        board.on_keeper_health(keeper.health());
        observe(services, &clock, Observation::Link(link_of(&keeper))).await;
        // `biased`, in this order: a signal first, then the connection's
        // events before its end (a login seen decides how a 401 is read),
        // then timers. A fixed order also keeps the simulation replayable.
        tokio::select! {
            biased;
            _ = shutdown.changed() => keeper.handle_input(clock.now(), KeeperInput::ShutdownRequested),
            changed = restart.changed(), if !restart_asked => {
                // Once: it only ever turns true (or the worker is gone).
                restart_asked = true;
                if changed.is_ok() && *restart.borrow() {
                    keeper.handle_input(clock.now(), KeeperInput::RestartRequested);
                }
            }
            looked_up = join_lookup(&mut lookup) => {
                lookup = None;
                let refreshed = adopt(looked_up, &mut version, worker, &services.version_lookup).await;
                client_config.app_version = version.version;
                keeper.handle_input(
                    clock.now(),
                    if refreshed { KeeperInput::VersionRefreshed } else { KeeperInput::VersionRefreshFailed },
                );
            }
            Some(event) = events_rx.recv() => {
                show(&event, services, &clock);
                if event == Event::Online {
                    keeper.handle_input(clock.now(), KeeperInput::Online);
                }
            }
            outcome = join(&mut connection) => {
                connection = None;
                let now = clock.now();
                match outcome {
                    Outcome::DialFailed => {
                        board.record_disconnect(&DisconnectReason::ConnectionClosed, clock.wall());
                        keeper.handle_input(now, KeeperInput::DialFailed);
                    }
                    Outcome::Ended { ended: Ended::Closed, .. } => {
                        keeper.handle_input(now, KeeperInput::ConnectionClosed);
                    }
                    Outcome::Ended { ended: Ended::Disconnected(reason), resume } => {
                        let replaced = reason == DisconnectReason::Replaced;
                        if let Some(creds) = resume {
                            pending_creds = Some(*creds);
                        }
                        keeper.handle_input(now, KeeperInput::Disconnected(reason));
                        if replaced {
                            // Who took it: a newer process, an older one's
                            // late login, or someone outside this store.
                            ask_the_register(worker, &mut keeper, &clock).await;
                        }
                    }
                }
            }
            () = sleep_until(keeper.poll_timeout()) => keeper.handle_timeout(clock.now()),
            _ = samples.tick() => {
                let health = worker.health().clone();
                board.set_store(health.is_up(), health.queue_len() as u64);
                board.set_store_results_waits(health.results_waits_total());
                board.set_store_stale_refusals(health.stale_refusals_total());
                board.set_outbox_backlog(health.outbox_backlog());
                board.set_pre_keys_left(worker.pre_keys_left() as u64);
                keeper.handle_input(clock.now(), KeeperInput::StoreHealth { up: health.is_up() });
                keeper.handle_input(clock.now(), KeeperInput::WallClock(clock.wall()));
                keeper.handle_input(
                    clock.now(),
                    KeeperInput::Backlog {
                        store_writes: health.queue_len() as u64,
                        inbox_waiting: health.inbox_waiting(),
                    },
                );
                observe(services, &clock, Observation::Store { up: health.is_up() }).await;
                services.incidents.handle_timeout(clock.now(), clock.wall());
                forward_alerts(services).await;
                if let Some(rss_bytes) = services.rss.sample() {
                    board.on_memory(rss_bytes, clock.wall());
                    keeper.handle_input(clock.now(), KeeperInput::MemorySample { rss_bytes });
                }
                // Standing by: is the newer process gone, or could the store
                // not say before?
                if keeper.health().state == ConnState::StandingBy {
                    ask_the_register(worker, &mut keeper, &clock).await;
                }
            }
            Some(phone) = next_code(&mut services.code_requests) => {
                let (stored, _) = worker.durable_creds();
                if stored.is_registered() && !keeper_needs_pairing(&keeper) {
                    tracing::warn!("a pairing code was asked for, but this device is linked already");
                    continue;
                }
                client_config.pairing = PairingMethod::Code { phone: phone.into_digits() };
                keeper.handle_input(clock.now(), KeeperInput::LinkRequested);
            }
        }
    }
}

/// The version the first connect sends: `WA_VERSION`, else the one the
/// store keeps from an earlier 405, else the built-in one (also when the
/// store cannot say in time: a later 405 looks it up again).
async fn version_at_start(config: &Config, worker: &StoreWorker) -> InUse {
    let learnt = match config.wa_version {
        Some(_) => None,
        None => match worker.client_version(STANDING_CHECK_TIMEOUT).await {
            Ok(learnt) => learnt,
            Err(err) => {
                tracing::warn!("the learnt client version could not be read: {err}");
                None
            }
        },
    };
    let in_use = InUse::choose(config.wa_version, learnt);
    tracing::info!(version = %in_use.version, source = %in_use.source, "client version");
    in_use
}

/// Takes a looked-up version if it is newer than the one refused, and
/// stores it for every later connect; true when the next connect sends a
/// newer version. Anything else is logged, and the keeper backs off: the
/// same version would only be refused again.
async fn adopt(
    looked_up: Result<AppVersion, LookupError>,
    in_use: &mut InUse,
    worker: &StoreWorker,
    lookup: &Lookup,
) -> bool {
    match looked_up {
        Ok(current) if current > in_use.version => {
            tracing::info!(
                refused = %in_use.version,
                version = %current,
                "reconnecting with WhatsApp Web's current client version"
            );
            *in_use = InUse {
                version: current,
                source: Source::Learnt,
            };
            if let Err(err) = worker
                .keep_client_version(current, STANDING_CHECK_TIMEOUT)
                .await
            {
                tracing::warn!(
                    "the client version was not stored ({err}): this process uses it, a \
                     restart starts from the one before"
                );
            }
            true
        }
        Ok(current) => {
            tracing::error!(
                refused = %in_use.version,
                published = %current,
                url = %lookup.shown(),
                "the published client version is not newer than the one refused (405); \
                 backing off"
            );
            false
        }
        Err(err) => {
            tracing::error!(
                url = %lookup.shown(),
                version = %in_use.version,
                source = %in_use.source,
                "the client version lookup failed ({err}); keeping this version and backing off \
                 (timeout {} s)",
                client_version::LOOKUP_TIMEOUT.as_secs()
            );
            false
        }
    }
}

/// What a connection's event changes outside the keeper: the console and
/// the status board.
fn show<C: Clock>(event: &Event, services: &Services, clock: &C) {
    present(event, services.console, services.pairing_page_on);
    services.board.on_event(event, clock.wall());
}

fn seed(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    seed
}

fn keeper_needs_pairing(keeper: &Keeper) -> bool {
    keeper.health().state == ConnState::NeedsPairing
}

/// The keeper's input for what the register says.
fn peers(standing: Standing) -> KeeperInput {
    KeeperInput::Peers {
        newer_alive: standing.newer_alive,
        newer_ran: standing.newer_ran,
        older_recent: standing.older_recent,
    }
}

/// Tells the keeper what the store's register of this session's processes
/// says; nothing when the store cannot say (it is asked again while the
/// bot stands by).
async fn ask_the_register<C: Clock>(worker: &StoreWorker, keeper: &mut Keeper, clock: &C) {
    let Ok(standing) = worker.instance_standing(STANDING_CHECK_TIMEOUT).await else {
        return;
    };
    let before = keeper.health().state.clone();
    keeper.handle_input(clock.now(), peers(standing));
    if before == ConnState::StandingBy && keeper.health().state == ConnState::Connecting {
        // The newer process stopped, or an older one's late login took it.
        tracing::warn!(
            newer_ran = standing.newer_ran,
            older_recent = standing.older_recent,
            "the register says the session is this process's: taking it"
        );
    }
}

/// The shutdown sequence the keeper orders: drain (read nothing more,
/// finish the writes in flight so their acks go out), final snapshot,
/// close the socket; each step cut off at the end of its share of the
/// grace (`budget`), and the whole at the keeper's deadline. The
/// connection's events are taken throughout, so it never waits on a
/// full channel while its acks are due.
async fn shut_down<C: Clock>(
    keeper: &mut Keeper,
    mut connection: Option<Connection>,
    events: &mut mpsc::Receiver<Event>,
    worker: &StoreWorker,
    clock: &C,
    services: &Services,
    budget: GraceBudget,
) -> i32 {
    let board = &services.board;
    let mut step = ShutdownStep::Drain;
    // The keeper's deadline cuts every step; this only bounds the awaits.
    let generous = Duration::from_secs(3600);
    loop {
        board.on_keeper_health(keeper.health());
        {
            let work = async {
                match step {
                    ShutdownStep::Drain => {
                        if let Some(conn) = &connection {
                            let _ = conn.control.send(Control::Drain);
                        }
                        if !worker.flush(generous).await {
                            tracing::warn!("the store did not take every write");
                        }
                    }
                    ShutdownStep::FinalSnapshot => {
                        match worker.snapshot("shutdown", generous).await {
                            Ok(generation) => tracing::info!(generation, "final snapshot written"),
                            Err(err) => tracing::error!("final snapshot failed: {err}"),
                        }
                    }
                    ShutdownStep::Close => {
                        if let Some(conn) = connection.take() {
                            let _ = conn.control.send(Control::Close);
                            let _ = conn.task.await;
                        }
                    }
                }
            };
            tokio::pin!(work);
            let deadline = keeper.poll_timeout();
            let share_ends = budget.step_deadline(step);
            loop {
                tokio::select! {
                    biased;
                    () = &mut work => {
                        keeper.handle_input(clock.now(), KeeperInput::ShutdownStepDone(step));
                        break;
                    }
                    Some(event) = events.recv() => show(&event, services, clock),
                    () = sleep_until(deadline) => {
                        keeper.handle_timeout(clock.now());
                        break;
                    }
                    () = sleep_until(Some(share_ends)) => {
                        // A store that does not answer: the steps after
                        // this one still get theirs.
                        tracing::warn!(
                            ?step,
                            "shutdown step cut off at the end of its share of SHUTDOWN_GRACE_MS"
                        );
                        keeper.handle_input(clock.now(), KeeperInput::ShutdownStepDone(step));
                        break;
                    }
                }
            }
        }
        while let Some(output) = keeper.poll_output() {
            match output {
                KeeperOutput::Shutdown(next) => step = next,
                KeeperOutput::Exit(code) => {
                    if let Some(conn) = connection.take() {
                        conn.task.abort();
                    }
                    return code;
                }
                KeeperOutput::Alert(alert) => {
                    tracing::error!(?alert, "keeper alert");
                    board.on_alert(&alert, clock.wall());
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection stuck on a full events channel still sees the close,
    /// because the loop takes its events while it waits for it; and none
    /// of them is lost on the way.
    #[tokio::test]
    async fn closing_a_connection_that_waits_on_a_full_events_channel_ends_it() {
        let board = StatusBoard::new(Instant::now(), blacksky_core::time::UnixMillis(0));
        let (events_tx, mut events_rx) = events::channel(1, board.clone());
        let (control, mut control_rx) = watch::channel(Control::Run);
        let task = tokio::spawn(async move {
            for count in 1..=3 {
                events_tx.send(Event::OfflineDelivered { count }).await;
            }
            events_tx.send(Event::Online).await;
            let _ = control_rx.wait_for(|c| *c == Control::Close).await;
            Outcome::DialFailed
        });
        // Let it fill the channel and wait.
        while board.metrics(Instant::now()).channel_waits_total == 0 {
            tokio::task::yield_now().await;
        }
        let mut seen = Vec::new();
        let closed = close_and_join(Connection { control, task }, &mut events_rx, |event| {
            seen.push(event);
        });
        // Only a guard against a hang: the close ends it at once.
        tokio::time::timeout(Duration::from_secs(30), closed)
            .await
            .expect("the connection saw the close");
        let mut expected: Vec<Event> = (1..=3)
            .map(|count| Event::OfflineDelivered { count })
            .collect();
        expected.push(Event::Online);
        assert_eq!(seen, expected);
    }
}
