//! The keeper: the supervisor policy in one small sans-I/O machine. It
//! decides when to connect, how long to back off, when to stand by, when
//! to back up, shed memory, and how to shut down inside the host's grace
//! period. The shell carries out its outputs and reports back; the health
//! picture it keeps feeds /health, /status, /stats and /metrics.

mod daily;
mod policy;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub use daily::{DailyRestart, MIN_UPTIME_MS, SPREAD_MINUTES_MAX};
pub use policy::{Reaction, reaction};

use crate::client::DisconnectReason;
use crate::time::UnixMillis;

/// Exit codes the keeper chooses. Heroku restarts a worker whatever its
/// code; the code tells a person (and the logs) why it stopped.
pub mod exit {
    /// Clean shutdown after SIGTERM/SIGINT.
    pub const CLEAN: i32 = 0;
    /// The phone removed this device: pair again.
    pub const LOGGED_OUT: i32 = 3;
    /// (4 is the shell's: stored credentials that cannot be read.)
    /// MAX_RECONNECT_ATTEMPTS reached.
    pub const GAVE_UP: i32 = 5;
    /// Planned restart (memory over the limit, the daily restart hour, or
    /// the owner's `.restart`): start me again.
    pub const PLANNED_RESTART: i32 = 75;
}

/// The keeper's settings, units last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeeperConfig {
    pub reconnect_base_ms: u64,
    pub reconnect_max_ms: u64,
    /// 0 = unlimited.
    pub max_reconnect_attempts: u32,
    /// A connection up this long resets the backoff.
    pub stable_after_ms: u64,
    /// On logout, exit (no web pairing page) or wait for a new pairing.
    pub exit_on_logout: bool,
    pub memory_limit_bytes: Option<u64>,
    /// Time over the limit, after shedding caches, before a planned restart.
    pub memory_grace_ms: u64,
    /// 0 = no periodic snapshots.
    pub backup_interval_ms: u64,
    pub shutdown_grace_ms: u64,
    /// Take-backs after a late login of an older process allowed within
    /// `takeback_window_ms`; past that a 440 stands by (something keeps
    /// taking the session: a person must look).
    pub takebacks_max: u32,
    pub takeback_window_ms: u64,
    /// Standing by for a newer process: how long it must look gone (two
    /// reports this far apart; a database just back may not have its
    /// heartbeat yet) before this one takes the session.
    pub newer_gone_grace_ms: u64,
    /// `RESTART_AT`: a graceful cycle once a day (exit 75, like the
    /// memory restart); `None` = off.
    pub daily_restart: Option<DailyRestart>,
    /// Once the daily restart is due, how long it waits for the store's
    /// write queue and the inbox to be empty before it goes anyway (the
    /// drain still finishes what is in flight).
    pub restart_quiet_wait_ms: u64,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        KeeperConfig {
            reconnect_base_ms: 1_000,
            reconnect_max_ms: 60_000,
            max_reconnect_attempts: 0,
            stable_after_ms: 60_000,
            exit_on_logout: true,
            memory_limit_bytes: None,
            memory_grace_ms: 60_000,
            backup_interval_ms: 30 * 60_000,
            shutdown_grace_ms: 25_000,
            takebacks_max: 3,
            takeback_window_ms: 3_600_000,
            newer_gone_grace_ms: 15_000,
            daily_restart: None,
            restart_quiet_wait_ms: 5 * 60_000,
        }
    }
}

/// The steps of a graceful shutdown, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShutdownStep {
    /// Stop taking work; finish or persist what is in flight.
    Drain,
    /// Write the final snapshot.
    FinalSnapshot,
    /// Close the socket cleanly.
    Close,
}

impl ShutdownStep {
    fn next(self) -> Option<ShutdownStep> {
        match self {
            ShutdownStep::Drain => Some(ShutdownStep::FinalSnapshot),
            ShutdownStep::FinalSnapshot => Some(ShutdownStep::Close),
            ShutdownStep::Close => None,
        }
    }
}

