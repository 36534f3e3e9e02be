//! The status board: one shared picture of how the bot is doing, written
//! by the runner (client events, the keeper's health, memory samples, the
//! store) and read by the HTTP layer (/health, /ready, /status, /stats,
//! /metrics, /qr). It decides nothing; the keeper does.
//!
//! Time always comes in as a parameter (`Instant` for durations,
//! `UnixMillis` for what is shown), so every view is reproducible in tests.
//! Locks are held only to copy numbers in or out, never across an await.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use blacksky_bot::commands::RuntimeSnapshot;
use blacksky_core::client::{DisconnectReason, Event, Ignored};
use blacksky_core::keeper::{self, Alert, ConnState, Health, Reaction};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;
use serde::Serialize;

use crate::host::groups::GroupDirectory;
use crate::host::history::{History, MinuteSample, OfflineSpan};
use crate::host::redact::mask_jid;
use crate::store::Backlog;

/// The version of this binary, as /status and /metrics show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Disconnects remembered for /stats (the total is counted apart).
pub const RECONNECTIONS_KEPT_MAX: usize = 50;
/// Memory samples kept for the trend on /stats.
pub const MEMORY_SAMPLES_KEPT_MAX: usize = 60;
/// Alerts remembered for /status.
pub const ALERTS_KEPT_MAX: usize = 20;
/// Decrypt failure reasons counted apart (a label each on /metrics);
/// others count as `other`.
pub const DECRYPT_REASONS_KEPT_MAX: usize = 16;
/// Complete minutes the message rates look back over.
pub const RATE_WINDOW_MIN: usize = 60;

const MINUTE_MS: u64 = 60_000;
/// The running minute plus the complete ones before it.
const RING_SLOTS: usize = RATE_WINDOW_MIN + 1;
const EMPTY_MINUTE: u64 = u64::MAX;

/// Counts per wall-clock minute over the last hour, in a fixed ring: no
/// allocation per message, and old minutes fall out by being overwritten.
///
/// The ring never moves backwards: a record stamped before the newest
/// minute it has seen (the wall clock jumped back) counts in that newest
/// minute, so a clock jump cannot wipe or double-count a minute.
#[derive(Debug, Clone)]
pub struct MinuteRing {
    /// (minute number since the epoch, count) per slot.
    slots: [(u64, u64); RING_SLOTS],
    newest_minute: Option<u64>,
}

impl Default for MinuteRing {
    fn default() -> Self {
        MinuteRing::new()
    }
}

impl MinuteRing {
    pub fn new() -> MinuteRing {
        MinuteRing {
            slots: [(EMPTY_MINUTE, 0); RING_SLOTS],
            newest_minute: None,
        }
    }

    /// Adds `count` to the minute `wall` falls in.
    pub fn record(&mut self, wall: UnixMillis, count: u64) {
        let minute = self.effective_minute(wall);
        self.newest_minute = Some(minute);
        let slot = &mut self.slots[slot_of(minute)];
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 = slot.1.saturating_add(count);
    }

    /// The count recorded for one minute (0 if it is no longer kept).
    pub fn count_in(&self, minute: u64) -> u64 {
        let slot = self.slots[slot_of(minute)];
        if slot.0 == minute { slot.1 } else { 0 }
    }

    /// The minute `wall` falls in: the running one for [`record`] and the
    /// views (never before the newest minute already recorded).
    ///
    /// [`record`]: MinuteRing::record
    pub fn effective_minute(&self, wall: UnixMillis) -> u64 {
        let minute = wall.as_millis() / MINUTE_MS;
        self.newest_minute
            .map_or(minute, |newest| minute.max(newest))
    }

    /// The counts of the [`RATE_WINDOW_MIN`] complete minutes before the
    /// running one, oldest first.
    pub fn complete_minutes(&self, wall: UnixMillis) -> Vec<u64> {
        let current = self.effective_minute(wall);
        (1..=RATE_WINDOW_MIN as u64)
            .rev()
            .map(|back| current.checked_sub(back).map_or(0, |m| self.count_in(m)))
            .collect()
    }
}

fn slot_of(minute: u64) -> usize {
    // The remainder is below RING_SLOTS, so it fits a usize.
    (minute % RING_SLOTS as u64) as usize
}

/// A running total with its per-minute ring.
#[derive(Debug, Clone, Default)]
struct Counter {
    total: u64,
    ring: MinuteRing,
}

impl Counter {
    fn record(&mut self, wall: UnixMillis, count: u64) {
        self.total = self.total.saturating_add(count);
        self.ring.record(wall, count);
    }

