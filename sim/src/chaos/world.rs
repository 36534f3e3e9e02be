//! A simulated world from a seed: host `wa` (the fake server over
//! turmoil's TCP), host `db` (the store, see [`super::db`]) and one or
//! more bot hosts (`bot`, and `bot-2`… when dynos overlap), each running
//! the production start, loop and shutdown (`runner::run_with`) over
//! [`TurmoilDialer`], [`NetStore`] and its own [`SimClock`]. A bot host has
//! no disk: everything it keeps is in `db`, so a crash or a dyno cycle
//! starts from what `db` holds.
//!
//! The scenario steps the simulation itself and holds handles to the
//! server, the store and the bots' status boards, to act as the phone,
//! the contacts and the host platform, and to check the invariants
//! ([`super::invariants`]) as it goes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use blacksky_core::client::ClientConfig;
use blacksky_core::message::{Content, Incoming, Kind};
use blacksky_core::session::{Creds, InboxContent, OutboxEntry};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{Jid, Str};
use blacksky_io::host::clock::{Clock, SharedClock};
use blacksky_io::host::config::{CodeDisplay, Config, UrlSetting};
use blacksky_io::host::memory::RssSampler;
use blacksky_io::host::status::StatusBoard;
use blacksky_io::session::client_version::Lookup;
use blacksky_io::session::runner::run_with;
use blacksky_io::session::settings::worker_config;
use blacksky_io::session::setup::{RunHooks, RunSetup};
use blacksky_io::session::supervise::Finished;
use blacksky_io::session::worker::{InboxHandler, StoreHealth};
use blacksky_io::store::{AnyStore, InboxRecord, MemoryDb, Store, StoreError};
use blacksky_proto::{Message as _, wa};
use tokio::sync::watch;

use super::clock::{SIM_EPOCH, SimClock};
use super::db::{DB_HOST, DbLink, NetStore};
use super::dial::{OpenSockets, TurmoilDialer};
use super::invariants::{BackoffWatch, SessionWatch, TakeoverWatch, Violations};
use super::rows::{Rows, SqliteRows};
use super::sockets::HostSockets;
use crate::net::{Peers, ServerShell};
use crate::server::{FakeServer, ReceiptKind, ServerConfig, ServerEvent, ServerState, Target};

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
    /// The time of the last step, for lines recorded outside any host
    /// (the scenario acting on the server between steps).
    between_steps: Arc<Mutex<Duration>>,
}

