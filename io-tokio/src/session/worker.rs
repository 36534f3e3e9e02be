//! The store worker: one task that owns the store and makes writes durable
//! in the order they were handed in, so the connection never waits on the
//! database. The driver submits a batch per store op and goes on with the
//! socket, pings and timers; the worker reports `(op, result)` back over a
//! channel the driver selects on, and the client acks only then.
//!
//! When the store fails, the worker keeps the batch at the head of the
//! queue and retries it with exponential backoff (nothing behind it
//! overtakes it); "store down" is logged once and "store recovered" once.
//! The queue is bounded (`queue_len_max`): a batch that does not fit is
//! refused at once, which the client treats as a failed write — a message
//! stays un-acked and the server delivers it again. Nothing acked is ever
//! only in memory.
//!
//! Batches of a connection that has ended still land (they were never
//! acked; duplicates are dropped by message id), their results are simply
//! not reported. The worker also takes snapshots (on every credential
//! change, every backup interval, and on demand) and, when idle, hands
//! stored inbox entries to the [`InboxHandler`] in order, marking each
//! handled in the transaction that stores the handler's replies, its
//! settings and its effects; then it performs the effects
//! ([`crate::session::effects`]) and marks each done.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blacksky_bot::commands::{Account, Settings};
use blacksky_bot::{Action, Bot, BotConfig, Handler, Reply, Silent, chat_of};
use blacksky_core::client::OpId;
use blacksky_core::client::ask::AskError;
use blacksky_core::keeper::ShutdownStep;
use blacksky_core::session::{
    AppVersion, Committed, Creds, InboxContent, Me, Outbound, OutboxEntry, Session, StaleRecord,
    StoreFault, Write, pre_key_ids,
};
use blacksky_core::time::UnixMillis;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::host::clock::{Clock, SharedClock};
use crate::media::{MediaJob, MediaSender, MediaSettings};
use crate::session::asks::{AskFailure, Asks};
use crate::session::effects::{self, Plan, Refused};
use crate::session::grace::GraceBudget;
use crate::session::outbound::{OUTBOUND_VIEW_LEN_MAX, SharedOutbound};
use crate::session::performing::{AfterFailure, Performed, Performing, Sent};
use crate::session::proactive::{self, OutboxIntake};
use crate::session::retention::{self, Retention};
use crate::store::backup::Sealer;
use crate::store::{
    BROADCAST_GROUPS_MAX, Backlog, EFFECTS_BATCH_MAX, EffectRecord, InboxRecord, Standing, Store,
    StoreError,
};

/// The settings of a bot whose commands changed none.
const NO_SETTINGS: &str = "{}";

/// Media sends' questions for kept uploads waiting for the worker, at
/// most (one per send running: `PERFORMING_MAX`).
const KEPT_LOOKUPS_LEN_MAX: usize = crate::session::performing::PERFORMING_MAX;

/// A media send asks whether `file_sha256` was uploaded as `media_type`.
#[derive(Debug)]
struct KeptLookup {
    file_sha256: [u8; 32],
    media_type: &'static str,
    reply: oneshot::Sender<Option<blacksky_core::session::MediaUpload>>,
}

/// Batches committed in one transaction at most (see `Worker::group_with`).
const GROUP_COMMIT_JOBS_MAX: usize = 64;

fn has_fresh_pre_keys(job: &Job) -> bool {
    job.writes
        .iter()
        .any(|write| matches!(write, Write::FreshPreKeys(_)))
}

/// How often a registered process renews its "alive" mark, and how old a
/// mark may be for the process to count as alive: a few missed renewals
/// (a slow or briefly unreachable database) do not make it dead.
const INSTANCE_HEARTBEAT: Duration = Duration::from_secs(10);
const INSTANCE_ALIVE_MS: u64 = 45_000;
/// How far back an older process counts as a suspect for a 440 (its late
/// login): longer than a database outage may keep the question open.
const INSTANCE_RECENT_MS: u64 = 5 * 60_000;
/// The most an exit waits to clear its mark.
const RETIRE_TIMEOUT_MS: u64 = 2_000;
/// Commands waiting for the worker at most. Only the runner's one
/// `StoreWorker` sends them, and each sender but `Drop` awaits its reply
/// (or the room to send), so more than one or two never wait; a full
/// channel makes the sender wait, it never drops a command.
const CONTROL_LEN_MAX: usize = 16;
/// Results of a link waiting for its driver, beyond the client's
/// `store_ops_in_flight_max`: the few batches the client stores past that
/// cap (creds, a pre-key upload, the login confirmation).
const RESULTS_LEN_SLACK: usize = 64;

/// Limits and timings of the worker, units last.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Batches waiting at most; more are refused (never an OOM).
    pub queue_len_max: usize,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// One store call longer than this counts as failed (and is retried:
    /// every write is idempotent).
    pub attempt_timeout_ms: u64,
    /// Periodic snapshots; `None` turns them off.
    pub backup_interval: Option<Duration>,
    /// Snapshot generations kept.
    pub backup_keep: u32,
    /// Inbox entries fetched per handler round.
    pub inbox_batch_len: u32,
    /// While the store is down, "still down" is repeated this often.
    pub down_reminder_ms: u64,
    /// Stamps handled entries and snapshots.
    pub clock: SharedClock,
    /// This instance's name on the inbox entries it claims (unique per
    /// process: two overlapping dynos must differ).
    pub owner: String,
    /// How long a claim keeps other instances off an entry; a crashed
    /// instance's entries wait this long for the next one.
    pub claim_lease_ms: u64,
    /// Handled inbox and sent outbox rows older than this are deleted
    /// ([`retention`](crate::session::retention)); `None` keeps them.
    pub inbox_retention: Option<Duration>,
    /// Where media goes and where reaction clips come from.
    pub media: MediaSettings,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            queue_len_max: 4096,
            retry_base_ms: 100,
            retry_max_ms: 5_000,
            attempt_timeout_ms: 30_000,
            backup_interval: Some(Duration::from_secs(30 * 60)),
            backup_keep: 5,
            inbox_batch_len: 64,
            down_reminder_ms: 60_000,
            clock: SharedClock::default(),
            owner: random_owner(),
            claim_lease_ms: 30_000,
            inbox_retention: Some(retention::INBOX_RETENTION_DEFAULT),
            media: MediaSettings::default(),
        }
    }
}

/// A process-unique claim owner from the OS's randomness.
fn random_owner() -> String {
    use rand_core::{OsRng, RngCore};
    format!("{:016x}", OsRng.next_u64())
}

/// The store's health, shared with whoever reports it (/health, /metrics).
#[derive(Debug)]
pub struct StoreHealth {
    up: AtomicBool,
    queue_len: AtomicUsize,
    queue_len_max: AtomicUsize,
    failures_total: AtomicU64,
    outages_total: AtomicU64,
    writes_total: AtomicU64,
    snapshots_total: AtomicU64,
    last_snapshot_at_ms: AtomicU64,
    last_snapshot_generation: AtomicU64,
    handled_total: AtomicU64,
    results_waits_total: AtomicU64,
    stale_refusals_total: AtomicU64,
    /// Stored inbox entries may wait for the handler (the daily restart
    /// waits for none).
    inbox_waiting: AtomicBool,
    /// Outbound messages the server has not taken, as last counted.
    outbox_unsent: AtomicU64,
    /// When the oldest of them was queued (Unix ms; 0 for none).
    outbox_oldest_at_ms: AtomicU64,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            up: AtomicBool::new(true),
            queue_len: AtomicUsize::new(0),
            queue_len_max: AtomicUsize::new(0),
            failures_total: AtomicU64::new(0),
            outages_total: AtomicU64::new(0),
            writes_total: AtomicU64::new(0),
            snapshots_total: AtomicU64::new(0),
            last_snapshot_at_ms: AtomicU64::new(0),
            last_snapshot_generation: AtomicU64::new(0),
            handled_total: AtomicU64::new(0),
            results_waits_total: AtomicU64::new(0),
            stale_refusals_total: AtomicU64::new(0),
            inbox_waiting: AtomicBool::new(false),
            outbox_unsent: AtomicU64::new(0),
            outbox_oldest_at_ms: AtomicU64::new(0),
        }
    }
}

impl StoreHealth {
    pub fn new() -> Arc<StoreHealth> {
        Arc::default()
    }

    /// False from the first failed call until one succeeds again.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Batches handed in and not yet durable (the /metrics gauge).
    pub fn queue_len(&self) -> usize {
        self.queue_len.load(Ordering::Relaxed)
    }

