//! Store figures: snapshot size of a session with 1,000 pre-keys and 200
//! Signal sessions; time to write one key update; time to commit one
//! received message, and one sealed outbound message; time to restore a
//! full session; on SQLite (clear and with the key rows sealed) and
//! (with DATABASE_URL) PostgreSQL.
//!
//! `cargo bench -p blacksky-io --bench store` prints a table;
//! `-- --test` (what CI runs) does one quick round of each.

use std::time::{Duration, Instant};

use blacksky_core::session::snapshot::{self, KDF_ITERATIONS_DEFAULT, Keyring};
use blacksky_core::session::testing::sample_session;
use blacksky_core::session::{InboxContent, InboxEntry, Outbound, Replaces, Session, Write};
use blacksky_io::host::config::Secret;
use blacksky_io::store::backup::{self, Sealer};
use blacksky_io::store::{PgStore, RowSecret, SqliteStore, Store, wall_now};

const PRE_KEYS: u32 = 1_000;
const SIGNAL_SESSIONS: u32 = 200;
/// A Signal session record with a few chains is about this big; random
/// bytes, so compression gains nothing on it (the worst case).
const SESSION_RECORD_BYTES: usize = 1_024;
/// An encoded `<message>` stanza sealed for one device (a text as a `msg`
/// is about 150 bytes; a `pkmsg` with `<device-identity>` about 400).
const SEALED_STANZA_BYTES: usize = 200;

struct Timing {
    median: Duration,
    p99: Duration,
}

fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Timing {
        median: at(0.5),
        p99: at(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Session `i`'s next record, replacing the one `view` holds (the store
/// checks that, as it does for every message).
fn advance(view: &mut Session, i: usize) -> Write {
    let address = format!("1555000{:04}.0:1", i % SIGNAL_SESSIONS as usize);
    let mut record = vec![0u8; SESSION_RECORD_BYTES];
    record[..8].copy_from_slice(&(i as u64).to_le_bytes());
    let write = Write::SignalSession {
        replaces: Replaces::current(view, &address),
        address,
        record,
    };
    view.apply(&write);
    write
}

async fn measure<S: Store>(label: &str, mut store: S, session: &Session, quick: bool) {
    let updates = if quick { 3 } else { 300 };
    let restores = if quick { 1 } else { 10 };
    store
        .replace_session(session)
        .await
        .expect("seed the store");

    // What the client holds: each write replaces the record it read.
    let mut view = session.clone();
    let mut samples = Vec::with_capacity(updates);
    for i in 0..updates {
        let write = advance(&mut view, i);
        let started = Instant::now();
        store.commit(&[write]).await.expect("commit");
        samples.push(started.elapsed());
    }
    let update = timing(samples);

    // What one received message commits: its session's new record and the
    // inbox row with the stanza and the decrypted message, in one batch.
    let mut samples = Vec::with_capacity(updates);
    for i in 0..updates {
        let writes = [
            advance(&mut view, i),
            Write::Inbox(InboxEntry {
                id: format!("3EB0{label}{i:012}"),
                from: "15550001111@s.whatsapp.net".into(),
                stanza: vec![7; 250],
                received_at: wall_now(),
                content: InboxContent::Message(vec![0x0a; 100]),
            }),
        ];
        let started = Instant::now();
        store.commit(&writes).await.expect("commit");
        samples.push(started.elapsed());
    }
    let message = timing(samples);

    // What sealing one outbound message commits before it is sent: the
    // session record it advanced and the stanza on its outbox row, in one
    // batch. The row (a reply to a handled inbox entry) is made untimed.
    let mut samples = Vec::with_capacity(updates);
    for i in 0..updates {
        let inbox_id = format!("3EB0IN{label}{i:012}");
        let reply_id = format!("3EB0OUT{label}{i:012}");
        let to = "15550001111@s.whatsapp.net".to_owned();
        let setup = [
            Write::Inbox(InboxEntry {
                id: inbox_id.clone(),
                from: to.clone(),
                stanza: vec![7; 250],
                received_at: wall_now(),
                content: InboxContent::Message(vec![0x0a; 100]),
            }),
            Write::Handled {
                id: inbox_id,
                at: wall_now(),
                by: "bench".into(),
                outbox: vec![Outbound {
                    id: reply_id.clone(),
                    to,
                    message: vec![0x0a; 20],
                    stanza: None,
                }],
            },
        ];
        store.commit(&setup).await.expect("commit the reply");
        let writes = [
            advance(&mut view, i),
            Write::OutboundSealed {
                id: reply_id,
                stanza: vec![9; SEALED_STANZA_BYTES],
            },
        ];
        let started = Instant::now();
        store.commit(&writes).await.expect("commit");
        samples.push(started.elapsed());
    }
    let outbox = store.outbox().await.expect("read the outbox");
    assert_eq!(outbox.len(), updates, "one reply row per message");
    assert!(
        outbox.iter().all(|row| row.sealed),
        "every row has its stanza"
    );
    let sealed = timing(samples);

    let secret = Secret::new("bench secret");
    let mut sealer = Sealer::standard(store.session_name(), Some(&secret));
    let live = store.load_session().await.expect("read").expect("present");
    let bytes = sealer.seal(&live, wall_now()).await.expect("seal");
    store
        .put_snapshot(wall_now(), &bytes, 5)
        .await
        .expect("put");

    let mut load = Vec::new();
    let mut restore = Vec::new();
    let mut restore_kdf = Vec::new();
    let mut keys = backup::keyring(Some(&secret));
    for round in 0..restores {
        let started = Instant::now();
        let _ = store.load_session().await.expect("read");
        load.push(started.elapsed());
        // From the newest snapshot into the live tables; the first round
        // pays the key derivation, later ones find the key cached.
        let started = Instant::now();
        let newest = store.snapshots().await.expect("read").remove(0);
        let (_, restored) = snapshot::decode_snapshot(&newest.bytes, &mut keys).expect("open");
        store.replace_session(&restored).await.expect("restore");
        if round == 0 {
            restore_kdf.push(started.elapsed());
        } else {
            restore.push(started.elapsed());
        }
    }
    let restore = if restore.is_empty() {
        timing(restore_kdf.clone())
    } else {
        timing(restore)
    };
    println!(
        "{label:<10} one key update: median {} p99 {} | one received message (record + \
         inbox row): median {} p99 {} ({:.0} messages/s one at a time) | one sealed send \
         (record + stanza on its outbox row): median {} p99 {} ({:.0} messages/s one at a \
         time) | load live session: median {} | restore from snapshot: median {} (first, \
         with PBKDF2: {})",
        ms(update.median),
        ms(update.p99),
        ms(message.median),
        ms(message.p99),
        1.0 / message.median.as_secs_f64(),
        ms(sealed.median),
        ms(sealed.p99),
        1.0 / sealed.median.as_secs_f64(),
        ms(timing(load).median),
        ms(restore.median),
        ms(restore_kdf[0]),
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let session = sample_session(1, PRE_KEYS, SIGNAL_SESSIONS, SESSION_RECORD_BYTES);
    runtime.block_on(async {
        let secret = Secret::new("bench secret");
        let mut plain = Sealer::standard("BLACKSKY-MD", None);
        let mut sealed = Sealer::standard("BLACKSKY-MD", Some(&secret));
        let plain_bytes = plain.seal(&session, wall_now()).await.expect("seal");
        let started = Instant::now();
        let sealed_bytes = sealed.seal(&session, wall_now()).await.expect("seal");
        let first_seal = started.elapsed();
        let started = Instant::now();
        let again = sealed.seal(&session, wall_now()).await.expect("seal");
        let next_seal = started.elapsed();
        let mut compact = session.clone();
        compact.pre_keys.clear();
        let compact_bytes = sealed.seal(&compact, wall_now()).await.expect("seal");
        let string = snapshot::session_string("BLACKSKY-MD", &again);
        let started = Instant::now();
        let mut keys = Keyring::new(Some(secret.expose().as_bytes()));
        snapshot::decode_snapshot(&sealed_bytes, &mut keys).expect("open");
        let open_kdf = started.elapsed();
        println!(
            "session: {PRE_KEYS} pre-keys, {SIGNAL_SESSIONS} Signal sessions of \
             {SESSION_RECORD_BYTES} random bytes (PBKDF2: {KDF_ITERATIONS_DEFAULT} iterations)"
        );
        println!(
            "snapshot: {} bytes plain, {} bytes encrypted ({} without pre-keys); \
             session string {} chars",
            plain_bytes.len(),
            sealed_bytes.len(),
            compact_bytes.len(),
            string.len()
        );
        println!(
            "seal: first {} (waits for the key derivation), then {}; open with key derivation {}",
            ms(first_seal),
            ms(next_seal),
            ms(open_kdf)
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = SqliteStore::open(&dir.path().join("blacksky.db"), "bench")
            .await
            .expect("open SQLite");
        measure("SQLite", sqlite, &session, quick).await;
        // The same with the key rows sealed (SESSION_SECRET): the cost of
        // sealing is the difference between the two lines.
        let sealed_sqlite = SqliteStore::open_sealed(
            &dir.path().join("sealed.db"),
            "bench",
            Some(&RowSecret::new(&secret)),
        )
        .await
        .expect("open SQLite sealed");
        measure("SQLite, sealed rows", sealed_sqlite, &session, quick).await;

        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let schema = format!("blacksky_bench_{}", std::process::id());
                let admin = sqlx::PgPool::connect(&url).await.expect("connect");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .expect("schema");
                let pg = PgStore::open(&url, "bench", Some(&schema))
                    .await
                    .expect("open PostgreSQL");
                measure("PostgreSQL", pg, &session, quick).await;
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&admin)
                    .await
                    .expect("drop schema");
            }
            _ => println!("PostgreSQL: skipped (DATABASE_URL is not set)"),
        }
    });
}
