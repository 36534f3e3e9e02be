//! Random chaos from a seed: a plan of faults at times, carried out on a
//! [`World`], then the checks every run must pass once the chaos stops.
//! The sweep (`tests/chaos_sweep.rs`) and the simulated week
//! (`tests/week.rs`) are built on it.

use std::collections::BTreeMap;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::world::{CALM_RSS_BYTES, CHAOS_GROUPS, MEMORY_LIMIT_MB, SimStore, World, WorldConfig};

/// One fault. Those with a duration undo themselves when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    PartitionWa {
        lasts: Duration,
    },
    PartitionDb {
        lasts: Duration,
    },
    /// The database refuses every call.
    DbFailing {
        lasts: Duration,
    },
    DbSlow {
        latency_ms: u64,
        lasts: Duration,
    },
    /// The database server crashes, losing what it had not committed.
    CrashDb,
    /// The bot's process dies (kill -9, an OOM kill, a host failure).
    CrashBot,
    /// SIGTERM, SIGKILL after 30 s, new process on a wiped disk.
    DynoCycle,
    /// A new dyno starts while the old one runs; the old one is SIGTERMed
    /// after `old_stops_after`.
    Overlap {
        old_stops_after: Duration,
    },
    StreamError {
        code: u16,
    },
    DropConnections,
    RefuseLogins {
        code: u16,
        count: u32,
    },
    /// The bot's wall clock jumps by this much (and stays off).
    ClockJump {
        offset_ms: i64,
    },
    /// RSS reads this far over the memory limit for a while.
    MemoryPressure {
        over_mb: u64,
        lasts: Duration,
    },
    /// A mock contact sends a burst.
    Messages {
        count: usize,
    },
    /// New contacts used the device's one-time pre-keys until `left`
    /// remain: the next login uploads more.
    PreKeysUsed {
        left: u32,
    },
}

/// The stream errors the sweep sends (401 ends the run with a logout; it
/// has its own scenario). 440 last: [`Plan::without_takeovers`] drops it.
const STREAM_ERRORS: [u16; 5] = [515, 503, 500, 405, 440];

/// Faults at times (from the start of the chaos window).
#[derive(Debug, Clone)]
pub struct Plan {
    pub faults: Vec<(Duration, Fault)>,
}

fn pick(rng: &mut ChaCha8Rng, below: u64) -> u64 {
    rng.next_u64() % below.max(1)
}

fn secs(rng: &mut ChaCha8Rng, low: u64, high: u64) -> Duration {
    Duration::from_secs(low + pick(rng, high - low + 1))
}

impl Plan {
    /// `count` faults spread over `window`, plus message bursts of 1–5
    /// messages every 5–90 s.
    #[must_use]
    pub fn random(seed: u64, window: Duration, count: usize) -> Plan {
        Plan::random_with_traffic(seed, window, count, (5, 90))
    }

