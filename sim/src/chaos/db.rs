//! Host `db`: the bot's database over the simulated network.
//!
//! The rows live outside every host closure ([`Rows`]: the memory store,
//! or a SQLite file for some seeds), so they survive the `db` host's crash
//! the way a disk survives a database server's. What does not survive is work in flight: the host takes a
//! request off the wire, waits its commit latency, and only then applies
//! it. A crash in that window loses the write, the bot sees its call fail
//! (or time out) and must retry — the "committed or not?" ambiguity real
//! databases have. Partitions of bot↔db and latency are turmoil's own.
//!
//! The wire carries only request ids (8 bytes each way). The operation
//! itself travels out of band, through a mailbox both hosts share, since
//! they run in one process: the network decides *whether and when* it
//! runs, the closure decides *what* runs.

use std::any::Any;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use blacksky_core::session::{AppVersion, Committed, MediaUpload, Outbound, Session, Write};
use blacksky_core::time::UnixMillis;
use blacksky_io::host::clock::Clock;
use blacksky_io::store::{
    AnyStore, Backlog, EffectRecord, InboxRecord, LiveCreds, OutboxRecord, PruneCount,
    SessionSummary, Standing, Store, StoreError, StoredSnapshot,
};

use super::clock::SimClock;
use super::rows::Rows;

use super::sockets::{HostSockets, SimStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

/// The port the `db` host listens on.
pub const DB_PORT: u16 = 5432;
/// The host's name in the simulation.
pub const DB_HOST: &str = "db";
/// A store call that takes longer fails (the worker then retries).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Outcome = Box<dyn Any + Send>;
type Operation = Box<dyn FnOnce() -> Outcome + Send>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the bot's store handles and the `db` host share: the operations
/// waiting to run, their results, and the host's commit latency.
#[derive(Clone, Default)]
pub struct DbLink {
    mailbox: Arc<Mutex<HashMap<u64, Operation>>>,
    results: Arc<Mutex<HashMap<u64, Outcome>>>,
    next_id: Arc<AtomicU64>,
    latency_ms: Arc<AtomicU64>,
    /// Requests taken off the wire, and those committed.
    taken: Arc<AtomicU64>,
    committed: Arc<AtomicU64>,
    /// Where both ends' streams are registered (see [`HostSockets`]).
    sockets: HostSockets,
}

impl std::fmt::Debug for DbLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbLink")
            .field("waiting", &lock(&self.mailbox).len())
            .field("latency_ms", &self.latency_ms())
            .finish_non_exhaustive()
    }
}

impl DbLink {
    #[must_use]
    pub fn new(latency_ms: u64, sockets: HostSockets) -> DbLink {
        let link = DbLink {
            sockets,
            ..DbLink::default()
        };
        link.set_latency_ms(latency_ms);
        link
    }

    /// The stream registry both ends use (the bots' dialers too).
    #[must_use]
    pub fn sockets(&self) -> HostSockets {
        self.sockets.clone()
    }

    /// How long the host holds each request before committing it.
    pub fn set_latency_ms(&self, latency_ms: u64) {
        self.latency_ms.store(latency_ms, Ordering::SeqCst);
    }

    #[must_use]
    pub fn latency_ms(&self) -> u64 {
        self.latency_ms.load(Ordering::SeqCst)
    }

    /// Requests the host took off the wire and never committed (a crash
    /// caught them), counting any in flight now.
    #[must_use]
    pub fn lost_or_in_flight(&self) -> u64 {
        self.taken.load(Ordering::SeqCst) - self.committed.load(Ordering::SeqCst)
    }