impl Trace {
    pub fn record(&self, what: String) {
        let at = turmoil::sim_elapsed().unwrap_or_else(|| *lock(&self.between_steps));
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

/// The text the harness's handler answers inbox message `id` with.
#[must_use]
pub fn pong_text(id: &str) -> String {
    format!("pong {id}")
}

/// The groups the world's contacts write in, kept by fake-wa with the
/// bot as a member (a writer joins before its first message there), so
/// the bot's answers go to every member: their sender key, the skmsg, and
/// fake-wa's check that each member at the time reads it.
pub const CHAOS_GROUPS: [&str; 3] = [
    "120363000000900000",
    "120363000000900001",
    "120363000000900002",
];
/// Whether the harness answers in the groups too: `SIM_GROUP_REPLIES=1`
/// or `0` when set, else what the scenario chose ([`answer_in_groups`]).
/// The sweep, the regressions and the week answer in groups: two
/// overlapping processes must not use one sender key iteration twice
/// (seed 62), and a burst of group answers while the server writes must
/// not leave both sides waiting in a write (the week's seed 11643996).
#[must_use]
pub fn group_replies() -> bool {
    match std::env::var("SIM_GROUP_REPLIES").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => GROUP_REPLIES.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// The scenario's choice of group answers (off unless chosen).
static GROUP_REPLIES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes the harness answer in the chaos groups (a test binary's choice,
/// made before its worlds start).
pub fn answer_in_groups(on: bool) {
    GROUP_REPLIES.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Who made the chaos groups (an admin who adds the writers).
pub const CHAOS_GROUP_CREATOR: &str = "4915559999999";

/// The answer an inbox row gets from the harness's handler: a text from a
/// contact gets one pong, 1:1 or in its group; protocol messages and
/// unreadable rows get none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The chat: the contact without a device (`number@s.whatsapp.net` or
    /// `id@lid`), or the group.
    pub to: String,
    /// The writer's phone number, whose devices read the pong.
    pub phone: String,
    pub text: String,
}

impl Pong {
    /// True for an answer in a group (read by every member).
    #[must_use]
    pub fn in_group(&self) -> bool {
        self.to.ends_with("@g.us")
    }
}

impl Pong {
    /// The pong `entry` gets, if any.
    #[must_use]
    pub fn of(entry: &InboxRecord) -> Option<Pong> {
        let InboxContent::Message(bytes) = &entry.content else {
            return None;
        };
        let incoming = Incoming::read(&entry.stanza, bytes).ok()?;
        if incoming.from_me || !matches!(incoming.content.kind, Kind::Text(_)) {
            return None;
        }
        let from = Jid::parse(&entry.from)?;
        let phone = match from.server() {
            "s.whatsapp.net" => from.user().to_owned(),
            // A contact writing from its LID names its number (`sender_pn`).
            "lid" => incoming.sender.pn.as_ref()?.user().to_owned(),
            "g.us" if group_replies() && CHAOS_GROUPS.contains(&from.user()) => {
                incoming.sender.pn.as_ref()?.user().to_owned()
            }
            _ => return None,
        };
        Some(Pong {
            to: Jid::new(Str::copy_from(from.user()), Str::copy_from(from.server())).to_string(),
            phone,
            text: pong_text(&entry.id),
        })
    }

    /// As the handler hands it to the worker.
    fn entry(&self) -> OutboxEntry {
        OutboxEntry {
            to: self.to.clone(),
            payload: wa::Message {
                conversation: Some(self.text.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
        }
    }
}

/// Records every inbox entry handed to the handler, and reports a hand-over
/// of an entry whose handling was already committed (promise 2). Answers
/// each 1:1 text with one [`Pong`].
#[derive(Debug, Clone)]
struct RecordingHandler {
    handled: Arc<Mutex<Vec<String>>>,
    /// Answer 1:1 texts with pongs (see [`World::answer_texts`]).
    answering: Arc<AtomicBool>,
    db: Rows,
    violations: Violations,
    trace: Trace,
    host: String,
}

impl InboxHandler for RecordingHandler {
    fn handle(&mut self, entry: &InboxRecord, _at: UnixMillis) -> Vec<OutboxEntry> {
        if self.db.inbox_entry(SESSION, &entry.id) == Some(true) {
            self.violations.report(format!(
                "message {} handed to the handler on {} after its handling was committed",
                entry.id, self.host
            ));
        }
        lock(&self.handled).push(entry.id.clone());
        self.trace
            .record(format!("{}: handled {}", self.host, entry.id));
        if !self.answering.load(Ordering::Relaxed) {
            return Vec::new();
        }
        Pong::of(entry)
            .map(|pong| pong.entry())
            .into_iter()
            .collect()
    }
}

/// What the scenario sees of a start: its status board, and the end of
/// its keeper's loop in the trace.
struct BotHooks {
    name: String,
    board: Arc<Mutex<Option<StatusBoard>>>,
    trace: Trace,
}

impl RunHooks for BotHooks {
    fn board_ready(&mut self, board: &StatusBoard) {
        *lock(&self.board) = Some(board.clone());
    }

    fn loop_ended(&mut self, finished: &Finished) {
        self.trace.record(format!(
            "{}: supervise ended with {}",
            self.name, finished.exit_code
        ));
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

/// The RSS the bot reports while no memory pressure is injected.
pub const CALM_RSS_BYTES: u64 = 12 * 1024 * 1024;
/// The bot's `MEMORY_LIMIT_MB` in the simulation.
pub const MEMORY_LIMIT_MB: u64 = 64;

/// One bot host (a dyno): what the scenario sees of it.
#[derive(Clone)]
struct BotHandles {
    name: String,
    board: Arc<Mutex<Option<StatusBoard>>>,
    /// The current start's SIGTERM switch (`None` while no start runs).
    sigterm: Arc<Mutex<Option<watch::Sender<bool>>>>,
    /// Whether a start of this host is running.
    running: Arc<Mutex<bool>>,
}

/// Everything a bot host needs; cloned into each (re)start.
#[derive(Clone)]
struct Bot {
    handles: BotHandles,
    config: Config,
    db: Rows,
    link: DbLink,
    clock: SimClock,
    rss: Arc<AtomicU64>,
    open: OpenSockets,
    handler: RecordingHandler,
    starts: Arc<AtomicU32>,
    /// The starts whose process runs now.
    running_starts: Arc<Mutex<BTreeSet<u32>>>,
    exits: Arc<Mutex<Vec<(Duration, String, i32)>>>,
    trace: Trace,
    seed: u64,
    broken_ack_before_store: bool,
}

impl Bot {
    /// One start of the process: the production `runner::run_with` on the
    /// simulation's store, network, clocks and seeds.
    async fn run(self) {
        let name = &self.handles.name;
        let start = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        *lock(&self.handles.running) = true;
        lock(&self.running_starts).insert(start);
        let _running = RunningStart {
            starts: self.running_starts.clone(),
            start,
        };
        self.trace.record(format!("{name}: start #{start}"));
        // SIGTERM: the scenario flips this (`World::sigterm_bot`). Set up
        // first, so a SIGTERM while the store is still awaited is heard.
        let (stop, shutdown) = watch::channel(false);
        *lock(&self.handles.sigterm) = Some(stop);
        let (db, link) = (self.db.clone(), self.link.clone());
        let mut worker = worker_config(&self.config);
        worker.owner = format!("{name}#{start}");
        let rss = self.rss.clone();
        let setup = RunSetup {
            open_store: move |_: &Config| {
                let store = NetStore::new(db.clone(), SESSION, link.clone());
                async move { Ok::<_, StoreError>(store) }
            },
            dialer: TurmoilDialer::new(self.open.clone(), self.link.sockets(), start),
            clock: self.clock.clone(),
            inbox_handler: RecordingHandler {
                host: name.clone(),
                ..self.handler.clone()
            },
            proactive: None,
            store_health: StoreHealth::new(),
            worker,
            // One KDF round: snapshot sealing is not what is under test.
            sealer_kdf_iterations: 1,
            // Each start draws its own randomness, all from the world's seed.
            prepare_seed: start_seed(self.seed ^ 0x6b65_7973, start),
            loop_seed: start_seed(self.seed, start),
            rss: RssSampler(Arc::new(move || Some(rss.load(Ordering::SeqCst)))),
            console: CodeDisplay::PageOnly,
            tune_client: self
                .broken_ack_before_store
                .then_some(plant_broken_ack as fn(&mut ClientConfig)),
            hooks: Box::new(BotHooks {
                name: name.clone(),
                board: self.handles.board.clone(),
                trace: self.trace.clone(),
            }),
            // turmoil's network is not the host's: a 405 backs off.
            version_lookup: Lookup::Off,
        };
        let code = match run_with(&self.config, shutdown, setup).await {
            Ok(code) => code,
            Err(err) => {
                self.trace.record(format!("{name}: run failed: {err:#}"));
                1
            }
        };
        self.exited(code);
    }

    /// The process exits here (`runner::run_with` returns the code).
    fn exited(&self, code: i32) {
        let name = &self.handles.name;
        *lock(&self.handles.sigterm) = None;
        *lock(&self.handles.running) = false;
        let at = turmoil::sim_elapsed().unwrap_or_default();
        lock(&self.exits).push((at, name.clone(), code));
        self.trace.record_at(at, format!("{name}: exit {code}"));
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
    /// How long `db` holds a request before committing it.
    pub db_latency_ms: u64,
    /// Plants the deliberately broken policy (ack before store), to show
    /// the invariants catch it.
    pub broken_ack_before_store: bool,
    /// `RESTART_AT` / `RESTART_SPREAD_MINUTES` of every bot (the keeper's
    /// own daily cycle; off by default).
    pub daily_restart: Option<blacksky_core::keeper::DailyRestart>,
    /// Where the `db` host keeps its rows.
    pub store: SimStore,
}

/// The store behind the simulated database host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimStore {
    /// The memory store (fast; most seeds).
    Memory,
    /// The real SQLite store, a file per world (the SQL itself under chaos).
    Sqlite,
}

impl WorldConfig {
    #[must_use]
    pub fn new(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            tick: Duration::from_millis(1),
            reconnect_base_ms: 1_000,
            reconnect_max_ms: 30_000,
            db_latency_ms: 2,
            broken_ack_before_store: false,
            daily_restart: None,
            store: SimStore::Memory,
        }
    }
}

/// How long a dyno gets between SIGTERM and SIGKILL (Heroku's 30 s).
pub const KILL_AFTER: Duration = Duration::from_secs(30);

/// A simulated world. See the module docs.
pub struct World {
    pub sim: turmoil::Sim<'static>,
    pub seed: u64,
    /// The bots' clock (its wall clock can be made to jump).
    pub clock: SimClock,
    pub server: ServerShell,
    pub db: Rows,
    pub db_link: DbLink,
    pub trace: Trace,
    pub violations: Violations,
    config: WorldConfig,
    /// The template every bot host is built from.
    bot: Bot,
    /// Every bot host ever started; the last one is the current dyno.
    hosts: Vec<BotHandles>,
    handled: Arc<Mutex<Vec<String>>>,
    starts: Arc<AtomicU32>,
    exits: Arc<Mutex<Vec<(Duration, String, i32)>>>,
    rss: Arc<AtomicU64>,
    session_watch: SessionWatch,
    backoff_watch: BackoffWatch,
    takeovers: TakeoverWatch,
    running_starts: Arc<Mutex<BTreeSet<u32>>>,
    /// What keeps the current bot from acting now: `wa` and `db`
    /// partitions, a failing or slow database.
    cut_off: BTreeSet<&'static str>,
    next_session_check: Duration,
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

/// Watches the server's events for promises 1 and 3.
fn observe_server(
    trace: Trace,
    violations: Violations,
    db: Rows,
    open: OpenSockets,
    takeovers: TakeoverWatch,
) -> impl Fn(&ServerEvent, &Peers) + Send + Sync + 'static {
    move |event, peers| {
        trace.record(format!(
            "wa: {}",
            serde_json::to_string(event).unwrap_or_default()
        ));
        // The start holding a connection's socket; a socket no process
        // holds (a crash, or one the bot gave up on) is not live.
        let holder = |conn| peers.get(conn).and_then(|peer| open.holder(peer));
        match event {
            ServerEvent::MessageAcked { id, .. } if db.inbox_entry(SESSION, id).is_none() => {
                violations.report(format!(
                    "message lost: {id} was acked to the server but is not in the durable inbox"
                ));
            }
            ServerEvent::Replaced { old, new } => {
                if let (Some(from), Some(by)) = (holder(old), holder(new)) {
                    let at = turmoil::sim_elapsed().unwrap_or_default();
                    if let Some(broken) = takeovers.on_takeover(from, by, at) {
                        violations.report(broken);
                    }
                }
            }
            ServerEvent::LoggedIn { conn, .. } => {
                takeovers.on_login(peers.get(conn).map(|peer| peer.to_string()));
            }
            // Promise 6: nothing here tampers with a message, so a message
            // the bot cannot open means its own keys went missing or back.
            ServerEvent::Receipt {
                id,
                kind: ReceiptKind::Retry,
                ..
            } => {
                violations.report(format!(
                    "decryption failed: the bot asked for {id} again (a retry receipt); its \
                     Signal state was lost or went backwards"
                ));
            }
            ServerEvent::PreKeyIdsReused {
                count, first, last, ..
            } => {
                violations.report(format!(
                    "{count} pre-key ids ({first}..={last}) were uploaded again with other keys"
                ));
            }
            // What a real server or contact would hold against what the
            // bot sent (details in `FakeServer::violations` at the end).
            ServerEvent::Violation { id, kind, .. } => {
                violations.report(format!("fake-wa: {kind} on the bot's message {id}"));
            }
            ServerEvent::LoginRefused { .. } => {
                takeovers.on_login_refused(turmoil::sim_elapsed().unwrap_or_default());
            }
            ServerEvent::Closed { conn } => {
                takeovers.on_closed(peers.get(conn).map(|peer| peer.as_str()));
            }
            _ => {}
        }
    }
}

/// Removes a start from the running set when its process ends, however it
/// ends (an exit, or a crash that drops it mid-await).
struct RunningStart {
    starts: Arc<Mutex<BTreeSet<u32>>>,
    start: u32,
}

impl Drop for RunningStart {
    fn drop(&mut self) {
        lock(&self.starts).remove(&self.start);
    }
}

impl World {
    /// Builds the hosts; nothing runs until the first step.
    #[must_use]
    pub fn new(config: &WorldConfig) -> World {
        let seed = config.seed;
        let clock = SimClock::new();
        let trace = Trace::default();
        let violations = Violations::default();
        let mut sim = turmoil::Builder::new()
            .rng_seed(seed)
            .tick_duration(config.tick)
            .simulation_duration(Duration::from_secs(8 * 24 * 3600))
            .epoch(SystemTime::UNIX_EPOCH + Duration::from_millis(SIM_EPOCH.0))
            .build();

        trace.record(format!("db: {:?} store", config.store));
        let db = match config.store {
            SimStore::Memory => {
                let db = MemoryDb::new();
                // The database's clock is its own: a bot's clock jump does
                // not move it.
                db.set_clock(SharedClock(Arc::new(SimClock::new())));
                Rows::Memory(db)
            }
            // Its clock is the `db` host's, set per call (see `rows`).
            SimStore::Sqlite => match SqliteRows::open(SESSION) {
                Ok(rows) => Rows::Sqlite(rows),
                Err(err) => panic!("seed {seed}: the SQLite store did not open: {err}"),
            },
        };
        let open = OpenSockets::default();
        let mut server = FakeServer::new(ServerConfig::new(SIM_EPOCH), seed);
        for id in CHAOS_GROUPS {
            let group = crate::server::NewGroup {
                id: Some(id.to_owned()),
                subject: "Chaos".to_owned(),
                creator: CHAOS_GROUP_CREATOR.to_owned(),
                admins: Vec::new(),
                members: Vec::new(),
                bot: Some(crate::server::Rank::Member),
                addressing: crate::server::GroupAddressing::Pn,
            };
            if let Err(err) = server.create_group(&group) {
                panic!("seed {seed}: the chaos groups: {err}");
            }
        }
        let root = server.root_public_key();
        // The server's clock never jumps: only the bot host's NTP is off.
        let server_clock = SimClock::new();
        let server = ServerShell::with_wall(server, Arc::new(move || server_clock.wall()));
        let takeovers = TakeoverWatch::default();
        server.set_observer(Arc::new(observe_server(
            trace.clone(),
            violations.clone(),
            db.clone(),
            open.clone(),
            takeovers.clone(),
        )));
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

        let db_link = DbLink::new(config.db_latency_ms, HostSockets::default());
        let serving = db_link.clone();
        sim.host(DB_HOST, move || serving.clone().serve());

        let handled = Arc::new(Mutex::new(Vec::new()));
        // On unless turned off (`SIM_REPLIES=0`, or `answer_texts`): the
        // handler answers each 1:1 text, so every scenario sends too.
        let answering = Arc::new(AtomicBool::new(
            std::env::var("SIM_REPLIES").map_or(true, |v| v != "0"),
        ));
        let starts = Arc::new(AtomicU32::new(0));
        let running_starts = Arc::new(Mutex::new(BTreeSet::new()));
        let exits = Arc::new(Mutex::new(Vec::new()));
        let rss = Arc::new(AtomicU64::new(CALM_RSS_BYTES));
        let mut bot_config = match Config::from_env(&std::collections::HashMap::new()) {
            Ok(c) => c,
            Err(err) => panic!("the default config is valid: {err}"),
        };
        bot_config.ws_url = UrlSetting::new(format!("ws://wa:{WA_PORT}/ws/chat"));
        bot_config.root_pubkey = root;
        bot_config.session_id = SESSION.to_owned();
        bot_config.health_check = false;
        bot_config.heroku_app_url = None;
        bot_config.memory_optimization = true;
        bot_config.memory_limit_mb = Some(MEMORY_LIMIT_MB);
        bot_config.reconnect_base_ms = config.reconnect_base_ms;
        bot_config.reconnect_max_ms = config.reconnect_max_ms;
        bot_config.daily_restart = config.daily_restart;
        // Longer than any scenario (the week's 7 days and clock jumps): the
        // end-of-run checks look up every acked message's inbox row. The
        // worker's hourly prune rounds still run through the faults.
        bot_config.inbox_retention_days = 30;
        let bot = Bot {
            handles: BotHandles {
                name: String::new(),
                board: Arc::default(),
                sigterm: Arc::default(),
                running: Arc::default(),
            },
            config: bot_config,
            db: db.clone(),
            link: db_link.clone(),
            clock: clock.clone(),
            rss: rss.clone(),
            open,
            handler: RecordingHandler {
                handled: handled.clone(),
                answering,
                db: db.clone(),
                violations: violations.clone(),
                trace: trace.clone(),
                host: String::new(),
            },
            starts: starts.clone(),
            running_starts: running_starts.clone(),
            exits: exits.clone(),
            seed,
            broken_ack_before_store: config.broken_ack_before_store,
            trace: trace.clone(),
        };
        let mut world = World {
            sim,
            seed,
            clock,
            server,
            db,
            db_link,
            trace,
            violations,
            config: config.clone(),
            bot,
            hosts: Vec::new(),
            handled,
            starts,
            exits,
            rss,
            session_watch: SessionWatch::default(),
            backoff_watch: BackoffWatch::default(),
            takeovers,
            running_starts,
            cut_off: BTreeSet::new(),
            next_session_check: Duration::ZERO,
            last_state: String::new(),
        };
        world.add_bot_host("bot");
        world
    }

    /// Starts a new bot host (a new dyno) on the shared store; it becomes
    /// the current one.
    fn add_bot_host(&mut self, name: &str) {
        let mut bot = self.bot.clone();
        bot.handles = BotHandles {
            name: name.to_owned(),
            board: Arc::default(),
            sigterm: Arc::default(),
            running: Arc::default(),
        };
        self.hosts.push(bot.handles.clone());
        self.sim.host(name, move || {
            let bot = bot.clone();
            async move {
                bot.run().await;
                Ok(())
            }
        });
    }

    fn current(&self) -> &BotHandles {
        match self.hosts.last() {
            Some(host) => host,
            None => unreachable!("a world always has a bot host"),
        }
    }

    /// The current bot host's name.
    #[must_use]
    pub fn bot_host(&self) -> String {
        self.current().name.clone()
    }

    /// Simulated time since the start.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// One turmoil step; notes the bot's state changes in the trace and
    /// checks the promises that are checked by watching.
    pub fn step(&mut self) {
        if let Err(err) = self.sim.step() {
            panic!("seed {}: the simulation failed: {err}", self.seed);
        }
        let now = self.sim.elapsed();
        *lock(&self.trace.between_steps) = now;
        let state = self.bot_state().to_owned();
        if state != self.last_state {
            self.trace.record_at(now, format!("bot: state {state}"));
            self.last_state = state;
        }
        let record = self.board().and_then(|b| b.last_reconnect());
        if let Some(broken) =
            self.backoff_watch
                .check(record, self.config.reconnect_max_ms, self.config.tick * 2)
        {
            self.violations.report_at(now, broken);
        }
        let can_act = self.cut_off.is_empty()
            && !self.db.is_failing()
            && self.bot_running()
            && self.bot_state() != "shutting_down";
        let held = self
            .takeovers
            .session_peer()
            .and_then(|peer| self.bot.open.holder(&peer))
            .is_some_and(|start| lock(&self.running_starts).contains(&start));
        if let Some(broken) = self.takeovers.check(now, held, can_act) {
            self.violations.report_at(now, broken);
        }
        if now >= self.next_session_check {
            self.next_session_check = now + Duration::from_secs(1);
            let generation = self.db.newest_generation(SESSION);
            let creds = self.stored_creds();
            for broken in self.session_watch.check(generation, creds.as_ref()) {
                self.violations.report_at(now, broken);
            }
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
                    "seed {}: not {what} within {limit:?} (at {:?}); bot state {:?}; server: {:?}\nlast trace lines:\n  {}",
                    self.seed,
                    self.elapsed(),
                    self.bot_state(),
                    self.server_state().connections,
                    self.trace_tail(30).join("\n  ")
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

    /// The last `count` trace lines, for failure messages.
    #[must_use]
    pub fn trace_tail(&self, count: usize) -> Vec<String> {
        let lines = self.trace.lines();
        lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|(at, what)| format!("{at:?} {what}"))
            .collect()
    }

    /// The current bot's status board (a new one each start).
    #[must_use]
    pub fn board(&self) -> Option<StatusBoard> {
        lock(&self.current().board).clone()
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

    /// Whether a start of the current bot host is running.
    #[must_use]
    pub fn bot_running(&self) -> bool {
        *lock(&self.current().running)
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

    /// How many times any bot host has started.
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

    // ---- chaos: the host platform ----

    /// Crashes the current bot and starts it again (a dyno restart without
    /// SIGTERM: whatever was not committed is gone).
    pub fn bounce_bot(&mut self) {
        let host = self.current().clone();
        self.trace
            .record_at(self.elapsed(), format!("chaos: bounce {}", host.name));
        *lock(&host.board) = None;
        *lock(&host.running) = false;
        *lock(&host.sigterm) = None;
        self.crash_host(host.name.as_str());
    }

    /// Drops the software of host `name` and starts it again, its TCP
    /// streams closing in a fixed order.
    fn crash_host(&mut self, name: &str) {
        let ip = self.sim.lookup(name);
        let sim = &mut self.sim;
        self.db_link.sockets().crash_host(ip, || sim.bounce(name));
    }

    /// Sends the current bot SIGTERM (what a dyno cycle starts with): its
    /// `supervise` loop drains, flushes, snapshots, closes and returns; the
    /// host's process then exits, with its code in [`World::bot_exits`].
    /// Returns false if no start of the bot is running.
    pub fn sigterm_bot(&mut self) -> bool {
        let host = self.current().clone();
        self.sigterm_host(&host)
    }

    fn sigterm_host(&mut self, host: &BotHandles) -> bool {
        self.trace
            .record_at(self.elapsed(), format!("chaos: SIGTERM {}", host.name));
        lock(&host.sigterm)
            .as_ref()
            .is_some_and(|stop| stop.send(true).is_ok())
    }

    /// A dyno cycle as Heroku does it: SIGTERM, SIGKILL if the process is
    /// still there after 30 s, then a new process on a wiped disk. Returns
    /// the exit code (`None`: it had to be killed).
    pub fn dyno_cycle(&mut self) -> Option<i32> {
        let host = self.current().clone();
        let exits_before = self.exits_of(&host.name);
        let code = if self.sigterm_host(&host) {
            let deadline = self.elapsed() + KILL_AFTER;
            while self.exits_of(&host.name) == exits_before && self.elapsed() < deadline {
                self.step();
            }
            let exits = lock(&self.exits).clone();
            exits
                .iter()
                .filter(|(_, name, _)| *name == host.name)
                .nth(exits_before)
                .map(|(_, _, code)| *code)
        } else {
            None
        };
        if code.is_none() {
            self.trace.record_at(
                self.elapsed(),
                format!(
                    "chaos: SIGKILL {} (not gone within {KILL_AFTER:?})",
                    host.name
                ),
            );
        }
        self.bounce_bot();
        code
    }

    fn exits_of(&self, host: &str) -> usize {
        lock(&self.exits)
            .iter()
            .filter(|(_, h, _)| h == host)
            .count()
    }

    /// Restarts the current bot host if its process has exited (what the
    /// platform does with a dyno whose process ended). True if it did.
    pub fn restart_if_exited(&mut self) -> bool {
        if self.bot_running() || self.board().is_none() {
            return false;
        }
        self.bounce_bot();
        true
    }

    /// Two dynos at once: a new bot host starts on the same store while
    /// the old one keeps running. The new one becomes the current one; the
    /// old one is returned, to be SIGTERMed later with
    /// [`World::sigterm_host_named`].
    pub fn start_overlapping_bot(&mut self) -> String {
        let old = self.bot_host();
        let name = format!("bot-{}", self.hosts.len() + 1);
        self.trace.record_at(
            self.elapsed(),
            format!("chaos: overlap: {name} starts while {old} runs"),
        );
        self.add_bot_host(&name);
        // A new host: no partition of the old one's applies to it.
        self.cut_off.remove("wa");
        self.cut_off.remove("db");
        self.last_state = String::new();
        self.backoff_watch = BackoffWatch::default();
        old
    }

    /// SIGTERM to the bot host called `name`; false if it runs no start.
    pub fn sigterm_host_named(&mut self, name: &str) -> bool {
        let Some(host) = self.hosts.iter().find(|h| h.name == name).cloned() else {
            return false;
        };
        self.sigterm_host(&host)
    }

    /// Whether the bot host called `name` runs a start.
    #[must_use]
    pub fn host_running(&self, name: &str) -> bool {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .is_some_and(|h| *lock(&h.running))
    }

    /// The exit code of every start of every bot host that has exited, in
    /// order, with the simulated time of the exit.
    #[must_use]
    pub fn bot_exits(&self) -> Vec<(Duration, i32)> {
        lock(&self.exits)
            .iter()
            .map(|(at, _, code)| (*at, *code))
            .collect()
    }

    /// From now on the bots' wall clock reads `offset_ms` off.
    pub fn jump_bot_clock(&mut self, offset_ms: i64) {
        self.trace.record_at(
            self.elapsed(),
            format!("chaos: bot wall clock off by {offset_ms} ms"),
        );
        self.clock.set_jump_ms(offset_ms);
    }

    /// What the bots' memory samples read from now on.
    pub fn set_bot_rss(&mut self, bytes: u64) {
        self.trace.record_at(
            self.elapsed(),
            format!("chaos: bot RSS {} MiB", bytes / (1024 * 1024)),
        );
        self.rss.store(bytes, Ordering::SeqCst);
    }

    // ---- chaos: the network and the database ----

    /// Cuts the network between the current bot and WhatsApp. The server's
    /// open connections are marked cut off too (`set_silent`): nothing the
    /// server says reaches the bot, as on a real partition.
    pub fn partition_bot(&mut self) {
        let host = self.bot_host();
        self.trace
            .record_at(self.elapsed(), format!("chaos: partition {host}-wa"));
        self.sim.partition(host.as_str(), "wa");
        self.cut_off.insert("wa");
        self.server.with_server(|s| {
            for conn in s.connections() {
                let _ = s.set_silent(conn, true);
            }
        });
    }

    /// Repairs the network between the current bot and WhatsApp. The
    /// connections that were cut off are dead (bytes were lost both ways):
    /// the server drops them, as its own keepalive would.
    pub fn repair_bot(&mut self) {
        let host = self.bot_host();
        self.repair_wa_of(&host);
    }

    /// [`World::repair_bot`] for the bot host called `host`.
    pub fn repair_wa_of(&mut self, host: &str) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: repair {host}-wa"));
        self.sim.repair(host, "wa");
        if host == self.bot_host() {
            self.cut_off.remove("wa");
        }
        self.server.with_server(|s| {
            let state = s.state();
            for conn in state.connections.iter().filter(|c| c.silent) {
                s.drop_connections(Target::Conn(conn.id));
            }
        });
    }

    /// Holds back everything between the bot host `host` and WhatsApp
    /// (a congested or stalled path: nothing is lost, it arrives late, on
    /// [`World::release_wa_of`]).
    pub fn hold_wa_of(&mut self, host: &str) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: hold {host}-wa"));
        self.sim.hold(host, "wa");
    }

    /// Lets what [`World::hold_wa_of`] held back through.
    pub fn release_wa_of(&mut self, host: &str) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: release {host}-wa"));
        self.sim.release(host, "wa");
    }

    /// Cuts the network between the current bot and its database.
    pub fn partition_db(&mut self) {
        let host = self.bot_host();
        self.trace
            .record_at(self.elapsed(), format!("chaos: partition {host}-db"));
        self.sim.partition(host.as_str(), DB_HOST);
        self.cut_off.insert("db");
    }

    pub fn repair_db(&mut self) {
        let host = self.bot_host();
        self.trace
            .record_at(self.elapsed(), format!("chaos: repair {host}-db"));
        self.sim.repair(host.as_str(), DB_HOST);
        self.cut_off.remove("db");
    }

    /// The database server crashes (requests it holds are lost, committed
    /// rows stay) and is restarted at once.
    pub fn crash_db(&mut self) {
        self.trace
            .record_at(self.elapsed(), "chaos: crash db".to_owned());
        self.crash_host(DB_HOST);
    }

    /// While set, every store call fails (the database refuses work).
    pub fn set_db_failing(&mut self, failing: bool) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: db failing {failing}"));
        self.db.set_failing(failing);
    }

    pub fn set_db_latency_ms(&mut self, latency_ms: u64) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: db latency {latency_ms} ms"));
        self.db_link.set_latency_ms(latency_ms);
        if latency_ms > self.config.db_latency_ms {
            self.cut_off.insert("slow db");
        } else {
            self.cut_off.remove("slow db");
        }
    }

    // ---- chaos: WhatsApp ----

    /// The server ends every connection with `<stream:error code=…/>`.
    pub fn stream_error(&mut self, code: u16) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: stream error {code}"));
        if matches!(code, 401 | 403 | 440) {
            // Someone outside the store has the session now, or the phone
            // removed the device: a person's call, not the bot's.
            self.takeovers.taken_from_outside();
        }
        self.server.with_server(|s| s.kick(Target::AllLive, code));
    }

    /// The server drops every connection without a word.
    pub fn drop_connections(&mut self) {
        self.trace
            .record_at(self.elapsed(), "chaos: drop connections".to_owned());
        self.server
            .with_server(|s| s.drop_connections(Target::AllLive));
    }

    /// New contacts used the device's one-time pre-keys until `left` remain.
    pub fn use_pre_keys(&mut self, left: u32) {
        self.trace
            .record_at(self.elapsed(), format!("chaos: pre-keys used, {left} left"));
        self.server.with_server(|s| s.use_pre_keys(left));
    }

    /// The next `count` logins are refused with `<failure reason=code>`.
    pub fn refuse_logins(&mut self, code: u16, count: u32) {
        self.trace.record_at(
            self.elapsed(),
            format!("chaos: refuse the next {count} logins with {code}"),
        );
        self.server.with_server(|s| s.refuse_logins(code, count));
    }

    // ---- the phone and the contacts ----

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

    /// A mock contact sends `count` texts ("hello 0", "hello 1", …),
    /// Signal-encrypted for the linked device; returns their ids.
    pub fn send_messages(&mut self, from_phone: &str, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                match self
                    .server
                    .with_server(|s| s.send_text(from_phone, &format!("hello {i}")))
                {
                    Ok(id) => id,
                    Err(err) => panic!("seed {}: the contact cannot send: {err}", self.seed),
                }
            })
            .collect()
    }

    /// The contact joins `group` (one of [`CHAOS_GROUPS`]: its creator
    /// adds it, and the bot hears of it in a `w:gp2` notification); a
    /// member already stays one.
    pub fn join_group(&mut self, group: &str, phone: &str) {
        let add = crate::server::GroupChange::Add {
            phones: vec![phone.to_owned()],
        };
        if let Err(err) = self
            .server
            .with_server(|s| s.change_group(group, CHAOS_GROUP_CREATOR, &add))
        {
            panic!("seed {}: the contact cannot join: {err}", self.seed);
        }
    }

    /// A mock contact sends `count` texts ("group hello 0", …) in the
    /// group `<group>@g.us` (its sender key goes 1:1 with the first);
    /// returns their ids.
    pub fn send_group_messages(
        &mut self,
        group: &str,
        from_phone: &str,
        count: usize,
    ) -> Vec<String> {
        (0..count)
            .map(|i| {
                match self.server.with_server(|s| {
                    s.send_group_text(group, from_phone, &format!("group hello {i}"))
                }) {
                    Ok(id) => id,
                    Err(err) => panic!("seed {}: the contact cannot send: {err}", self.seed),
                }
            })
            .collect()
    }

    // ---- what is stored ----

    /// Reads the durable rows, around an injected outage (this is the
    /// harness looking, not the bot).
    fn read_rows<T: Send + 'static, F>(&self, read: impl FnOnce(AnyStore) -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.db.read(SESSION, read)
    }

    /// The durable creds, if any.
    #[must_use]
    pub fn stored_creds(&self) -> Option<Creds> {
        self.read_rows(|mut store| async move { store.load_creds().await })
            .ok()
            .flatten()
            .map(|live| live.creds)
    }

    /// The durable inbox, oldest first.
    #[must_use]
    pub fn stored_inbox(&self) -> Vec<InboxRecord> {
        match self.read_rows(|mut store| async move { store.inbox().await }) {
            Ok(inbox) => inbox,
            other => panic!("seed {}: the store did not answer: {other:?}", self.seed),
        }
    }

    /// The unsent outbox rows, as `(message id, inbox id it answers)`.
    #[must_use]
    pub fn unsent_outbox(&self) -> Vec<(String, String)> {
        match self.read_rows(|mut store| async move { store.outbox().await }) {
            Ok(outbox) => outbox
                .into_iter()
                .filter(|row| row.sent_at.is_none())
                .map(|row| (row.id, row.inbox_id))
                .collect(),
            other => panic!("seed {}: the store did not answer: {other:?}", self.seed),
        }
    }

    /// The pongs the store's handled 1:1 texts owe, by text: the inbox id
    /// answered and the contact's phone.
    fn owed_pongs(&self) -> BTreeMap<String, (String, Pong)> {
        if !self.bot.handler.answering.load(Ordering::Relaxed) {
            return BTreeMap::new();
        }
        self.stored_inbox()
            .into_iter()
            .filter(|entry| entry.handled_at.is_some())
            .filter_map(|entry| Pong::of(&entry).map(|pong| (pong.text.clone(), (entry.id, pong))))
            .collect()
    }

    /// The pongs the phones (device 0) of every contact that wrote to the
    /// bot (and of each contact in `owed`) read, by text: each
    /// `(phone, message id)` it came as.
    fn read_pongs(
        &self,
        owed: &BTreeMap<String, (String, Pong)>,
    ) -> BTreeMap<String, BTreeSet<(String, String)>> {
        let mut contacts: BTreeSet<String> = self
            .server_state()
            .messages
            .list
            .into_iter()
            .map(|m| m.from)
            .collect();
        contacts.extend(owed.values().map(|(_, pong)| pong.phone.clone()));
        let mut read: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for phone in contacts {
            let texts = self.server.with_server(|s| s.received_texts(&phone));
            for text in texts
                .into_iter()
                .filter(|t| t.device == 0 && t.text.starts_with("pong "))
            {
                read.entry(text.text)
                    .or_default()
                    .insert((phone.clone(), text.id));
            }
        }
        read
    }

    /// The promises about the bot's answers that hold at any moment: each
    /// pong a contact read answers a message whose handling was committed,
    /// reached that message's contact, once (one id: the reply id of the
    /// message), and fake-wa objects to nothing the bot sent.
    #[must_use]
    pub fn reply_violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        let owed = self.owed_pongs();
        for (text, copies) in self.read_pongs(&owed) {
            let Some((answered, pong)) = owed.get(&text) else {
                found.push(format!(
                    "a contact read \"{text}\", but that message's handling was never committed"
                ));
                continue;
            };
            let expected = blacksky_core::message::ids::reply_id(answered, 0);
            for (to, id) in &copies {
                // A group's answer is read by every member; fake-wa
                // checks that none who was a member at the time missed it.
                if *to != pong.phone && !pong.in_group() {
                    found.push(format!("the pong to {answered} reached another contact"));
                }
                if *id != expected {
                    found.push(format!(
                        "the pong to {answered} came as {id}, not as its reply id {expected}"
                    ));
                }
            }
            let ids: BTreeSet<&String> = copies.iter().map(|(_, id)| id).collect();
            if ids.len() > 1 {
                found.push(format!(
                    "the pong to {answered} was read {} times under different ids",
                    ids.len()
                ));
            }
        }
        let objections = self.server.with_server(|s| s.violations());
        found.extend(
            objections
                .iter()
                .take(5)
                .map(|v| format!("fake-wa objects: {v:?}")),
        );
        found
    }