    /// [`Plan::random`] with a burst every `gap_s.0`–`gap_s.1` seconds.
    #[must_use]
    pub fn random_with_traffic(
        seed: u64,
        window: Duration,
        count: usize,
        gap_s: (u64, u64),
    ) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c4a0_5000_0000);
        let window_s = window.as_secs().max(1);
        let mut faults: Vec<(Duration, Fault)> = Vec::new();
        for _ in 0..count {
            let at = Duration::from_secs(pick(&mut rng, window_s));
            let fault = match pick(&mut rng, 14) {
                0 | 1 => Fault::PartitionWa {
                    lasts: secs(&mut rng, 5, 180),
                },
                2 => Fault::PartitionDb {
                    lasts: secs(&mut rng, 5, 120),
                },
                3 => Fault::DbFailing {
                    lasts: secs(&mut rng, 5, 120),
                },
                4 => Fault::DbSlow {
                    latency_ms: 100 + pick(&mut rng, 3000),
                    lasts: secs(&mut rng, 10, 120),
                },
                5 => Fault::CrashDb,
                6 => Fault::CrashBot,
                7 => Fault::DynoCycle,
                8 => Fault::Overlap {
                    old_stops_after: secs(&mut rng, 1, 60),
                },
                9 => Fault::StreamError {
                    code: STREAM_ERRORS[pick(&mut rng, STREAM_ERRORS.len() as u64) as usize],
                },
                10 => Fault::DropConnections,
                11 => Fault::RefuseLogins {
                    code: if pick(&mut rng, 2) == 0 { 503 } else { 500 },
                    count: 1 + pick(&mut rng, 4) as u32,
                },
                12 => Fault::ClockJump {
                    offset_ms: {
                        let magnitude = 1_000 * (1 + pick(&mut rng, 48 * 3600)) as i64;
                        if pick(&mut rng, 2) == 0 {
                            magnitude
                        } else {
                            -magnitude
                        }
                    },
                },
                _ => Fault::MemoryPressure {
                    over_mb: 1 + pick(&mut rng, 200),
                    lasts: secs(&mut rng, 5, 180),
                },
            };
            faults.push((at, fault));
        }
        // Traffic all through the window.
        let mut at = Duration::ZERO;
        while at < window {
            faults.push((
                at,
                Fault::Messages {
                    count: 1 + pick(&mut rng, 5) as usize,
                },
            ));
            at += secs(&mut rng, gap_s.0, gap_s.1);
        }
        // From a stream of their own, so the faults above stay what each
        // seed drew before these were added.
        let mut keys_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
        for _ in 0..pick(&mut keys_rng, 3) {
            let at = Duration::from_secs(pick(&mut keys_rng, window_s));
            let left = pick(&mut keys_rng, 6) as u32;
            faults.push((at, Fault::PreKeysUsed { left }));
        }
        faults.sort_by_key(|(at, _)| *at);
        Plan { faults }
    }

    /// The plan without 440s: a takeover by a process outside this
    /// database is a person's call to undo, not the bot's (it stands by
    /// and says so on /status), so a long run would only measure the wait
    /// for the next dyno cycle.
    #[must_use]
    pub fn without_takeovers(mut self) -> Plan {
        self.faults
            .retain(|(_, fault)| *fault != Fault::StreamError { code: 440 });
        self
    }
}

/// Undo actions waiting for their time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    RepairWa,
    RepairDb,
    DbWorks,
    DbFast,
    CalmMemory,
}

/// Carries out plans on a world, keeping the platform's promises (a dead
/// dyno is restarted) and the books (messages sent, downtime).
#[derive(Debug)]
pub struct Runner {
    pub world: World,
    pub sent: Vec<String>,
    contact: u64,
    undo: BTreeMap<Duration, Vec<Undo>>,
    /// Overlapped dynos waiting for their SIGTERM.
    old_dynos: BTreeMap<Duration, Vec<String>>,
    /// Undo counts per kind, so overlapping faults end at the last one.
    active: BTreeMap<&'static str, u32>,
    normal_latency_ms: u64,
    exit_seen_at: Option<Duration>,
    pub restarts: u32,
    /// Simulated time the current bot was not online (counted per step).
    pub offline: Duration,
}

/// How long `settle` lets the last fault land before it judges.
const SETTLE_FIRST: Duration = Duration::from_secs(5);

/// How long `settle` waits, once every message is handled, for every
/// answer to be read and the outbox to drain: the bot is online by then,
/// so a few round trips; with room for one more reconnect.
const REPLIES_BOUND: Duration = Duration::from_secs(120);

/// After a process exits, the platform starts a new one this much later.
const RESTART_DELAY: Duration = Duration::from_secs(1);

impl Runner {
    /// A world with a linked, online bot.
    #[must_use]
    pub fn linked(config: &WorldConfig) -> Runner {
        let mut world = World::new(config);
        world.link_by_qr(Duration::from_secs(60));
        Runner {
            normal_latency_ms: config.db_latency_ms,
            world,
            sent: Vec::new(),
            contact: 0,
            undo: BTreeMap::new(),
            old_dynos: BTreeMap::new(),
            active: BTreeMap::new(),
            exit_seen_at: None,
            restarts: 0,
            offline: Duration::ZERO,
        }
    }

