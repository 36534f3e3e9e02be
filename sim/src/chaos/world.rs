//! A simulated world from a seed: host `wa` (the fake server over
//! turmoil's TCP), host `bot` (the production `supervise` loop over
//! [`TurmoilDialer`] and [`SimClock`]), and a durable store that lives
//! outside every host closure, so it survives `bounce("bot")`.
//!
//! The scenario steps the simulation itself and holds handles to the
//! server, the store and the bot's status board, to act as the phone and
//! the contacts and to check invariants between steps.

use blacksky_core::client::ClientConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use blacksky_core::session::Creds;
use blacksky_core::session::OutboxEntry;
use blacksky_io::clock::Clock;
use blacksky_io::config::Config;
use blacksky_io::memory::ShedHooks;
use blacksky_io::runner::worker_config;
use blacksky_io::status::StatusBoard;
use blacksky_io::store::backup::{self, Sealer};
use blacksky_io::store::worker::InboxHandler;
use blacksky_io::store::{InboxRecord, MemoryDb, MemoryStore, Store, StoreHealth, StoreWorker};
use blacksky_io::supervise::{Services, supervise};
use futures_util::FutureExt;
use tokio::sync::watch;

use super::clock::{SIM_EPOCH, SimClock};
use super::dial::TurmoilDialer;
use crate::net::ServerShell;
use crate::server::{FakeServer, ServerConfig, ServerState};

/// The port `wa` serves WebSockets on.
pub const WA_PORT: u16 = 443;
/// The session name the bot's rows are keyed by.
pub const SESSION: &str = "sim";
/// The seed when `SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x00b1_ac5c;

/// The seed of this run: `SEED` from the environment (decimal or `0x…`),
/// else `default`.
#[must_use]
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|text| {
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => text.parse().ok(),
            }
        })
        .unwrap_or(default)
}

/// Prints the seed and how to replay it if the scenario panics.
#[derive(Debug)]
pub struct SeedGuard {
    pub seed: u64,
    pub scenario: &'static str,
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n*** chaos scenario `{}` failed with seed {}; replay: SEED={} cargo test -p blacksky-sim {}\n",
                self.scenario, self.seed, self.seed, self.scenario
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One line of the run's trace: simulated time and what happened.
pub type TraceLine = (Duration, String);

/// Appends to the trace, stamped with the simulation's time.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Vec<TraceLine>>>,
}

impl Trace {
    pub fn record(&self, what: String) {
        let at = turmoil::sim_elapsed().unwrap_or_default();
        lock(&self.lines).push((at, what));
    }

    fn record_at(&self, at: Duration, what: String) {
        lock(&self.lines).push((at, what));
    }

    #[must_use]
    pub fn lines(&self) -> Vec<TraceLine> {
        lock(&self.lines).clone()
    }
}

/// Records every inbox entry handed to the handler, to check "never twice".
#[derive(Debug, Clone, Default)]
struct RecordingHandler {
    handled: Arc<Mutex<Vec<String>>>,
    trace: Trace,
}

impl InboxHandler for RecordingHandler {
    fn handle(&mut self, entry: &InboxRecord) -> Vec<OutboxEntry> {
        lock(&self.handled).push(entry.id.clone());
        self.trace.record(format!("bot: handled {}", entry.id));
        Vec::new()
    }
}

fn plant_broken_ack(client: &mut ClientConfig) {
    client.broken_ack_before_store = true;
}

/// The bot's random seed for its `start`-th start, from the world's seed.
fn start_seed(world: u64, start: u32) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&world.to_le_bytes());
    seed[8..12].copy_from_slice(&start.to_le_bytes());
    seed[12..20].copy_from_slice(b"sim-bot\0");
    seed
}

/// Everything the bot host needs; cloned into each (re)start.
#[derive(Clone)]
struct Bot {
    config: Config,
    db: Arc<MemoryDb>,
    clock: SimClock,
    board: Arc<Mutex<Option<StatusBoard>>>,
    handler: RecordingHandler,
    starts: Arc<AtomicU32>,
    /// The current start's SIGTERM switch (`None` while no start runs).
    sigterm: Arc<Mutex<Option<watch::Sender<bool>>>>,
    /// Each finished start's exit code, with the simulated time it exited.
    exits: Arc<Mutex<Vec<(Duration, i32)>>>,
    trace: Trace,
    seed: u64,
    broken_ack_before_store: bool,
}