    fn view(&self, wall: UnixMillis, started_wall: UnixMillis) -> RateView {
        let current = self.ring.effective_minute(wall);
        let per_minute = self.ring.complete_minutes(wall);
        // Only minutes the process lived through count towards the average:
        // a bot up for five minutes is not averaged over an hour.
        let started_minute = started_wall.as_millis() / MINUTE_MS;
        let lived = current
            .saturating_sub(started_minute)
            .min(RATE_WINDOW_MIN as u64) as usize;
        let lived_sum: u64 = per_minute.iter().skip(RATE_WINDOW_MIN - lived).sum();
        let per_minute_avg = if lived == 0 {
            0.0
        } else {
            (lived_sum as f64 / lived as f64 * 100.0).round() / 100.0
        };
        RateView {
            total: self.total,
            this_minute: self.ring.count_in(current),
            last_minute: per_minute.last().copied().unwrap_or(0),
            per_minute_avg,
            per_minute,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DisconnectRecord {
    reason: DisconnectReason,
    at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AlertRecord {
    kind: &'static str,
    detail: String,
    at: UnixMillis,
}

/// A QR text and when it stops being scannable.
#[derive(Clone)]
struct LiveQr {
    text: String,
    expires_at: UnixMillis,
}

/// One backoff of the keeper's: how long it said, and when the connect
/// it promised began (`None` while still waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectRecord {
    pub delay_ms: u64,
    pub scheduled_at: Instant,
    pub connecting_at: Option<Instant>,
}

#[derive(Debug)]
struct Board {
    /// The same moment on both clocks: turns the keeper's `Instant`s into
    /// wall times for display.
    started: Instant,
    started_wall: UnixMillis,
    state: &'static str,
    state_since: UnixMillis,
    jid: Option<String>,
    online_since: Option<UnixMillis>,
    last_disconnect: Option<DisconnectRecord>,
    reconnects: u64,
    /// The keeper's last backoff, and when the connect it promised began.
    reconnect: Option<ReconnectRecord>,
    disconnects_total: u64,
    reconnections: VecDeque<DisconnectRecord>,
    alerts: VecDeque<AlertRecord>,
    store_up: bool,
    store_write_queue_len: u64,
    store_failures_total: u64,
    limits_reached_total: u64,
    /// Times the connection's events channel was full and the connection
    /// waited for this loop.
    event_channel_waits_total: u64,
    /// The store worker's count of waits on a full results channel.
    store_results_waits_total: u64,
    store_stale_refusals_total: u64,
    e2e: E2eCounts,
    /// Retry receipts from devices we sent to (answered or not).
    retry_receipts_in_total: u64,
    outbox_backlog: Backlog,
    received: Counter,
    sent: Counter,
    rss_bytes: Option<u64>,
    memory_limit_bytes: Option<u64>,
    memory_trend: VecDeque<MemorySample>,
    qr: Option<LiveQr>,
    pairing_code: Option<String>,
    needs_pairing: bool,
    /// The dashboard's last 24 hours.
    history: History,
    /// Decrypt failures by reason (bounded: [`DECRYPT_REASONS_KEPT_MAX`]).
    decrypt_failures: BTreeMap<String, u64>,
    /// Unsent alerts and when the oldest was raised.
    alert_backlog: (u64, Option<UnixMillis>),
    /// One-time pre-keys held (uploaded, not yet used).
    pre_keys_left: Option<u64>,
}

/// A decrypt failure's reason as a metric label: its words before the
/// first `:` (the rest names a record or an error detail).
fn reason_label(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or("").trim();
    let label: String = head.chars().take(48).collect();
    if label.is_empty() {
        "other".to_owned()
    } else {
        label
    }
}

impl std::fmt::Debug for LiveQr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whoever holds the QR text can link their phone: never print it.
        f.debug_struct("LiveQr")
            .field("text", &"<redacted>")
            .field("expires_at", &self.expires_at.as_millis())
            .finish()
    }
}

impl Board {
    fn set_state(&mut self, word: &'static str, since: UnixMillis) {
        if self.state != word {
            self.state = word;
            self.state_since = since;
        }
    }

    fn wall_of(&self, at: Instant) -> UnixMillis {
        match at.checked_duration_since(self.started) {
            Some(after) => self.started_wall.saturating_add_millis(millis(after)),
            None => UnixMillis(
                self.started_wall
                    .as_millis()
                    .saturating_sub(millis(self.started.duration_since(at))),
            ),
        }
    }

    fn clear_pairing_display(&mut self) {
        self.qr = None;
        self.pairing_code = None;
    }