    /// One step of the world, with the platform's housekeeping.
    pub fn step(&mut self) {
        let before = self.world.elapsed();
        self.world.step();
        let now = self.world.elapsed();
        if !self.world.bot_online() {
            self.offline += now - before;
        }
        while let Some(entry) = self.undo.first_entry() {
            if *entry.key() > now {
                break;
            }
            for undo in entry.remove() {
                self.undo_one(undo);
            }
        }
        while let Some(entry) = self.old_dynos.first_entry() {
            if *entry.key() > now {
                break;
            }
            for name in entry.remove() {
                self.world.sigterm_host_named(&name);
            }
        }
        // A process that exited is started again, as a platform does.
        if self.world.bot_running() || self.world.board().is_none() {
            self.exit_seen_at = None;
        } else {
            let seen = *self.exit_seen_at.get_or_insert(now);
            if now >= seen + RESTART_DELAY && self.world.restart_if_exited() {
                self.restarts += 1;
                self.exit_seen_at = None;
            }
        }
    }

    pub fn run_for(&mut self, span: Duration) {
        let end = self.world.elapsed() + span;
        while self.world.elapsed() < end {
            self.step();
        }
    }

    /// Steps until `done`, at most `limit`; the time it took, or `None`.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&World) -> bool,
    ) -> Option<Duration> {
        let start = self.world.elapsed();
        while !done(&self.world) {
            if self.world.elapsed() - start > limit {
                return None;
            }
            self.step();
        }
        Some(self.world.elapsed() - start)
    }

    fn hold(&mut self, kind: &'static str, lasts: Duration, undo: Undo) {
        *self.active.entry(kind).or_default() += 1;
        self.undo
            .entry(self.world.elapsed() + lasts)
            .or_default()
            .push(undo);
    }

    fn release(&mut self, kind: &'static str) -> bool {
        let count = self.active.entry(kind).or_default();
        *count = count.saturating_sub(1);
        *count == 0
    }

    fn undo_one(&mut self, undo: Undo) {
        match undo {
            Undo::RepairWa => {
                if self.release("wa") {
                    self.world.repair_bot();
                }
            }
            Undo::RepairDb => {
                if self.release("db") {
                    self.world.repair_db();
                }
            }
            Undo::DbWorks => {
                if self.release("failing") {
                    self.world.set_db_failing(false);
                }
            }
            Undo::DbFast => {
                if self.release("slow") {
                    self.world.set_db_latency_ms(self.normal_latency_ms);
                }
            }
            Undo::CalmMemory => {
                if self.release("memory") {
                    self.world.set_bot_rss(CALM_RSS_BYTES);
                }
            }
        }
    }

    /// Carries out one fault now.
    pub fn apply(&mut self, fault: &Fault) {
        match *fault {
            Fault::PartitionWa { lasts } => {
                self.world.partition_bot();
                self.hold("wa", lasts, Undo::RepairWa);
            }
            Fault::PartitionDb { lasts } => {
                self.world.partition_db();
                self.hold("db", lasts, Undo::RepairDb);
            }
            Fault::DbFailing { lasts } => {
                self.world.set_db_failing(true);
                self.hold("failing", lasts, Undo::DbWorks);
            }
            Fault::DbSlow { latency_ms, lasts } => {
                self.world.set_db_latency_ms(latency_ms);
                self.hold("slow", lasts, Undo::DbFast);
            }
            Fault::CrashDb => self.world.crash_db(),
            Fault::CrashBot => {
                // Partitions belong to the host: a new process keeps them.
                self.world.bounce_bot();
            }
            Fault::DynoCycle => self.dyno_cycle(),
            Fault::Overlap { old_stops_after } => {
                self.repair_all_links();
                let old = self.world.start_overlapping_bot();
                self.old_dynos
                    .entry(self.world.elapsed() + old_stops_after)
                    .or_default()
                    .push(old);
            }
            Fault::StreamError { code } => self.world.stream_error(code),
            Fault::DropConnections => self.world.drop_connections(),
            Fault::RefuseLogins { code, count } => self.world.refuse_logins(code, count),
            Fault::ClockJump { offset_ms } => self.world.jump_bot_clock(offset_ms),
            Fault::MemoryPressure { over_mb, lasts } => {
                self.world
                    .set_bot_rss((MEMORY_LIMIT_MB + over_mb) * 1024 * 1024);
                self.hold("memory", lasts, Undo::CalmMemory);
            }
            Fault::PreKeysUsed { left } => self.world.use_pre_keys(left),
            Fault::Messages { count } => {
                self.contact += 1;
                let phone = format!("49155500{:05}", self.contact % 100_000);
                // Every other burst is group traffic: the writer joins one
                // of the bot's groups, its sender key goes over 1:1 with
                // the first message, then skmsgs; the bot answers there.
                let ids = if self.contact % 2 == 0 {
                    let group = CHAOS_GROUPS[(self.contact / 2) as usize % CHAOS_GROUPS.len()];
                    self.world.join_group(group, &phone);
                    self.world.send_group_messages(group, &phone, count)
                } else {
                    self.world.send_messages(&phone, count)
                };
                self.sent.extend(ids);
            }
        }
    }

    /// A new dyno is a new host: the partitions of the old one end with it
    /// (partitions are per host pair in turmoil).
    fn repair_all_links(&mut self) {
        for (kind, undo) in [("wa", Undo::RepairWa), ("db", Undo::RepairDb)] {
            if self.active.get(kind).copied().unwrap_or(0) > 0 {
                self.active.insert(kind, 1);
                self.undo_one(undo);
                for pending in self.undo.values_mut() {
                    pending.retain(|u| *u != undo);
                }
            }
        }
    }

    /// A dyno cycle; the SIGTERMed process gets its 30 s.
    pub fn dyno_cycle(&mut self) {
        self.world.dyno_cycle();
        self.restarts += 1;
    }

    /// Carries out `plan`, starting now.
    pub fn run_plan(&mut self, plan: &Plan) {
        let start = self.world.elapsed();
        for (at, fault) in &plan.faults {
            let due = start + *at;
            while self.world.elapsed() < due {
                self.step();
            }
            self.apply(fault);
        }
    }

    /// Ends every fault still in force (clock jumps stay).
    pub fn calm(&mut self) {
        let pending: Vec<Undo> = std::mem::take(&mut self.undo)
            .into_values()
            .flatten()
            .collect();
        for undo in pending {
            self.undo_one(undo);
        }
        for name in std::mem::take(&mut self.old_dynos).into_values().flatten() {
            self.world.sigterm_host_named(&name);
        }
    }

    /// After the chaos: online within `online_bound`, every message sent
    /// acked, stored once and handled, and no promise broken. Returns the
    /// time to online, or what failed.
    pub fn settle(&mut self, online_bound: Duration) -> Result<Duration, String> {
        self.calm();
        // The last fault takes effect first (a 440 a moment ago has not
        // reached the bot yet), and is counted in the time to online.
        let calmed = self.world.elapsed();
        self.run_for(SETTLE_FIRST);
        // A bot standing by after a 440 waits for a person or the next
        // dyno cycle: give it the cycle.
        if self.world.bot_state() == "standing_by" {
            self.dyno_cycle();
        }
        let Some(_) = self.run_until(online_bound, World::bot_online) else {
            return Err(format!(
                "not online within {online_bound:?} after the chaos stopped (state {})",
                self.world.bot_state()
            ));
        };
        let online = self.world.elapsed() - calmed;
        let total = self.sent.len();
        if self
            .run_until(Duration::from_secs(120), |w| {
                w.server_state().messages.acked as usize >= total
            })
            .is_none()
        {
            let state = self.world.server_state();
            let unacked: Vec<String> = state
                .messages
                .list
                .iter()
                .filter(|m| !m.acked)
                .map(|m| format!("{m:?}"))
                .collect();
            return Err(format!(
                "{} of {total} messages acked 120 s after the bot came back; unacked: {}\n  last trace lines:\n  {}",
                state.messages.acked,
                unacked.join(", "),
                self.world.trace_tail(25).join("\n  ")
            ));
        }
        let handled_all = |w: &World| {
            let handled: std::collections::BTreeSet<String> = w.handled().into_iter().collect();
            handled.len() >= total
        };
        if self
            .run_until(Duration::from_secs(120), handled_all)
            .is_none()
        {
            return Err(format!(
                "the handler saw {} distinct messages of {total}",
                self.world
                    .handled()
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            ));
        }
        // Every handled 1:1 text's pong goes out and the outbox drains
        // once the world is healed (the bot is online and nothing is
        // held): a resend after the last reconnect, an ack, the contact's
        // phone reading it.
        let mut found = self.world.await_replies(REPLIES_BOUND);
        found.extend(self.world.violations());
        found.extend(self.world.not_stored_once(&self.sent));
        if found.is_empty() {
            Ok(online)
        } else {
            Err(found.join("\n  "))
        }
    }

    /// The chaos actions of the trace, for a failure report.
    #[must_use]
    pub fn chaos_trace(&self) -> Vec<String> {
        self.world
            .trace
            .lines()
            .into_iter()
            .filter(|(_, what)| what.starts_with("chaos:") || what.contains(": exit "))
            .map(|(at, what)| format!("{at:?} {what}"))
            .collect()
    }
}

