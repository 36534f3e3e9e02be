//! The two SQL stores. Their schemas (migrations/sqlite, migrations/postgres)
//! differ only in column types, and the statements are the same text
//! (`$n` placeholders, `ON CONFLICT` upserts work in both), so one macro
//! stamps out the [`Store`] implementation for each.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a commit is on disk
//! before it returns, so neither kill -9 nor a power cut loses an acked
//! write. PostgreSQL gets TLS as Heroku needs it: a URL without `sslmode`
//! pointing at another host is opened with `sslmode=require` (encrypted,
//! certificate not verified: Heroku's servers present certificates no
//! public CA signs, and Heroku documents `require`); a local URL without
//! `sslmode` keeps sqlx's default (`prefer`), so a plain local server works.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use blacksky_core::session::replaces::{
    CheckedRecord, RecordDigest, check_replaces, checked_records,
};
use blacksky_core::session::snapshot::SnapshotKey;
use blacksky_core::session::{
    AppVersion, AppVersionError, InboxContent, InboxEntry, Outbound, Retry,
};
use blacksky_core::session::{
    Committed, Creds, MEDIA_UPLOAD_REUSE_MS, MEDIA_UPLOADS_MAX, MediaUpload, PreKey, Session,
    StoredGroup, Write, creds_over, place_fresh_pre_keys,
};
use blacksky_core::time::UnixMillis;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sealing::{self, KeyRow, RowSecret, Rows};
use super::{
    Backlog, EffectRecord, InboxRecord, LiveCreds, OutboxRecord, PruneCount, SessionSummary,
    Standing, Store, StoreError, StoredSnapshot, wall_now,
};

/// How long to wait for a pooled connection before calling the store down.
const ACQUIRE_TIMEOUT_MS: u64 = 5_000;
/// Pool sizes: one writer (the worker) plus tools; Heroku's smallest
/// PostgreSQL plans allow 20 connections for every dyno together.
const SQLITE_CONNECTIONS_MAX: u32 = 2;
const PG_CONNECTIONS_MAX: u32 = 4;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The embedded store: one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    session: String,
    rows: Rows,
    db_clock: DbClock,
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    session: String,
    rows: Rows,
    db_clock: DbClock,
}

/// Where the statements that read the database's clock read it: the
/// database's own (always, in production), or a value the simulation sets
/// (its database host's simulated clock: SQLite's would be the real one,
/// which neither matches the simulated time nor repeats from a seed).
#[derive(Debug, Clone, Default)]
struct DbClock(Option<Arc<AtomicU64>>);

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Db { what, source }
}

fn migrate_err(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(source) => StoreError::Db {
            what: "running migrations",
            source,
        },
        other => StoreError::Config(format!(
            "the database's migrations do not match this blacksky: {other}"
        )),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrated, its
    /// key rows in clear (refused if they are sealed).
    pub async fn open(path: &Path, session: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_sealed(path, session, None).await
    }

    /// [`SqliteStore::open`] with the key rows sealed under `secret`
    /// (sealing a clear store on the way, see [`super::sealing`]).
    pub async fn open_sealed(
        path: &Path,
        session: &str,
        secret: Option<&RowSecret>,
    ) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                what: format!("creating {}", dir.display()),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
            .foreign_keys(true)
            // What a sealed store deletes or replaces (the clear rows it
            // sealed) is overwritten on disk, not left in free pages.
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
            .connect_with(options)
            .await
            .map_err(db("opening the SQLite database"))?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
        let rows = SqliteStore::settle_rows(&pool, secret).await?;
        Ok(SqliteStore {
            pool,
            session: session.to_owned(),
            rows,
            db_clock: DbClock::default(),
        })
    }

    /// The same database under another session name.
    pub fn with_session(&self, session: &str) -> SqliteStore {
        SqliteStore {
            pool: self.pool.clone(),
            session: session.to_owned(),
            rows: self.rows.clone(),
            db_clock: self.db_clock.clone(),
        }
    }

    /// The pool, for tests that need to reach under the store.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Connection options for `url`: TLS required for remote hosts unless the
/// URL says otherwise; `schema`, when given, is the search path (tests).
pub fn pg_options(url: &str, schema: Option<&str>) -> Result<PgConnectOptions, StoreError> {
    let mut options = PgConnectOptions::from_str(url).map_err(|err| {
        StoreError::Config(format!(
            "DATABASE_URL ({}) is not a usable PostgreSQL URL: {err}",
            crate::host::redact::mask_url(url)
        ))
    })?;
    let explicit_tls = url.contains("sslmode=") || url.contains("ssl-mode=");
    let host = options.get_host().to_ascii_lowercase();
    let local = host == "localhost"
        || host.starts_with("127.")
        || host == "::1"
        || host == "[::1]"
        || host.starts_with('/');
    if !explicit_tls && !local {
        options = options.ssl_mode(PgSslMode::Require);
    }
    options = options.application_name("blacksky");
    if let Some(schema) = schema {
        options = options.options([("search_path", schema)]);
    }
    Ok(options)
}

impl PgStore {
    /// Connects to `url` (migrating the schema), rows keyed by `session`,
    /// key rows in clear (refused if they are sealed). `schema` puts the
    /// tables in that schema (tests); `None` uses the URL's default.
    pub async fn open(
        url: &str,
        session: &str,
        schema: Option<&str>,
    ) -> Result<PgStore, StoreError> {
        PgStore::open_sealed(url, session, schema, None).await
    }

    /// [`PgStore::open`] with the key rows sealed under `secret`
    /// (sealing a clear store on the way, see [`super::sealing`]).
    pub async fn open_sealed(
        url: &str,
        session: &str,
        schema: Option<&str>,
        secret: Option<&RowSecret>,
    ) -> Result<PgStore, StoreError> {
        let options = pg_options(url, schema)?;
        let pool = PgPoolOptions::new()
            .max_connections(PG_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
            .connect_with(options)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        PG_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
        let rows = PgStore::settle_rows(&pool, secret).await?;
        Ok(PgStore {
            pool,
            session: session.to_owned(),
            rows,
            db_clock: DbClock::default(),
        })
    }

    /// The same database under another session name.
    pub fn with_session(&self, session: &str) -> PgStore {
        PgStore {
            pool: self.pool.clone(),
            session: session.to_owned(),
            rows: self.rows.clone(),
            db_clock: self.db_clock.clone(),
        }
    }

    /// The pool, for tests that need to reach under the store.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn corrupt(what: String) -> impl FnOnce(String) -> StoreError {
    move |detail| StoreError::Corrupt { what, detail }
}

fn decode_creds(session: &str, record: &[u8]) -> Result<Creds, StoreError> {
    Creds::decode(record)
        .map_err(|err| err.to_string())
        .map_err(corrupt(format!("creds of session {session:?}")))
}

fn millis(value: i64) -> UnixMillis {
    UnixMillis(u64::try_from(value).unwrap_or(0))
}

fn sql_millis(value: UnixMillis) -> i64 {
    i64::try_from(value.as_millis()).unwrap_or(i64::MAX)
}

/// A row's first two columns.
fn pair<R: Row, A, B>(row: &R) -> Result<(A, B), sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    A: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    B: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// An inbox row as `read_inbox` and the claim queries select it.
fn inbox_record<R: Row>(row: &R) -> Result<InboxRecord, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let message: Option<Vec<u8>> = row.try_get(6)?;
    let unreadable: Option<String> = row.try_get(7)?;
    let content = match (message, unreadable) {
        // A group notice is kept with an empty message: no decrypted
        // message is empty (it would say nothing), and the stanza tells.
        (Some(message), _) if message.is_empty() => InboxContent::GroupNotice,
        (Some(message), _) => InboxContent::Message(message),
        (None, Some(reason)) => InboxContent::Unreadable(reason),
        (None, None) => InboxContent::Unreadable(InboxContent::LEGACY_REASON.to_owned()),
    };
    Ok(InboxRecord {
        seq: row.try_get(0)?,
        id: row.try_get(1)?,
        from: row.try_get(2)?,
        stanza: row.try_get(3)?,
        received_at: millis(row.try_get(4)?),
        handled_at: row.try_get::<Option<i64>, _>(5)?.map(millis),
        content,
    })
}