    pub fn queue_len_max(&self) -> usize {
        self.queue_len_max.load(Ordering::Relaxed)
    }

    /// Failed store calls, each retry counted.
    pub fn failures_total(&self) -> u64 {
        self.failures_total.load(Ordering::Relaxed)
    }

    /// Times the store went down.
    pub fn outages_total(&self) -> u64 {
        self.outages_total.load(Ordering::Relaxed)
    }

    /// Batches made durable.
    pub fn writes_total(&self) -> u64 {
        self.writes_total.load(Ordering::Relaxed)
    }

    pub fn snapshots_total(&self) -> u64 {
        self.snapshots_total.load(Ordering::Relaxed)
    }

    /// Unix milliseconds of the last snapshot, 0 for none yet.
    pub fn last_snapshot_at_ms(&self) -> u64 {
        self.last_snapshot_at_ms.load(Ordering::Relaxed)
    }

    /// The generation of the last snapshot this process took, 0 for none.
    pub fn last_snapshot_generation(&self) -> u64 {
        self.last_snapshot_generation.load(Ordering::Relaxed)
    }

    /// Inbox entries the handler finished.
    pub fn handled_total(&self) -> u64 {
        self.handled_total.load(Ordering::Relaxed)
    }

    /// Times a connection's results channel was full and the worker
    /// waited for its driver (nothing was dropped).
    pub fn results_waits_total(&self) -> u64 {
        self.results_waits_total.load(Ordering::Relaxed)
    }

    /// Batches refused because another process of this session had
    /// changed a key record they replace (overlapping dynos).
    pub fn stale_refusals_total(&self) -> u64 {
        self.stale_refusals_total.load(Ordering::Relaxed)
    }

    /// True while stored inbox entries may still wait for the handler.
    pub fn inbox_waiting(&self) -> bool {
        self.inbox_waiting.load(Ordering::Relaxed)
    }

    /// The message outbox as last counted (every instance heartbeat).
    pub fn outbox_backlog(&self) -> Backlog {
        let oldest = self.outbox_oldest_at_ms.load(Ordering::Relaxed);
        Backlog {
            unsent: self.outbox_unsent.load(Ordering::Relaxed),
            oldest_at: (oldest > 0).then_some(UnixMillis(oldest)),
        }
    }
}

/// Receives stored inbox entries in arrival order, at wall time `at`. Its
/// replies are stored in the outbox in the transaction that marks the
/// entry handled; if that transaction fails the entry is handed over
/// again (at least once, with exactly one set of replies stored).
pub trait InboxHandler: Send + 'static {
    fn handle(&mut self, entry: &InboxRecord, at: UnixMillis) -> Vec<OutboxEntry>;

    /// The whole handling of `entry`: its replies, and the effects and
    /// settings stored with them ([`Handling`]). Replies alone unless a
    /// handler has more.
    fn handle_entry(&mut self, entry: &InboxRecord, at: UnixMillis) -> Handling {
        Handling {
            outbox: self.handle(entry, at),
            ..Handling::default()
        }
    }

    /// The settings an earlier run stored ([`Handling::settings`]),
    /// handed over once at start before any entry.
    fn restore_settings(&mut self, _json: &str) {}

    /// The linked account, at start and whenever the creds name it.
    fn linked_account(&mut self, _me: &Me) {}

    /// The words for a refusal of an effect it asked for (a group change
    /// the server did not make), for the chat it was asked in.
    fn refusal_text(&self, _refused: &Refused) -> Option<Reply> {
        None
    }
}

/// What handling one inbox entry gave, stored in one transaction with
/// its handled mark.
#[derive(Debug, Default)]
pub struct Handling {
    pub outbox: Vec<OutboxEntry>,
    /// Effects for the worker to perform after the commit, as JSON
    /// ([`blacksky_bot::Action::to_json`]), in order.
    pub effects: Vec<String>,
    /// The handler's settings as JSON, when this entry changed them.
    pub settings: Option<String>,
}

/// A bot: the entries that are decrypted messages go to its handler;
/// unreadable entries get no answer.
impl<H: Handler> InboxHandler for Bot<H> {
    fn handle(&mut self, entry: &InboxRecord, at: UnixMillis) -> Vec<OutboxEntry> {
        self.handle_entry(entry, at).outbox
    }

    fn handle_entry(&mut self, entry: &InboxRecord, at: UnixMillis) -> Handling {
        let message = match &entry.content {
            InboxContent::Message(message) => message,
            InboxContent::GroupNotice => {
                return Handling {
                    outbox: self.handle_group_notice(&entry.stanza, at),
                    ..Handling::default()
                };
            }
            InboxContent::Unreadable(_) => return Handling::default(),
        };
        let handled = self.handle_stored(&entry.stanza, message, at);
        Handling {
            outbox: handled.outbox,
            // A setting change is kept as the settings, not performed.
            effects: handled
                .effects
                .iter()
                .filter(|effect| !matches!(effect, Action::Setting(_)))
                .map(Action::to_json)
                .collect(),
            settings: handled.settings,
        }
    }

    fn restore_settings(&mut self, json: &str) {
        match Settings::from_json(json) {
            Ok(settings) => {
                tracing::debug!("the bot's settings are restored from the store");
                Bot::restore_settings(self, settings);
            }
            Err(err) => tracing::error!(
                %err,
                "the bot's stored settings do not read: PREFIX and LANGUAGE apply until a command changes them"
            ),
        }
    }

    fn refusal_text(&self, refused: &Refused) -> Option<Reply> {
        self.refusal(&refused.chat, refused.refusal, &refused.people)
    }

    fn linked_account(&mut self, me: &Me) {
        Bot::linked_account(
            self,
            Account {
                pn: Some(chat_of(&me.jid)),
                lid: me.lid.as_ref().map(chat_of),
            },
        );
    }
}

/// A bot that answers nothing: what arrives is stored, acked and logged.
#[must_use]
pub fn silent_bot() -> Bot<Silent> {
    Bot::new(Silent, BotConfig::default())
}

/// A finished write of the current connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub op: OpId,
    pub result: Result<Committed, StoreFault>,
}

/// Why the worker could not answer a request (snapshot, standing).
#[derive(Debug, Error)]
pub enum WorkerError {
    /// The worker task has ended (stopped, or its store call panicked).
    #[error("the store worker has stopped")]
    Stopped,
    /// No answer within the caller's timeout.
    #[error("no answer from the store worker within {ms} ms")]
    TimedOut { ms: u64 },
    /// The store is failing and the worker is retrying a write: the
    /// request is refused rather than queued behind the outage.
    #[error("the store is down")]
    StoreDown,
    /// The store refused or failed the call.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The session does not seal into a snapshot.
    #[error("sealing the snapshot: {0}")]
    Seal(#[from] blacksky_core::session::snapshot::SnapshotError),
}

impl From<SnapshotFailure> for WorkerError {
    fn from(failure: SnapshotFailure) -> WorkerError {
        match failure {
            SnapshotFailure::Store(err) => WorkerError::Store(err),
            SnapshotFailure::Seal(err) => WorkerError::Seal(err),
        }
    }
}

/// How a commit of queued jobs ended.
enum Landing {
    Committed(Committed),
    /// Refused for good ([`StoreError::Stale`]).
    Stale(StaleRecord),
    /// Told to stop while retrying.
    Stopped,
}

/// The queue is full: the write was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the store write queue is full ({0} writes waiting)")]
pub struct QueueFull(pub usize);

impl From<QueueFull> for StoreFault {
    fn from(full: QueueFull) -> StoreFault {
        StoreFault::QueueFull {
            queue_len_max: full.0,
        }
    }
}

struct Job {
    conn: u64,
    op: Option<OpId>,
    writes: Vec<Write>,
}

enum Control {
    Flush(oneshot::Sender<()>),
    /// Read the session back from the store once every queued write is in
    /// (another process may have written since this one read it).
    Reload(oneshot::Sender<()>),
    Snapshot {
        reason: &'static str,
        reply: oneshot::Sender<Result<u64, WorkerError>>,
    },
    Standing(oneshot::Sender<Result<Standing, WorkerError>>),
    /// Read the WhatsApp version learnt after a 405.
    ClientVersion(oneshot::Sender<Result<Option<AppVersion>, WorkerError>>),
    /// Keep a WhatsApp version learnt after a 405.
    KeepClientVersion {
        version: AppVersion,
        reply: oneshot::Sender<Result<(), WorkerError>>,
    },
    /// From now on, take the bot's proactive sends from here.
    Proactive(mpsc::Receiver<proactive::Request>),
    Stop,
}

/// Where the current connection's results go. The channel holds
/// `results_len_max` (see [`StoreWorker::link`]); should it be full
/// anyway, the worker waits for room: a `Done` is never dropped (its ack
/// would never be sent).
struct Route {
    conn: u64,
    tx: mpsc::Sender<Done>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `job` and applies its writes to `view`, both or neither: the
/// view always equals the store plus the writes queued for it.
fn try_submit(
    jobs: &mpsc::Sender<Job>,
    health: &StoreHealth,
    view: &Mutex<Session>,
    outbound: &SharedOutbound,
    job: Job,
) -> Result<(), QueueFull> {
    // One submitter at a time between the reservation and the view.
    let mut view = lock(view);
    let Ok(permit) = jobs.try_reserve() else {
        return Err(QueueFull(health.queue_len()));
    };
    for write in &job.writes {
        // Fresh pre-keys get their ids at commit; they join the view then.
        if !matches!(write, Write::FreshPreKeys(_)) {
            view.apply(write);
        }
    }
    outbound.apply_handed_in(&job.writes);
    // Counted before the send, so the worker never decrements first.
    let waiting = health.queue_len.fetch_add(1, Ordering::SeqCst) + 1;
    health.queue_len_max.fetch_max(waiting, Ordering::Relaxed);
    permit.send(job);
    Ok(())
}

/// The handle the runner keeps: spawn, link connections, flush, snapshot,
/// close.
pub struct StoreWorker {
    jobs: mpsc::Sender<Job>,
    control: mpsc::Sender<Control>,
    route: Arc<Mutex<Option<Route>>>,
    health: Arc<StoreHealth>,
    view: Arc<Mutex<Session>>,
    outbound: Arc<SharedOutbound>,
    next_conn: u64,
    task: Option<JoinHandle<()>>,
    /// Turns true when a handler's effect asked for a restart (`.restart`).
    restart: watch::Receiver<bool>,
    /// Requests for the server, handed to each connection.
    asks: Asks,
}

impl std::fmt::Debug for StoreWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWorker")
            .field("health", &self.health)
            .field("next_conn", &self.next_conn)
            .finish_non_exhaustive()
    }
}