/// The sweep's chaos window, faults per seed and bound to be online again.
pub const SWEEP_WINDOW: Duration = Duration::from_secs(600);
pub const SWEEP_FAULTS: usize = 10;
/// Backoff at most 30 s, a dial timeout of 20 s and a silent socket found
/// within 40 s, with room to spare.
pub const SWEEP_ONLINE_BOUND: Duration = Duration::from_secs(120);

/// Every this many seeds (those divisible by it), the `db` host keeps its
/// rows in a real SQLite file instead of the memory store;
/// `SIM_SQLITE_EVERY` changes it (1: every seed, 0: none).
pub const SWEEP_SQLITE_EVERY: u64 = 4;

/// The store a sweep seed runs on.
#[must_use]
pub fn sweep_store(seed: u64) -> SimStore {
    let every = std::env::var("SIM_SQLITE_EVERY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(SWEEP_SQLITE_EVERY);
    if every > 0 && seed % every == 0 {
        SimStore::Sqlite
    } else {
        SimStore::Memory
    }
}

/// One seed of the sweep: `Ok(time to online after the chaos)` or the
/// failure report with the chaos trace.
pub fn sweep_seed(seed: u64) -> Result<Duration, String> {
    sweep_seed_traced(seed).0
}

/// [`sweep_seed`], with every line of the run's trace (for a replay).
pub fn sweep_seed_traced(seed: u64) -> (Result<Duration, String>, Vec<String>) {
    // The sweep answers in the chaos groups too (unless SIM_GROUP_REPLIES=0).
    super::world::answer_in_groups(true);
    let mut config = WorldConfig::new(seed);
    config.tick = Duration::from_millis(10);
    config.store = sweep_store(seed);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut runner = Runner::linked(&config);
        runner.run_plan(&Plan::random(seed, SWEEP_WINDOW, SWEEP_FAULTS));
        let settled = runner.settle(SWEEP_ONLINE_BOUND);
        let trace = runner.world.trace_tail(usize::MAX);
        (settled, runner.chaos_trace(), trace)
    }));
    match outcome {
        Ok((Ok(online), _, trace)) => (Ok(online), trace),
        Ok((Err(broken), chaos, trace)) => (
            Err(format!(
                "seed {seed} ({:?} store): {broken}\n  chaos:\n    {}",
                config.store,
                chaos.join("\n    ")
            )),
            trace,
        ),
        Err(panic) => (
            Err(format!(
                "seed {seed} ({:?} store): panicked: {}",
                config.store,
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            )),
            Vec::new(),
        ),
    }
}