/// Something a person must hear about (logged at error, shown on /status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    NeedsPairing { reason: DisconnectReason },
    Replaced,
    GaveUp { attempts: u32 },
    ShutdownAbandoned { step: ShutdownStep },
    MemoryOverLimit { rss_bytes: u64, limit_bytes: u64 },
    PlannedRestart { rss_bytes: u64 },
}

/// Why the keeper stands by, as the shell may ask ([`Keeper::standing_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandByCause {
    /// A 440 nothing of this store explains (yet): someone outside.
    Unexplained,
    /// A newer process of this session has it.
    NewerProcess,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a connection now.
    Connect,
    /// Close the live connection, then report `ConnectionClosed`.
    CloseConnection,
    /// The stored identity was logged out: the next connection links a
    /// new device, with fresh keys.
    NewIdentity,
    /// The daily restart hour came (and the backlog drained, or the wait
    /// for it ran out): a graceful cycle follows (`Shutdown(Drain)`).
    DailyRestart {
        waited_ms: u64,
    },
    /// A reconnect is scheduled after this delay (for logs and /stats).
    ReconnectIn {
        delay_ms: u64,
        attempt: u32,
        after: DisconnectReason,
    },
    /// Fetch the current client version, then report `VersionRefreshed`.
    RefreshVersion,
    /// Take a periodic snapshot (the final one is a shutdown step).
    Snapshot,
    ShedCaches,
    /// Carry out this shutdown step, then report `ShutdownStepDone`.
    Shutdown(ShutdownStep),
    Exit(i32),
    Alert(Alert),
}

/// What the shell tells the keeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The process is up: connect.
    Start,
    Online,
    Disconnected(DisconnectReason),
    /// What the store's register of this session's processes says about
    /// the others (by registration order; alive = its heartbeat is fresh).
    /// Reported before a connect, after a 440, and every few seconds while
    /// standing by. A newer one alive: it has the session; stand by for it
    /// (take over once it is gone). After a 440 with none newer alive: if
    /// an older one was alive lately (its login was under way when this
    /// one started, which no check can stop) or a newer one ran and is
    /// gone (the store could not say in time), the session is taken back;
    /// else someone outside took it.
    Peers {
        newer_alive: bool,
        newer_ran: bool,
        older_recent: bool,
    },
    /// The socket could not even be opened.
    DialFailed,
    VersionRefreshed,
    /// No newer version could be had: back off and try again.
    VersionRefreshFailed,
    StoreHealth {
        up: bool,
    },
    MemorySample {
        rss_bytes: u64,
    },
    ShutdownRequested,
    /// The owner asked for a restart (a bot command): the graceful cycle
    /// of a planned restart (exit 75, for the host to start it again).
    RestartRequested,
    ShutdownStepDone(ShutdownStep),
    /// A person asked to take over from another instance.
    ConnectRequested,
    /// A person asked to link this device (a pairing code from the web
    /// page): the connection showing QR codes restarts to show the code;
    /// after a logout a new device is linked.
    LinkRequested,
    /// The connection closed because the keeper said `CloseConnection`.
    ConnectionClosed,
    /// The wall clock (at start and with every sample): schedules the
    /// daily restart the first time.
    WallClock(UnixMillis),
    /// Work waiting in the shell: store writes not yet durable and inbox
    /// entries not yet handled. The daily restart waits for none.
    Backlog {
        store_writes: u64,
        inbox_waiting: bool,
    },
}

/// Where the connection stands, for /status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    Starting,
    Connecting,
    Online,
    /// Waiting to reconnect.
    BackingOff {
        attempt: u32,
    },
    RefreshingVersion,
    /// Closing the connection to open a new one for linking.
    Relinking,
    /// Another instance has the session.
    StandingBy,
    NeedsPairing,
    GaveUp,
    ShuttingDown,
}

impl ConnState {
    /// The word /status shows.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnState::Starting => "starting",
            ConnState::Connecting | ConnState::Relinking => "connecting",
            ConnState::Online => "online",
            ConnState::BackingOff { .. } => "backing_off",
            ConnState::RefreshingVersion => "refreshing_version",
            ConnState::StandingBy => "standing_by",
            ConnState::NeedsPairing => "needs_pairing",
            ConnState::GaveUp => "gave_up",
            ConnState::ShuttingDown => "shutting_down",
        }
    }
}

