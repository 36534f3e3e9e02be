//! What retention buys: two weeks of 1,000 messages a day (each stored,
//! handled with one reply, the reply sent), pruned hourly with the default
//! `INBOX_RETENTION_DAYS` of 7, the way the store worker does it. After the
//! first week the rows stay at seven days' worth and the SQLite file stops
//! growing: freed pages are reused. PostgreSQL (with DATABASE_URL) is
//! measured the same way, by rows and by table size after a plain VACUUM
//! (what autovacuum does); its day 8 is a step above day 7 (a day's dead
//! row versions need room until the vacuum), flat after that.
//!
//! Prints one line per day; run with `-- --nocapture` to see them.

mod store_support;

use blacksky_core::session::{InboxContent, InboxEntry, OutboxEntry, Write};
use blacksky_core::time::UnixMillis;
use blacksky_io::session::retention::{INBOX_RETENTION_DEFAULT, PRUNE_ROWS_MAX};
use blacksky_io::store::{PgStore, SqliteStore};
use store_support::Db;

const DAYS: u64 = 14;
const MESSAGES_PER_DAY: u64 = 1_000;
const DAY_MS: u64 = 24 * 3600 * 1000;
const HOUR_MS: u64 = 3600 * 1000;
/// Messages committed per batch (the size does not change what is kept).
const BATCH_LEN: u64 = 50;
/// A 1:1 text as it arrives: the encrypted stanza.
const STANZA_BYTES: usize = 600;
/// The decrypted message beside it.
const MESSAGE_BYTES: usize = 120;
const REPLY_BYTES: usize = 200;
/// Day 0 of the run.
const START: u64 = 1_800_000_000_000;

/// One simulated day of traffic on `store`, pruned every hour.
async fn one_day<S: Db>(store: &mut S, day: u64) {
    let keep_ms = INBOX_RETENTION_DEFAULT.as_millis() as u64;
    let spacing = DAY_MS / MESSAGES_PER_DAY;
    let mut next_prune = START + day * DAY_MS + HOUR_MS;
    for first in (0..MESSAGES_PER_DAY).step_by(BATCH_LEN as usize) {
        let mut batch = Vec::new();
        let mut handled = Vec::new();
        for n in first..first + BATCH_LEN {
            let at = UnixMillis(START + day * DAY_MS + n * spacing);
            let id = format!("d{day}-m{n}");
            batch.push(Write::Inbox(InboxEntry {
                id: id.clone(),
                from: format!("1555{:07}@s.whatsapp.net", n % 200),
                stanza: vec![(n % 251) as u8; STANZA_BYTES],
                received_at: at,
                // A short text as it is stored decrypted.
                content: InboxContent::Message(vec![0x0a; MESSAGE_BYTES]),
            }));
            let reply = OutboxEntry {
                to: format!("1555{:07}@s.whatsapp.net", n % 200),
                payload: vec![7; REPLY_BYTES],
            }
            .into_outbound(&id, 0);
            handled.push(Write::Handled {
                id,
                at,
                by: "test-instance".into(),
                outbox: vec![reply],
            });
        }
        store.commit(&batch).await.expect("inbox");
        store.commit(&handled).await.expect("handled");
        // The replies go out at once (nothing sends the outbox yet: the
        // test stamps them).
        let last_at = START + day * DAY_MS + (first + BATCH_LEN - 1) * spacing;
        store
            .exec(&format!(
                "UPDATE outbox SET sent_at = created_at WHERE sent_at IS NULL AND created_at <= {last_at}"
            ))
            .await
            .expect("mark sent");
        while next_prune <= last_at {
            prune(store, UnixMillis(next_prune - keep_ms)).await;
            next_prune += HOUR_MS;
        }
    }
    // The day's remaining hourly rounds.
    while next_prune <= START + (day + 1) * DAY_MS {
        prune(store, UnixMillis(next_prune - keep_ms)).await;
        next_prune += HOUR_MS;
    }
}

