//! Where the `db` host keeps its rows: the memory store, or the real
//! SQLite store (a file per seed, in a temp dir), so that the claim,
//! heartbeat and pre-key SQL meets the same crashes and outages.
//!
//! SQLite works in real time (sqlx runs it on threads of its own), which a
//! simulation must not see. So every SQLite call runs to completion on a
//! runner thread of its own (a tokio runtime apart from turmoil's) while
//! the simulation's thread waits for it: in simulated time each call takes
//! no time at all (the `db` host's latency is the simulated cost), and the
//! next step starts only once it is done. What a seed does therefore does
//! not depend on how fast the machine is; the SQL's own clock (claims,
//! heartbeats) reads the `db` host's simulated clock, set before each call
//! ([`SqliteStore::with_db_clock`]). Rows carry no real time that a
//! decision reads (`creds.updated_at` is the host's wall clock, written,
//! never compared).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use blacksky_core::time::UnixMillis;
use blacksky_io::store::{AnyStore, MemoryDb, MemoryStore, SqliteStore, StoreError};
use futures_util::FutureExt;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The rows of one simulated database.
#[derive(Clone)]
pub enum Rows {
    Memory(Arc<MemoryDb>),
    Sqlite(Arc<SqliteRows>),
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rows::Memory(_) => "Rows::Memory",
            Rows::Sqlite(_) => "Rows::Sqlite",
        })
    }
}

/// A SQLite file and the thread its calls run on.
#[derive(Debug)]
pub struct SqliteRows {
    jobs: Mutex<mpsc::Sender<Job>>,
    store: SqliteStore,
    /// The `db` host's clock, as the SQL reads it.
    now_ms: Arc<AtomicU64>,
    failing: AtomicBool,
    _dir: tempfile::TempDir,
}

impl SqliteRows {
    /// A fresh database file in a temp dir (in memory-backed `/dev/shm`
    /// when there is one: every commit is fsynced).
    pub fn open(session: &str) -> Result<Arc<SqliteRows>, StoreError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| StoreError::Io { what, source }
        };
        let dir = tempfile::Builder::new()
            .prefix("blacksky-sim-")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .map_err(io("a temp dir for the SQLite store"))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io("the SQLite runner's runtime"))?;
        std::thread::Builder::new()
            .name("sim-sqlite".into())
            .spawn(move || {
                // Ends when the rows are dropped (the sender with them).
                while let Ok(job) = queue.recv() {
                    runtime.block_on(job);
                }
            })
            .map_err(io("the SQLite runner thread"))?;
        let now_ms = Arc::new(AtomicU64::new(0));
        let path = dir.path().join("blacksky.db");
        let session = session.to_owned();
        let jobs = Mutex::new(jobs);
        let store = run_on(
            &jobs,
            async move { SqliteStore::open(&path, &session).await },
        )?;
        Ok(Arc::new(SqliteRows {
            jobs,
            store: store.with_db_clock(now_ms.clone()),
            now_ms,
            failing: AtomicBool::new(false),
            _dir: dir,
        }))
    }

    /// Runs `job` to completion on the runner thread; this thread waits.
    pub fn run<T: Send + 'static>(&self, job: impl Future<Output = T> + Send + 'static) -> T {
        run_on(&self.jobs, job)
    }
}

fn run_on<T: Send + 'static>(
    jobs: &Mutex<mpsc::Sender<Job>>,
    job: impl Future<Output = T> + Send + 'static,
) -> T {
    let (answer, answered) = mpsc::sync_channel(1);
    let job: Job = Box::pin(async move {
        let _ = answer.send(job.await);
    });
    let sent = jobs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(job);
    match sent.ok().and_then(|()| answered.recv().ok()) {
        Some(value) => value,
        None => panic!("the SQLite runner thread is gone"),
    }
}

impl Rows {
    /// The rows for `session` as a store (calls run where the caller runs
    /// them: see [`Rows::execute`]).
    #[must_use]
    pub fn store(&self, session: &str) -> AnyStore {
        match self {
            Rows::Memory(db) => AnyStore::Memory(MemoryStore::new(db.clone(), session)),
            Rows::Sqlite(rows) => AnyStore::Sqlite(rows.store.with_session(session)),
        }
    }

    /// Runs one store call at once: the memory store's is ready at once,
    /// SQLite's runs on its thread. `now` is the database's clock for it.
    /// While the database is failing the call fails as an outage does.
    pub fn execute<T: Send + 'static>(
        &self,
        now: UnixMillis,
        call: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self {
            Rows::Memory(_) => call
                .now_or_never()
                .unwrap_or_else(|| Err(StoreError::Config("the memory store blocked".into()))),
            Rows::Sqlite(rows) => {
                if rows.failing.load(Ordering::SeqCst) {
                    return Err(StoreError::Injected);
                }
                rows.now_ms.store(now.as_millis(), Ordering::SeqCst);
                rows.run(call)
            }
        }
    }

    /// While set, every store call fails (a database outage).
    pub fn set_failing(&self, failing: bool) {
        match self {
            Rows::Memory(db) => db.set_failing(failing),
            Rows::Sqlite(rows) => rows.failing.store(failing, Ordering::SeqCst),
        }
    }

    #[must_use]
    pub fn is_failing(&self) -> bool {
        match self {
            Rows::Memory(db) => db.is_failing(),
            Rows::Sqlite(rows) => rows.failing.load(Ordering::SeqCst),
        }
    }

    /// Whether inbox entry `id` is stored, and if so whether it is marked
    /// handled (the harness looking: outages do not apply).
    #[must_use]
    pub fn inbox_entry(&self, session: &str, id: &str) -> Option<bool> {
        match self {
            Rows::Memory(db) => db.inbox_entry(session, id),
            Rows::Sqlite(rows) => {
                let pool = rows.store.pool().clone();
                let (session, id) = (session.to_owned(), id.to_owned());
                rows.run(async move {
                    sqlx::query_scalar::<_, bool>(
                        "SELECT handled_at IS NOT NULL FROM inbox WHERE session = $1 AND msg_id = $2",
                    )
                    .bind(session)
                    .bind(id)
                    .fetch_optional(&pool)
                    .await
                })
                .unwrap_or_else(|err| panic!("the SQLite store did not answer: {err}"))
            }
        }
    }

    /// The newest snapshot generation of `session` (0 without snapshots).
    #[must_use]
    pub fn newest_generation(&self, session: &str) -> u64 {
        match self {
            Rows::Memory(db) => db.newest_generation(session),
            Rows::Sqlite(rows) => {
                let pool = rows.store.pool().clone();
                let session = session.to_owned();
                let newest: i64 = rows
                    .run(async move {
                        sqlx::query_scalar(
                            "SELECT COALESCE(MAX(generation), 0) FROM snapshots WHERE session = $1",
                        )
                        .bind(session)
                        .fetch_one(&pool)
                        .await
                    })
                    .unwrap_or_else(|err| panic!("the SQLite store did not answer: {err}"));
                u64::try_from(newest).unwrap_or(0)
            }
        }
    }

    /// Reads the rows of `session` (the harness looking: outages do not
    /// apply).
    pub fn read<T: Send + 'static, F>(&self, session: &str, read: impl FnOnce(AnyStore) -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let store = self.store(session);
        match self {
            Rows::Memory(db) => {
                let failing = db.is_failing();
                db.set_failing(false);
                let result = read(store).now_or_never();
                db.set_failing(failing);
                result.unwrap_or_else(|| panic!("the memory store blocked"))
            }
            Rows::Sqlite(rows) => rows.run(read(store)),
        }
    }
}