/// The health picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: ConnState,
    /// When `state` began.
    pub since: Instant,
    pub last_disconnect: Option<DisconnectReason>,
    /// Connections opened after the first.
    pub reconnects: u64,
    pub store_up: bool,
    pub rss_bytes: Option<u64>,
}

#[derive(Debug)]
struct ShutdownProgress {
    step: ShutdownStep,
    deadline: Instant,
    exit_code: i32,
}

/// The supervisor. See the module docs.
#[derive(Debug)]
pub struct Keeper {
    config: KeeperConfig,
    rng: ChaCha20Rng,
    outputs: VecDeque<Output>,
    health: Health,
    /// Consecutive connection attempts that did not stay up.
    attempts: u32,
    connections: u64,
    reconnect_at: Option<Instant>,
    stable_at: Option<Instant>,
    backup_at: Option<Instant>,
    memory_deadline: Option<Instant>,
    shutdown: Option<ShutdownProgress>,
    /// When the session was taken back, within the take-back window.
    takebacks: VecDeque<Instant>,
    /// Why it stands by, while it does.
    standby: Option<StandBy>,
    /// The daily restart: when it is due (set at the first wall clock).
    restart: DailyState,
    /// The last backlog reported was empty.
    quiet: bool,
}

/// Where the daily restart stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DailyState {
    /// Off, or waiting for the first wall-clock report.
    Unscheduled,
    Scheduled {
        at: Instant,
    },
    /// Due since `since`: waiting for a quiet moment until `give_up_at`.
    Due {
        since: Instant,
        give_up_at: Instant,
    },
    /// Done or skipped: the next process schedules the next one.
    Spent,
}

/// Why the keeper stands by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StandBy {
    /// A 440 nothing here explains: someone outside this store took the
    /// session, as far as is known. A person decides.
    Unexplained,
    /// A newer process of this session has it; `gone_since`: the first
    /// report that it no longer runs.
    ForNewer { gone_since: Option<Instant> },
}

impl Keeper {
    pub fn new(config: KeeperConfig, now: Instant, seed: [u8; 32]) -> Keeper {
        Keeper {
            config,
            rng: ChaCha20Rng::from_seed(seed),
            outputs: VecDeque::new(),
            health: Health {
                state: ConnState::Starting,
                since: now,
                last_disconnect: None,
                reconnects: 0,
                store_up: true,
                rss_bytes: None,
            },
            attempts: 0,
            connections: 0,
            reconnect_at: None,
            stable_at: None,
            backup_at: None,
            memory_deadline: None,
            shutdown: None,
            takebacks: VecDeque::new(),
            standby: None,
            restart: DailyState::Unscheduled,
            quiet: true,
        }
    }

    /// Why it stands by, while it does.
    pub fn standing_by(&self) -> Option<StandByCause> {
        match (self.health.state == ConnState::StandingBy, self.standby) {
            (true, Some(StandBy::Unexplained)) => Some(StandByCause::Unexplained),
            (true, Some(StandBy::ForNewer { .. })) => Some(StandByCause::NewerProcess),
            _ => None,
        }
    }

    /// When the daily restart is due, once scheduled and not yet done.
    pub fn daily_restart_at(&self) -> Option<Instant> {
        match self.restart {
            DailyState::Scheduled { at } => Some(at),
            DailyState::Due { since, .. } => Some(since),
            DailyState::Unscheduled | DailyState::Spent => None,
        }
    }