impl Bot {
    /// What `runner::run_with` does, on the simulation's store and clocks,
    /// without the HTTP services.
    async fn run(self) {
        let start = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        self.trace.record(format!("bot: start #{start}"));
        let mut keys = backup::keyring(None);
        let mut delay = Duration::from_millis(500);
        let (store, prepared) = loop {
            let mut store = MemoryStore::new(self.db.clone(), SESSION);
            match backup::prepare(&mut store, None, &mut keys).await {
                Ok(prepared) => break (store, prepared),
                Err(err) => {
                    tracing::warn!("sim bot: store not ready: {err}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        // One KDF round: snapshot sealing is not what is under test.
        let sealer = Sealer::new(SESSION, None, 1);
        let mut worker = StoreWorker::spawn(
            store,
            (prepared.creds, prepared.login_confirmed),
            sealer,
            Box::new(self.handler.clone()),
            worker_config(&self.config),
            StoreHealth::new(),
        );
        let board = StatusBoard::new(self.clock.now(), self.clock.wall());
        if let Some(me) = &worker.durable_creds().0.me {
            board.set_jid(&me.jid);
        }
        *lock(&self.board) = Some(board.clone());
        let mut services = Services {
            board,
            code_requests: None,
            shed: ShedHooks::new(),
            pairing_page_on: false,
            // Each start draws its own randomness, all from the world's seed.
            seed: start_seed(self.seed, start),
            tune_client: self
                .broken_ack_before_store
                .then_some(plant_broken_ack as fn(&mut ClientConfig)),
        };
        // SIGTERM: the scenario flips this (`World::sigterm_bot`).
        let (stop, mut shutdown) = watch::channel(false);
        *lock(&self.sigterm) = Some(stop);
        let finished = supervise(
            &self.config,
            TurmoilDialer::default(),
            self.clock.clone(),
            &mut worker,
            &mut shutdown,
            &mut services,
        )
        .await;
        self.trace
            .record(format!("bot: supervise ended with {}", finished.exit_code));
        worker.stop().await;
        // The process exits here (`runner::run_with` returns the code).
        *lock(&self.sigterm) = None;
        let at = turmoil::sim_elapsed().unwrap_or_default();
        lock(&self.exits).push((at, finished.exit_code));
        self.trace
            .record_at(at, format!("bot: exit {}", finished.exit_code));
    }
}

/// How a world is built.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: u64,
    /// turmoil's step: the resolution of simulated time.
    pub tick: Duration,
    /// The bot's reconnect backoff bounds.
    pub reconnect_base_ms: u64,
    pub reconnect_max_ms: u64,
    /// Plants the deliberately broken policy (ack before store), to show
    /// the invariants catch it.
    pub broken_ack_before_store: bool,
}

impl WorldConfig {
    #[must_use]
    pub fn new(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            tick: Duration::from_millis(1),
            reconnect_base_ms: 1_000,
            reconnect_max_ms: 30_000,
            broken_ack_before_store: false,
        }
    }
}

/// A simulated world. See the module docs.
pub struct World {
    pub sim: turmoil::Sim<'static>,
    pub seed: u64,
    pub clock: SimClock,
    pub server: ServerShell,
    pub db: Arc<MemoryDb>,
    pub trace: Trace,
    board: Arc<Mutex<Option<StatusBoard>>>,
    handled: Arc<Mutex<Vec<String>>>,
    starts: Arc<AtomicU32>,
    sigterm: Arc<Mutex<Option<watch::Sender<bool>>>>,
    exits: Arc<Mutex<Vec<(Duration, i32)>>>,
    last_state: String,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.seed)
            .field("elapsed", &self.sim.elapsed())
            .finish_non_exhaustive()
    }
}