    /// What the bot still owes once the world is quiet: stored messages
    /// whose handling (and so their answers) was never committed, pongs to
    /// handled messages that their contact's phone has not read, and outbox
    /// rows not sent.
    #[must_use]
    pub fn replies_undelivered(&self) -> Vec<String> {
        let mut owed: Vec<String> = self
            .stored_inbox()
            .into_iter()
            .filter(|entry| entry.handled_at.is_none())
            .map(|entry| {
                format!(
                    "message {} was stored but its handling never committed",
                    entry.id
                )
            })
            .collect();
        let pongs = self.owed_pongs();
        let read = self.read_pongs(&pongs);
        owed.extend(
            pongs
                .into_iter()
                .filter(|(text, (_, pong))| {
                    !read
                        .get(text)
                        .is_some_and(|copies| copies.iter().any(|(phone, _)| *phone == pong.phone))
                })
                .map(|(_, (answered, _))| {
                    format!("the pong to {answered} was never read by its writer's phone")
                }),
        );
        owed.extend(self.unsent_outbox().into_iter().map(|(id, answered)| {
            format!("outbox row {id} (answering {answered:?}) was never sent")
        }));
        owed
    }

    /// Steps until every handled message's pong is read and the outbox is
    /// empty, at most `limit`; returns what is still owed then (checked
    /// once a simulated second: reading the store and the contacts is not
    /// free).
    pub fn await_replies(&mut self, limit: Duration) -> Vec<String> {
        let end = self.elapsed() + limit;
        loop {
            let owed = self.replies_undelivered();
            if owed.is_empty() || self.elapsed() >= end {
                return owed;
            }
            self.run_for(Duration::from_secs(1));
        }
    }