    /// The health picture.
    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn config(&self) -> &KeeperConfig {
        &self.config
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        if self.shutdown.is_some() {
            return self.on_input_while_stopping(input);
        }
        match input {
            Input::Start => {
                if self.config.backup_interval_ms > 0 {
                    self.backup_at = Some(now + ms(self.config.backup_interval_ms));
                }
                self.connect(now);
            }
            Input::ConnectRequested => {
                if matches!(
                    self.health.state,
                    ConnState::StandingBy | ConnState::NeedsPairing | ConnState::GaveUp
                ) {
                    self.attempts = 0;
                    self.connect(now);
                }
            }
            Input::LinkRequested => match self.health.state {
                ConnState::NeedsPairing => {
                    self.emit(Output::NewIdentity);
                    self.attempts = 0;
                    self.connect(now);
                }
                ConnState::Connecting | ConnState::Online => {
                    self.set_state(now, ConnState::Relinking);
                    self.emit(Output::CloseConnection);
                }
                ConnState::StandingBy | ConnState::GaveUp => {
                    self.attempts = 0;
                    self.connect(now);
                }
                // A reconnect is scheduled, or one is being closed: it
                // links with what the shell now has.
                _ => {}
            },
            Input::ConnectionClosed => {
                if self.health.state == ConnState::Relinking {
                    self.connect(now);
                }
            }
            Input::Online => {
                self.set_state(now, ConnState::Online);
                self.stable_at = Some(now + ms(self.config.stable_after_ms));
            }
            Input::Disconnected(reason) => self.on_disconnected(now, reason),
            Input::Peers {
                newer_alive,
                newer_ran,
                older_recent,
            } => self.on_peers(now, newer_alive, newer_ran || older_recent),
            Input::DialFailed => self.on_disconnected(now, DisconnectReason::ConnectionClosed),
            Input::VersionRefreshed => {
                if self.health.state == ConnState::RefreshingVersion {
                    self.connect(now);
                }
            }
            Input::VersionRefreshFailed => {
                if self.health.state == ConnState::RefreshingVersion {
                    self.back_off(now, DisconnectReason::ClientOutdated);
                }
            }
            Input::StoreHealth { up } => self.health.store_up = up,
            Input::MemorySample { rss_bytes } => self.on_memory(now, rss_bytes),
            Input::ShutdownRequested => self.begin_shutdown(now, exit::CLEAN),
            Input::RestartRequested => self.begin_shutdown(now, exit::PLANNED_RESTART),
            Input::ShutdownStepDone(_) => {}
            Input::WallClock(wall) => self.schedule_daily(now, wall),
            Input::Backlog {
                store_writes,
                inbox_waiting,
            } => {
                self.quiet = store_writes == 0 && !inbox_waiting;
                self.check_daily(now);
            }
        }
    }

    fn schedule_daily(&mut self, now: Instant, wall: UnixMillis) {
        let Some(daily) = self.config.daily_restart else {
            return;
        };
        if self.restart != DailyState::Unscheduled {
            return;
        }
        // Drawn from the keeper's seeded generator: a seed replays it.
        let offset_ms = self.rng.next_u64() % (daily.spread_ms() + 1);
        let at = now + ms(daily.delay_ms(wall, offset_ms));
        self.restart = DailyState::Scheduled { at };
    }