impl World {
    /// Builds the hosts; nothing runs until the first step.
    #[must_use]
    pub fn new(config: &WorldConfig) -> World {
        let seed = config.seed;
        let clock = SimClock::new();
        let trace = Trace::default();
        let mut sim = turmoil::Builder::new()
            .rng_seed(seed)
            .tick_duration(config.tick)
            .simulation_duration(Duration::from_secs(7 * 24 * 3600))
            .epoch(SystemTime::UNIX_EPOCH + Duration::from_millis(SIM_EPOCH.0))
            .build();

        let server = FakeServer::new(ServerConfig::new(SIM_EPOCH), seed);
        let root = server.root_public_key();
        let wall_clock = clock.clone();
        let server = ServerShell::with_wall(server, Arc::new(move || wall_clock.wall()));
        let observed = trace.clone();
        server.set_observer(Arc::new(move |event| {
            observed.record(format!(
                "wa: {}",
                serde_json::to_string(event).unwrap_or_default()
            ));
        }));
        let shell = server.clone();
        sim.host("wa", move || {
            let shell = shell.clone();
            async move {
                let listener =
                    turmoil::net::TcpListener::bind((IpAddr::from(Ipv4Addr::UNSPECIFIED), WA_PORT))
                        .await?;
                tokio::spawn(shell.clone().run_timers());
                loop {
                    let (stream, peer) = listener.accept().await?;
                    tokio::spawn(shell.clone().serve_socket(stream, peer));
                }
            }
        });

        let db = MemoryDb::new();
        let board = Arc::new(Mutex::new(None));
        let handled = Arc::new(Mutex::new(Vec::new()));
        let starts = Arc::new(AtomicU32::new(0));
        let sigterm = Arc::new(Mutex::new(None));
        let exits = Arc::new(Mutex::new(Vec::new()));
        let mut bot_config = match Config::from_env(&std::collections::HashMap::new()) {
            Ok(c) => c,
            Err(err) => panic!("the default config is valid: {err}"),
        };
        bot_config.ws_url = format!("ws://wa:{WA_PORT}/ws/chat");
        bot_config.root_pubkey = root;
        bot_config.session_id = SESSION.to_owned();
        bot_config.health_check = false;
        bot_config.heroku_app_url = None;
        bot_config.memory_optimization = false;
        bot_config.memory_limit_mb = None;
        bot_config.reconnect_base_ms = config.reconnect_base_ms;
        bot_config.reconnect_max_ms = config.reconnect_max_ms;
        let bot = Bot {
            config: bot_config,
            db: db.clone(),
            clock: clock.clone(),
            board: board.clone(),
            handler: RecordingHandler {
                handled: handled.clone(),
                trace: trace.clone(),
            },
            starts: starts.clone(),
            sigterm: sigterm.clone(),
            exits: exits.clone(),
            seed,
            broken_ack_before_store: config.broken_ack_before_store,
            trace: trace.clone(),
        };
        sim.host("bot", move || {
            let bot = bot.clone();
            async move {
                bot.run().await;
                Ok(())
            }
        });

        World {
            sim,
            seed,
            clock,
            server,
            db,
            trace,
            board,
            handled,
            starts,
            sigterm,
            exits,
            last_state: String::new(),
        }
    }

    /// Simulated time since the start.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// One turmoil step; notes the bot's state changes in the trace.
    pub fn step(&mut self) {
        if let Err(err) = self.sim.step() {
            panic!("seed {}: the simulation failed: {err}", self.seed);
        }
        let state = self.bot_state().to_owned();
        if state != self.last_state {
            self.trace
                .record_at(self.sim.elapsed(), format!("bot: state {state}"));
            self.last_state = state;
        }
    }