    /// The `db` host's software: serves requests until the host dies.
    pub async fn serve(self) -> turmoil::Result {
        let listener = TcpListener::bind((IpAddr::from(Ipv4Addr::UNSPECIFIED), DB_PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let stream = self.sockets.track(stream)?;
            tokio::spawn(self.clone().serve_connection(stream));
        }
    }

    async fn serve_connection(self, mut stream: SimStream) {
        loop {
            let Ok(id) = stream.read_u64().await else {
                return;
            };
            // Taken off the wire: from here a crash of this host loses it.
            let Some(operation) = lock(&self.mailbox).remove(&id) else {
                continue;
            };
            self.taken.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(self.latency_ms())).await;
            let outcome = operation();
            self.committed.fetch_add(1, Ordering::SeqCst);
            lock(&self.results).insert(id, outcome);
            if stream.write_u64(id).await.is_err() {
                return;
            }
        }
    }
}

/// A [`Store`] whose every call is a round trip to the `db` host.
#[derive(Debug)]
pub struct NetStore {
    rows: Rows,
    session: String,
    link: DbLink,
    connection: Option<SimStream>,
}

impl NetStore {
    #[must_use]
    pub fn new(rows: Rows, session: &str, link: DbLink) -> NetStore {
        NetStore {
            rows,
            session: session.to_owned(),
            link,
            connection: None,
        }
    }

    /// Runs `operation` on the `db` host; any network fault or timeout is
    /// a failed call (which may or may not have committed).
    async fn call<T, F>(
        &mut self,
        operation: impl FnOnce(AnyStore) -> F + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let id = self.link.next_id.fetch_add(1, Ordering::SeqCst);
        let rows = self.rows.clone();
        let store = rows.store(&self.session);
        lock(&self.link.mailbox).insert(
            id,
            Box::new(move || {
                // The database's clock: the `db` host's simulated one.
                let now = SimClock::new().wall();
                Box::new(rows.execute(now, operation(store))) as Outcome
            }),
        );
        let answered = tokio::time::timeout(CALL_TIMEOUT, self.round_trip(id)).await;
        let failure = match answered {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(StoreError::Io {
                what: format!("{DB_HOST}:{DB_PORT}"),
                source: err,
            }),
            Err(_) => Some(StoreError::TimedOut(
                u64::try_from(CALL_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            )),
        };
        if let Some(err) = failure {
            // The connection may hold a late answer: never reuse it.
            self.connection = None;
            lock(&self.link.mailbox).remove(&id);
            lock(&self.link.results).remove(&id);
            return Err(err);
        }
        match lock(&self.link.results)
            .remove(&id)
            .map(|outcome| outcome.downcast::<Result<T, StoreError>>())
        {
            Some(Ok(result)) => *result,
            _ => Err(StoreError::Config(format!(
                "the {DB_HOST} host answered request {id} without a result"
            ))),
        }
    }

    async fn round_trip(&mut self, id: u64) -> std::io::Result<()> {
        if self.connection.is_none() {
            let stream = TcpStream::connect((DB_HOST, DB_PORT)).await?;
            self.connection = Some(self.link.sockets.track(stream)?);
        }
        let Some(stream) = self.connection.as_mut() else {
            unreachable!("connected above")
        };
        stream.write_u64(id).await?;
        loop {
            if stream.read_u64().await? == id {
                return Ok(());
            }
        }
    }
}

impl Store for NetStore {
    fn session_name(&self) -> &str {
        &self.session
    }

    async fn load_creds(&mut self) -> Result<Option<LiveCreds>, StoreError> {
        self.call(|mut rows| async move { rows.load_creds().await })
            .await
    }

    async fn load_session(&mut self) -> Result<Option<Session>, StoreError> {
        self.call(|mut rows| async move { rows.load_session().await })
            .await
    }

    async fn commit(&mut self, writes: &[Write]) -> Result<Committed, StoreError> {
        let writes = writes.to_vec();
        self.call(move |mut rows| async move { rows.commit(&writes).await })
            .await
    }

    async fn replace_session(&mut self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        self.call(move |mut rows| async move { rows.replace_session(&session).await })
            .await
    }

    async fn put_snapshot(
        &mut self,
        created_at: UnixMillis,
        bytes: &[u8],
        keep: u32,
    ) -> Result<u64, StoreError> {
        let bytes = bytes.to_vec();
        self.call(move |mut rows| async move { rows.put_snapshot(created_at, &bytes, keep).await })
            .await
    }