    /// Makes the bots' handlers answer each 1:1 text with one pong (or
    /// stop); the promises about answers (7) follow.
    pub fn answer_texts(&self, on: bool) {
        self.bot.handler.answering.store(on, Ordering::Relaxed);
    }

    /// Ids the bots' handlers were given, in order.
    #[must_use]
    pub fn handled(&self) -> Vec<String> {
        lock(&self.handled).clone()
    }

    /// Waits until every id in `ids` is acked and handled, then checks each
    /// is stored exactly once and no promise broke; panics otherwise.
    pub fn assert_all_kept(&mut self, ids: &[String]) {
        let total = ids.len();
        self.run_until("every message acked", Duration::from_secs(120), |w| {
            w.server_state().messages.acked as usize >= total
        });
        self.run_until("every message handled", Duration::from_secs(120), |w| {
            let handled: BTreeSet<String> = w.handled().into_iter().collect();
            ids.iter().all(|id| handled.contains(id))
        });
        let mut unkept = self.not_stored_once(ids);
        unkept.extend(self.await_replies(Duration::from_secs(120)));
        assert!(
            unkept.is_empty(),
            "seed {}: {}\nlast trace lines:\n  {}",
            self.seed,
            unkept.join("\n  "),
            self.trace_tail(40).join("\n  ")
        );
        self.assert_invariants();
    }