    fn linked(&self) -> bool {
        self.jid.is_some() && !self.needs_pairing
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The shared status picture. Cheap to clone (one `Arc`); every clone
/// sees the same board.
#[derive(Clone)]
pub struct StatusBoard {
    inner: Arc<Mutex<Board>>,
    /// The groups the bot is in, for its commands.
    groups: GroupDirectory,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The board's own Debug redacts the QR text and the pairing code.
        let board = self.lock();
        f.debug_struct("StatusBoard")
            .field("state", &board.state)
            .field("needs_pairing", &board.needs_pairing)
            .field("qr", &board.qr)
            .field(
                "pairing_code",
                &board.pairing_code.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl StatusBoard {
    /// A board for a process that started at `started` (both clocks read
    /// at the same moment).
    pub fn new(started: Instant, started_wall: UnixMillis) -> StatusBoard {
        StatusBoard {
            groups: GroupDirectory::default(),
            inner: Arc::new(Mutex::new(Board {
                started,
                started_wall,
                state: ConnState::Starting.as_str(),
                state_since: started_wall,
                jid: None,
                online_since: None,
                last_disconnect: None,
                reconnects: 0,
                reconnect: None,
                disconnects_total: 0,
                reconnections: VecDeque::new(),
                alerts: VecDeque::new(),
                store_up: true,
                store_write_queue_len: 0,
                store_failures_total: 0,
                limits_reached_total: 0,
                event_channel_waits_total: 0,
                store_results_waits_total: 0,
                store_stale_refusals_total: 0,
                e2e: E2eCounts::default(),
                retry_receipts_in_total: 0,
                outbox_backlog: Backlog::default(),
                received: Counter::default(),
                sent: Counter::default(),
                rss_bytes: None,
                memory_limit_bytes: None,
                memory_trend: VecDeque::new(),
                qr: None,
                pairing_code: None,
                needs_pairing: false,
                history: History::new(started_wall),
                decrypt_failures: BTreeMap::new(),
                alert_backlog: (0, None),
                pre_keys_left: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        // A panic while holding the lock leaves plain numbers behind, still
        // worth showing: a status page must not die with the writer.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The groups the bot is in, as the connection last told.
    #[must_use]
    pub fn groups(&self) -> &GroupDirectory {
        &self.groups
    }

    // ---- writers (the runner) ----

    /// A client event, at wall time `wall`.
    pub fn on_event(&self, event: &Event, wall: UnixMillis) {
        match event {
            Event::Qr { text, valid_ms, .. } => {
                let mut board = self.lock();
                board.pairing_code = None;
                board.qr = Some(LiveQr {
                    text: text.clone(),
                    expires_at: wall.saturating_add_millis(*valid_ms),
                });
            }
            Event::PairingCode { code } => {
                let mut board = self.lock();
                board.qr = None;
                board.pairing_code = Some(code.clone());
            }
            Event::Paired { jid, .. } | Event::LoggedIn { jid } => {
                let mut board = self.lock();
                board.jid = Some(jid.to_string());
                board.needs_pairing = false;
                board.clear_pairing_display();
            }
            Event::Online => {
                let mut board = self.lock();
                board.set_state(ConnState::Online.as_str(), wall);
                board.online_since = Some(wall);
                board.needs_pairing = false;
                board.clear_pairing_display();
                board.history.online(wall);
            }
            Event::MessageStored { .. } => {
                let mut board = self.lock();
                board.received.record(wall, 1);
                board.history.received(wall, 1);
            }
            Event::MessageSent { .. } => self.on_messages_sent(1, wall),
            Event::RetryAnswered { .. } | Event::RetryNotAnswered { .. } => {
                let mut board = self.lock();
                board.retry_receipts_in_total = board.retry_receipts_in_total.saturating_add(1);
            }
            Event::StoreFailed { .. } => {
                let mut board = self.lock();
                board.store_failures_total = board.store_failures_total.saturating_add(1);
            }
            Event::LimitReached { .. } => {
                let mut board = self.lock();
                board.limits_reached_total = board.limits_reached_total.saturating_add(1);
            }
            Event::DecryptFailed { reason, .. } => {
                let mut board = self.lock();
                board.e2e.retry_receipts_total += 1;
                let mut label = reason_label(reason);
                if !board.decrypt_failures.contains_key(&label)
                    && board.decrypt_failures.len() >= DECRYPT_REASONS_KEPT_MAX
                {
                    label = "other".to_owned();
                }
                *board.decrypt_failures.entry(label).or_insert(0) += 1;
            }
            Event::MessageUnreadable { .. } => self.lock().e2e.unreadable_total += 1,
            Event::IdentityChanged { .. } => self.lock().e2e.identity_changes_total += 1,
            Event::StanzaIgnored { what } => {
                if let Some(i) = Ignored::KINDS.iter().position(|k| *k == what.kind()) {
                    let mut board = self.lock();
                    let count = &mut board.e2e.stanzas_ignored_total[i];
                    *count = count.saturating_add(1);
                }
            }
            Event::Disconnected { reason } => self.record_disconnect(reason, wall),
            Event::GroupKnown(info) => self.groups.put(info),
            Event::GroupLeft { group } => self.groups.forget(group),
            Event::OfflineDelivered { .. }
            | Event::PreKeysUploaded { .. }
            | Event::KeysTakenFromStore { .. }
            | Event::SendFailed { .. }
            | Event::BundleRefused { .. }
            | Event::GroupsRead { .. }
            | Event::GroupsNotRead { .. }
            | Event::GroupChanged(_)
            | Event::SignedPreKeyRotated { .. }
            | Event::IqTimedOut { .. }
            | Event::Answered(_) => {}
        }
    }

    /// A connection ended (or could not be opened: the runner calls this
    /// on a failed dial too, which has no client event).
    pub fn record_disconnect(&self, reason: &DisconnectReason, wall: UnixMillis) {
        let mut board = self.lock();
        board.set_state(DISCONNECTED, wall);
        board.online_since = None;
        board.history.disconnected(wall);
        // QR refs and a pairing code belong to the socket that carried them.
        board.clear_pairing_display();
        if keeper::reaction(reason) == Reaction::NeedsPairing {
            board.needs_pairing = true;
        }
        let record = DisconnectRecord {
            reason: reason.clone(),
            at: wall,
        };
        board.last_disconnect = Some(record.clone());
        board.disconnects_total = board.disconnects_total.saturating_add(1);
        if board.reconnections.len() >= RECONNECTIONS_KEPT_MAX {
            board.reconnections.pop_front();
        }
        board.reconnections.push_back(record);
    }

    /// The keeper's health picture, after every keeper step.
    pub fn on_keeper_health(&self, health: &Health) {
        let mut board = self.lock();
        // The keeper's own `since` is the exact one, even when an event
        // already showed the same word.
        let since = board.wall_of(health.since);
        board.state = health.state.as_str();
        board.state_since = since;
        if health.state == ConnState::NeedsPairing {
            board.needs_pairing = true;
        }
        if health.state == ConnState::Online {
            board.online_since.get_or_insert(since);
        } else {
            board.online_since = None;
        }
        board.reconnects = health.reconnects;
        board.store_up = health.store_up;
        if let Some(rss) = health.rss_bytes {
            board.rss_bytes = Some(rss);
        }
        // A disconnect the keeper saw without a client event (a failed
        // dial): its state change is the best time we have for it.
        if let Some(reason) = &health.last_disconnect
            && board.last_disconnect.as_ref().map(|d| &d.reason) != Some(reason)
        {
            board.last_disconnect = Some(DisconnectRecord {
                reason: reason.clone(),
                at: since,
            });
        }
    }

    /// The keeper scheduled a reconnect `delay_ms` from `now`.
    pub fn on_reconnect_scheduled(&self, delay_ms: u64, now: Instant) {
        self.lock().reconnect = Some(ReconnectRecord {
            delay_ms,
            scheduled_at: now,
            connecting_at: None,
        });
    }

    /// A connection attempt began.
    pub fn on_connecting(&self, now: Instant) {
        if let Some(record) = &mut self.lock().reconnect {
            record.connecting_at.get_or_insert(now);
        }
    }

    /// The keeper's last backoff and when the reconnect began.
    pub fn last_reconnect(&self) -> Option<ReconnectRecord> {
        self.lock().reconnect
    }

    /// An alert the keeper raised.
    pub fn on_alert(&self, alert: &Alert, wall: UnixMillis) {
        let (kind, detail) = describe_alert(alert);
        let mut board = self.lock();
        if matches!(alert, Alert::NeedsPairing { .. }) {
            board.needs_pairing = true;
        }
        if board.alerts.len() >= ALERTS_KEPT_MAX {
            board.alerts.pop_front();
        }
        board.alerts.push_back(AlertRecord {
            kind,
            detail,
            at: wall,
        });
    }

    /// `count` messages were sent (acked by the server).
    pub fn on_messages_sent(&self, count: u64, wall: UnixMillis) {
        let mut board = self.lock();
        board.sent.record(wall, count);
        board.history.sent(wall, count);
    }

    /// The alert outbox: unsent alerts and when the oldest was raised.
    pub fn set_alert_backlog(&self, unsent: u64, oldest_at: Option<UnixMillis>) {
        self.lock().alert_backlog = (unsent, oldest_at);
    }

    /// The message outbox: unsent messages and when the oldest was queued.
    pub fn set_outbox_backlog(&self, backlog: Backlog) {
        self.lock().outbox_backlog = backlog;
    }

    /// One-time pre-keys the session holds.
    pub fn set_pre_keys_left(&self, count: u64) {
        self.lock().pre_keys_left = Some(count);
    }

    /// A resident-memory sample.
    pub fn on_memory(&self, rss_bytes: u64, wall: UnixMillis) {
        let mut board = self.lock();
        board.rss_bytes = Some(rss_bytes);
        board.history.memory(wall, rss_bytes);
        if board.memory_trend.len() >= MEMORY_SAMPLES_KEPT_MAX {
            board.memory_trend.pop_front();
        }
        board.memory_trend.push_back(MemorySample {
            at: wall,
            rss_bytes,
        });
    }

    /// MEMORY_LIMIT_MB in bytes, shown beside the samples.
    pub fn set_memory_limit(&self, limit_bytes: Option<u64>) {
        self.lock().memory_limit_bytes = limit_bytes;
    }

    /// The store's health and its queue of writes not yet durable.
    pub fn set_store(&self, up: bool, write_queue_len: u64) {
        let mut board = self.lock();
        board.store_up = up;
        board.store_write_queue_len = write_queue_len;
    }

    /// The store worker waited this many times for a connection to take
    /// its results ([`crate::session::worker::StoreHealth::results_waits_total`]).
    pub fn set_store_results_waits(&self, total: u64) {
        self.lock().store_results_waits_total = total;
    }

    /// Batches the store refused because another process of this session
    /// had changed a key record first
    /// ([`crate::session::worker::StoreHealth::stale_refusals_total`]).
    pub fn set_store_stale_refusals(&self, total: u64) {
        self.lock().store_stale_refusals_total = total;
    }

    /// A connection found its events channel full and waits (nothing is
    /// dropped; this counts it).
    pub fn on_event_channel_full(&self) {
        let mut board = self.lock();
        board.event_channel_waits_total = board.event_channel_waits_total.saturating_add(1);
    }

    /// The device this session is linked as, known from the stored creds
    /// before the first login (so the pairing page never offers to link a
    /// bot that already is).
    pub fn set_jid(&self, jid: &Jid) {
        self.lock().jid = Some(jid.to_string());
    }

    // ---- readers (the HTTP layer) ----

    /// True while the session is open and messages flow.
    pub fn is_online(&self) -> bool {
        self.lock().state == ConnState::Online.as_str()
    }

    /// The state word (`ConnState::as_str`, or `disconnected` between a
    /// disconnect and the keeper's next step).
    pub fn state_word(&self) -> &'static str {
        self.lock().state
    }

    /// True once a device is linked and not logged out since.
    pub fn is_linked(&self) -> bool {
        self.lock().linked()
    }

    /// What /status shows.
    pub fn status(&self, now: Instant, wall: UnixMillis) -> StatusView {
        let board = self.lock();
        StatusView {
            state: board.state,
            since: board.state_since.as_millis(),
            jid: board.jid.as_deref().map(mask_jid),
            uptime_s: now.saturating_duration_since(board.started).as_secs(),
            last_disconnect: board.last_disconnect.as_ref().map(DisconnectView::from),
            reconnects: board.reconnects,
            next_reconnect_at: board
                .reconnect
                .filter(|r| r.connecting_at.is_none())
                .map(|r| {
                    board
                        .wall_of(r.scheduled_at)
                        .saturating_add_millis(r.delay_ms)
                        .as_millis()
                }),
            store: StoreView {
                up: board.store_up,
                queue: board.store_write_queue_len,
                failures: board.store_failures_total,
            },
            pairing: PairingStateView {
                needs_pairing: board.needs_pairing,
                qr_shown: board.qr.as_ref().is_some_and(|qr| qr.expires_at > wall),
                code_shown: board.pairing_code.is_some(),
            },
            alerts: board
                .alerts
                .iter()
                .map(|a| AlertView {
                    kind: a.kind,
                    detail: a.detail.clone(),
                    at: a.at.as_millis(),
                })
                .collect(),
            version: VERSION,
        }
    }

    /// What /stats shows.
    pub fn stats(&self, now: Instant, wall: UnixMillis) -> StatsView {
        let board = self.lock();
        StatsView {
            uptime_s: now.saturating_duration_since(board.started).as_secs(),
            connection: ConnectionView {
                online: board.state == ConnState::Online.as_str(),
                online_since: board.online_since.map(UnixMillis::as_millis),
                uptime_s: board
                    .online_since
                    .map(|since| wall.as_millis().saturating_sub(since.as_millis()) / 1000),
            },
            messages: MessagesView {
                received: board.received.view(wall, board.started_wall),
                sent: board.sent.view(wall, board.started_wall),
            },
            memory: MemoryView {
                rss_bytes: board.rss_bytes,
                limit_bytes: board.memory_limit_bytes,
                trend: board
                    .memory_trend
                    .iter()
                    .map(|s| MemorySampleView {
                        at: s.at.as_millis(),
                        rss_bytes: s.rss_bytes,
                    })
                    .collect(),
            },
            reconnects: board.reconnects,
            disconnects_total: board.disconnects_total,
            reconnections: board
                .reconnections
                .iter()
                .map(DisconnectView::from)
                .collect(),
        }
    }

    /// What bot commands (`.stats`, `.uptime`, `.session`) read: the
    /// numbers /stats shows. The store and the last backup are the
    /// store worker's ([`crate::host::runtime_facts`] adds them).
    pub fn runtime_snapshot(&self) -> RuntimeSnapshot {
        let board = self.lock();
        RuntimeSnapshot {
            messages_in: board.received.total,
            messages_out: board.sent.total,
            started_at: board.started_wall,
            online_since: board
                .online_since
                .filter(|_| board.state == ConnState::Online.as_str()),
            rss_bytes: board.rss_bytes,
            reconnects: board.reconnects,
            store: String::new(),
            last_backup: None,
            pre_keys_left: board.pre_keys_left,
        }
    }

    /// The numbers /metrics exposes.
    pub fn metrics(&self, now: Instant) -> MetricsView {
        let board = self.lock();
        MetricsView {
            online: board.state == ConnState::Online.as_str(),
            reconnects_total: board.reconnects,
            disconnects_total: board.disconnects_total,
            messages_received_total: board.received.total,
            messages_sent_total: board.sent.total,
            store_up: board.store_up,
            store_write_queue_len: board.store_write_queue_len,
            store_failures_total: board.store_failures_total,
            store_stale_refusals_total: board.store_stale_refusals_total,
            limits_reached_total: board.limits_reached_total,
            channel_waits_total: board
                .event_channel_waits_total
                .saturating_add(board.store_results_waits_total),
            e2e: board.e2e,
            resident_memory_bytes: board.rss_bytes,
            uptime_s: now.saturating_duration_since(board.started).as_secs_f64(),
            console: {
                let wall = board.wall_of(now);
                ConsoleMetrics {
                    decrypt_failures: board
                        .decrypt_failures
                        .iter()
                        .map(|(reason, count)| (reason.clone(), *count))
                        .collect(),
                    retry_receipts_in_total: board.retry_receipts_in_total,
                    outbox_unsent: board.outbox_backlog.unsent,
                    outbox_oldest_age_s: board
                        .outbox_backlog
                        .oldest_at
                        .map(|at| wall.as_millis().saturating_sub(at.as_millis()) as f64 / 1000.0),
                    alert_outbox_unsent: board.alert_backlog.0,
                    alert_outbox_oldest_age_s: board
                        .alert_backlog
                        .1
                        .map(|at| wall.as_millis().saturating_sub(at.as_millis()) as f64 / 1000.0),
                    pre_keys_left: board.pre_keys_left,
                    sends_per_second: {
                        let minutes = board.sent.ring.complete_minutes(wall);
                        minutes.last().copied().unwrap_or(0) as f64 / 60.0
                    },
                }
            },
        }
    }

    /// What the dashboard at `/` shows.
    pub fn dashboard(&self, now: Instant, wall: UnixMillis) -> DashboardView {
        let board = self.lock();
        DashboardView {
            state: board.state,
            since: board.state_since,
            jid: board.jid.as_deref().map(mask_jid),
            linked: board.linked(),
            needs_pairing: board.needs_pairing,
            uptime_s: now.saturating_duration_since(board.started).as_secs(),
            started_at: board.started_wall,
            last_disconnect: board.last_disconnect.as_ref().map(DisconnectView::from),
            reconnects: board.reconnects,
            store: StoreView {
                up: board.store_up,
                queue: board.store_write_queue_len,
                failures: board.store_failures_total,
            },
            pre_keys_left: board.pre_keys_left,
            alerts_unsent: board.alert_backlog.0,
            alerts: board
                .alerts
                .iter()
                .rev()
                .map(|a| AlertView {
                    kind: a.kind,
                    detail: a.detail.clone(),
                    at: a.at.as_millis(),
                })
                .collect(),
            memory_limit_bytes: board.memory_limit_bytes,
            minutes: board.history.minutes(wall),
            offline_spans: board.history.offline_spans(wall),
            now: wall,
            version: VERSION,
        }
    }

    /// What the pairing page shows (QR text and code included: for the
    /// token-protected page only).
    pub fn pairing(&self, wall: UnixMillis) -> PairingView {
        let board = self.lock();
        let qr = board.qr.as_ref().filter(|qr| qr.expires_at > wall);
        PairingView {
            state: board.state,
            linked: board.linked(),
            needs_pairing: board.needs_pairing,
            jid: board.jid.as_deref().map(mask_jid),
            qr_text: qr.map(|qr| qr.text.clone()),
            qr_expires_in_ms: qr.map(|qr| qr.expires_at.as_millis() - wall.as_millis()),
            pairing_code: board.pairing_code.clone(),
        }
    }
}

/// The word shown between a disconnect and the keeper's next state.
pub const DISCONNECTED: &str = "disconnected";

fn describe_alert(alert: &Alert) -> (&'static str, String) {
    match alert {
        Alert::NeedsPairing { reason } => {
            ("needs_pairing", format!("{reason}: link this device again"))
        }
        Alert::Replaced => (
            "replaced",
            "another instance has the session: standing by".to_owned(),
        ),
        Alert::GaveUp { attempts } => (
            "gave_up",
            format!("no connection after {attempts} attempts"),
        ),
        Alert::ShutdownAbandoned { step } => (
            "shutdown_abandoned",
            format!("shutdown step {step:?} ran out of time"),
        ),
        Alert::MemoryOverLimit {
            rss_bytes,
            limit_bytes,
        } => (
            "memory_over_limit",
            format!("resident memory {rss_bytes} bytes over the limit of {limit_bytes}"),
        ),
        Alert::PlannedRestart { rss_bytes } => (
            "planned_restart",
            format!("restarting with {rss_bytes} bytes resident"),
        ),
    }
}

// ---- views: plain data, serialised as the routes' JSON ----

/// `/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub state: &'static str,
    /// When `state` began, Unix ms.
    pub since: u64,
    /// Masked: phone numbers are personal data, and /status is readable
    /// by anyone who can reach the port (see [`mask_jid`]).
    pub jid: Option<String>,
    pub uptime_s: u64,
    pub last_disconnect: Option<DisconnectView>,
    pub reconnects: u64,
    /// While backing off: when the next attempt is due, Unix ms.
    pub next_reconnect_at: Option<u64>,
    pub store: StoreView,
    pub pairing: PairingStateView,
    pub alerts: Vec<AlertView>,
    pub version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisconnectView {
    /// e.g. `428 connection closed`.
    pub reason: String,
    pub code: u16,
    /// Unix ms.
    pub at: u64,
}

impl From<&DisconnectRecord> for DisconnectView {
    fn from(record: &DisconnectRecord) -> Self {
        DisconnectView {
            reason: record.reason.to_string(),
            code: record.reason.code(),
            at: record.at.as_millis(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreView {
    pub up: bool,
    /// Writes not yet durable.
    pub queue: u64,
    /// Store commands that failed since start.
    pub failures: u64,
}

/// Whether pairing is under way; never the QR text or the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairingStateView {
    pub needs_pairing: bool,
    pub qr_shown: bool,
    pub code_shown: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertView {
    pub kind: &'static str,
    pub detail: String,
    pub at: u64,
}

/// `/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsView {
    /// Process uptime.
    pub uptime_s: u64,
    pub connection: ConnectionView,
    pub messages: MessagesView,
    pub memory: MemoryView,
    pub reconnects: u64,
    pub disconnects_total: u64,
    /// The last [`RECONNECTIONS_KEPT_MAX`] disconnects, oldest first.
    pub reconnections: Vec<DisconnectView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    pub online: bool,
    /// Unix ms.
    pub online_since: Option<u64>,
    pub uptime_s: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessagesView {
    pub received: RateView,
    pub sent: RateView,
}

/// A counter and its rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateView {
    pub total: u64,
    /// So far in the running minute.
    pub this_minute: u64,
    /// The last complete minute.
    pub last_minute: u64,
    /// Over the complete minutes of the last hour the process lived
    /// through, two decimals.
    pub per_minute_avg: f64,
    /// The last [`RATE_WINDOW_MIN`] complete minutes, oldest first.
    pub per_minute: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryView {
    pub rss_bytes: Option<u64>,
    pub limit_bytes: Option<u64>,
    /// The last [`MEMORY_SAMPLES_KEPT_MAX`] samples, oldest first.
    pub trend: Vec<MemorySampleView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MemorySample {
    at: UnixMillis,
    rss_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySampleView {
    pub at: u64,
    pub rss_bytes: u64,
}

/// End-to-end decryption trouble, counted for /metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct E2eCounts {
    /// Messages that did not decrypt, each retry receipt counted.
    pub retry_receipts_total: u64,
    /// Messages recorded as unreadable (poison, or out of retries).
    pub unreadable_total: u64,
    /// Contacts' devices seen with a new identity key.
    pub identity_changes_total: u64,
    /// Stanzas skipped as unusable, by kind (`Ignored::KINDS`' order).
    pub stanzas_ignored_total: [u64; Ignored::KINDS.len()],
}

/// The numbers behind /metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsView {
    pub online: bool,
    pub reconnects_total: u64,
    pub disconnects_total: u64,
    pub messages_received_total: u64,
    pub messages_sent_total: u64,
    pub store_up: bool,
    pub store_write_queue_len: u64,
    pub store_failures_total: u64,
    /// Batches refused because another process of this session had
    /// changed a key record they replace.
    pub store_stale_refusals_total: u64,
    /// Times a client bound was hit (`LimitReached` events).
    pub limits_reached_total: u64,
    /// Times a bounded channel between tasks was full and its producer
    /// waited instead of dropping.
    pub channel_waits_total: u64,
    pub e2e: E2eCounts,
    pub resident_memory_bytes: Option<u64>,
    pub uptime_s: f64,
    pub console: ConsoleMetrics,
}

/// The operator's figures on /metrics beside the connection's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsoleMetrics {
    /// Decrypt failures by reason, in label order.
    pub decrypt_failures: Vec<(String, u64)>,
    /// Retry receipts contacts sent for messages of ours (nothing is sent
    /// yet, so none come; the series exists).
    pub retry_receipts_in_total: u64,
    /// Outbound messages the server has not taken yet.
    pub outbox_unsent: u64,
    /// Seconds the oldest of them has waited.
    pub outbox_oldest_age_s: Option<f64>,
    pub alert_outbox_unsent: u64,
    /// Seconds the oldest unsent alert has waited.
    pub alert_outbox_oldest_age_s: Option<f64>,
    pub pre_keys_left: Option<u64>,
    /// Messages sent per second over the last complete minute.
    pub sends_per_second: f64,
}

/// What the dashboard shows. The JID is masked; nothing here is secret.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardView {
    pub state: &'static str,
    pub since: UnixMillis,
    pub jid: Option<String>,
    pub linked: bool,
    pub needs_pairing: bool,
    pub uptime_s: u64,
    pub started_at: UnixMillis,
    pub last_disconnect: Option<DisconnectView>,
    pub reconnects: u64,
    pub store: StoreView,
    pub pre_keys_left: Option<u64>,
    pub alerts_unsent: u64,
    /// Newest first.
    pub alerts: Vec<AlertView>,
    pub memory_limit_bytes: Option<u64>,
    /// The last 24 hours, oldest first.
    pub minutes: Vec<MinuteSample>,
    pub offline_spans: Vec<OfflineSpan>,
    pub now: UnixMillis,
    pub version: &'static str,
}

/// What the pairing page needs. Holds the live QR text and pairing code:
/// its `Debug` redacts both, and it is deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingView {
    pub state: &'static str,
    pub linked: bool,
    pub needs_pairing: bool,
    pub jid: Option<String>,
    /// Only while it is still valid.
    pub qr_text: Option<String>,
    pub qr_expires_in_ms: Option<u64>,
    pub pairing_code: Option<String>,
}

impl std::fmt::Debug for PairingView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingView")
            .field("state", &self.state)
            .field("linked", &self.linked)
            .field("needs_pairing", &self.needs_pairing)
            .field("jid", &self.jid)
            .field("qr_text", &self.qr_text.as_ref().map(|_| "<redacted>"))
            .field("qr_expires_in_ms", &self.qr_expires_in_ms)
            .field(
                "pairing_code",
                &self.pairing_code.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const T0: UnixMillis = UnixMillis(1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS);

    fn at_min(minute: u64, second: u64) -> UnixMillis {
        T0.saturating_add_millis(minute * MINUTE_MS + second * 1000)
    }

    #[test]
    fn ring_counts_each_minute_apart() {
        let mut ring = MinuteRing::new();
        ring.record(at_min(0, 1), 1);
        ring.record(at_min(0, 59), 2);
        ring.record(at_min(1, 0), 5);
        let complete = ring.complete_minutes(at_min(2, 30));
        assert_eq!(complete.len(), RATE_WINDOW_MIN);
        assert_eq!(complete[RATE_WINDOW_MIN - 2..], [3, 5]);
        assert!(complete[..RATE_WINDOW_MIN - 2].iter().all(|c| *c == 0));
    }

    #[test]
    fn ring_forgets_minutes_older_than_the_window() {
        let mut ring = MinuteRing::new();
        ring.record(at_min(0, 0), 7);
        ring.record(at_min(60, 0), 1);
        assert_eq!(
            ring.complete_minutes(at_min(60, 0))[0],
            7,
            "minute 0 is 60 back"
        );
        // Minute 61 reuses minute 0's slot.
        ring.record(at_min(61, 0), 2);
        assert_eq!(ring.count_in(T0.as_millis() / MINUTE_MS), 0);
        let complete = ring.complete_minutes(at_min(62, 0));
        assert_eq!(complete.iter().sum::<u64>(), 3);
        // An hour of silence empties the view.
        assert!(
            ring.complete_minutes(at_min(200, 0))
                .iter()
                .all(|c| *c == 0)
        );
    }

    #[test]
    fn ring_never_moves_backwards_when_the_clock_does() {
        let mut ring = MinuteRing::new();
        ring.record(at_min(10, 0), 1);
        ring.record(at_min(3, 0), 1);
        let newest = at_min(10, 0).as_millis() / MINUTE_MS;
        assert_eq!(ring.count_in(newest), 2);
        assert_eq!(ring.effective_minute(at_min(0, 0)), newest);
    }

    #[test]
    fn sends_and_retry_receipts_from_recipients_are_counted() {
        let started = Instant::now();
        let board = StatusBoard::new(started, at_min(0, 0));
        board.on_event(&Event::MessageSent { id: "a".into() }, at_min(0, 1));
        board.on_event(
            &Event::RetryAnswered {
                id: "a".into(),
                fresh_session: true,
            },
            at_min(0, 2),
        );
        board.on_event(
            &Event::RetryNotAnswered {
                id: "b".into(),
                reason: "unknown".into(),
            },
            at_min(0, 3),
        );
        let metrics = board.metrics(started + Duration::from_secs(5));
        assert_eq!(metrics.messages_sent_total, 1);
        assert_eq!(metrics.console.retry_receipts_in_total, 2);
    }

    #[test]
    fn average_counts_only_minutes_the_process_lived() {
        let started = Instant::now();
        let board = StatusBoard::new(started, at_min(0, 0));
        for second in 0..6 {
            board.on_event(
                &Event::MessageStored {
                    id: format!("m{second}"),
                    from: "x".into(),
                },
                at_min(0, second * 10),
            );
        }
        board.on_messages_sent(4, at_min(1, 5));
        let stats = board.stats(started + Duration::from_secs(150), at_min(2, 30));
        let received = &stats.messages.received;
        assert_eq!((received.total, received.this_minute), (6, 0));
        assert_eq!(received.last_minute, 0);
        // Two complete minutes lived: (6 + 0) / 2.
        assert!((received.per_minute_avg - 3.0).abs() < f64::EPSILON);
        let sent = &stats.messages.sent;
        assert_eq!((sent.total, sent.last_minute), (4, 4));
        assert!((sent.per_minute_avg - 2.0).abs() < f64::EPSILON);
        assert_eq!(stats.uptime_s, 150);
    }

    #[test]
    fn online_and_disconnect_drive_the_state() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        assert_eq!(board.state_word(), "starting");
        board.on_event(&Event::Online, at_min(1, 0));
        assert!(board.is_online());
        let stats = board.stats(started, at_min(3, 0));
        assert_eq!(stats.connection.uptime_s, Some(120));
        board.on_event(
            &Event::Disconnected {
                reason: DisconnectReason::ConnectionClosed,
            },
            at_min(4, 0),
        );
        assert_eq!(board.state_word(), DISCONNECTED);
        let status = board.status(started, at_min(4, 0));
        let last = status.last_disconnect.expect("recorded");
        assert_eq!((last.code, last.at), (428, at_min(4, 0).as_millis()));
        assert!(!status.pairing.needs_pairing);
    }

    #[test]
    fn keeper_health_sets_the_word_and_converts_since_to_wall_time() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        let health = Health {
            state: ConnState::BackingOff { attempt: 2 },
            since: started + Duration::from_secs(90),
            last_disconnect: Some(DisconnectReason::KeepaliveTimeout),
            reconnects: 3,
            store_up: false,
            rss_bytes: Some(12_000_000),
        };
        board.on_keeper_health(&health);
        let status = board.status(started + Duration::from_secs(100), at_min(1, 40));
        assert_eq!(status.state, "backing_off");
        assert_eq!(status.since, at_min(1, 30).as_millis());
        assert_eq!(status.reconnects, 3);
        assert!(!status.store.up);
        let last = status.last_disconnect.expect("taken from the keeper");
        assert_eq!((last.code, last.at), (428, at_min(1, 30).as_millis()));
        assert_eq!(
            board.metrics(started).resident_memory_bytes,
            Some(12_000_000)
        );
    }

    #[test]
    fn logged_out_needs_pairing_until_linked_again() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        board.on_event(
            &Event::LoggedIn {
                jid: Jid::parse("491556123456:7@s.whatsapp.net").expect("jid"),
            },
            T0,
        );
        assert!(board.is_linked());
        board.record_disconnect(&DisconnectReason::LoggedOut, T0);
        assert!(!board.is_linked());
        assert!(board.status(started, T0).pairing.needs_pairing);
        board.on_event(
            &Event::Paired {
                jid: Jid::parse("491556123456:8@s.whatsapp.net").expect("jid"),
                platform: None,
            },
            T0,
        );
        assert!(board.is_linked());
    }

    #[test]
    fn qr_expires_and_never_shows_in_debug_or_status() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        let text = "2@secret-ref,abc,def,1";
        board.on_event(
            &Event::Qr {
                text: text.into(),
                index: 0,
                valid_ms: 60_000,
            },
            at_min(0, 0),
        );
        let live = board.pairing(at_min(0, 30));
        assert_eq!(live.qr_text.as_deref(), Some(text));
        assert_eq!(live.qr_expires_in_ms, Some(30_000));
        assert!(board.status(started, at_min(0, 30)).pairing.qr_shown);
        assert_eq!(board.pairing(at_min(1, 0)).qr_text, None, "expired");
        board.on_event(
            &Event::PairingCode {
                code: "ABCD-EFGH".into(),
            },
            T0,
        );
        let shown = format!(
            "{board:?}{:?}{}",
            board.pairing(T0),
            serde_json::to_string(&board.status(started, T0)).expect("json")
        );
        assert!(
            !shown.contains("secret-ref") && !shown.contains("ABCD-EFGH"),
            "{shown}"
        );
    }

    #[test]
    fn bounded_lists_stay_bounded() {
        let started = Instant::now();
        let board = StatusBoard::new(started, T0);
        for i in 0..(RECONNECTIONS_KEPT_MAX as u64 + 5) {
            board.record_disconnect(&DisconnectReason::Other(600), at_min(i, 0));
            board.on_memory(i, at_min(i, 0));
            board.on_alert(&Alert::Replaced, at_min(i, 0));
        }
        let stats = board.stats(started, at_min(100, 0));
        assert_eq!(stats.reconnections.len(), RECONNECTIONS_KEPT_MAX);
        assert_eq!(stats.disconnects_total, RECONNECTIONS_KEPT_MAX as u64 + 5);
        assert_eq!(stats.reconnections[0].at, at_min(5, 0).as_millis());
        assert!(stats.memory.trend.len() <= MEMORY_SAMPLES_KEPT_MAX);
        assert_eq!(board.status(started, T0).alerts.len(), ALERTS_KEPT_MAX);
    }
}
