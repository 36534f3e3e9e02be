//! Where sessions live. One trait, [`Store`], over three stores: SQLite
//! (`<DATA_DIR>/blacksky.db`, the embedded default), PostgreSQL (when
//! `DATABASE_URL` is set) and memory (tests and the simulator). Every store
//! keeps the live session in normalized tables (one row per key, each batch
//! of [`Write`]s one transaction) and whole-session snapshots in rotating
//! generations, every row keyed by the session name so sessions can share
//! a database.
//!
//! The driver does not call a store: it hands writes to the session's
//! store worker (`crate::session::worker`), which owns the store, retries
//! through outages and reports back. The restore-at-start, import and
//! export logic is in [`backup`].

pub mod alert_outbox;
pub mod backup;
mod memory;
pub mod sealing;
mod sql;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use blacksky_core::session::snapshot::SnapshotKey;
use blacksky_core::session::{
    AppVersion, Committed, Creds, InboxContent, MediaUpload, Outbound, Session, StaleRecord, Write,
};
use blacksky_core::time::UnixMillis;
use thiserror::Error;

use crate::host::config::Config;
use crate::host::redact::mask_url;

pub use memory::{MemoryDb, MemoryStore};
pub use sealing::RowSecret;
pub use sql::{PgStore, SqliteStore};

/// The embedded store's file name under `DATA_DIR`.
pub const SQLITE_FILE: &str = "blacksky.db";

/// A process not seen for this long leaves the instance register.
pub const INSTANCE_FORGET_MS: u64 = 30 * 24 * 3600 * 1000;

/// A store fault. The text names what failed; it never holds key material
/// or a database password.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or could not be reached (retry may help).
    #[error("{what}: {source}")]
    Db {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A stored record does not read back.
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
    /// A configuration that can never work (retrying will not help).
    #[error("{0}")]
    Config(String),
    /// Injected by tests and the simulator.
    #[error("store unavailable (injected fault)")]
    Injected,
    #[error("store operation timed out after {0} ms")]
    TimedOut(u64),
    /// A key record the batch replaces was changed by another process:
    /// refused for good (retrying the same batch cannot succeed).
    #[error("{0}")]
    Stale(#[from] StaleRecord),
}

/// A stored record that does not read back: which, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("stored {what} is corrupt: {detail}")]
pub struct CorruptRecord {
    pub what: String,
    pub detail: String,
}

impl StoreError {
    /// The corrupt record this error names, or the error itself when it
    /// is another failure (the store could not be read at all).
    pub fn into_corrupt(self) -> Result<CorruptRecord, StoreError> {
        match self {
            StoreError::Corrupt { what, detail } => Ok(CorruptRecord { what, detail }),
            other => Err(other),
        }
    }

    /// True when trying again later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, StoreError::Config(_) | StoreError::Corrupt { .. })
    }
}

/// The creds row as stored.
#[derive(Debug, Clone)]
pub struct LiveCreds {
    pub creds: Creds,
    pub login_confirmed: bool,
}

/// An inbox row.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxRecord {
    /// Order of arrival (per database; increasing within a session).
    pub seq: i64,
    pub id: String,
    pub from: String,
    pub stanza: Vec<u8>,
    pub received_at: UnixMillis,
    pub handled_at: Option<UnixMillis>,
    /// The decrypted message, or why it cannot be read.
    pub content: InboxContent,
}

impl std::fmt::Debug for InboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxRecord")
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("from", &self.from)
            .field("stanza_bytes", &self.stanza.len())
            .field("handled_at", &self.handled_at)
            .field("content", &self.content)
            .finish()
    }
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub seq: i64,
    pub inbox_id: String,
    pub to: String,
    pub payload_bytes: usize,
    /// When the server took it (`None` until then).
    pub sent_at: Option<UnixMillis>,
    /// The WhatsApp message id ("" for a row written before ids were).
    pub id: String,
    /// Its stanza is stored (it was sealed).
    pub sealed: bool,
    /// When it was queued.
    pub created_at: UnixMillis,
}

/// Unsent rows of an outbox (messages, alerts): how many, and since when
/// the oldest waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub unsent: u64,
    pub oldest_at: Option<UnixMillis>,
}

/// An effect a handler asked for that is not done yet.
#[derive(Clone, PartialEq, Eq)]
pub struct EffectRecord {
    /// Unique: the inbox message id and the effect's place.
    pub id: String,
    /// The inbox message that asked for it.
    pub inbox_id: String,
    /// The effect as JSON (`blacksky_bot::Action::to_json`).
    pub json: String,
    pub created_at: UnixMillis,
}

// The JSON holds texts and numbers: Debug shows its size.
impl std::fmt::Debug for EffectRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EffectRecord")
            .field("id", &self.id)
            .field("json_bytes", &self.json.len())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Effects read per [`Store::pending_effects`] call at most.