/// Ends `owner`'s claims on the entries it did not handle ($1 session, $2
/// owner): it is exiting, and the next process need not wait out the lease.
const RELEASE_CLAIMS: &str = "UPDATE inbox SET claimed_by = NULL, claim_until = NULL \
     WHERE session = $1 AND claimed_by = $2 AND handled_at IS NULL";

/// The statements whose text differs between the two databases: those
/// that read the database's own clock (claims and heartbeats are judged on
/// it, never on a host's clock, which may be off).
struct Dialect {
    /// The expression the statements below read the clock with.
    now: &'static str,
    /// `Store::claim_inbox` ($1 session, $2 owner, $3 lease ms, $4 limit).
    claim: &'static str,
    /// `Store::register_instance` ($1 session, $2 owner).
    register: &'static str,
    /// `Store::heartbeat_instance` ($1 session, $2 owner).
    heartbeat: &'static str,
    /// `Store::retire_instance` ($1 session, $2 owner).
    retire: &'static str,
    /// Forgets this session's processes not seen for 30 days ($1 session,
    /// $2 owner): the register would otherwise grow by a row a restart.
    prune: &'static str,
    /// `Store::instance_standing` ($1 session, $2 owner, $3 alive ms, $4
    /// recent ms): whether a newer instance is alive, ran at all, and
    /// whether an older one was seen recently (an unregistered `owner`
    /// counts every other as older).
    standing: &'static str,
    /// Run after a clear store was sealed: the clear values leave the
    /// write-ahead log (SQLite); nothing for PostgreSQL (VACUUM's job).
    after_sealing: Option<&'static str>,
}

macro_rules! dialect {
    (now: $now:literal, skip_locked: $skip_locked:literal, after_sealing: $after:expr) => {
        Dialect {
            now: $now,
            claim: concat!(
                "UPDATE inbox SET claimed_by = $2, claim_until = $3 + ",
                $now,
                " WHERE seq IN (SELECT seq FROM inbox WHERE session = $1 AND handled_at IS NULL \
                 AND (claimed_by IS NULL OR claimed_by = $2 OR claim_until < ",
                $now,
                ") \
                 ORDER BY seq LIMIT $4",
                $skip_locked,
                ") \
                 RETURNING seq, msg_id, sender, stanza, received_at, handled_at, message, unreadable"
            ),
            register: concat!(
                "INSERT INTO instances (session, owner, started_at, seen_at) VALUES ($1, $2, ",
                $now,
                ", ",
                $now,
                ")"
            ),
            heartbeat: concat!(
                "UPDATE instances SET seen_at = ",
                $now,
                " WHERE session = $1 AND owner = $2"
            ),
            retire: concat!(
                "UPDATE instances SET stopped_at = ",
                $now,
                " WHERE session = $1 AND owner = $2"
            ),
            prune: concat!(
                "DELETE FROM instances WHERE session = $1 AND owner <> $2 \
                 AND COALESCE(stopped_at, seen_at, started_at) < ",
                $now,
                " - 2592000000"
            ),
            standing: concat!(
                "WITH mine AS (SELECT COALESCE(MIN(epoch), 9223372036854775807) AS epoch \
                 FROM instances WHERE session = $1 AND owner = $2), \
                 others AS (SELECT epoch, seen_at, stopped_at FROM instances \
                 WHERE session = $1 AND owner <> $2) \
                 SELECT EXISTS (SELECT 1 FROM others, mine WHERE others.epoch > mine.epoch \
                 AND stopped_at IS NULL AND seen_at >= ",
                $now,
                " - $3), \
                 EXISTS (SELECT 1 FROM others, mine WHERE others.epoch > mine.epoch), \
                 EXISTS (SELECT 1 FROM others, mine WHERE others.epoch < mine.epoch \
                 AND seen_at >= ",
                $now,
                " - $4)"
            ),
            after_sealing: $after,
        }
    };
}

// The prune statement spells out INSTANCE_FORGET_MS (concat! takes literals).
const _: () = assert!(super::INSTANCE_FORGET_MS == 2_592_000_000);

const SQLITE: Dialect = dialect!(
    now: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    skip_locked: "",
    after_sealing: Some("PRAGMA wal_checkpoint(TRUNCATE)")
);
/// `SKIP LOCKED` keeps two claimers apart.
const POSTGRES: Dialect = dialect!(
    now: "(extract(epoch from clock_timestamp()) * 1000)::bigint",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    after_sealing: None
);