    /// The daily restart: due → wait for a quiet moment (or the end of
    /// the wait) → the graceful cycle the memory restart uses.
    fn check_daily(&mut self, now: Instant) {
        match self.restart {
            DailyState::Scheduled { at } if now >= at => {
                self.restart = DailyState::Due {
                    since: at,
                    give_up_at: at + ms(self.config.restart_quiet_wait_ms),
                };
                self.check_daily(now);
            }
            DailyState::Due { since, give_up_at } if self.quiet || now >= give_up_at => {
                self.restart = DailyState::Spent;
                match self.health.state {
                    // A newer process has the session (a restart would
                    // register this one as the newest and take it back), or
                    // a person must act first: nothing a restart mends.
                    ConnState::StandingBy | ConnState::NeedsPairing | ConnState::GaveUp => {}
                    _ => {
                        let waited_ms =
                            u64::try_from(now.saturating_duration_since(since).as_millis())
                                .unwrap_or(u64::MAX);
                        self.emit(Output::DailyRestart { waited_ms });
                        self.begin_shutdown(now, exit::PLANNED_RESTART);
                    }
                }
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(progress) = &self.shutdown {
            if now >= progress.deadline {
                let (step, code) = (progress.step, progress.exit_code);
                self.shutdown = None;
                self.emit(Output::Alert(Alert::ShutdownAbandoned { step }));
                self.emit(Output::Exit(code));
            }
            return;
        }
        if self.stable_at.is_some_and(|t| now >= t) {
            self.stable_at = None;
            self.attempts = 0;
        }
        if self.reconnect_at.is_some_and(|t| now >= t) {
            self.reconnect_at = None;
            self.connect(now);
        }
        if let Some(at) = self.backup_at
            && now >= at
        {
            self.backup_at = Some(now + ms(self.config.backup_interval_ms));
            self.emit(Output::Snapshot);
        }
        self.check_daily(now);
    }

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.shutdown {
            Some(progress) => Some(progress.deadline),
            None => [
                self.reconnect_at,
                self.stable_at,
                self.backup_at,
                match self.restart {
                    DailyState::Scheduled { at } => Some(at),
                    DailyState::Due { give_up_at, .. } => Some(give_up_at),
                    DailyState::Unscheduled | DailyState::Spent => None,
                },
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }

    fn connect(&mut self, now: Instant) {
        self.standby = None;
        if self.connections > 0 {
            self.health.reconnects += 1;
        }
        self.connections += 1;
        self.set_state(now, ConnState::Connecting);
        self.emit(Output::Connect);
    }

    fn on_disconnected(&mut self, now: Instant, reason: DisconnectReason) {
        self.react(now, reaction(&reason), reason);
    }

    /// `ours_took_it`: besides a newer process alive, another process of
    /// this session could have taken the session.
    fn on_peers(&mut self, now: Instant, newer_alive: bool, ours_took_it: bool) {
        match (self.health.state.clone(), self.standby) {
            // The check before a connect: the session is a newer one's.
            (ConnState::Connecting, _) if newer_alive => {
                self.react(now, Reaction::StandBy, DisconnectReason::Replaced);
                self.standby = Some(StandBy::ForNewer { gone_since: None });
            }
            (ConnState::StandingBy, Some(StandBy::ForNewer { gone_since })) => {
                if newer_alive {
                    self.standby = Some(StandBy::ForNewer { gone_since: None });
                    return;
                }
                match gone_since {
                    None => {
                        self.standby = Some(StandBy::ForNewer {
                            gone_since: Some(now),
                        })
                    }
                    Some(since)
                        if now.saturating_duration_since(since)
                            >= ms(self.config.newer_gone_grace_ms) =>
                    {
                        // The newer process stopped: the session is ours.
                        self.attempts = 0;
                        self.connect(now);
                    }
                    Some(_) => {}
                }
            }
            (ConnState::StandingBy, Some(StandBy::Unexplained)) => {
                if newer_alive {
                    self.standby = Some(StandBy::ForNewer { gone_since: None });
                } else if ours_took_it {
                    self.take_back(now);
                }
            }
            _ => {}
        }
    }

    /// Another process of ours took the session (an older one's late
    /// login, or a newer one gone since): take it back at once, as often
    /// as the window allows.
    fn take_back(&mut self, now: Instant) {
        let window = ms(self.config.takeback_window_ms);
        while self
            .takebacks
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.takebacks.pop_front();
        }
        let reaction = policy::reaction_to_older_process(
            self.takebacks.len() as u32,
            self.config.takebacks_max,
        );
        if reaction == Reaction::ReconnectNow {
            self.takebacks.push_back(now);
            self.react(now, reaction, DisconnectReason::Replaced);
        }
        // Else it stands by as it is (the 440 was reported already).
    }

    fn react(&mut self, now: Instant, reaction: Reaction, reason: DisconnectReason) {
        self.stable_at = None;
        self.health.last_disconnect = Some(reason.clone());
        match reaction {
            Reaction::ReconnectNow => self.connect(now),
            Reaction::RefreshVersionThenReconnect => {
                self.set_state(now, ConnState::RefreshingVersion);
                self.emit(Output::RefreshVersion);
            }
            Reaction::StandBy => {
                self.set_state(now, ConnState::StandingBy);
                self.standby = Some(StandBy::Unexplained);
                self.emit(Output::Alert(Alert::Replaced));
            }
            Reaction::NeedsPairing => {
                self.set_state(now, ConnState::NeedsPairing);
                self.emit(Output::Alert(Alert::NeedsPairing { reason }));
                if self.config.exit_on_logout {
                    self.emit(Output::Exit(exit::LOGGED_OUT));
                }
            }
            Reaction::BackOff => self.back_off(now, reason),
        }
    }

    fn back_off(&mut self, now: Instant, reason: DisconnectReason) {
        self.attempts = self.attempts.saturating_add(1);
        let max = self.config.max_reconnect_attempts;
        if max > 0 && self.attempts > max {
            self.set_state(now, ConnState::GaveUp);
            self.emit(Output::Alert(Alert::GaveUp {
                attempts: self.attempts - 1,
            }));
            self.emit(Output::Exit(exit::GAVE_UP));
            return;
        }
        let delay_ms = self.backoff_delay_ms(self.attempts);
        self.reconnect_at = Some(now + ms(delay_ms));
        self.set_state(
            now,
            ConnState::BackingOff {
                attempt: self.attempts,
            },
        );
        self.emit(Output::ReconnectIn {
            delay_ms,
            attempt: self.attempts,
            after: reason,
        });
    }

    /// Full jitter: uniform in [0, min(max, base · 2^(attempt-1))].
    fn backoff_delay_ms(&mut self, attempt: u32) -> u64 {
        let exp = attempt.saturating_sub(1).min(32);
        let ceiling = self
            .config
            .reconnect_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.config.reconnect_max_ms);
        self.rng.next_u64() % (ceiling + 1)
    }

    fn on_memory(&mut self, now: Instant, rss_bytes: u64) {
        self.health.rss_bytes = Some(rss_bytes);
        let Some(limit) = self.config.memory_limit_bytes else {
            return;
        };
        if rss_bytes <= limit {
            self.memory_deadline = None;
            return;
        }
        match self.memory_deadline {
            None => {
                self.memory_deadline = Some(now + ms(self.config.memory_grace_ms));
                self.emit(Output::Alert(Alert::MemoryOverLimit {
                    rss_bytes,
                    limit_bytes: limit,
                }));
                self.emit(Output::ShedCaches);
            }
            Some(deadline) if now >= deadline => {
                self.emit(Output::Alert(Alert::PlannedRestart { rss_bytes }));
                self.begin_shutdown(now, exit::PLANNED_RESTART);
            }
            Some(_) => {}
        }
    }

    fn begin_shutdown(&mut self, now: Instant, exit_code: i32) {
        self.reconnect_at = None;
        self.stable_at = None;
        self.backup_at = None;
        self.set_state(now, ConnState::ShuttingDown);
        self.shutdown = Some(ShutdownProgress {
            step: ShutdownStep::Drain,
            deadline: now + ms(self.config.shutdown_grace_ms),
            exit_code,
        });
        self.emit(Output::Shutdown(ShutdownStep::Drain));
    }

    fn on_input_while_stopping(&mut self, input: Input) {
        let Some(progress) = &mut self.shutdown else {
            return;
        };
        match input {
            Input::ShutdownStepDone(step) if step == progress.step => match step.next() {
                Some(next) => {
                    progress.step = next;
                    self.emit(Output::Shutdown(next));
                }
                None => {
                    let code = progress.exit_code;
                    self.shutdown = None;
                    self.emit(Output::Exit(code));
                }
            },
            Input::MemorySample { rss_bytes } => self.health.rss_bytes = Some(rss_bytes),
            Input::StoreHealth { up } => self.health.store_up = up,
            Input::Disconnected(reason) => self.health.last_disconnect = Some(reason),
            // A second request, stale steps, connection news: the shutdown goes on.
            _ => {}
        }
    }

    fn set_state(&mut self, now: Instant, state: ConnState) {
        if self.health.state != state {
            self.health.state = state;
            self.health.since = now;
        }
    }

    fn emit(&mut self, output: Output) {
        self.outputs.push_back(output);
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