/// One worker round, repeated while a backlog lasts.
async fn prune<S: Db>(store: &mut S, before: UnixMillis) {
    while store
        .prune(before, PRUNE_ROWS_MAX)
        .await
        .expect("prune")
        .hit(PRUNE_ROWS_MAX)
    {}
}

async fn rows<S: Db>(store: &S) -> (i64, i64) {
    (
        store
            .count("SELECT COUNT(*) FROM inbox")
            .await
            .expect("count"),
        store
            .count("SELECT COUNT(*) FROM outbox")
            .await
            .expect("count"),
    )
}

/// After the first week: seven days of rows, whatever the day.
fn assert_flat_rows(day: u64, inbox: i64, outbox: i64) {
    let kept = 7 * MESSAGES_PER_DAY as i64;
    if day >= 7 {
        assert!(
            (kept - 50..=kept + 50).contains(&inbox) && (kept - 50..=kept + 50).contains(&outbox),
            "day {day}: {inbox} inbox and {outbox} outbox rows, expected about {kept}"
        );
    }
}

#[tokio::test]
async fn a_week_of_traffic_keeps_the_sqlite_file_flat() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blacksky.db");
    let mut store = SqliteStore::open(&path, "s").await.expect("open");
    let mut sizes = Vec::new();
    for day in 0..DAYS {
        one_day(&mut store, day).await;
        store
            .exec("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        let bytes = i64::try_from(std::fs::metadata(&path).expect("file").len()).expect("size");
        let (inbox, outbox) = rows(&store).await;
        println!(
            "sqlite day {:>2}: {inbox:>5} inbox rows, {outbox:>5} outbox rows, file {:>6} KiB",
            day + 1,
            bytes / 1024
        );
        assert_flat_rows(day, inbox, outbox);
        sizes.push(bytes);
    }
    println!("sqlite: {}", summary(&sizes));
    assert!(
        plateaus(&sizes),
        "the file kept growing after the first week: {sizes:?}"
    );
}

/// From day 8 on (the first day whose traffic takes the place of pruned
/// rows) the size stays within 5 % of day 8's.
fn plateaus(sizes: &[i64]) -> bool {
    let day8 = sizes[7];
    sizes[8..].iter().all(|&size| size <= day8 + day8 / 20)
}

fn summary(sizes: &[i64]) -> String {
    format!(
        "{} KiB after 7 days, {} KiB after 8, {} KiB after {DAYS}",
        sizes[6] / 1024,
        sizes[7] / 1024,
        sizes[sizes.len() - 1] / 1024
    )
}

#[tokio::test]
async fn a_week_of_traffic_keeps_postgres_flat() {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("DATABASE_URL is not set, and CI needs the PostgreSQL tests to run")
        }
        _ => {
            eprintln!("skipped: DATABASE_URL is not set");
            return;
        }
    };
    let schema = format!(
        "blacksky_retention_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let admin = sqlx::PgPool::connect(&url).await.expect("connect");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("schema");
    let mut store = PgStore::open(&url, "s", Some(&schema)).await.expect("open");
    let mut sizes = Vec::new();
    for day in 0..DAYS {
        one_day(&mut store, day).await;
        // What autovacuum does between days: dead rows' space reused.
        store.exec("VACUUM inbox").await.expect("vacuum");
        store.exec("VACUUM outbox").await.expect("vacuum");
        let bytes = store
            .count("SELECT pg_total_relation_size('inbox') + pg_total_relation_size('outbox')")
            .await
            .expect("size");
        let (inbox, outbox) = rows(&store).await;
        println!(
            "postgres day {:>2}: {inbox:>5} inbox rows, {outbox:>5} outbox rows, tables {:>6} KiB",
            day + 1,
            bytes / 1024
        );
        assert_flat_rows(day, inbox, outbox);
        sizes.push(bytes);
    }
    println!("postgres: {}", summary(&sizes));
    let within = plateaus(&sizes);
    drop(store);
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await;
    assert!(
        within,
        "the tables kept growing after the first week: {sizes:?}"
    );
}