    async fn snapshots(&mut self) -> Result<Vec<StoredSnapshot>, StoreError> {
        self.call(|mut rows| async move { rows.snapshots().await })
            .await
    }

    async fn claim_inbox(
        &mut self,
        owner: &str,
        lease_ms: u64,
        limit: u32,
    ) -> Result<Vec<InboxRecord>, StoreError> {
        let owner = owner.to_owned();
        self.call(move |mut rows| async move { rows.claim_inbox(&owner, lease_ms, limit).await })
            .await
    }

    async fn register_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.call(move |mut rows| async move { rows.register_instance(&owner).await })
            .await
    }

    async fn heartbeat_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.call(move |mut rows| async move { rows.heartbeat_instance(&owner).await })
            .await
    }

    async fn retire_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.call(move |mut rows| async move { rows.retire_instance(&owner).await })
            .await
    }

    async fn instance_standing(
        &mut self,
        owner: &str,
        alive_ms: u64,
        recent_ms: u64,
    ) -> Result<Standing, StoreError> {
        let owner = owner.to_owned();
        self.call(move |mut rows| async move {
            rows.instance_standing(&owner, alive_ms, recent_ms).await
        })
        .await
    }

    async fn bot_settings(&mut self) -> Result<Option<String>, StoreError> {
        self.call(|mut rows| async move { rows.bot_settings().await })
            .await
    }

    async fn client_version(&mut self) -> Result<Option<AppVersion>, StoreError> {
        self.call(|mut rows| async move { rows.client_version().await })
            .await
    }

    async fn put_client_version(
        &mut self,
        version: AppVersion,
        learned_at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.call(move |mut rows| async move { rows.put_client_version(version, learned_at).await })
            .await
    }

    async fn known_groups(&mut self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.call(move |mut rows| async move { rows.known_groups(limit).await })
            .await
    }

    async fn pending_effects(&mut self, limit: u32) -> Result<Vec<EffectRecord>, StoreError> {
        self.call(move |mut rows| async move { rows.pending_effects(limit).await })
            .await
    }

    async fn media_upload(
        &mut self,
        file_sha256: &[u8; 32],
        media_type: &str,
    ) -> Result<Option<MediaUpload>, StoreError> {
        let (file_sha256, media_type) = (*file_sha256, media_type.to_owned());
        self.call(move |mut rows| async move { rows.media_upload(&file_sha256, &media_type).await })
            .await
    }

    async fn unhandled_inbox(&mut self, limit: u32) -> Result<Vec<InboxRecord>, StoreError> {
        self.call(move |mut rows| async move { rows.unhandled_inbox(limit).await })
            .await
    }

    async fn inbox(&mut self) -> Result<Vec<InboxRecord>, StoreError> {
        self.call(|mut rows| async move { rows.inbox().await })
            .await
    }

    async fn outbox(&mut self) -> Result<Vec<OutboxRecord>, StoreError> {
        self.call(|mut rows| async move { rows.outbox().await })
            .await
    }

    async fn outbox_backlog(&mut self) -> Result<Backlog, StoreError> {
        self.call(|mut rows| async move { rows.outbox_backlog().await })
            .await
    }

    async fn unsent_outbound(&mut self, limit: u32) -> Result<Vec<Outbound>, StoreError> {
        self.call(move |mut rows| async move { rows.unsent_outbound(limit).await })
            .await
    }

    async fn prune(&mut self, before: UnixMillis, rows_max: u32) -> Result<PruneCount, StoreError> {
        self.call(move |mut rows| async move { rows.prune(before, rows_max).await })
            .await
    }

    async fn wipe(&mut self) -> Result<(), StoreError> {
        self.call(|mut rows| async move { rows.wipe().await }).await
    }

    async fn sessions(&mut self) -> Result<Vec<SessionSummary>, StoreError> {
        self.call(|mut rows| async move { rows.sessions().await })
            .await
    }
}