macro_rules! sql_store {
    ($store:ty, $db:ty, $dialect:expr) => {
        impl $store {
            /// The same database (same pool) opened again with `secret`:
            /// sealed now if it is clear, refused if it is sealed under
            /// another secret or `secret` is `None`.
            pub async fn resealed(&self, secret: Option<&RowSecret>) -> Result<Self, StoreError> {
                let rows = Self::settle_rows(&self.pool, secret).await?;
                Ok(Self {
                    pool: self.pool.clone(),
                    session: self.session.clone(),
                    rows,
                    db_clock: self.db_clock.clone(),
                })
            }

            /// How this database keeps its key rows, given the secret the
            /// process has ([`super::sealing`]): a sealed store needs its
            /// own secret; a clear one is sealed now when a secret is set.
            async fn settle_rows(
                pool: &sqlx::Pool<$db>,
                secret: Option<&RowSecret>,
            ) -> Result<Rows, StoreError> {
                let what = "reading the row sealing";
                // Twice at most: a process that loses the race to seal a
                // clear store reads the winner's sealing.
                for _ in 0..2 {
                    let stored = sqlx::query(
                        "SELECT kdf_iterations, salt, check_value FROM row_sealing WHERE id = 1",
                    )
                    .fetch_optional(pool)
                    .await
                    .map_err(db(what))?;
                    let secret = match (stored, secret) {
                        (None, None) => return Ok(Rows::Clear),
                        (Some(_), None) => return Err(sealing::sealed_without_secret()),
                        (Some(row), Some(secret)) => {
                            let iterations: i64 = row.try_get(0).map_err(db(what))?;
                            let salt: Vec<u8> = row.try_get(1).map_err(db(what))?;
                            let check: Vec<u8> = row.try_get(2).map_err(db(what))?;
                            let (salt, iterations) = sealing::stored_parameters(iterations, &salt)?;
                            let key = secret.key(salt, iterations).await?;
                            if !sealing::check_opens(&key, &check) {
                                return Err(sealing::sealed_under_another_secret());
                            }
                            return Ok(Rows::Sealed(key));
                        }
                        (None, Some(secret)) => secret,
                    };
                    if let Some(rows) = Self::seal_clear_store(pool, secret).await? {
                        return Ok(rows);
                    }
                }
                Err(StoreError::Config(
                    "the row sealing changed twice while this process opened the store".into(),
                ))
            }

            /// Seals every key row of a clear store in one transaction;
            /// `None` when another process sealed it first.
            async fn seal_clear_store(
                pool: &sqlx::Pool<$db>,
                secret: &RowSecret,
            ) -> Result<Option<Rows>, StoreError> {
                let what = "sealing the store's key rows";
                let salt = sealing::fresh_salt();
                let key = secret.key(salt, secret.kdf_iterations()).await?;
                let rows = Rows::Sealed(key.clone());
                let mut tx = pool.begin().await.map_err(db(what))?;
                // Taken first: the row lock (PostgreSQL) or the write lock
                // (SQLite) keeps a second process out until this commits.
                let claimed = sqlx::query(
                    "INSERT INTO row_sealing (id, kdf_iterations, salt, check_value, sealed_at) \
                     VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(i64::from(secret.kdf_iterations()))
                .bind(salt.as_slice())
                .bind(sealing::check_value(&key))
                .bind(sql_millis(wall_now()))
                .execute(&mut *tx)
                .await
                .map_err(db(what))?
                .rows_affected();
                if claimed == 0 {
                    tx.rollback().await.map_err(db(what))?;
                    return Ok(None);
                }
                let sealed = Self::seal_clear_rows(&mut tx, &rows).await.map_err(db(what))?;
                tx.commit().await.map_err(db(what))?;
                if let Some(sql) = $dialect.after_sealing {
                    // Best effort: the rows are sealed either way.
                    if let Err(err) = sqlx::query(sql).execute(pool).await {
                        tracing::warn!("after sealing the key rows: {err}");
                    }
                }
                tracing::info!(
                    rows = sealed,
                    "sealed the store's credential and key rows under SESSION_SECRET \
                     (the first start with it)"
                );
                Ok(Some(rows))
            }

            /// Rewrites every key row of every session sealed; how many.
            async fn seal_clear_rows(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
            ) -> Result<u64, sqlx::Error> {
                let mut count = 0u64;
                for row in sqlx::query("SELECT session, record FROM creds").fetch_all(&mut **tx).await? {
                    let (session, record): (String, Vec<u8>) = pair(&row)?;
                    sqlx::query("UPDATE creds SET record = $2 WHERE session = $1")
                        .bind(&session)
                        .bind(rows.seal(&session, KeyRow::Creds, &record))
                        .execute(&mut **tx)
                        .await?;
                    count += 1;
                }
                for row in sqlx::query("SELECT session, key_id, record FROM pre_keys").fetch_all(&mut **tx).await? {
                    let (session, id): (String, i64) = pair(&row)?;
                    let record: Vec<u8> = row.try_get(2)?;
                    sqlx::query("UPDATE pre_keys SET record = $3 WHERE session = $1 AND key_id = $2")
                        .bind(&session)
                        .bind(id)
                        .bind(rows.seal(&session, KeyRow::PreKey(id), &record))
                        .execute(&mut **tx)
                        .await?;
                    count += 1;
                }
                for (table, column) in [("signal_sessions", "record"), ("identities", "identity_key")] {
                    let select = format!("SELECT session, address, {column} FROM {table}");
                    let update = format!("UPDATE {table} SET {column} = $3 WHERE session = $1 AND address = $2");
                    for row in sqlx::query(&select).fetch_all(&mut **tx).await? {
                        let (session, address): (String, String) = pair(&row)?;
                        let record: Vec<u8> = row.try_get(2)?;
                        let name = if table == "identities" {
                            KeyRow::Identity(&address)
                        } else {
                            KeyRow::SignalSession(&address)
                        };
                        sqlx::query(&update)
                            .bind(&session)
                            .bind(&address)
                            .bind(rows.seal(&session, name, &record))
                            .execute(&mut **tx)
                            .await?;
                        count += 1;
                    }
                }
                for row in sqlx::query("SELECT session, group_id, sender, record FROM sender_keys").fetch_all(&mut **tx).await? {
                    let (session, group): (String, String) = pair(&row)?;
                    let sender: String = row.try_get(2)?;
                    let record: Vec<u8> = row.try_get(3)?;
                    let name = KeyRow::SenderKey { group: &group, sender: &sender };
                    sqlx::query(
                        "UPDATE sender_keys SET record = $4 \
                         WHERE session = $1 AND group_id = $2 AND sender = $3",
                    )
                    .bind(&session)
                    .bind(&group)
                    .bind(&sender)
                    .bind(rows.seal(&session, name, &record))
                    .execute(&mut **tx)
                    .await?;
                    count += 1;
                }
                for row in sqlx::query("SELECT session, key_id, record FROM app_state_keys").fetch_all(&mut **tx).await? {
                    let (session, id): (String, Vec<u8>) = pair(&row)?;
                    let record: Vec<u8> = row.try_get(2)?;
                    sqlx::query("UPDATE app_state_keys SET record = $3 WHERE session = $1 AND key_id = $2")
                        .bind(&session)
                        .bind(&id)
                        .bind(rows.seal(&session, KeyRow::AppStateKey(&id), &record))
                        .execute(&mut **tx)
                        .await?;
                    count += 1;
                }
                Ok(count)
            }

            /// `sql` reading the clock the store is set to
            /// ([`DbClock`]).
            fn on_db_clock(&self, sql: &'static str) -> Cow<'static, str> {
                match &self.db_clock.0 {
                    None => Cow::Borrowed(sql),
                    Some(now_ms) => Cow::Owned(
                        sql.replace($dialect.now, &now_ms.load(Ordering::SeqCst).to_string()),
                    ),
                }
            }

            /// The statements that read the database's clock read
            /// `now_ms` instead (the simulation's database host sets it
            /// before each call).
            #[cfg(feature = "testing")]
            pub fn with_db_clock(mut self, now_ms: Arc<AtomicU64>) -> Self {
                self.db_clock = DbClock(Some(now_ms));
                self
            }

            /// Runs a statement of the instance register ($1 session, $2 owner).
            async fn mark_instance(
                &self,
                sql: &'static str,
                owner: &str,
                what: &'static str,
            ) -> Result<(), StoreError> {
                sqlx::query(&self.on_db_clock(sql))
                    .bind(&self.session)
                    .bind(owner)
                    .execute(&self.pool)
                    .await
                    .map_err(db(what))?;
                Ok(())
            }

            /// The stored creds, locked until the transaction ends: a no-op
            /// UPDATE takes the row lock (PostgreSQL) or the write lock
            /// (SQLite) before the read, so two processes on one store take
            /// turns at the pre-key counter.
            async fn locked_creds(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
                session: &str,
            ) -> Result<Option<Creds>, sqlx::Error> {
                Self::lock_creds_row(tx, session).await?;
                let record: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT record FROM creds WHERE session = $1")
                        .bind(session)
                        .fetch_optional(&mut **tx)
                        .await?;
                // A record that cannot be read has no counter to keep: the
                // creds write replaces it.
                Ok(record
                    .and_then(|record| rows.open(session, KeyRow::Creds, record).ok())
                    .and_then(|record| Creds::decode(&record).ok()))
            }

            /// Takes the creds row lock (PostgreSQL) or the write lock
            /// (SQLite) until the transaction ends: a no-op UPDATE.
            async fn lock_creds_row(
                tx: &mut sqlx::Transaction<'static, $db>,
                session: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE creds SET updated_at = updated_at WHERE session = $1")
                    .bind(session)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Refuses `writes` if a session or sender key record they
            /// replace is no longer the stored one ([`check_replaces`]).
            /// The records are read under the creds lock, so two processes
            /// of one session take turns from the read to the commit.
            async fn check_replaced(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
                session: &str,
                writes: &[Write],
            ) -> Result<(), StoreError> {
                let what = "checking the records a batch replaces";
                let checked = checked_records(writes);
                if checked.is_empty() {
                    return Ok(());
                }
                Self::lock_creds_row(tx, session).await.map_err(db(what))?;
                let mut stored = BTreeMap::new();
                for key in checked {
                    let (query, row) = match &key {
                        CheckedRecord::Session(address) => (
                            sqlx::query_scalar(
                                "SELECT record FROM signal_sessions \
                                 WHERE session = $1 AND address = $2",
                            )
                            .bind(session)
                            .bind(address.as_str()),
                            KeyRow::SignalSession(address),
                        ),
                        CheckedRecord::SenderKey { group, sender } => (
                            sqlx::query_scalar(
                                "SELECT record FROM sender_keys \
                                 WHERE session = $1 AND group_id = $2 AND sender = $3",
                            )
                            .bind(session)
                            .bind(group.as_str())
                            .bind(sender.as_str()),
                            KeyRow::SenderKey { group, sender },
                        ),
                    };
                    let record: Option<Vec<u8>> =
                        query.fetch_optional(&mut **tx).await.map_err(db(what))?;
                    if let Some(record) = record {
                        // Digests of the plain record: each sealing of
                        // one record differs (a fresh nonce).
                        let record = rows.open(session, row, record)?;
                        stored.insert(key.clone(), RecordDigest::of(&record));
                    }
                }
                check_replaces(writes, stored).map_err(StoreError::Stale)
            }

            /// `writes` in `tx`, checked first ([`Self::check_replaced`]).
            async fn write_batch(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
                session: &str,
                writes: &[Write],
            ) -> Result<Committed, StoreError> {
                Self::check_replaced(tx, rows, session, writes).await?;
                let mut committed = Committed::default();
                for write in writes {
                    if committed.claim_lost && write.rides_on_handled() {
                        // Another instance handles that entry: its
                        // settings and effects are theirs to store.
                        continue;
                    }
                    let said = Self::write_one(tx, rows, session, write)
                        .await
                        .map_err(db("committing writes"))?;
                    committed = committed.and(said);
                }
                Ok(committed)
            }

            async fn put_pre_key(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
                session: &str,
                key: &PreKey,
            ) -> Result<(), sqlx::Error> {
                let id = i64::from(key.id);
                sqlx::query(
                    "INSERT INTO pre_keys (session, key_id, record) VALUES ($1, $2, $3) \
                     ON CONFLICT (session, key_id) DO UPDATE SET record = excluded.record",
                )
                .bind(session)
                .bind(id)
                .bind(rows.seal(session, KeyRow::PreKey(id), &key.encode()))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn write_one(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &Rows,
                session: &str,
                write: &Write,
            ) -> Result<Committed, sqlx::Error> {
                match write {
                    Write::Creds(creds) => {
                        let stored = Self::locked_creds(tx, rows, session).await?;
                        let record = creds_over(stored.as_ref(), creds).encode();
                        sqlx::query(
                            "INSERT INTO creds (session, record, login_confirmed, updated_at) \
                             VALUES ($1, $2, 0, $3) \
                             ON CONFLICT (session) DO UPDATE \
                             SET record = excluded.record, updated_at = excluded.updated_at",
                        )
                        .bind(session)
                        .bind(rows.seal(session, KeyRow::Creds, &record))
                        .bind(sql_millis(wall_now()))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::FreshPreKeys(keys) => {
                        let stored = Self::locked_creds(tx, rows, session).await?;
                        let placed = place_fresh_pre_keys(stored, keys);
                        for key in &placed.keys {
                            Self::put_pre_key(tx, rows, session, key).await?;
                        }
                        if let Some(creds) = placed.creds {
                            sqlx::query("UPDATE creds SET record = $2 WHERE session = $1")
                                .bind(session)
                                .bind(rows.seal(session, KeyRow::Creds, &creds.encode()))
                                .execute(&mut **tx)
                                .await?;
                        }
                        return Ok(placed.committed);
                    }
                    Write::LoginConfirmed => {
                        sqlx::query("UPDATE creds SET login_confirmed = 1 WHERE session = $1")
                            .bind(session)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Write::PreKey(key) => Self::put_pre_key(tx, rows, session, key).await?,
                    Write::RemovePreKey(id) => {
                        sqlx::query("DELETE FROM pre_keys WHERE session = $1 AND key_id = $2")
                            .bind(session)
                            .bind(i64::from(*id))
                            .execute(&mut **tx)
                            .await?;
                    }
                    Write::SignalSession {
                        address, record, ..
                    } => {
                        sqlx::query(
                            "INSERT INTO signal_sessions (session, address, record) \
                             VALUES ($1, $2, $3) ON CONFLICT (session, address) \
                             DO UPDATE SET record = excluded.record",
                        )
                        .bind(session)
                        .bind(address.as_str())
                        .bind(rows.seal(session, KeyRow::SignalSession(address), record))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::RemoveSignalSession { address } => {
                        sqlx::query(
                            "DELETE FROM signal_sessions WHERE session = $1 AND address = $2",
                        )
                        .bind(session)
                        .bind(address.as_str())
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::SenderKey {
                        group,
                        sender,
                        record,
                        ..
                    } => {
                        sqlx::query(
                            "INSERT INTO sender_keys (session, group_id, sender, record) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (session, group_id, sender) \
                             DO UPDATE SET record = excluded.record",
                        )
                        .bind(session)
                        .bind(group.as_str())
                        .bind(sender.as_str())
                        .bind(rows.seal(session, KeyRow::SenderKey { group, sender }, record))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::RemoveSenderKey { group, sender } => {
                        let sql = "DELETE FROM sender_keys \
                                   WHERE session = $1 AND group_id = $2 AND sender = $3";
                        Self::execute_two(tx, sql, session, group, sender).await?;
                    }
                    Write::Identity { address, key } => {
                        sqlx::query(
                            "INSERT INTO identities (session, address, identity_key) \
                             VALUES ($1, $2, $3) ON CONFLICT (session, address) \
                             DO UPDATE SET identity_key = excluded.identity_key",
                        )
                        .bind(session)
                        .bind(address.as_str())
                        .bind(rows.seal(session, KeyRow::Identity(address), key))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::AppStateKey { id, data } => {
                        sqlx::query(
                            "INSERT INTO app_state_keys (session, key_id, record) \
                             VALUES ($1, $2, $3) ON CONFLICT (session, key_id) \
                             DO UPDATE SET record = excluded.record",
                        )
                        .bind(session)
                        .bind(id.as_slice())
                        .bind(rows.seal(session, KeyRow::AppStateKey(id), data))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::RemoveAppStateKey { id } => {
                        sqlx::query("DELETE FROM app_state_keys WHERE session = $1 AND key_id = $2")
                            .bind(session)
                            .bind(id.as_slice())
                            .execute(&mut **tx)
                            .await?;
                    }
                    Write::Inbox(InboxEntry {
                        id,
                        from,
                        stanza,
                        received_at,
                        content,
                    }) => {
                        let (message, unreadable) = match content {
                            InboxContent::Message(message) => (Some(message.as_slice()), None),
                            InboxContent::Unreadable(reason) => (None, Some(reason.as_str())),
                            InboxContent::GroupNotice => (Some(&[][..]), None),
                        };
                        sqlx::query(
                            "INSERT INTO inbox \
                             (session, msg_id, sender, stanza, received_at, message, unreadable) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (session, msg_id) DO NOTHING",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(from.as_str())
                        .bind(stanza.as_slice())
                        .bind(sql_millis(*received_at))
                        .bind(message)
                        .bind(unreadable)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::Retry { id, sender, retry } => {
                        sqlx::query(
                            "INSERT INTO message_retries (session, msg_id, sender, count, at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session, msg_id, sender) \
                             DO UPDATE SET count = excluded.count, at = excluded.at",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(sender.as_str())
                        .bind(i64::from(retry.count))
                        .bind(sql_millis(retry.at))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::LidMapping { pn, lid } => {
                        let sql = "INSERT INTO lid_mappings (session, pn, lid) VALUES ($1, $2, $3) \
                                   ON CONFLICT (session, pn) DO UPDATE SET lid = excluded.lid";
                        Self::execute_two(tx, sql, session, pn, lid).await?;
                    }
                    Write::SenderKeyShared { group, devices, .. } => {
                        let sql = "INSERT INTO sender_key_shared (session, group_id, device) \
                                   VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
                        for device in devices {
                            Self::execute_two(tx, sql, session, group, device).await?;
                        }
                    }
                    Write::Group { group, stored } => {
                        sqlx::query(
                            "INSERT INTO group_metadata (session, group_id, node, fetched_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (session, group_id) \
                             DO UPDATE SET node = excluded.node, fetched_at = excluded.fetched_at",
                        )
                        .bind(session)
                        .bind(group.as_str())
                        .bind(stored.node.as_slice())
                        .bind(sql_millis(stored.fetched_at))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::ForgetGroup { group } => {
                        sqlx::query(
                            "DELETE FROM group_metadata WHERE session = $1 AND group_id = $2",
                        )
                        .bind(session)
                        .bind(group.as_str())
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::ForgetSenderKeyShared { group } => {
                        sqlx::query(
                            "DELETE FROM sender_key_shared WHERE session = $1 AND group_id = $2",
                        )
                        .bind(session)
                        .bind(group.as_str())
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::ForgetRetry { id, sender } => {
                        let sql = "DELETE FROM message_retries \
                                   WHERE session = $1 AND msg_id = $2 AND sender = $3";
                        Self::execute_two(tx, sql, session, id, sender).await?;
                    }
                    Write::Handled { id, at, by, outbox } => {
                        let marked = sqlx::query(
                            "UPDATE inbox SET handled_at = $3 \
                             WHERE session = $1 AND msg_id = $2 AND handled_at IS NULL \
                             AND (claimed_by IS NULL OR claimed_by = $4)",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(sql_millis(*at))
                        .bind(by.as_str())
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                        if marked == 1 {
                            Self::queue_outbound(tx, session, id, outbox, *at).await?;
                            return Ok(Committed::default());
                        }
                        // Handled already (a retried commit: its replies
                        // are in the outbox once, not twice), or another
                        // instance took the claim over.
                        let holder: Option<Option<String>> = sqlx::query_scalar(
                            "SELECT claimed_by FROM inbox \
                             WHERE session = $1 AND msg_id = $2 AND handled_at IS NULL",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .fetch_optional(&mut **tx)
                        .await?;
                        return Ok(Committed {
                            claim_lost: holder.is_some(),
                            ..Committed::default()
                        });
                    }
                    Write::Queued { at, outbox } => {
                        // Not an answer: no inbox message named.
                        Self::queue_outbound(tx, session, "", outbox, *at).await?;
                    }
                    Write::OutboundSealed { id, stanza } => {
                        sqlx::query(
                            "UPDATE outbox SET stanza = $3 \
                             WHERE session = $1 AND msg_id = $2",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(stanza.as_slice())
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::OutboundSent { id, at } => {
                        sqlx::query(
                            "UPDATE outbox SET sent_at = $3 \
                             WHERE session = $1 AND msg_id = $2 AND sent_at IS NULL",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(sql_millis(*at))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::BotSettings { json } => {
                        sqlx::query(
                            "INSERT INTO bot_settings (session, settings, updated_at) \
                             VALUES ($1, $2, $3) ON CONFLICT (session) DO UPDATE \
                             SET settings = excluded.settings, updated_at = excluded.updated_at",
                        )
                        .bind(session)
                        .bind(json.as_str())
                        .bind(sql_millis(wall_now()))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::Effect {
                        id,
                        inbox_id,
                        json,
                        at,
                    } => {
                        sqlx::query(
                            "INSERT INTO effects \
                             (session, effect_id, inbox_msg_id, effect, created_at) \
                             VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (session, effect_id) DO NOTHING",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(inbox_id.as_str())
                        .bind(json.as_str())
                        .bind(sql_millis(*at))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::EffectDone { id, at } => {
                        sqlx::query(
                            "UPDATE effects SET done_at = $3 \
                             WHERE session = $1 AND effect_id = $2 AND done_at IS NULL",
                        )
                        .bind(session)
                        .bind(id.as_str())
                        .bind(sql_millis(*at))
                        .execute(&mut **tx)
                        .await?;
                    }
                    Write::MediaUploaded(upload) => {
                        Self::keep_media_upload(tx, session, upload).await?;
                    }
                }
                Ok(Committed::default())
            }

            /// Keeps `upload` (replacing one of the same file and type),
            /// then prunes: the expired, and past the bound the oldest.
            async fn keep_media_upload(
                tx: &mut sqlx::Transaction<'static, $db>,
                session: &str,
                upload: &MediaUpload,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO media_uploads (session, file_sha256, media_type, media_key, \
                     file_enc_sha256, file_length, url, direct_path, uploaded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (session, file_sha256, media_type) DO UPDATE SET \
                     media_key = excluded.media_key, file_enc_sha256 = excluded.file_enc_sha256, \
                     file_length = excluded.file_length, url = excluded.url, \
                     direct_path = excluded.direct_path, uploaded_at = excluded.uploaded_at",
                )
                .bind(session)
                .bind(upload.file_sha256.as_slice())
                .bind(upload.media_type.as_str())
                .bind(upload.media_key.as_slice())
                .bind(upload.file_enc_sha256.as_slice())
                .bind(i64::try_from(upload.file_length).unwrap_or(i64::MAX))
                .bind(upload.url.as_str())
                .bind(upload.direct_path.as_str())
                .bind(sql_millis(upload.uploaded_at))
                .execute(&mut **tx)
                .await?;
                let expired = upload
                    .uploaded_at
                    .as_millis()
                    .saturating_sub(MEDIA_UPLOAD_REUSE_MS);
                sqlx::query(
                    "DELETE FROM media_uploads WHERE session = $1 AND (uploaded_at < $2 \
                     OR uploaded_at < (SELECT uploaded_at FROM media_uploads WHERE session = $1 \
                     ORDER BY uploaded_at DESC LIMIT 1 OFFSET $3))",
                )
                .bind(session)
                .bind(sql_millis(UnixMillis(expired)))
                .bind(i64::from(MEDIA_UPLOADS_MAX - 1))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// The rows `sql` selects for this session (its one parameter).
            async fn session_rows(
                &self,
                sql: &'static str,
            ) -> Result<Vec<<$db as sqlx::Database>::Row>, StoreError> {
                sqlx::query(sql)
                    .bind(&self.session)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("reading the session"))
            }

            /// Adds `outbox` to the queue, answering inbox message
            /// `inbox_id` ("" for a proactive send); a row already there
            /// (a retried commit) stays once.
            async fn queue_outbound(
                tx: &mut sqlx::Transaction<'static, $db>,
                session: &str,
                inbox_id: &str,
                outbox: &[Outbound],
                at: UnixMillis,
            ) -> Result<(), sqlx::Error> {
                for row in outbox {
                    sqlx::query(
                        "INSERT INTO outbox \
                         (session, inbox_msg_id, recipient, payload, created_at, msg_id) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (session, msg_id) DO NOTHING",
                    )
                    .bind(session)
                    .bind(inbox_id)
                    .bind(row.to.as_str())
                    .bind(row.message.as_slice())
                    .bind(sql_millis(at))
                    .bind(row.id.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Runs `sql` with the session and two text parameters.
            async fn execute_two(
                tx: &mut sqlx::Transaction<'static, $db>,
                sql: &'static str,
                session: &str,
                first: &str,
                second: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(sql)
                    .bind(session)
                    .bind(first)
                    .bind(second)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn delete_keys(
                tx: &mut sqlx::Transaction<'static, $db>,
                session: &str,
                with_live_data: bool,
            ) -> Result<(), sqlx::Error> {
                let tables: &[&str] = if with_live_data {
                    &[
                        "creds",
                        "pre_keys",
                        "signal_sessions",
                        "sender_keys",
                        "identities",
                        "app_state_keys",
                        "message_retries",
                        "lid_mappings",
                        "sender_key_shared",
                        "group_metadata",
                        "alert_outbox",
                        "bot_settings",
                        "effects",
                        "media_uploads",
                        "inbox",
                        "outbox",
                        "snapshots",
                        "instances",
                    ]
                } else {
                    &[
                        "creds",
                        "pre_keys",
                        "signal_sessions",
                        "sender_keys",
                        "identities",
                        "app_state_keys",
                        "message_retries",
                        "lid_mappings",
                        "sender_key_shared",
                        "group_metadata",
                    ]
                };
                for table in tables {
                    sqlx::query(&format!("DELETE FROM {table} WHERE session = $1"))
                        .bind(session)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            async fn read_inbox(
                &self,
                only_unhandled: bool,
                limit: u32,
            ) -> Result<Vec<InboxRecord>, StoreError> {
                let sql = if only_unhandled {
                    "SELECT seq, msg_id, sender, stanza, received_at, handled_at, message, unreadable FROM inbox \
                     WHERE session = $1 AND handled_at IS NULL ORDER BY seq LIMIT $2"
                } else {
                    "SELECT seq, msg_id, sender, stanza, received_at, handled_at, message, unreadable FROM inbox \
                     WHERE session = $1 ORDER BY seq LIMIT $2"
                };
                let rows = sqlx::query(sql)
                    .bind(&self.session)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("reading the inbox"))?;
                rows.iter()
                    .map(inbox_record)
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db("reading the inbox"))
            }

            /// The unsent rows of an outbox table (`outbox`, `alert_outbox`):
            /// how many, and when the oldest was written.
            pub(crate) async fn backlog(
                &self,
                table: &'static str,
                what: &'static str,
            ) -> Result<Backlog, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT COUNT(*), MIN(created_at) FROM {table} \
                     WHERE session = $1 AND sent_at IS NULL"
                ))
                .bind(&self.session)
                .fetch_one(&self.pool)
                .await
                .map_err(db(what))?;
                Ok(Backlog {
                    unsent: u64::try_from(row.try_get::<i64, _>(0).map_err(db(what))?).unwrap_or(0),
                    oldest_at: row
                        .try_get::<Option<i64>, _>(1)
                        .map_err(db(what))?
                        .map(millis),
                })
            }

            async fn count(&self, table: &str, session: &str) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query(&format!(
                    "SELECT COUNT(*) FROM {table} WHERE session = $1"
                ))
                .bind(session)
                .fetch_one(&self.pool)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(db("counting rows"))?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }

        impl Store for $store {
            fn alert_outbox(&self) -> Option<super::AnyStore> {
                Some(self.clone().into())
            }

            fn row_key(&self) -> Option<std::sync::Arc<SnapshotKey>> {
                self.rows.key().cloned()
            }

            fn session_name(&self) -> &str {
                &self.session
            }

            async fn load_creds(&mut self) -> Result<Option<LiveCreds>, StoreError> {
                let row = sqlx::query(
                    "SELECT record, login_confirmed FROM creds WHERE session = $1",
                )
                .bind(&self.session)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading the creds"))?;
                let Some(row) = row else { return Ok(None) };
                let record: Vec<u8> = row.try_get(0).map_err(db("reading the creds"))?;
                let record = self.rows.open(&self.session, KeyRow::Creds, record)?;
                let confirmed: i64 = row.try_get(1).map_err(db("reading the creds"))?;
                Ok(Some(LiveCreds {
                    creds: decode_creds(&self.session, &record)?,
                    login_confirmed: confirmed != 0,
                }))
            }

            async fn load_session(&mut self) -> Result<Option<Session>, StoreError> {
                let Some(live) = self.load_creds().await? else {
                    return Ok(None);
                };
                let what = "reading the session";
                let mut session = Session::new(live.creds);
                session.login_confirmed = live.login_confirmed;
                let rows = sqlx::query("SELECT key_id, record FROM pre_keys WHERE session = $1")
                    .bind(&self.session)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db(what))?;
                for row in rows {
                    let id: i64 = row.try_get(0).map_err(db(what))?;
                    let record: Vec<u8> = row.try_get(1).map_err(db(what))?;
                    let record = self.rows.open(&self.session, KeyRow::PreKey(id), record)?;
                    let key = PreKey::decode(&record)
                        .map_err(|err| err.to_string())
                        .map_err(corrupt(format!("pre-key {id} of session {:?}", self.session)))?;
                    session.pre_keys.insert(key.id, key);
                }
                let read = |sql| self.session_rows(sql);
                for row in read("SELECT address, record FROM signal_sessions WHERE session = $1").await? {
                    let (address, record): (String, Vec<u8>) = pair(&row).map_err(db(what))?;
                    let record = self.rows.open(&self.session, KeyRow::SignalSession(&address), record)?;
                    session.sessions.insert(address, record);
                }
                for row in read("SELECT group_id, sender, record FROM sender_keys WHERE session = $1").await? {
                    let (group, sender): (String, String) = pair(&row).map_err(db(what))?;
                    let row_name = KeyRow::SenderKey { group: &group, sender: &sender };
                    let record = self.rows.open(&self.session, row_name, row.try_get(2).map_err(db(what))?)?;
                    session.sender_keys.insert((group, sender), record);
                }
                for row in read("SELECT address, identity_key FROM identities WHERE session = $1").await? {
                    let (address, key): (String, Vec<u8>) = pair(&row).map_err(db(what))?;
                    let key = self.rows.open(&self.session, KeyRow::Identity(&address), key)?;
                    session.identities.insert(address, key);
                }
                for row in read("SELECT key_id, record FROM app_state_keys WHERE session = $1").await? {
                    let (id, data): (Vec<u8>, Vec<u8>) = pair(&row).map_err(db(what))?;
                    let data = self.rows.open(&self.session, KeyRow::AppStateKey(&id), data)?;
                    session.app_state_keys.insert(id, data);
                }
                for row in read("SELECT pn, lid FROM lid_mappings WHERE session = $1").await? {
                    let (pn, lid) = pair(&row).map_err(db(what))?;
                    session.lid_for_pn.insert(pn, lid);
                }
                for row in read("SELECT group_id, device FROM sender_key_shared WHERE session = $1").await? {
                    let (group, device) = pair(&row).map_err(db(what))?;
                    session.sender_key_shared.entry(group).or_default().insert(device);
                }
                for row in read("SELECT group_id, node, fetched_at FROM group_metadata WHERE session = $1").await? {
                    let group: String = row.try_get(0).map_err(db(what))?;
                    let stored = StoredGroup {
                        node: row.try_get(1).map_err(db(what))?,
                        fetched_at: millis(row.try_get(2).map_err(db(what))?),
                    };
                    session.groups.insert(group, stored);
                }
                for row in read("SELECT msg_id, sender, count, at FROM message_retries WHERE session = $1").await? {
                    let key = pair(&row).map_err(db(what))?;
                    let count: i64 = row.try_get(2).map_err(db(what))?;
                    let retry = Retry {
                        count: u8::try_from(count).unwrap_or(u8::MAX),
                        at: millis(row.try_get(3).map_err(db(what))?),
                    };
                    session.retries.insert(key, retry);
                }
                Ok(Some(session))
            }

            async fn commit(&mut self, writes: &[Write]) -> Result<Committed, StoreError> {
                let what = "committing writes";
                let mut tx = self.pool.begin().await.map_err(db(what))?;
                match Self::write_batch(&mut tx, &self.rows, &self.session, writes).await {
                    Ok(committed) => {
                        tx.commit().await.map_err(db(what))?;
                        Ok(committed)
                    }
                    Err(error) => {
                        // Rolled back now, not when the pool next lends the
                        // connection: a refused batch holds the creds row
                        // lock, which the other process waits on.
                        let _ = tx.rollback().await;
                        Err(error)
                    }
                }
            }

            async fn replace_session(&mut self, session: &Session) -> Result<(), StoreError> {
                let what = "replacing the session";
                let mut tx = self.pool.begin().await.map_err(db(what))?;
                Self::delete_keys(&mut tx, &self.session, false)
                    .await
                    .map_err(db(what))?;
                for write in session.to_writes() {
                    Self::write_one(&mut tx, &self.rows, &self.session, &write)
                        .await
                        .map_err(db(what))?;
                }
                tx.commit().await.map_err(db(what))
            }

            async fn put_snapshot(
                &mut self,
                created_at: UnixMillis,
                bytes: &[u8],
                keep: u32,
            ) -> Result<u64, StoreError> {
                let what = "storing a snapshot";
                let mut tx = self.pool.begin().await.map_err(db(what))?;
                let newest: i64 = sqlx::query(
                    "SELECT COALESCE(MAX(generation), 0) FROM snapshots WHERE session = $1",
                )
                .bind(&self.session)
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(db(what))?;
                let generation = newest + 1;
                sqlx::query(
                    "INSERT INTO snapshots (session, generation, created_at, bytes) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&self.session)
                .bind(generation)
                .bind(sql_millis(created_at))
                .bind(bytes)
                .execute(&mut *tx)
                .await
                .map_err(db(what))?;
                sqlx::query("DELETE FROM snapshots WHERE session = $1 AND generation <= $2")
                    .bind(&self.session)
                    .bind(generation - i64::from(keep.max(1)))
                    .execute(&mut *tx)
                    .await
                    .map_err(db(what))?;
                tx.commit().await.map_err(db(what))?;
                Ok(u64::try_from(generation).unwrap_or(0))
            }

            async fn snapshots(&mut self) -> Result<Vec<StoredSnapshot>, StoreError> {
                let what = "reading snapshots";
                let rows = sqlx::query(
                    "SELECT generation, created_at, bytes FROM snapshots \
                     WHERE session = $1 ORDER BY generation DESC",
                )
                .bind(&self.session)
                .fetch_all(&self.pool)
                .await
                .map_err(db(what))?;
                rows.iter()
                    .map(|row| {
                        Ok(StoredSnapshot {
                            generation: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                            created_at: millis(row.try_get(1)?),
                            bytes: row.try_get(2)?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db(what))
            }

            async fn claim_inbox(
                &mut self,
                owner: &str,
                lease_ms: u64,
                limit: u32,
            ) -> Result<Vec<InboxRecord>, StoreError> {
                let what = "claiming inbox entries";
                let rows = sqlx::query(&self.on_db_clock($dialect.claim))
                    .bind(&self.session)
                    .bind(owner)
                    .bind(i64::try_from(lease_ms).unwrap_or(i64::MAX))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db(what))?;
                let mut entries = rows
                    .iter()
                    .map(inbox_record)
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(db(what))?;
                // RETURNING promises no order.
                entries.sort_by_key(|e| e.seq);
                Ok(entries)
            }

            async fn register_instance(&mut self, owner: &str) -> Result<(), StoreError> {
                self.mark_instance($dialect.prune, owner, "forgetting long-gone instances")
                    .await?;
                self.mark_instance($dialect.register, owner, "registering this instance")
                    .await
            }

            async fn heartbeat_instance(&mut self, owner: &str) -> Result<(), StoreError> {
                self.mark_instance($dialect.heartbeat, owner, "renewing this instance's mark")
                    .await
            }

            async fn retire_instance(&mut self, owner: &str) -> Result<(), StoreError> {
                self.mark_instance($dialect.retire, owner, "marking this instance stopped")
                    .await?;
                self.mark_instance(RELEASE_CLAIMS, owner, "giving up this instance's claims")
                    .await
            }

            async fn instance_standing(
                &mut self,
                owner: &str,
                alive_ms: u64,
                recent_ms: u64,
            ) -> Result<Standing, StoreError> {
                let what = "reading the instance register";
                let row = sqlx::query(&self.on_db_clock($dialect.standing))
                    .bind(&self.session)
                    .bind(owner)
                    .bind(i64::try_from(alive_ms).unwrap_or(i64::MAX))
                    .bind(i64::try_from(recent_ms).unwrap_or(i64::MAX))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db(what))?;
                Ok(Standing {
                    newer_alive: row.try_get(0).map_err(db(what))?,
                    newer_ran: row.try_get(1).map_err(db(what))?,
                    older_recent: row.try_get(2).map_err(db(what))?,
                })
            }

            async fn unhandled_inbox(&mut self, limit: u32) -> Result<Vec<InboxRecord>, StoreError> {
                self.read_inbox(true, limit).await
            }

            async fn inbox(&mut self) -> Result<Vec<InboxRecord>, StoreError> {
                self.read_inbox(false, u32::MAX).await
            }

            async fn outbox(&mut self) -> Result<Vec<OutboxRecord>, StoreError> {
                let what = "reading the outbox";
                let rows = sqlx::query(
                    "SELECT seq, inbox_msg_id, recipient, payload, sent_at, msg_id, \
                     stanza IS NOT NULL, created_at FROM outbox \
                     WHERE session = $1 ORDER BY seq",
                )
                .bind(&self.session)
                .fetch_all(&self.pool)
                .await
                .map_err(db(what))?;
                rows.iter()
                    .map(|row| {
                        Ok(OutboxRecord {
                            seq: row.try_get(0)?,
                            inbox_id: row.try_get(1)?,
                            to: row.try_get(2)?,
                            payload_bytes: row.try_get::<Vec<u8>, _>(3)?.len(),
                            sent_at: row.try_get::<Option<i64>, _>(4)?.map(millis),
                            id: row.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
                            sealed: row.try_get(6)?,
                            created_at: millis(row.try_get(7)?),
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db(what))
            }

            async fn outbox_backlog(&mut self) -> Result<Backlog, StoreError> {
                self.backlog("outbox", "counting the unsent outbox").await
            }

            async fn unsent_outbound(&mut self, limit: u32) -> Result<Vec<Outbound>, StoreError> {
                let what = "reading the unsent outbox";
                let rows = sqlx::query(
                    "SELECT msg_id, recipient, payload, stanza FROM outbox \
                     WHERE session = $1 AND sent_at IS NULL AND msg_id IS NOT NULL \
                     ORDER BY seq LIMIT $2",
                )
                .bind(&self.session)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db(what))?;
                rows.iter()
                    .map(|row| {
                        Ok(Outbound {
                            id: row.try_get(0)?,
                            to: row.try_get(1)?,
                            message: row.try_get(2)?,
                            stanza: row.try_get(3)?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db(what))
            }

            async fn prune(
                &mut self,
                before: UnixMillis,
                rows_max: u32,
            ) -> Result<PruneCount, StoreError> {
                let what = "pruning old inbox and outbox rows";
                let mut tx = self.pool.begin().await.map_err(db(what))?;
                // Handled inbox rows, sent outbox rows and done effects,
                // the oldest first.
                let mut pruned = [0u64; 3];
                for (count, (table, done_at)) in pruned.iter_mut().zip([
                    ("inbox", "handled_at"),
                    ("outbox", "sent_at"),
                    ("effects", "done_at"),
                ])
                {
                    let sql = format!(
                        "DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} \
                         WHERE session = $1 AND {done_at} IS NOT NULL AND {done_at} < $2 \
                         ORDER BY seq LIMIT $3)"
                    );
                    *count = sqlx::query(&sql)
                        .bind(&self.session)
                        .bind(sql_millis(before))
                        .bind(i64::from(rows_max))
                        .execute(&mut *tx)
                        .await
                        .map_err(db(what))?
                        .rows_affected();
                }
                let [inbox, outbox, effects] = pruned;
                tx.commit().await.map_err(db(what))?;
                Ok(PruneCount {
                    inbox,
                    outbox,
                    effects,
                })
            }

            async fn wipe(&mut self) -> Result<(), StoreError> {
                let what = "wiping the session";
                let mut tx = self.pool.begin().await.map_err(db(what))?;
                Self::delete_keys(&mut tx, &self.session, true)
                    .await
                    .map_err(db(what))?;
                tx.commit().await.map_err(db(what))
            }

            async fn sessions(&mut self) -> Result<Vec<SessionSummary>, StoreError> {
                let what = "listing sessions";
                let names: Vec<String> = sqlx::query(
                    "SELECT session FROM creds UNION SELECT session FROM snapshots \
                     UNION SELECT session FROM inbox ORDER BY 1",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db(what))?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(db(what))?;
                let mut out = Vec::with_capacity(names.len());
                for name in names {
                    let mut handle = self.with_session(&name);
                    let device = match handle.load_creds().await {
                        Ok(creds) => Ok(creds.and_then(|c| c.creds.me.map(|me| me.jid.to_string()))),
                        Err(err) => Err(err.into_corrupt()?),
                    };
                    let newest: Option<i64> = sqlx::query(
                        "SELECT MAX(created_at) FROM snapshots WHERE session = $1",
                    )
                    .bind(&name)
                    .fetch_one(&self.pool)
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(db(what))?;
                    let unhandled: i64 = sqlx::query(
                        "SELECT COUNT(*) FROM inbox WHERE session = $1 AND handled_at IS NULL",
                    )
                    .bind(&name)
                    .fetch_one(&self.pool)
                    .await
                    .and_then(|row| row.try_get(0))
                    .map_err(db(what))?;
                    out.push(SessionSummary {
                        pre_keys: self.count("pre_keys", &name).await?,
                        signal_sessions: self.count("signal_sessions", &name).await?,
                        inbox: self.count("inbox", &name).await?,
                        inbox_unhandled: u64::try_from(unhandled).unwrap_or(0),
                        snapshots: self.count("snapshots", &name).await?,
                        newest_snapshot_at: newest.map(millis),
                        device,
                        name,
                    });
                }
                Ok(out)
            }

            async fn bot_settings(&mut self) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT settings FROM bot_settings WHERE session = $1")
                    .bind(&self.session)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db("reading the bot's settings"))
            }

            async fn client_version(&mut self) -> Result<Option<AppVersion>, StoreError> {
                let text: Option<String> =
                    sqlx::query_scalar("SELECT version FROM client_version WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db("reading the learnt WhatsApp version"))?;
                text.map(|text| {
                    text.parse().map_err(|err: AppVersionError| StoreError::Corrupt {
                        what: "client_version".into(),
                        detail: err.to_string(),
                    })
                })
                .transpose()
            }

            async fn put_client_version(
                &mut self,
                version: AppVersion,
                learned_at: UnixMillis,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO client_version (id, version, learned_at) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                     learned_at = excluded.learned_at",
                )
                .bind(version.to_string())
                .bind(i64::try_from(learned_at.as_millis()).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await
                .map_err(db("storing the learnt WhatsApp version"))?;
                Ok(())
            }

            async fn known_groups(&mut self, limit: u32) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar(
                    "SELECT DISTINCT sender FROM inbox \
                     WHERE session = $1 AND sender LIKE '%@g.us' ORDER BY sender LIMIT $2",
                )
                .bind(&self.session)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db("reading the groups of the inbox"))
            }

            async fn media_upload(
                &mut self,
                file_sha256: &[u8; 32],
                media_type: &str,
            ) -> Result<Option<MediaUpload>, StoreError> {
                let what = "reading a kept media upload";
                let row = sqlx::query(
                    "SELECT media_key, file_enc_sha256, file_length, url, direct_path, uploaded_at \
                     FROM media_uploads WHERE session = $1 AND file_sha256 = $2 AND media_type = $3",
                )
                .bind(&self.session)
                .bind(file_sha256.as_slice())
                .bind(media_type)
                .fetch_optional(&self.pool)
                .await
                .map_err(db(what))?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let read = || -> Result<Option<MediaUpload>, sqlx::Error> {
                    let enc: Vec<u8> = row.try_get(1)?;
                    let Ok(file_enc_sha256) = <[u8; 32]>::try_from(enc.as_slice()) else {
                        return Ok(None);
                    };
                    let length: i64 = row.try_get(2)?;
                    Ok(Some(MediaUpload {
                        file_sha256: *file_sha256,
                        media_type: media_type.to_owned(),
                        media_key: row.try_get(0)?,
                        file_enc_sha256,
                        file_length: u64::try_from(length).unwrap_or(0),
                        url: row.try_get(3)?,
                        direct_path: row.try_get(4)?,
                        uploaded_at: millis(row.try_get(5)?),
                    }))
                };
                read().map_err(db(what))
            }

            async fn pending_effects(&mut self, limit: u32) -> Result<Vec<EffectRecord>, StoreError> {
                let what = "reading pending effects";
                let rows = sqlx::query(
                    "SELECT effect_id, inbox_msg_id, effect, created_at FROM effects \
                     WHERE session = $1 AND done_at IS NULL ORDER BY seq LIMIT $2",
                )
                .bind(&self.session)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db(what))?;
                rows.iter()
                    .map(|row| {
                        Ok(EffectRecord {
                            id: row.try_get(0)?,
                            inbox_id: row.try_get(1)?,
                            json: row.try_get(2)?,
                            created_at: millis(row.try_get(3)?),
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db(what))
            }
        }
    };
}

sql_store!(SqliteStore, sqlx::Sqlite, SQLITE);
sql_store!(PgStore, sqlx::Postgres, POSTGRES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_require_tls_and_local_ones_do_not() {
        let heroku = pg_options(
            "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/db",
            None,
        )
        .expect("valid");
        assert!(matches!(heroku.get_ssl_mode(), PgSslMode::Require));
        let local = pg_options("postgres://postgres@127.0.0.1:5432/test", None).expect("valid");
        assert!(!matches!(local.get_ssl_mode(), PgSslMode::Require));
        let explicit =
            pg_options("postgres://u:p@db.example/db?sslmode=verify-full", None).expect("valid");
        assert!(matches!(explicit.get_ssl_mode(), PgSslMode::VerifyFull));
    }

    #[test]
    fn every_clock_statement_reads_the_clock_the_store_is_set_to() {
        for dialect in [&SQLITE, &POSTGRES] {
            for sql in [
                dialect.claim,
                dialect.register,
                dialect.heartbeat,
                dialect.retire,
                dialect.prune,
                dialect.standing,
            ] {
                assert!(sql.contains(dialect.now), "{sql}");
            }
        }
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        for url in [
            "postgres://u:hunter2@host:notaport/db",
            "postgres://u@host:notaport/db?password=hunter2",
            "postgres://u@host/db?password=hunter2&sslmode=sometimes",
        ] {
            let err = pg_options(url, None).expect_err("bad URL");
            let text = err.to_string();
            assert!(text.contains("DATABASE_URL"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