/// One connection's end of the worker (what the driver uses).
#[derive(Debug)]
pub struct StoreLink {
    conn: u64,
    jobs: mpsc::Sender<Job>,
    control: mpsc::Sender<Control>,
    health: Arc<StoreHealth>,
    view: Arc<Mutex<Session>>,
    outbound: Arc<SharedOutbound>,
    asks: Asks,
    results: mpsc::Receiver<Done>,
    /// Read-backs asked for, in order; the client bounds them with its
    /// store ops in flight.
    read_backs: VecDeque<(OpId, oneshot::Receiver<()>)>,
}

/// What the worker finished for a connection.
#[derive(Debug)]
pub enum Finished {
    Write(Done),
    /// Outbound messages were stored: hand the client the unsent ones.
    OutboundChanged,
    /// The session read back from the store, with this process's writes
    /// since; `None` when the store did not answer.
    ReadBack {
        op: OpId,
        stored: Option<Box<Session>>,
    },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("conn", &self.conn)
            .field("op", &self.op)
            .field("writes", &self.writes.len())
            .finish()
    }
}

impl StoreLink {
    /// Hands in the writes of store op `op`; its [`Done`] comes from
    /// [`StoreLink::next_finished`].
    pub fn submit(&self, op: OpId, writes: Vec<Write>) -> Result<(), QueueFull> {
        try_submit(
            &self.jobs,
            &self.health,
            &self.view,
            &self.outbound,
            Job {
                conn: self.conn,
                op: Some(op),
                writes,
            },
        )
    }

    /// Hands in writes nobody waits for.
    pub fn submit_untracked(&self, writes: Vec<Write>) -> Result<(), QueueFull> {
        try_submit(
            &self.jobs,
            &self.health,
            &self.view,
            &self.outbound,
            Job {
                conn: self.conn,
                op: None,
                writes,
            },
        )
    }

    /// Where the shell's requests for the server wait for a connection.
    pub fn asks(&self) -> &Asks {
        &self.asks
    }

    /// The first `len_max` unsent outbound messages, in order (sealed ones
    /// with their stanza).
    pub fn outbound(&self, len_max: usize) -> Vec<Outbound> {
        self.outbound.lock().first(len_max)
    }

    /// Asks for the session as the store holds it, read once every write
    /// handed in so far is committed (another process may have written
    /// keys since this one read it); answered by [`Self::next_finished`].
    pub fn read_back(&mut self, op: OpId) {
        let (tx, rx) = oneshot::channel();
        // A full control queue drops `tx`: the answer is then `None`.
        let _ = self.control.try_send(Control::Reload(tx));
        self.read_backs.push_back((op, rx));
    }

    /// The next finished write or read-back of this connection (`None`
    /// once the worker is gone).
    pub async fn next_finished(&mut self) -> Option<Finished> {
        enum Next {
            Write(Option<Done>),
            Reloaded(bool),
            Outbound,
        }
        let reloaded = async {
            match self.read_backs.front_mut() {
                Some((_, rx)) => rx.await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            biased;
            done = self.results.recv() => Next::Write(done),
            reloaded = reloaded => Next::Reloaded(reloaded),
            () = self.outbound.changed() => Next::Outbound,
        };
        match next {
            Next::Write(done) => done.map(Finished::Write),
            Next::Outbound => Some(Finished::OutboundChanged),
            Next::Reloaded(reloaded) => {
                let (op, _) = self.read_backs.pop_front()?;
                let stored = reloaded.then(|| Box::new(lock(&self.view).clone()));
                Some(Finished::ReadBack { op, stored })
            }
        }
    }
}

impl StoreWorker {
    /// Starts the worker on `store`, which holds `session` now.
    pub fn spawn<S: Store>(
        store: S,
        session: Session,
        sealer: Sealer,
        handler: Box<dyn InboxHandler>,
        config: WorkerConfig,
        health: Arc<StoreHealth>,
    ) -> StoreWorker {
        let (jobs_tx, jobs_rx) = mpsc::channel(config.queue_len_max.max(1));
        let (control_tx, control_rx) = mpsc::channel(CONTROL_LEN_MAX);
        let route = Arc::new(Mutex::new(None));
        let mut handler = handler;
        if let Some(me) = &session.creds.me {
            handler.linked_account(me);
        }
        let view = Arc::new(Mutex::new(session));
        let outbound = Arc::new(SharedOutbound::default());
        let next_backup = config.backup_interval.map(|i| Instant::now() + i);
        let (restart_tx, restart_rx) = watch::channel(false);
        let asks = Asks::default();
        let media = match MediaSender::from_settings(asks.clone(), &config.media) {
            Ok(media) => Some(Arc::new(media)),
            Err(err) => {
                tracing::error!(
                    "media sends stay pending: no TLS client for the media hosts: {err}"
                );
                None
            }
        };
        let (kept_tx, kept_rx) = mpsc::channel(KEPT_LOOKUPS_LEN_MAX);
        let (sent_tx, sent_rx) = mpsc::channel(crate::session::performing::PERFORMING_MAX);
        let worker = Worker {
            store,
            jobs: jobs_rx,
            control: control_rx,
            route: route.clone(),
            health: health.clone(),
            view: view.clone(),
            outbound: outbound.clone(),
            outbound_loaded: false,
            sealer,
            handler,
            settings_restored: false,
            effects_dirty: true,
            performing: Performing::new(asks.clone()),
            media,
            kept_tx,
            kept_rx,
            sent_tx,
            sent_rx,
            restart: restart_tx,
            proactive: None,
            flushes: Vec::new(),
            reloads: Vec::new(),
            view_stale: false,
            down_since: None,
            last_down_log: Instant::now(),
            idle_retry_at: None,
            idle_delay_ms: config.retry_base_ms,
            // Entries left unhandled by a crash are handed over at start.
            inbox_dirty: true,
            held_job: None,
            unsaved_handled: None,
            registered: false,
            next_heartbeat: Instant::now(),
            next_inbox_sweep: Instant::now() + Duration::from_millis(config.claim_lease_ms.max(1)),
            snapshot_due: None,
            next_backup,
            retention: Retention::new(config.inbox_retention),
            config,
        };
        StoreWorker {
            jobs: jobs_tx,
            control: control_tx,
            route,
            health,
            view,
            outbound,
            next_conn: 0,
            task: Some(tokio::spawn(worker.run())),
            restart: restart_rx,
            asks,
        }
    }