    /// Each id of `ids` not stored exactly once, as a sentence.
    #[must_use]
    pub fn not_stored_once(&self, ids: &[String]) -> Vec<String> {
        let mut stored: std::collections::BTreeMap<String, usize> = Default::default();
        for entry in self.stored_inbox() {
            *stored.entry(entry.id).or_default() += 1;
        }
        ids.iter()
            .filter_map(|id| match stored.get(id) {
                Some(1) => None,
                Some(n) => Some(format!("message {id} stored {n} times")),
                None => Some(format!("message {id} never stored")),
            })
            .collect()
    }

    /// A world from `SEED` (or the default) with the bot linked and
    /// online, and the guard that prints the seed if `scenario` fails.
    #[must_use]
    pub fn linked(scenario: &'static str) -> (World, SeedGuard) {
        let seed = seed_from_env(DEFAULT_SEED);
        let guard = SeedGuard { seed, scenario };
        let mut world = World::new(&WorldConfig::new(seed));
        world.link_by_qr(Duration::from_secs(60));
        (world, guard)
    }

    /// Every promise broken so far, plus the end-of-run checks that every
    /// acked message is stored, decrypted, with the text its contact sent,
    /// and that the bot's answers broke nothing ([`World::reply_violations`];
    /// that they all went out is [`World::await_replies`]).
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        let mut found = self.violations.list();
        found.extend(self.reply_violations());
        let state = self.server_state();
        let stored: BTreeMap<String, InboxContent> = self
            .stored_inbox()
            .into_iter()
            .map(|e| (e.id, e.content))
            .collect();
        for message in state.messages.list.iter().filter(|m| m.acked) {
            let Some(content) = stored.get(&message.id) else {
                found.push(format!(
                    "message lost: {} was acked to the server but is not in the durable inbox",
                    message.id
                ));
                continue;
            };
            let sent = self
                .server
                .with_server(|s| s.sent_text(&message.id).map(str::to_owned));
            let text = match content {
                InboxContent::Message(bytes) => Content::decode(bytes)
                    .ok()
                    .and_then(|c| c.text().map(str::to_owned)),
                InboxContent::Unreadable(_) | InboxContent::GroupNotice => None,
            };
            if text != sent {
                found.push(format!(
                    "message garbled: {} is stored as {content:?}, not as the text its contact \
                     sent",
                    message.id
                ));
            }
        }
        found
    }

    /// Panics with every violation, the seed and the trace's tail, if any.
    pub fn assert_invariants(&self) {
        let found = self.violations();
        assert!(
            found.is_empty(),
            "seed {}: invariants broken at {:?}:\n  {}\nlast trace lines:\n  {}",
            self.seed,
            self.elapsed(),
            found.join("\n  "),
            self.trace_tail(40).join("\n  ")
        );
    }
}