pub const EFFECTS_BATCH_MAX: u32 = 64;

/// Groups a broadcast goes to at most ([`Store::known_groups`]).
pub const BROADCAST_GROUPS_MAX: u32 = 1024;

/// What one [`Store::prune`] call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCount {
    /// Handled inbox rows.
    pub inbox: u64,
    /// Sent outbox rows.
    pub outbox: u64,
    /// Effects marked done.
    pub effects: u64,
}

impl PruneCount {
    /// True when a table had `rows_max` rows to go: more may be left.
    pub fn hit(&self, rows_max: u32) -> bool {
        [self.inbox, self.outbox, self.effects]
            .into_iter()
            .any(|count| count >= u64::from(rows_max))
    }
}

/// One snapshot generation as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub generation: u64,
    pub created_at: UnixMillis,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for StoredSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSnapshot")
            .field("generation", &self.generation)
            .field("created_at", &self.created_at)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What the `instances` table says about the other processes of one
/// process's session, as [`Store::instance_standing`] reads it. "Newer"
/// and "older" are registration order (a process registers before its
/// first connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// A process registered after this one is alive: the session is its.
    pub newer_alive: bool,
    /// A process registered after this one ran (alive or not since).
    pub newer_ran: bool,
    /// A process registered before this one was seen alive lately (within
    /// the `recent_ms` asked for, stopped or not since).
    pub older_recent: bool,
}

/// One session in a database, for `blacksky session list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub name: String,
    /// The device JID, `None` before linking; `Err` when the creds row is
    /// unreadable.
    pub device: Result<Option<String>, CorruptRecord>,
    pub pre_keys: u64,
    pub signal_sessions: u64,
    pub inbox: u64,
    pub inbox_unhandled: u64,
    pub snapshots: u64,
    pub newest_snapshot_at: Option<UnixMillis>,
}