    /// Resolves once a handler's effect asked for a planned restart (its
    /// effect is marked done before: a restart never loops).
    pub fn restart_requested(&self) -> watch::Receiver<bool> {
        self.restart.clone()
    }

    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    /// A link for a new connection whose client has at most
    /// `store_ops_in_flight_max` store ops un-answered; results of earlier
    /// links stop being reported.
    ///
    /// Its results channel holds that many plus a slack: each `Done`
    /// answers one op the client still waits on, so the channel does not
    /// fill while the client keeps to its cap. It is not a proof (a few
    /// ops are stored past the cap), so a full channel makes the worker
    /// wait for the driver, counted in
    /// [`StoreHealth::results_waits_total`]; a `Done` is never dropped.
    pub fn link(&mut self, store_ops_in_flight_max: usize) -> StoreLink {
        self.next_conn += 1;
        let results_len_max = results_len_max(store_ops_in_flight_max);
        let (tx, rx) = mpsc::channel(results_len_max);
        *lock(&self.route) = Some(Route {
            conn: self.next_conn,
            tx,
        });
        StoreLink {
            conn: self.next_conn,
            jobs: self.jobs.clone(),
            control: self.control.clone(),
            health: self.health.clone(),
            view: self.view.clone(),
            outbound: self.outbound.clone(),
            asks: self.asks.clone(),
            results: rx,
            read_backs: VecDeque::new(),
        }
    }

    /// The creds the store holds once the writes handed in so far are
    /// committed, and whether a login with them was confirmed.
    pub fn durable_creds(&self) -> (Creds, bool) {
        let view = lock(&self.view);
        (view.creds.clone(), view.login_confirmed)
    }

    /// The whole session as the store holds it once the writes handed in
    /// so far are committed: what a new connection starts from (the worker
    /// commits them in order and never drops one, so a connection never
    /// opens a message with keys older than those a queued write holds).
    pub fn session(&self) -> Session {
        lock(&self.view).clone()
    }

    /// One-time pre-keys the session holds (uploaded and not yet used).
    pub fn pre_keys_left(&self) -> usize {
        lock(&self.view).pre_keys.len()
    }

    /// Hands in writes nobody waits for (the runner's own).
    pub fn submit(&self, writes: Vec<Write>) -> Result<(), QueueFull> {
        try_submit(
            &self.jobs,
            &self.health,
            &self.view,
            &self.outbound,
            Job {
                conn: 0,
                op: None,
                writes,
            },
        )
    }

    /// Takes the bot's proactive sends (its [`proactive::Outbox`]
    /// handles) from `intake`.
    pub fn take_proactive(&self, intake: OutboxIntake) {
        let _ = self.control.try_send(Control::Proactive(intake.requests));
    }

    /// Waits until every write handed in so far is durable; false when
    /// `timeout` passed first.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let asked = async {
            self.control.send(Control::Flush(tx)).await.ok()?;
            rx.await.ok()
        };
        matches!(tokio::time::timeout(timeout, asked).await, Ok(Some(())))
    }

    /// Sends `command` and waits for its reply, both within `timeout`.
    async fn ask<T>(
        &self,
        command: Control,
        reply: oneshot::Receiver<Result<T, WorkerError>>,
        timeout: Duration,
    ) -> Result<T, WorkerError> {
        let asked = async {
            self.control
                .send(command)
                .await
                .map_err(|_| WorkerError::Stopped)?;
            reply.await.map_err(|_| WorkerError::Stopped)?
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(result) => result,
            Err(_) => Err(WorkerError::TimedOut {
                ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Reads the session back from the store into the view new
    /// connections start from, once every write handed in so far is
    /// committed: another process of this session (an overlapping dyno)
    /// may have moved keys on meanwhile: uploaded pre-keys, advanced
    /// sessions. False when that did not happen within `timeout` (the
    /// store is down): the view stays as it was.
    pub async fn reload(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Reload(tx)).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())))
    }

    /// Takes a snapshot now (after the writes handed in before it).
    pub async fn snapshot(
        &self,
        reason: &'static str,
        timeout: Duration,
    ) -> Result<u64, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Control::Snapshot { reason, reply }, rx, timeout)
            .await
    }

    /// Where this process stands among those that ran the session: is a
    /// newer one alive, did one run, was an older one alive lately (it
    /// registers itself the first time it asks, renews an "alive" mark
    /// from then on, and marks itself stopped when it stops). `Err` when
    /// the store cannot tell within `timeout`.
    pub async fn instance_standing(&self, timeout: Duration) -> Result<Standing, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Control::Standing(reply), rx, timeout).await
    }

    /// The WhatsApp version learnt after a 405 (by any process of the
    /// database), `None` before one was. `Err` when the store cannot say
    /// within `timeout`.
    pub async fn client_version(
        &self,
        timeout: Duration,
    ) -> Result<Option<AppVersion>, WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Control::ClientVersion(reply), rx, timeout).await
    }

    /// Keeps `version` for every later connect, of this process after a
    /// restart too. `Err` when it was not stored within `timeout`.
    pub async fn keep_client_version(
        &self,
        version: AppVersion,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Control::KeepClientVersion { version, reply }, rx, timeout)
            .await
    }

    /// Stops the worker; writes still queued are dropped (none was acked).
    pub async fn stop(self) {
        self.stop_by(Instant::now().into_std() + Duration::from_secs(3600))
            .await;
    }

    /// Stops the worker by `deadline`: one store call that does not
    /// return (a database gone silent) is cut off there, so the exit stays
    /// inside the grace. Nothing cut off was acked: a commit that does not
    /// finish is rolled back, and the server delivers its messages again.
    pub async fn stop_by(mut self, deadline: std::time::Instant) {
        let deadline = Instant::from_std(deadline);
        let _ = tokio::time::timeout_at(deadline, self.control.send(Control::Stop)).await;
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                tracing::warn!(
                    "the store worker did not stop in its share of SHUTDOWN_GRACE_MS (a store \
                     call hangs): cut off; what it had not committed was never acked"
                );
            }
        }
    }

    /// The end of a run: waits for queued writes, takes the final snapshot,
    /// stops, each within its share of `budget`.
    pub async fn close(self, budget: Duration) {
        let grace = GraceBudget::new(Instant::now().into_std(), budget);
        let left = |step| {
            Instant::from_std(grace.step_deadline(step)).saturating_duration_since(Instant::now())
        };
        if self.flush(left(ShutdownStep::Drain)).await {
            if let Err(err) = self
                .snapshot("shutdown", left(ShutdownStep::FinalSnapshot))
                .await
            {
                tracing::error!("final snapshot failed: {err}");
            }
        } else {
            tracing::warn!(
                waiting = self.health.queue_len(),
                "the store did not take every write before shutdown; the ones left were never \
                 acked, and the server will deliver them again; no final snapshot"
            );
        }
        self.stop_by(grace.worker_stop_deadline()).await;
    }
}

impl Drop for StoreWorker {
    fn drop(&mut self) {
        // Should the channel be full, dropping the only sender closes it,
        // and the worker stops once it has read what is queued.
        let _ = self.control.try_send(Control::Stop);
    }
}

/// The results channel's bound for a client with this in-flight cap.
fn results_len_max(store_ops_in_flight_max: usize) -> usize {
    store_ops_in_flight_max.saturating_add(RESULTS_LEN_SLACK)
}

/// Why a snapshot was not taken.
#[derive(Debug, Error)]
enum SnapshotFailure {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("sealing: {0}")]
    Seal(#[from] blacksky_core::session::snapshot::SnapshotError),
}