    /// Steps until `done` holds, at most `limit` of simulated time; returns
    /// how long it took, or panics naming `what` and the seed.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&World) -> bool,
    ) -> Duration {
        let start = self.elapsed();
        while !done(self) {
            if self.elapsed() - start > limit {
                panic!(
                    "seed {}: not {what} within {limit:?} (at {:?}); bot state {:?}; server: {:?}",
                    self.seed,
                    self.elapsed(),
                    self.bot_state(),
                    self.server_state().connections
                );
            }
            self.step();
        }
        self.elapsed() - start
    }

    /// Steps for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        let end = self.elapsed() + span;
        while self.elapsed() < end {
            self.step();
        }
    }

    /// The bot's current status board (a new one each start).
    #[must_use]
    pub fn board(&self) -> Option<StatusBoard> {
        lock(&self.board).clone()
    }

    /// The bot's state word (`starting`, `online`, …; `down` before a start).
    #[must_use]
    pub fn bot_state(&self) -> &'static str {
        self.board().map_or("down", |b| b.state_word())
    }

    #[must_use]
    pub fn bot_online(&self) -> bool {
        self.board().is_some_and(|b| b.is_online())
    }

    /// The reason of the bot's last disconnect, as /status shows it
    /// (e.g. `428 keepalive timeout`).
    #[must_use]
    pub fn bot_last_disconnect(&self) -> Option<String> {
        let board = self.board()?;
        let wall = self.clock.wall_at(self.elapsed());
        let now = tokio::time::Instant::now().into_std();
        board.status(now, wall).last_disconnect.map(|d| d.reason)
    }

    /// How many times the bot host has started.
    #[must_use]
    pub fn bot_starts(&self) -> u32 {
        self.starts.load(Ordering::SeqCst)
    }

    /// The QR text the bot shows now, if it shows one.
    #[must_use]
    pub fn bot_qr(&self) -> Option<String> {
        let wall = self.clock.wall_at(self.elapsed());
        self.board()?.pairing(wall).qr_text
    }

    #[must_use]
    pub fn server_state(&self) -> ServerState {
        self.server.with_server(|s| s.state())
    }

    /// Crashes the bot and starts it again (a dyno restart without
    /// SIGTERM: whatever was not committed is gone).
    pub fn bounce_bot(&mut self) {
        self.trace
            .record_at(self.elapsed(), "chaos: bounce bot".to_owned());
        *lock(&self.board) = None;
        self.sim.bounce("bot");
    }

    /// Sends the running bot SIGTERM (what a dyno cycle starts with): its
    /// `supervise` loop drains, flushes, snapshots, closes and returns; the
    /// host's process then exits, with its code in [`World::bot_exits`].
    /// Returns false if no start of the bot is running.
    pub fn sigterm_bot(&mut self) -> bool {
        self.trace
            .record_at(self.elapsed(), "chaos: SIGTERM bot".to_owned());
        lock(&self.sigterm)
            .as_ref()
            .is_some_and(|stop| stop.send(true).is_ok())
    }

    /// The exit code of every start of the bot that has exited, in order,
    /// with the simulated time of the exit.
    #[must_use]
    pub fn bot_exits(&self) -> Vec<(Duration, i32)> {
        lock(&self.exits).clone()
    }

    /// The mock phone links the bot: waits for a QR, scans it, and runs
    /// until the bot is online; returns the time from scan to online.
    pub fn link_by_qr(&mut self, bound: Duration) -> Duration {
        self.run_until("showing a QR", Duration::from_secs(30), |w| {
            w.bot_qr().is_some()
        });
        let Some(qr) = self.bot_qr() else {
            unreachable!("run_until returned with a QR shown")
        };
        if let Err(err) = self.server.with_server(|s| s.scan_qr(&qr)) {
            panic!("seed {}: the phone refused the QR: {err}", self.seed);
        }
        self.run_until("online after linking", bound, World::bot_online)
    }

    /// A mock contact sends `count` messages; returns their ids.
    pub fn send_messages(&mut self, from_phone: &str, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                match self
                    .server
                    .with_server(|s| s.send_message(from_phone, format!("hello {i}").as_bytes()))
                {
                    Ok(id) => id,
                    Err(err) => panic!("seed {}: the contact cannot send: {err}", self.seed),
                }
            })
            .collect()
    }

    /// Cuts the network between the bot and WhatsApp. The server's open
    /// connections are marked cut off too (`set_silent`): the server cannot
    /// hear them any more, so when the bot logs in again after the repair
    /// the old one does not count as a second live connection (the real
    /// server would have timed it out by then).
    pub fn partition_bot(&mut self) {
        self.trace
            .record_at(self.elapsed(), "chaos: partition bot-wa".to_owned());
        self.sim.partition("bot", "wa");
        self.server.with_server(|s| {
            for conn in s.connections() {
                let _ = s.set_silent(conn, true);
            }
        });
    }

    /// Repairs the network between the bot and WhatsApp.
    pub fn repair_bot(&mut self) {
        self.trace
            .record_at(self.elapsed(), "chaos: repair bot-wa".to_owned());
        self.sim.repair("bot", "wa");
    }

    /// The durable creds, if any.
    #[must_use]
    pub fn stored_creds(&self) -> Option<Creds> {
        let mut store = MemoryStore::new(self.db.clone(), SESSION);
        store
            .load_creds()
            .now_or_never()
            .and_then(Result::ok)
            .flatten()
            .map(|live| live.creds)
    }

    /// The durable inbox, oldest first.
    #[must_use]
    pub fn stored_inbox(&self) -> Vec<InboxRecord> {
        let mut store = MemoryStore::new(self.db.clone(), SESSION);
        match store.inbox().now_or_never() {
            Some(Ok(inbox)) => inbox,
            other => panic!(
                "seed {}: the memory store did not answer: {other:?}",
                self.seed
            ),
        }
    }

    /// Ids the bot's handler was given, in order.
    #[must_use]
    pub fn handled(&self) -> Vec<String> {
        lock(&self.handled).clone()
    }

    /// The invariants that hold at every moment; returns the violations.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        let state = self.server_state();
        let stored: BTreeSet<String> = self.stored_inbox().into_iter().map(|e| e.id).collect();
        for message in state.messages.list.iter().filter(|m| m.acked) {
            if !stored.contains(&message.id) {
                found.push(format!(
                    "message lost: {} was acked to the server but is not in the durable inbox",
                    message.id
                ));
            }
        }
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for id in self.handled() {
            *seen.entry(id).or_default() += 1;
        }
        for (id, times) in seen.iter().filter(|(_, n)| **n > 1) {
            found.push(format!("message {id} handed to the handler {times} times"));
        }
        if state.max_live_connections_per_device > 1 {
            found.push(format!(
                "two live connections for one device at the server (max {}, {} replaced)",
                state.max_live_connections_per_device, state.replaced_connections
            ));
        }
        found
    }

    /// Panics with every violation and the seed, if any.
    pub fn assert_invariants(&self) {
        let found = self.violations();
        assert!(
            found.is_empty(),
            "seed {}: invariants broken at {:?}:\n  {}",
            self.seed,
            self.elapsed(),
            found.join("\n  ")
        );
    }
}