/// The interface every store implements. Each method is one transaction;
/// after a write returns `Ok`, a crash loses nothing of it.
pub trait Store: Send + 'static {
    /// A handle on this database's alert outbox, for the alert dispatcher
    /// (a task of its own); `None` for a store without one (the
    /// simulation's network store).
    fn alert_outbox(&self) -> Option<AnyStore> {
        None
    }

    /// The session name every row of this handle is keyed by.
    fn session_name(&self) -> &str;

    /// The key the live key rows are sealed under (SESSION_SECRET), `None`
    /// for a store that keeps them in clear: snapshots are sealed under it
    /// too, so a process derives one key from the secret, not two.
    fn row_key(&self) -> Option<Arc<SnapshotKey>> {
        None
    }

    /// The stored creds, `None` for a fresh store. A row that exists but
    /// cannot be read is [`StoreError::Corrupt`], never `None`: blacksky
    /// must not silently replace an identity.
    fn load_creds(&mut self) -> impl Future<Output = Result<Option<LiveCreds>, StoreError>> + Send;

    /// The whole live session (creds and every key), `None` without creds.
    fn load_session(&mut self) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Makes a batch of writes durable, all or nothing. Fresh pre-keys get
    /// ids past the stored counter and a creds write never moves it back
    /// (`blacksky_core::session::pre_key_ids`): what the store decided is
    /// in the answer.
    fn commit(
        &mut self,
        writes: &[Write],
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Replaces every key record and the creds with `session`'s (restore,
    /// import), in one transaction. Inbox, outbox and snapshots stay.
    fn replace_session(
        &mut self,
        session: &Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new snapshot generation and deletes all but the newest
    /// `keep`; returns the new generation number.
    fn put_snapshot(
        &mut self,
        created_at: UnixMillis,
        bytes: &[u8],
        keep: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every stored generation, newest first.
    fn snapshots(&mut self)
    -> impl Future<Output = Result<Vec<StoredSnapshot>, StoreError>> + Send;

    /// Claims up to `limit` unhandled entries for `owner` (a running
    /// instance) for `lease_ms` of the database's clock, and returns them
    /// oldest first: those no other live instance holds (unclaimed, its
    /// own, or an expired claim). One transaction, so two instances never
    /// get the same entry while a claim lasts.
    fn claim_inbox(
        &mut self,
        owner: &str,
        lease_ms: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InboxRecord>, StoreError>> + Send;

    /// Records that process `owner` runs this session now (it becomes
    /// the newest instance), alive as of now on the database's clock, and
    /// forgets the session's processes not seen for 30 days.
    fn register_instance(
        &mut self,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Renews `owner`'s "alive" mark (the database's clock).
    fn heartbeat_instance(
        &mut self,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks `owner` stopped: it is exiting, no longer alive. Its claims
    /// on inbox entries end with it: what it claimed and did not handle is
    /// the next process's at once, not after the lease.
    fn retire_instance(
        &mut self,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Where `owner` stands among the processes that ran this session;
    /// an instance is alive if it has not stopped and its mark is at most
    /// `alive_ms` old, recent if its mark is at most `recent_ms` old.
    fn instance_standing(
        &mut self,
        owner: &str,
        alive_ms: u64,
        recent_ms: u64,
    ) -> impl Future<Output = Result<Standing, StoreError>> + Send;

    /// Inbox entries not handled yet, oldest first (tools and tests).
    fn unhandled_inbox(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InboxRecord>, StoreError>> + Send;

    /// The whole inbox, oldest first (tools and tests).
    fn inbox(&mut self) -> impl Future<Output = Result<Vec<InboxRecord>, StoreError>> + Send;

    /// The whole outbox, oldest first (tools and tests).
    fn outbox(&mut self) -> impl Future<Output = Result<Vec<OutboxRecord>, StoreError>> + Send;

    /// The first `limit` outbound messages the server has not taken yet,
    /// in the order they were written.
    fn unsent_outbound(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Outbound>, StoreError>> + Send;

    /// Outbound messages the server has not taken yet: how many, and
    /// when the oldest was queued.
    fn outbox_backlog(&mut self) -> impl Future<Output = Result<Backlog, StoreError>> + Send;

    /// Deletes this session's inbox rows handled before `before`, its
    /// outbox rows sent before it and its effects done before it, oldest first, at most `rows_max` of each
    /// (one short transaction, however large the backlog). Unhandled and
    /// unsent rows always stay. Times are the ones the handler and the
    /// sender stamped (the host's wall clock).
    fn prune(
        &mut self,
        before: UnixMillis,
        rows_max: u32,
    ) -> impl Future<Output = Result<PruneCount, StoreError>> + Send;

    /// Deletes every row of this session, snapshots included.
    fn wipe(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every session in the database.
    fn sessions(&mut self) -> impl Future<Output = Result<Vec<SessionSummary>, StoreError>> + Send;

    /// The bot's settings as last stored ([`Write::BotSettings`]), `None`
    /// before any were.
    fn bot_settings(&mut self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The WhatsApp Web version learnt after a 405
    /// ([`Store::put_client_version`]), `None` before one was. One for the
    /// whole database: every session logs in with it.
    fn client_version(
        &mut self,
    ) -> impl Future<Output = Result<Option<AppVersion>, StoreError>> + Send;

    /// Keeps `version` (learnt at `learned_at`) for every later connect
    /// of every session of the database, in place of the one before.
    fn put_client_version(
        &mut self,
        version: AppVersion,
        learned_at: UnixMillis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The group chats (`…@g.us`) the inbox has messages from, at most
    /// `limit`, in JID order: where a broadcast goes until the group
    /// layer's metadata cache knows the groups (the inbox keeps
    /// `INBOX_RETENTION_DAYS` of them).
    fn known_groups(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Up to `limit` effects not marked done ([`Write::EffectDone`]),
    /// oldest first.
    fn pending_effects(
        &mut self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EffectRecord>, StoreError>> + Send;

    /// The kept upload of the file whose SHA-256 is `file_sha256` as
    /// `media_type` ([`Write::MediaUploaded`]), if any (the caller checks
    /// it is still reusable).
    fn media_upload(
        &mut self,
        file_sha256: &[u8; 32],
        media_type: &str,
    ) -> impl Future<Output = Result<Option<MediaUpload>, StoreError>> + Send;
}

/// The store the configuration selects.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
    Memory(MemoryStore),
}

impl AnyStore {
    /// PostgreSQL when `DATABASE_URL` is set, else SQLite in `DATA_DIR`;
    /// the key rows sealed under SESSION_SECRET when it is set.
    pub async fn open(config: &Config) -> Result<AnyStore, StoreError> {
        let secret = config.session_secret.as_ref().map(RowSecret::new);
        match &config.database_url {
            Some(url) => Ok(AnyStore::Postgres(
                PgStore::open_sealed(url.expose(), &config.session_id, None, secret.as_ref())
                    .await?,
            )),
            None => Ok(AnyStore::Sqlite(
                SqliteStore::open_sealed(
                    &config.data_dir.join(SQLITE_FILE),
                    &config.session_id,
                    secret.as_ref(),
                )
                .await?,
            )),
        }
    }

    /// Where the data is, for logs (passwords masked).
    pub fn describe(config: &Config) -> String {
        match &config.database_url {
            Some(url) => format!("PostgreSQL at {}", mask_url(url.expose())),
            None => format!(
                "SQLite at {}",
                Path::new(&config.data_dir).join(SQLITE_FILE).display()
            ),
        }
    }

    /// The same database under another session name.
    pub fn with_session(&self, session: &str) -> AnyStore {
        match self {
            AnyStore::Sqlite(s) => AnyStore::Sqlite(s.with_session(session)),
            AnyStore::Postgres(s) => AnyStore::Postgres(s.with_session(session)),
            AnyStore::Memory(s) => AnyStore::Memory(s.with_session(session)),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
            AnyStore::Memory($s) => $call.await,
        }
    };
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        AnyStore::Sqlite(store)
    }
}

impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> Self {
        AnyStore::Postgres(store)
    }
}

impl Store for AnyStore {
    fn alert_outbox(&self) -> Option<AnyStore> {
        Some(self.clone())
    }

    fn row_key(&self) -> Option<Arc<SnapshotKey>> {
        match self {
            AnyStore::Sqlite(s) => s.row_key(),
            AnyStore::Postgres(s) => s.row_key(),
            AnyStore::Memory(s) => s.row_key(),
        }
    }

    fn session_name(&self) -> &str {
        match self {
            AnyStore::Sqlite(s) => s.session_name(),
            AnyStore::Postgres(s) => s.session_name(),
            AnyStore::Memory(s) => s.session_name(),
        }
    }

    async fn load_creds(&mut self) -> Result<Option<LiveCreds>, StoreError> {
        dispatch!(self, s => s.load_creds())
    }

    async fn load_session(&mut self) -> Result<Option<Session>, StoreError> {
        dispatch!(self, s => s.load_session())
    }

    async fn commit(&mut self, writes: &[Write]) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.commit(writes))
    }

    async fn replace_session(&mut self, session: &Session) -> Result<(), StoreError> {
        dispatch!(self, s => s.replace_session(session))
    }

    async fn put_snapshot(
        &mut self,
        created_at: UnixMillis,
        bytes: &[u8],
        keep: u32,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.put_snapshot(created_at, bytes, keep))
    }

    async fn snapshots(&mut self) -> Result<Vec<StoredSnapshot>, StoreError> {
        dispatch!(self, s => s.snapshots())
    }

    async fn claim_inbox(
        &mut self,
        owner: &str,
        lease_ms: u64,
        limit: u32,
    ) -> Result<Vec<InboxRecord>, StoreError> {
        dispatch!(self, s => s.claim_inbox(owner, lease_ms, limit))
    }

    async fn register_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.register_instance(owner))
    }

    async fn heartbeat_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.heartbeat_instance(owner))
    }

    async fn retire_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.retire_instance(owner))
    }

    async fn instance_standing(
        &mut self,
        owner: &str,
        alive_ms: u64,
        recent_ms: u64,
    ) -> Result<Standing, StoreError> {
        dispatch!(self, s => s.instance_standing(owner, alive_ms, recent_ms))
    }

    async fn unhandled_inbox(&mut self, limit: u32) -> Result<Vec<InboxRecord>, StoreError> {
        dispatch!(self, s => s.unhandled_inbox(limit))
    }

    async fn inbox(&mut self) -> Result<Vec<InboxRecord>, StoreError> {
        dispatch!(self, s => s.inbox())
    }

    async fn outbox(&mut self) -> Result<Vec<OutboxRecord>, StoreError> {
        dispatch!(self, s => s.outbox())
    }

    async fn unsent_outbound(&mut self, limit: u32) -> Result<Vec<Outbound>, StoreError> {
        dispatch!(self, s => s.unsent_outbound(limit))
    }

    async fn outbox_backlog(&mut self) -> Result<Backlog, StoreError> {
        dispatch!(self, s => s.outbox_backlog())
    }

    async fn prune(&mut self, before: UnixMillis, rows_max: u32) -> Result<PruneCount, StoreError> {
        dispatch!(self, s => s.prune(before, rows_max))
    }

    async fn wipe(&mut self) -> Result<(), StoreError> {
        dispatch!(self, s => s.wipe())
    }

    async fn sessions(&mut self) -> Result<Vec<SessionSummary>, StoreError> {
        dispatch!(self, s => s.sessions())
    }

    async fn bot_settings(&mut self) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.bot_settings())
    }

    async fn pending_effects(&mut self, limit: u32) -> Result<Vec<EffectRecord>, StoreError> {
        dispatch!(self, s => s.pending_effects(limit))
    }

    async fn client_version(&mut self) -> Result<Option<AppVersion>, StoreError> {
        dispatch!(self, s => s.client_version())
    }

    async fn put_client_version(
        &mut self,
        version: AppVersion,
        learned_at: UnixMillis,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_client_version(version, learned_at))
    }

    async fn known_groups(&mut self, limit: u32) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.known_groups(limit))
    }

    async fn media_upload(
        &mut self,
        file_sha256: &[u8; 32],
        media_type: &str,
    ) -> Result<Option<MediaUpload>, StoreError> {
        dispatch!(self, s => s.media_upload(file_sha256, media_type))
    }
}

/// The wall clock as the core counts it.
pub fn wall_now() -> UnixMillis {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    UnixMillis(millis)
}