struct Worker<S: Store> {
    store: S,
    jobs: mpsc::Receiver<Job>,
    control: mpsc::Receiver<Control>,
    route: Arc<Mutex<Option<Route>>>,
    health: Arc<StoreHealth>,
    view: Arc<Mutex<Session>>,
    outbound: Arc<SharedOutbound>,
    /// The outbound view holds the store's unsent rows (read at start,
    /// and again after a reload).
    outbound_loaded: bool,
    sealer: Sealer,
    handler: Box<dyn InboxHandler>,
    /// The handler has the settings the store kept (read once, before
    /// the first entry is handed over).
    settings_restored: bool,
    /// Effects may be pending: read and perform them when idle.
    effects_dirty: bool,
    /// Effects that ask the server, performed off this loop.
    performing: Performing,
    /// Media sends (uploads), performed off this loop too; `None` when no
    /// TLS client could be made (they stay pending).
    media: Option<Arc<MediaSender<Asks>>>,
    /// A media send asks whether its file was uploaded before.
    kept_tx: mpsc::Sender<KeptLookup>,
    kept_rx: mpsc::Receiver<KeptLookup>,
    /// Media sends come back here.
    sent_tx: mpsc::Sender<Sent>,
    sent_rx: mpsc::Receiver<Sent>,
    /// Asks the keeper's loop for a planned restart.
    restart: watch::Sender<bool>,
    /// Where the bot's proactive sends come from, once the runner says.
    proactive: Option<mpsc::Receiver<proactive::Request>>,
    config: WorkerConfig,
    /// Answered once the queue is empty: one per `flush` call still
    /// waiting, and each caller awaits its own, so one or two at most.
    flushes: Vec<oneshot::Sender<()>>,
    /// Reloads asked for, answered once done (or given up on: dropped).
    reloads: Vec<oneshot::Sender<()>>,
    /// The view holds writes the store refused: read it back when idle.
    view_stale: bool,
    down_since: Option<Instant>,
    last_down_log: Instant,
    /// Idle work (inbox, snapshots) after a failure waits until then.
    idle_retry_at: Option<Instant>,
    idle_delay_ms: u64,
    inbox_dirty: bool,
    /// A batch taken off the queue while grouping that must commit alone:
    /// it goes right after the group, before anything behind it.
    held_job: Option<Job>,
    /// A handled entry (its mark, settings and effects) whose commit
    /// failed: committed again before the handler is given anything, so
    /// an outage never hands it over twice.
    unsaved_handled: Option<Vec<Write>>,
    /// This process is in the store's instance list.
    registered: bool,
    /// When this process next renews its "alive" mark there.
    next_heartbeat: Instant,
    /// When the inbox is looked at again even if nothing new arrived.
    next_inbox_sweep: Instant,
    snapshot_due: Option<&'static str>,
    next_backup: Option<Instant>,
    retention: Retention,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next proactive send, if sends are taken.
async fn next_request(
    requests: &mut Option<mpsc::Receiver<proactive::Request>>,
) -> Option<proactive::Request> {
    match requests {
        Some(requests) => requests.recv().await,
        None => std::future::pending().await,
    }
}

impl<S: Store> Worker<S> {
    async fn run(mut self) {
        loop {
            if self.jobs.is_empty() {
                for flush in self.flushes.drain(..) {
                    let _ = flush.send(());
                }
                if !self.reloads.is_empty() || self.view_stale {
                    self.reload().await;
                }
            }
            self.health
                .inbox_waiting
                .store(self.inbox_dirty, Ordering::Relaxed);
            let idle_work = self.inbox_dirty
                || self.snapshot_due.is_some()
                || !self.outbound_loaded
                || !self.settings_restored
                || self.effects_dirty;
            let idle_at = self.idle_retry_at.unwrap_or_else(Instant::now);
            let next_retry = self.performing.next_retry();
            tokio::select! {
                biased;
                command = self.control.recv() => {
                    if !self.answer(command).await {
                        break;
                    }
                }
                job = self.jobs.recv() => match job {
                    Some(job) => {
                        let group = self.group_with(job);
                        if !self.run_group(group).await {
                            break;
                        }
                    }
                    None => break,
                },
                request = next_request(&mut self.proactive), if self.proactive.is_some() => match request {
                    Some(request) => self.queue_proactive(request).await,
                    None => self.proactive = None,
                },
                () = sleep_until(self.next_backup) => {
                    self.snapshot_due.get_or_insert("interval");
                    self.next_backup = self.config.backup_interval.map(|i| Instant::now() + i);
                }
                () = tokio::time::sleep_until(idle_at), if idle_work => self.idle_work().await,
                Some(performed) = self.performing.next() => self.on_performed(performed).await,
                Some(sent) = self.sent_rx.recv() => self.on_sent(sent).await,
                Some(lookup) = self.kept_rx.recv() => self.look_up_kept(lookup).await,
                () = sleep_until(next_retry) => {
                    if self.performing.wake_due(Instant::now()) {
                        self.effects_dirty = true;
                    }
                }
                () = tokio::time::sleep_until(self.next_heartbeat), if self.registered => {
                    self.next_heartbeat = Instant::now() + INSTANCE_HEARTBEAT;
                    let owner = self.config.owner.clone();
                    let renewed = Self::attempt(
                        INSTANCE_HEARTBEAT.as_millis() as u64,
                        self.store.heartbeat_instance(&owner),
                    );
                    if let Err(err) = renewed.await {
                        tracing::debug!("instance heartbeat not renewed: {err}");
                    }
                    self.count_outbox().await;
                }
                () = sleep_until(self.retention.next_round()) => {
                    let (wall, limit) = (self.config.clock.wall(), self.config.attempt_timeout_ms);
                    self.retention.run(&mut self.store, wall, limit).await;
                }
                () = tokio::time::sleep_until(self.next_inbox_sweep) => {
                    // Entries another (maybe dead) process had claimed are
                    // free once its lease ends: look again. And the answers
                    // another process of this session stored (an
                    // overlapping dyno handling its last entries after this
                    // one took the session) are this one's to send: read
                    // the unsent outbox again.
                    self.inbox_dirty = true;
                    self.outbound_loaded = false;
                    self.next_inbox_sweep =
                        Instant::now() + Duration::from_millis(self.config.claim_lease_ms.max(1));
                }
            }
        }
        if self.registered {
            // Exiting: a process standing by for this one may take over
            // at once instead of waiting for the mark to go stale.
            let owner = self.config.owner.clone();
            let retired = Self::attempt(RETIRE_TIMEOUT_MS, self.store.retire_instance(&owner));
            if let Err(err) = retired.await {
                tracing::debug!("instance not retired: {err}");
            }
        }
        let mut dropped = 0;
        while self.jobs.try_recv().is_ok() {
            dropped += 1;
        }
        self.health.queue_len.store(0, Ordering::SeqCst);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "store worker stopped with writes queued (never acked: the server redelivers)"
            );
        }
    }

    /// Carries out a command (`None`: the handle is gone); false on stop.
    async fn answer(&mut self, command: Option<Control>) -> bool {
        match command {
            None | Some(Control::Stop) => return false,
            Some(Control::Flush(reply)) => self.flushes.push(reply),
            Some(Control::Reload(reply)) => self.reloads.push(reply),
            Some(Control::Snapshot { reason, reply }) => {
                let result = self.snapshot(reason).await.map_err(WorkerError::from);
                let _ = reply.send(result);
            }
            Some(Control::Standing(reply)) => {
                let _ = reply.send(self.standing().await.map_err(WorkerError::from));
            }
            Some(Control::ClientVersion(reply)) => {
                let limit = self.config.attempt_timeout_ms;
                let read = Self::attempt(limit, self.store.client_version()).await;
                let _ = reply.send(read.map_err(WorkerError::from));
            }
            Some(Control::KeepClientVersion { version, reply }) => {
                let (limit, at) = (self.config.attempt_timeout_ms, self.config.clock.wall());
                let kept = Self::attempt(limit, self.store.put_client_version(version, at)).await;
                let _ = reply.send(kept.map_err(WorkerError::from));
            }
            Some(Control::Proactive(requests)) => self.proactive = Some(requests),
        }
        true
    }

    /// Counts the message outbox for /metrics.
    async fn count_outbox(&mut self) {
        let limit = self.config.attempt_timeout_ms;
        if let Ok(backlog) = Self::attempt(limit, self.store.outbox_backlog()).await {
            let oldest = backlog.oldest_at.map_or(0, UnixMillis::as_millis);
            self.health
                .outbox_unsent
                .store(backlog.unsent, Ordering::Relaxed);
            self.health
                .outbox_oldest_at_ms
                .store(oldest, Ordering::Relaxed);
        }
    }

    /// Stores one proactive send and tells its sender; nothing is kept to
    /// retry: the sender hears of the failure and may send again.
    async fn queue_proactive(&mut self, request: proactive::Request) {
        let queued = Write::Queued {
            at: self.config.clock.wall(),
            outbox: vec![request.outbound],
        };
        let result = match self.attempt_commit(std::slice::from_ref(&queued)).await {
            Ok(_) => {
                self.outbound.apply(std::slice::from_ref(&queued));
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        };
        let _ = request.stored.send(result);
    }

    /// `first` and the batches queued behind it, up to
    /// [`GROUP_COMMIT_JOBS_MAX`], to commit in one transaction: a burst of
    /// messages (or the backlog of an outage) costs a few commits, not one
    /// each. A batch with fresh pre-keys goes alone (its commit says which
    /// ids they got), so it ends the group and waits for the next turn.
    fn group_with(&mut self, first: Job) -> Vec<Job> {
        let mut group = vec![first];
        if has_fresh_pre_keys(&group[0]) {
            return group;
        }
        while group.len() < GROUP_COMMIT_JOBS_MAX {
            match self.jobs.try_recv() {
                Ok(job) if has_fresh_pre_keys(&job) => {
                    self.held_job = Some(job);
                    break;
                }
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        group
    }

    /// Commits a group of batches in one transaction, retrying until it
    /// lands (every write is idempotent); false if told to stop meanwhile.
    /// Then the batch held back by [`Worker::group_with`], if any.
    async fn run_group(&mut self, group: Vec<Job>) -> bool {
        if !self.run_jobs(group).await {
            return false;
        }
        match self.held_job.take() {
            Some(held) => self.run_jobs(vec![held]).await,
            None => true,
        }
    }

    async fn run_jobs(&mut self, group: Vec<Job>) -> bool {
        match self.commit_jobs(&group).await {
            Landing::Committed(committed) => self.after_commits(group, committed).await,
            Landing::Stopped => false,
            Landing::Stale(_) if group.len() > 1 => {
                // One of them replaces a key record another process
                // changed: each on its own, so only that one is refused.
                for job in group {
                    let going_on = match self.commit_jobs(std::slice::from_ref(&job)).await {
                        Landing::Committed(committed) => {
                            self.after_commits(vec![job], committed).await
                        }
                        Landing::Stopped => false,
                        Landing::Stale(stale) => self.refuse_stale(job, stale).await,
                    };
                    if !going_on {
                        return false;
                    }
                }
                true
            }
            Landing::Stale(stale) => match group.into_iter().next() {
                Some(job) => self.refuse_stale(job, stale).await,
                None => true,
            },
        }
    }

    /// Commits `jobs`' writes in one transaction, retrying until it lands
    /// (every write is idempotent) or is refused for good.
    async fn commit_jobs(&mut self, jobs: &[Job]) -> Landing {
        let joined: Vec<Write>;
        let writes = match jobs {
            [one] => one.writes.as_slice(),
            many => {
                joined = many
                    .iter()
                    .flat_map(|job| job.writes.iter().cloned())
                    .collect();
                joined.as_slice()
            }
        };
        let mut delay_ms = self.config.retry_base_ms;
        loop {
            match self.attempt_commit(writes).await {
                Ok(committed) => {
                    self.mark_up();
                    if writes
                        .iter()
                        .any(|w| matches!(w, Write::OutboundSent { .. }))
                    {
                        // Room in the outbound view: the inbox may go on.
                        self.inbox_dirty = true;
                    }
                    return Landing::Committed(committed);
                }
                Err(StoreError::Stale(stale)) => {
                    // The store answered: it is up, and said no.
                    self.mark_up();
                    return Landing::Stale(stale);
                }
                Err(err) => {
                    self.mark_down(&err);
                    if !self.pause(Duration::from_millis(delay_ms)).await {
                        return Landing::Stopped;
                    }
                    delay_ms = (delay_ms * 2).min(self.config.retry_max_ms);
                }
            }
        }
    }

    async fn after_commits(&mut self, jobs: Vec<Job>, committed: Committed) -> bool {
        for job in jobs {
            if !self.after_commit(job, committed).await {
                return false;
            }
        }
        true
    }

    /// `job` replaces a key record another process of this session
    /// changed (an overlapping dyno): never retried, since committing it
    /// would undo the other's ratchet step and encrypting from it would
    /// use a chain counter twice. Its connection hears of it and starts
    /// again from the store; the view, which holds its writes, is read
    /// back from the store.
    async fn refuse_stale(&mut self, job: Job, stale: StaleRecord) -> bool {
        self.health.queue_len.fetch_sub(1, Ordering::SeqCst);
        self.health
            .stale_refusals_total
            .fetch_add(1, Ordering::Relaxed);
        self.view_stale = true;
        tracing::warn!("{stale}; the connection starts again from the store's records");
        let Some(op) = job.op else {
            return true;
        };
        self.tell(
            job.conn,
            Done {
                op,
                result: Err(StoreFault::Stale(stale)),
            },
        )
        .await
    }

    async fn attempt_commit(&mut self, writes: &[Write]) -> Result<Committed, StoreError> {
        Self::attempt(self.config.attempt_timeout_ms, self.store.commit(writes)).await
    }

    /// One store call, cut off at the attempt timeout.
    async fn attempt<T>(
        limit: u64,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(Duration::from_millis(limit), call).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::TimedOut(limit)),
        }
    }

    /// Waits out a backoff, still answering commands; false on stop.
    async fn pause(&mut self, delay: Duration) -> bool {
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                biased;
                command = self.control.recv() => match command {
                    None | Some(Control::Stop) => return false,
                    Some(Control::Flush(tx)) => self.flushes.push(tx),
                    Some(Control::Reload(tx)) => self.reloads.push(tx),
                    Some(Control::Snapshot { reply, .. }) => {
                        let _ = reply.send(Err(WorkerError::StoreDown));
                    }
                    Some(Control::Standing(reply)) => {
                        let _ = reply.send(Err(WorkerError::StoreDown));
                    }
                    Some(Control::ClientVersion(reply)) => {
                        let _ = reply.send(Err(WorkerError::StoreDown));
                    }
                    Some(Control::KeepClientVersion { reply, .. }) => {
                        let _ = reply.send(Err(WorkerError::StoreDown));
                    }
                    Some(Control::Proactive(requests)) => self.proactive = Some(requests),
                },
                () = tokio::time::sleep_until(wake) => return true,
            }
        }
    }

    /// Books a committed batch and reports it to its connection; false if
    /// told to stop while waiting for room in the results channel.
    async fn after_commit(&mut self, job: Job, committed: Committed) -> bool {
        self.health.queue_len.fetch_sub(1, Ordering::SeqCst);
        self.outbound.apply_sealed(&job.writes);
        self.health.writes_total.fetch_add(1, Ordering::Relaxed);
        let mut creds_changed = false;
        for write in &job.writes {
            match write {
                Write::Creds(_) | Write::LoginConfirmed => creds_changed = true,
                Write::Inbox(_) => self.inbox_dirty = true,
                Write::FreshPreKeys(keys) => {
                    // Their ids are known now (see `try_submit`).
                    let mut keys = keys.clone();
                    let mut view = lock(&self.view);
                    if let Some((first, next)) = committed.pre_key_ids {
                        pre_key_ids::renumber(&mut keys, first);
                        let counter = &mut view.creds.next_pre_key_id;
                        *counter = pre_key_ids::later(*counter, next);
                    }
                    view.pre_keys
                        .extend(keys.into_iter().map(|key| (key.id, key)));
                }
                _ => {}
            }
        }
        if creds_changed {
            self.snapshot_due = Some("credentials changed");
            let me = lock(&self.view).creds.me.clone();
            if let Some(me) = me {
                self.handler.linked_account(&me);
            }
        }
        let Some(op) = job.op else {
            return true;
        };
        self.tell(
            job.conn,
            Done {
                op,
                result: Ok(committed),
            },
        )
        .await
    }

    /// Gives `done` to connection `conn`, if it is still the linked one.
    async fn tell(&mut self, conn: u64, done: Done) -> bool {
        let tx = match lock(&self.route).as_ref() {
            Some(route) if route.conn == conn => route.tx.clone(),
            // An ended connection: its client is gone, nobody acks.
            _ => return true,
        };
        match tx.try_send(done) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(done)) => self.wait_for_room(&tx, done).await,
        }
    }

    /// The results channel is full: waits until the driver takes one
    /// (counted, logged), still answering commands; false on stop. A
    /// closed channel (the connection ended) ends the wait.
    async fn wait_for_room(&mut self, tx: &mpsc::Sender<Done>, done: Done) -> bool {
        self.health
            .results_waits_total
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            capacity = tx.max_capacity(),
            "the connection's store results channel is full: the worker waits for the driver"
        );
        let sent = tx.send(done);
        tokio::pin!(sent);
        loop {
            tokio::select! {
                biased;
                command = self.control.recv() => {
                    if !self.answer(command).await {
                        return false;
                    }
                }
                _ = &mut sent => return true,
            }
        }
    }

    /// Replaces the view with the store's session, if nothing was handed
    /// in meanwhile (then the next idle moment tries again).
    async fn reload(&mut self) {
        let loaded = Self::attempt(self.config.attempt_timeout_ms, self.store.load_session()).await;
        match loaded {
            Ok(Some(session)) => {
                let mut view = lock(&self.view);
                if !self.jobs.is_empty() {
                    // A write arrived while reading: the view holds it and
                    // the read may not; read again once it is in.
                    return;
                }
                *view = session;
                self.view_stale = false;
                // Another process may have sent or sealed rows too.
                self.outbound_loaded = false;
            }
            // Nothing stored to read back.
            Ok(None) => self.view_stale = false,
            Err(err) => {
                // Keep the view; the caller times out and goes on with it.
                tracing::debug!("session not reloaded: {err}");
                self.reloads.clear();
                return;
            }
        }
        for reload in self.reloads.drain(..) {
            let _ = reload.send(());
        }
    }

    /// Reads the unsent outbound messages into the view, unless a write
    /// was handed in meanwhile (the view holds it, the read may not: read
    /// again at the next idle moment).
    async fn load_outbound(&mut self) -> Result<(), StoreError> {
        let limit = u32::try_from(OUTBOUND_VIEW_LEN_MAX).unwrap_or(u32::MAX);
        let rows = Self::attempt(
            self.config.attempt_timeout_ms,
            self.store.unsent_outbound(limit),
        )
        .await?;
        if self.jobs.is_empty() {
            self.outbound.reset(rows);
            self.outbound_loaded = true;
        }
        Ok(())
    }

    /// The inbox handler and due snapshots, when no write is waiting.
    async fn idle_work(&mut self) {
        let result = if !self.outbound_loaded {
            self.load_outbound().await
        } else if !self.settings_restored {
            self.restore_settings().await
        } else if self.inbox_dirty {
            self.pump_inbox().await.map(|more| self.inbox_dirty = more)
        } else if self.effects_dirty {
            self.perform_effects().await
        } else if let Some(reason) = self.snapshot_due {
            match self.snapshot(reason).await {
                Ok(_) => {
                    self.snapshot_due = None;
                    Ok(())
                }
                Err(SnapshotFailure::Store(err)) => Err(err),
                Err(err @ SnapshotFailure::Seal(_)) => {
                    // Retrying cannot fix the session record: say so loudly.
                    tracing::error!("snapshot not taken: {err}");
                    self.snapshot_due = None;
                    Ok(())
                }
            }
        } else {
            Ok(())
        };
        match result {
            Ok(()) => {
                self.mark_up();
                self.idle_retry_at = None;
                self.idle_delay_ms = self.config.retry_base_ms;
            }
            Err(err @ StoreError::Corrupt { .. }) => {
                // A corrupt key row: the snapshot cannot be taken until it is
                // repaired; the live session still works.
                tracing::error!("snapshot not taken: {err}");
                self.snapshot_due = None;
            }
            Err(err) => {
                self.mark_down(&err);
                self.idle_retry_at =
                    Some(Instant::now() + Duration::from_millis(self.idle_delay_ms));
                self.idle_delay_ms = (self.idle_delay_ms * 2).min(self.config.retry_max_ms);
            }
        }
    }

    /// Hands a batch of unhandled entries to the handler; true if more
    /// may be waiting.
    async fn pump_inbox(&mut self) -> Result<bool, StoreError> {
        if let Some(handled) = self.unsaved_handled.take() {
            self.commit_handled(handled).await?;
        }
        if self.outbound.lock().is_full() {
            // Replies wait to go out: handle more once they have.
            return Ok(false);
        }
        let batch = self.config.inbox_batch_len.max(1);
        let (owner, lease) = (self.config.owner.clone(), self.config.claim_lease_ms);
        let limit = self.config.attempt_timeout_ms;
        let entries = Self::attempt(limit, self.store.claim_inbox(&owner, lease, batch)).await?;
        for entry in &entries {
            let handling = self.handler.handle_entry(entry, self.config.clock.wall());
            let at = self.config.clock.wall();
            let outbox = handling
                .outbox
                .into_iter()
                .enumerate()
                .map(|(index, reply)| reply.into_outbound(&entry.id, index))
                .collect();
            // The mark first: what follows rides on its claim
            // (`Write::rides_on_handled`).
            let mut writes = vec![Write::Handled {
                id: entry.id.clone(),
                at,
                by: owner.clone(),
                outbox,
            }];
            writes.extend(handling.settings.map(|json| Write::BotSettings { json }));
            writes.extend(
                handling
                    .effects
                    .into_iter()
                    .enumerate()
                    .map(|(index, json)| Write::Effect {
                        id: format!("{}:e{index}", entry.id),
                        inbox_id: entry.id.clone(),
                        json,
                        at,
                    }),
            );
            self.commit_handled(writes).await?;
            if !self.jobs.is_empty() {
                // Writes the connection waits on go first.
                return Ok(true);
            }
        }
        Ok(entries.len() == batch as usize)
    }

    /// Hands the handler the settings the store kept, once.
    async fn restore_settings(&mut self) -> Result<(), StoreError> {
        let limit = self.config.attempt_timeout_ms;
        // None stored: the defaults (after a lost claim, a handler may
        // hold settings that were never stored).
        let stored = Self::attempt(limit, self.store.bot_settings()).await?;
        self.handler
            .restore_settings(stored.as_deref().unwrap_or(NO_SETTINGS));
        self.settings_restored = true;
        Ok(())
    }

    /// Performs the pending effects (see [`effects`]), each marked done
    /// once performed.
    async fn perform_effects(&mut self) -> Result<(), StoreError> {
        let limit = self.config.attempt_timeout_ms;
        let pending = Self::attempt(limit, self.store.pending_effects(EFFECTS_BATCH_MAX)).await?;
        for effect in &pending {
            self.perform(effect).await?;
        }
        self.effects_dirty = false;
        Ok(())
    }

    async fn perform(&mut self, effect: &EffectRecord) -> Result<(), StoreError> {
        let done = Write::EffectDone {
            id: effect.id.clone(),
            at: self.config.clock.wall(),
        };
        match effects::plan(effect) {
            Plan::Restart => {
                // Done before it is performed: the next process must not
                // read it and restart again.
                self.attempt_commit(std::slice::from_ref(&done)).await?;
                tracing::warn!(effect = %effect.id, "restart asked for by the owner: a graceful cycle");
                self.restart.send_replace(true);
            }
            Plan::Backup { to, answer } => {
                let generation = match self.snapshot("asked for by the owner").await {
                    Ok(generation) => generation,
                    Err(SnapshotFailure::Store(err)) => return Err(err),
                    Err(err @ SnapshotFailure::Seal(_)) => {
                        tracing::error!(effect = %effect.id, "the asked-for backup was not taken: {err}");
                        self.attempt_commit(std::slice::from_ref(&done)).await?;
                        return Ok(());
                    }
                };
                let queued = Write::Queued {
                    at: self.config.clock.wall(),
                    outbox: vec![effects::backup_answer(&effect.id, &to, &answer, generation)],
                };
                let writes = [queued, done];
                self.attempt_commit(&writes).await?;
                self.outbound.apply(&writes);
            }
            Plan::Broadcast { text } => {
                let groups = Self::attempt(
                    self.config.attempt_timeout_ms,
                    self.store.known_groups(BROADCAST_GROUPS_MAX),
                )
                .await?;
                let outbox: Vec<Outbound> = groups
                    .iter()
                    .filter_map(|group| effects::broadcast_text(&effect.id, group, &text))
                    .collect();
                tracing::info!(effect = %effect.id, groups = outbox.len(), "broadcast queued");
                let queued = Write::Queued {
                    at: self.config.clock.wall(),
                    outbox,
                };
                let writes = [queued, done];
                self.attempt_commit(&writes).await?;
                self.outbound.apply(&writes);
            }
            Plan::Queue(message) => {
                let writes = [
                    Write::Queued {
                        at: self.config.clock.wall(),
                        outbox: vec![message],
                    },
                    done,
                ];
                self.attempt_commit(&writes).await?;
                self.outbound.apply(&writes);
            }
            Plan::Ask { requests, .. } => {
                self.performing.start(effect, requests, Instant::now());
            }
            Plan::Media {
                to,
                media,
                caption,
                unusable,
            } => {
                let Some(sender) = self.media.clone() else {
                    return Ok(());
                };
                let job = MediaJob {
                    effect_id: effect.id.clone(),
                    to,
                    media: *media,
                    caption,
                    unusable,
                };
                let kept_tx = self.kept_tx.clone();
                let now = self.config.clock.wall();
                let send = async move {
                    let kept = |file_sha256, media_type| async move {
                        let (reply, answer) = oneshot::channel();
                        let lookup = KeptLookup {
                            file_sha256,
                            media_type,
                            reply,
                        };
                        kept_tx.send(lookup).await.ok()?;
                        answer.await.ok().flatten()
                    };
                    sender.perform(&job, kept, now).await
                };
                self.performing
                    .start_media(effect, send, &self.sent_tx, Instant::now());
            }
            Plan::Unreadable { why } => {
                tracing::error!(effect = %effect.id, "a stored effect does not read, dropped: {why}");
                self.attempt_commit(std::slice::from_ref(&done)).await?;
            }
        }
        Ok(())
    }

    /// An effect's requests came back: marked done with its answer, or
    /// left pending to be asked again.
    async fn on_performed(&mut self, performed: Performed) {
        let Performed { effect, outcome } = performed;
        let id = effect.id.clone();
        let Plan::Ask { then, .. } = effects::plan(&effect) else {
            self.performing.finished(&id);
            return;
        };
        let answer = match &outcome {
            // People it did not take for are named instead of the done text.
            Ok(answers) => match effects::refused_people(&effect, answers) {
                Some(refused) => self.refusal_answer(&id, &refused),
                None => effects::answer_of(&id, &then, answers),
            },
            Err(AskFailure::Client(AskError::Refused(refusal))) => {
                tracing::warn!(effect = %id, %refusal, "the server refused an effect");
                effects::refused_whole(&effect, *refusal).and_then(|r| self.refusal_answer(&id, &r))
            }
            Err(AskFailure::Client(AskError::BadAnswer(why))) => {
                tracing::error!(effect = %id, "the server's answer to an effect does not read: {why}");
                None
            }
            Err(transient) => match self.performing.failed(&id, Instant::now()) {
                AfterFailure::Retry => {
                    tracing::debug!(effect = %id, "an effect waits to be asked again: {transient}");
                    return;
                }
                AfterFailure::GiveUp { failures } => {
                    tracing::error!(effect = %id, failures, "an effect is given up on: {transient}");
                    None
                }
            },
        };
        let mut writes = Vec::with_capacity(2);
        if let Some(answer) = answer {
            writes.push(Write::Queued {
                at: self.config.clock.wall(),
                outbox: vec![answer],
            });
        }
        writes.push(Write::EffectDone {
            id: id.clone(),
            at: self.config.clock.wall(),
        });
        self.commit_performed(&id, &writes).await;
    }

    /// Commits what a performed effect gave (its done mark last); on a
    /// store failure it is performed again once the store is back (and its
    /// wait is over).
    async fn commit_performed(&mut self, id: &str, writes: &[Write]) {
        match self.attempt_commit(writes).await {
            Ok(_) => {
                self.outbound.apply(writes);
                self.performing.finished(id);
            }
            Err(err) => {
                self.mark_down(&err);
                let _ = self.performing.failed(id, Instant::now());
            }
        }
    }

    /// A media send came back: its writes (the upload kept, the message,
    /// the done mark) committed in one transaction, or it waits to be
    /// tried again (uploading again: the upload was not kept).
    async fn on_sent(&mut self, sent: Sent) {
        let Sent { effect, outcome } = sent;
        let id = effect.id;
        let writes = match outcome {
            Ok(writes) => writes,
            Err(retry) => {
                match self.performing.failed(&id, Instant::now()) {
                    AfterFailure::Retry => {
                        tracing::warn!(effect = %id, "a media send waits to be tried again: {retry}");
                        return;
                    }
                    AfterFailure::GiveUp { failures } => {
                        tracing::error!(effect = %id, failures, "a media send is given up on: {retry}");
                    }
                }
                vec![Write::EffectDone {
                    id: id.clone(),
                    at: self.config.clock.wall(),
                }]
            }
        };
        self.commit_performed(&id, &writes).await;
    }

    /// Answers a media send's question: the kept upload of a file, if the
    /// store has one (a failed read counts as none: it uploads again).
    async fn look_up_kept(&mut self, lookup: KeptLookup) {
        let limit = self.config.attempt_timeout_ms;
        let found = Self::attempt(
            limit,
            self.store
                .media_upload(&lookup.file_sha256, lookup.media_type),
        )
        .await
        .unwrap_or_else(|err| {
            tracing::warn!("a kept media upload could not be read: {err}");
            None
        });
        let _ = lookup.reply.send(found);
    }

    fn refusal_answer(&self, effect_id: &str, refused: &Refused) -> Option<Outbound> {
        let reply = self.handler.refusal_text(refused)?;
        Some(effects::text_to(effect_id, &refused.chat, &reply))
    }

    async fn standing(&mut self) -> Result<Standing, StoreError> {
        let limit = self.config.attempt_timeout_ms;
        let owner = self.config.owner.clone();
        if !self.registered {
            Self::attempt(limit, self.store.register_instance(&owner)).await?;
            self.registered = true;
            self.next_heartbeat = Instant::now() + INSTANCE_HEARTBEAT;
        }
        Self::attempt(
            limit,
            self.store
                .instance_standing(&owner, INSTANCE_ALIVE_MS, INSTANCE_RECENT_MS),
        )
        .await
    }

    /// Commits the handler's result, or keeps it to commit again.
    async fn commit_handled(&mut self, handled: Vec<Write>) -> Result<(), StoreError> {
        match self.attempt_commit(&handled).await {
            Ok(committed) if committed.claim_lost => {
                // Its lease ran out (a slow store) and another instance of
                // the session took the entry over: its handling counts.
                tracing::info!(
                    "an inbox entry was taken over by another instance: its answer is theirs"
                );
                if handled
                    .iter()
                    .any(|w| matches!(w, Write::BotSettings { .. }))
                {
                    // The handler changed its settings for a handling that
                    // was not stored: it gets the stored ones back.
                    self.settings_restored = false;
                }
                Ok(())
            }
            Ok(_) => {
                self.health.handled_total.fetch_add(1, Ordering::Relaxed);
                self.outbound.apply(&handled);
                if handled.iter().any(|w| matches!(w, Write::Effect { .. })) {
                    self.effects_dirty = true;
                }
                Ok(())
            }
            Err(err) => {
                self.unsaved_handled = Some(handled);
                Err(err)
            }
        }
    }

    async fn snapshot(&mut self, reason: &'static str) -> Result<u64, SnapshotFailure> {
        // Bounded like every store call: a database gone silent must not
        // keep the worker from its commands (a shutdown waits on them).
        let limit = self.config.attempt_timeout_ms;
        let Some(session) = Self::attempt(limit, self.store.load_session()).await? else {
            return Ok(0);
        };
        let created_at = self.config.clock.wall();
        let bytes = self.sealer.seal(&session, created_at).await?;
        let keep = self.config.backup_keep;
        let generation =
            Self::attempt(limit, self.store.put_snapshot(created_at, &bytes, keep)).await?;
        self.health.snapshots_total.fetch_add(1, Ordering::Relaxed);
        self.health
            .last_snapshot_at_ms
            .store(created_at.as_millis(), Ordering::Relaxed);
        self.health
            .last_snapshot_generation
            .store(generation, Ordering::Relaxed);
        tracing::info!(
            generation,
            bytes = bytes.len(),
            encrypted = self.sealer.is_encrypted(),
            reason,
            "Session backup completed"
        );
        Ok(generation)
    }

    fn mark_down(&mut self, err: &StoreError) {
        self.health.failures_total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        match self.down_since {
            None => {
                self.down_since = Some(now);
                self.last_down_log = now;
                self.health.up.store(false, Ordering::Relaxed);
                self.health.outages_total.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    waiting = self.health.queue_len(),
                    "store down: {err}; writes are queued and retried, and messages stay un-acked until they are stored"
                );
            }
            Some(since)
                if now.duration_since(self.last_down_log)
                    >= Duration::from_millis(self.config.down_reminder_ms) =>
            {
                self.last_down_log = now;
                tracing::warn!(
                    waiting = self.health.queue_len(),
                    down_s = now.duration_since(since).as_secs(),
                    "store still down: {err}"
                );
            }
            Some(_) => {}
        }
    }

    fn mark_up(&mut self) {
        if let Some(since) = self.down_since.take() {
            self.health.up.store(true, Ordering::Relaxed);
            tracing::info!(
                down_ms = since.elapsed().as_millis() as u64,
                waiting = self.health.queue_len(),
                "store recovered"
            );
        }
    }
}
