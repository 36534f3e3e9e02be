//! The promises every SQL store keeps, written once and run against SQLite
//! (store_sqlite.rs) and PostgreSQL (store_postgres.rs).

#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blacksky_core::client::OpId;
use blacksky_core::crypto::KeyPair;
use blacksky_core::session::snapshot::{Keyring, Seal, SnapshotKey, encode_snapshot};
use blacksky_core::session::testing::sample_session;
use blacksky_core::session::{
    AppVersion, Committed, GivenKey, MEDIA_UPLOAD_REUSE_MS, MEDIA_UPLOADS_MAX, MediaUpload,
    OutboxEntry, PreKey, RecordDigest, Replaces, Session, StoredGroup, Write,
};
use blacksky_core::session::{InboxContent, InboxEntry};
use blacksky_core::time::UnixMillis;
use blacksky_io::host::config::Secret;
use blacksky_io::session::worker::{InboxHandler, silent_bot};
use blacksky_io::session::worker::{StoreHealth, StoreWorker, WorkerConfig};
use blacksky_io::store::backup::{self, PrepareError, Sealer, Source};
use blacksky_io::store::{
    InboxRecord, PgStore, PruneCount, RowSecret, SqliteStore, Standing, Store, StoreError,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A store whose database the test can also reach with raw SQL.
pub trait Db: Store + Clone {
    fn exec(&self, sql: &str) -> impl Future<Output = Result<(), String>>;
    /// The single integer a `SELECT COUNT(*) …` answers.
    fn count(&self, sql: &str) -> impl Future<Output = Result<i64, String>>;
    fn with_session(&self, session: &str) -> Self;
    /// The same database opened again with `secret` (same pool).
    fn resealed(
        &self,
        secret: Option<&RowSecret>,
    ) -> impl Future<Output = Result<Self, StoreError>>;
    /// The one blob column every row `sql` selects holds.
    fn blobs(&self, sql: &str) -> impl Future<Output = Result<Vec<Vec<u8>>, String>>;
}

impl Db for SqliteStore {
    async fn exec(&self, sql: &str) -> Result<(), String> {
        sqlx::query(sql)
            .execute(self.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn count(&self, sql: &str) -> Result<i64, String> {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .map_err(|e| e.to_string())
    }

    fn with_session(&self, session: &str) -> Self {
        SqliteStore::with_session(self, session)
    }

    async fn resealed(&self, secret: Option<&RowSecret>) -> Result<Self, StoreError> {
        SqliteStore::resealed(self, secret).await
    }

    async fn blobs(&self, sql: &str) -> Result<Vec<Vec<u8>>, String> {
        sqlx::query_scalar(sql)
            .fetch_all(self.pool())
            .await
            .map_err(|e| e.to_string())
    }
}

impl Db for PgStore {
    async fn exec(&self, sql: &str) -> Result<(), String> {
        sqlx::query(sql)
            .execute(self.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn count(&self, sql: &str) -> Result<i64, String> {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .map_err(|e| e.to_string())
    }

    fn with_session(&self, session: &str) -> Self {
        PgStore::with_session(self, session)
    }

    async fn resealed(&self, secret: Option<&RowSecret>) -> Result<Self, StoreError> {
        PgStore::resealed(self, secret).await
    }

    async fn blobs(&self, sql: &str) -> Result<Vec<Vec<u8>>, String> {
        sqlx::query_scalar(sql)
            .fetch_all(self.pool())
            .await
            .map_err(|e| e.to_string())
    }
}

/// Fast key derivation for tests (the iteration count travels in the
/// snapshot header, so opening works the same).
pub const TEST_KDF_ITERATIONS: u32 = 1_000;

/// The secret the sealed runs of the promises seal the key rows with.
pub fn row_secret() -> RowSecret {
    RowSecret::with_kdf_iterations(b"row secret, not a real one", TEST_KDF_ITERATIONS)
}

/// The client's cap on store ops in flight, as a link is told it.
pub const IN_FLIGHT_MAX: usize = 1_024;

pub fn entry(id: &str, n: u64) -> InboxEntry {
    InboxEntry {
        id: id.to_owned(),
        from: "15550001111@s.whatsapp.net".into(),
        stanza: vec![n as u8; 12],
        received_at: UnixMillis(1_700_000_000_000 + n),
        // Odd entries unreadable: both forms must round-trip.
        content: if n % 2 == 0 {
            InboxContent::Message(vec![0x0a, 1, b'a' + (n % 26) as u8])
        } else {
            InboxContent::Unreadable(format!("poison {n}"))
        },
    }
}

fn sealed(session: &Session, secret: &[u8], salt: u8, nonce: u8) -> Vec<u8> {
    let key = SnapshotKey::derive(secret, [salt; 16], TEST_KDF_ITERATIONS);
    encode_snapshot(
        session,
        "s",
        UnixMillis(1),
        Seal::Encrypted {
            key: &key,
            nonce: [nonce; 12],
        },
    )
    .expect("seal")
}

pub async fn migrations_from_empty_leave_an_empty_store<S: Db>(mut store: S) {
    assert!(store.load_creds().await.expect("read").is_none());
    assert!(store.load_session().await.expect("read").is_none());
    assert!(store.snapshots().await.expect("read").is_empty());
    assert!(store.inbox().await.expect("read").is_empty());
    assert!(store.sessions().await.expect("read").is_empty());
}

pub async fn every_record_kind_round_trips<S: Db>(mut store: S) {
    let mut session = sample_session(1, 30, 12, 300);
    session.login_confirmed = true;
    store
        .commit(&session.to_writes())
        .await
        .expect("commit all");
    let back = store.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session), "{back:?} vs {session:?}");

    // One key at a time, each its own transaction, no whole-blob rewrite.
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let updates = vec![
        Write::PreKey(PreKey {
            id: 31,
            key_pair: KeyPair::generate(&mut rng),
        }),
        Write::RemovePreKey(1),
        Write::SignalSession {
            address: "15550000001.0:1".into(),
            record: vec![42; 500],
            replaces: Replaces::Anything,
        },
        Write::RemoveSignalSession {
            address: "15550000002.0:1".into(),
        },
        Write::SenderKey {
            group: "g2@g.us".into(),
            sender: "1.0:1".into(),
            record: vec![1, 2, 3],
            replaces: Replaces::Anything,
        },
        Write::RemoveSenderKey {
            group: "120363000000000000@g.us".into(),
            sender: "15550001111.0:1".into(),
        },
        Write::Identity {
            address: "2.0:1".into(),
            key: vec![5; 33],
        },
        Write::AppStateKey {
            id: vec![9, 9],
            data: vec![8; 32],
        },
        Write::RemoveAppStateKey {
            id: vec![0, 0, 0, 1],
        },
        Write::Group {
            group: "120363000000000001@g.us".into(),
            stored: StoredGroup {
                node: vec![0xf8, 1, 2],
                fetched_at: UnixMillis(1_700_000_000_000),
            },
        },
        Write::Group {
            group: "120363000000000002@g.us".into(),
            stored: StoredGroup {
                node: vec![7; 40],
                fetched_at: UnixMillis(5),
            },
        },
        Write::Group {
            group: "120363000000000001@g.us".into(),
            stored: StoredGroup {
                node: vec![0xf8, 9],
                fetched_at: UnixMillis(1_700_000_000_001),
            },
        },
        Write::ForgetGroup {
            group: "120363000000000002@g.us".into(),
        },
    ];
    for write in &updates {
        store
            .commit(std::slice::from_ref(write))
            .await
            .expect("one write");
        session.apply(write);
    }
    let back = store.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
    assert_eq!(back.pre_keys.len(), 30);
    assert_eq!(back.groups, session.groups, "the group cache is kept");
    assert_eq!(back.groups.len(), 1);
    assert!(!back.sessions.contains_key("15550000002.0:1"));

    // Creds writes keep the confirmed-login flag.
    let mut creds = session.creds.clone();
    creds.routing_info = Some(vec![1, 2, 3]);
    store
        .commit(&[Write::Creds(Box::new(creds.clone()))])
        .await
        .expect("creds");
    let live = store.load_creds().await.expect("read").expect("present");
    assert_eq!(live.creds.encode(), creds.encode());
    assert!(live.login_confirmed);
}

pub async fn the_inbox_drops_duplicates_and_marks_handled_with_the_replies<S: Db>(mut store: S) {
    store
        .commit(&[Write::Inbox(entry("A", 1))])
        .await
        .expect("A");
    store
        .commit(&[Write::Inbox(entry("B", 2)), Write::Inbox(entry("A", 3))])
        .await
        .expect("B and A again");
    let inbox = store.inbox().await.expect("read");
    let ids: Vec<_> = inbox.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["A", "B"]);
    assert_eq!(inbox[0].stanza, vec![1u8; 12], "the first copy stays");
    let reply = OutboxEntry {
        to: "15550001111@s.whatsapp.net".into(),
        payload: b"pong".to_vec(),
    };
    let handled = Write::Handled {
        id: "A".into(),
        at: UnixMillis(9),
        by: "test-instance".into(),
        outbox: vec![reply.clone().into_outbound("A", 0)],
    };
    store
        .commit(std::slice::from_ref(&handled))
        .await
        .expect("handled");
    // A retried commit of the same handling stores no second reply.
    store.commit(&[handled]).await.expect("handled again");
    let unhandled = store.unhandled_inbox(10).await.expect("read");
    assert_eq!(unhandled.len(), 1);
    assert_eq!(unhandled[0].id, "B");
    let outbox = store.outbox().await.expect("read");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].inbox_id, "A");
    assert_eq!(outbox[0].payload_bytes, 4);
    // The outbound message: unsent, then sealed (its stanza kept), then
    // sent (it leaves the unsent ones).
    let unsent = store.unsent_outbound(10).await.expect("unsent");
    assert_eq!(unsent.len(), 1);
    assert_eq!(unsent[0].message, b"pong");
    assert_eq!(unsent[0].stanza, None);
    let id = unsent[0].id.clone();
    store
        .commit(&[Write::OutboundSealed {
            id: id.clone(),
            stanza: vec![7; 5],
        }])
        .await
        .expect("sealed");
    let unsent = store.unsent_outbound(10).await.expect("unsent");
    assert_eq!(unsent[0].stanza, Some(vec![7; 5]));
    store
        .commit(&[Write::OutboundSent {
            id,
            at: UnixMillis(10),
        }])
        .await
        .expect("sent");
    assert!(store.unsent_outbound(10).await.expect("unsent").is_empty());
    assert_eq!(
        store.outbox().await.expect("read")[0].sent_at,
        Some(UnixMillis(10))
    );
}

/// A process whose claim ran out (a slow store) and was taken over by
/// another finishes its handling late: nothing of it is stored, and the
/// entry stays for the process that holds it now.
pub async fn a_claim_taken_over_keeps_a_late_handling_out<S: Db>(mut store: S) {
    store
        .commit(&[Write::Inbox(entry("A", 1))])
        .await
        .expect("store");
    let slow = store.claim_inbox("slow", 0, 1).await.expect("claim");
    assert_eq!(slow.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store.claim_inbox("new", 60_000, 1).await.expect("claim");
    assert_eq!(taken.len(), 1, "the run-out claim is free");
    let reply = OutboxEntry {
        to: "15550001111@s.whatsapp.net".into(),
        payload: vec![1],
    };
    let late = Write::Handled {
        id: "A".into(),
        at: UnixMillis(5),
        by: "slow".into(),
        outbox: vec![reply.clone().into_outbound("A", 0)],
    };
    let committed = store.commit(&[late]).await.expect("commit");
    assert!(committed.claim_lost, "the late handling is told it lost");
    assert_eq!(store.outbox().await.expect("outbox").len(), 0);
    assert!(
        store.inbox().await.expect("inbox")[0].handled_at.is_none(),
        "not marked"
    );
    let own = Write::Handled {
        id: "A".into(),
        at: UnixMillis(6),
        by: "new".into(),
        outbox: vec![reply.into_outbound("A", 0)],
    };
    let committed = store.commit(&[own]).await.expect("commit");
    assert!(!committed.claim_lost);
    assert_eq!(store.outbox().await.expect("outbox").len(), 1);
    assert!(store.inbox().await.expect("inbox")[0].handled_at.is_some());
}

/// The bot's settings and effects are stored with the handled mark that
/// carries them: a retried commit stores each effect once, settings are
/// replaced, an effect done is no longer pending, and a handling whose
/// claim was taken over stores neither (its settings or effects).
pub async fn settings_and_effects_ride_on_the_handled_mark<S: Db>(mut store: S) {
    assert_eq!(store.bot_settings().await.expect("read"), None);
    assert!(store.pending_effects(10).await.expect("read").is_empty());
    store
        .commit(&[Write::Inbox(entry("A", 1)), Write::Inbox(entry("B", 2))])
        .await
        .expect("store");
    assert_eq!(
        store
            .claim_inbox("me", 60_000, 2)
            .await
            .expect("claim")
            .len(),
        2
    );
    let handled_a = [
        Write::Handled {
            id: "A".into(),
            at: UnixMillis(5),
            by: "me".into(),
            outbox: Vec::new(),
        },
        Write::BotSettings {
            json: r#"{"prefixes":"!"}"#.into(),
        },
        Write::Effect {
            id: "A:e0".into(),
            inbox_id: "A".into(),
            json: r#"{"action":"owner","control":"restart"}"#.into(),
            at: UnixMillis(5),
        },
        Write::Effect {
            id: "A:e1".into(),
            inbox_id: "A".into(),
            json: r#"{"action":"broadcast","text":"hi"}"#.into(),
            at: UnixMillis(5),
        },
    ];
    store.commit(&handled_a).await.expect("commit");
    // A retried commit (the first answer was lost) changes nothing.
    let again = store.commit(&handled_a).await.expect("commit again");
    assert!(!again.claim_lost);
    assert_eq!(
        store.bot_settings().await.expect("read").as_deref(),
        Some(r#"{"prefixes":"!"}"#)
    );
    let pending = store.pending_effects(10).await.expect("read");
    let ids: Vec<&str> = pending.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["A:e0", "A:e1"], "once each, in order");
    assert_eq!(pending[0].inbox_id, "A");
    assert!(pending[1].json.contains("broadcast"));
    assert_eq!(store.pending_effects(1).await.expect("read").len(), 1);
    store
        .commit(&[Write::EffectDone {
            id: "A:e0".into(),
            at: UnixMillis(6),
        }])
        .await
        .expect("done");
    let pending = store.pending_effects(10).await.expect("read");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, "A:e1");
    // Retention deletes done effects; a pending one stays however old.
    let pruned = store.prune(UnixMillis(1_000), 100).await.expect("prune");
    assert_eq!(pruned.effects, 1);
    assert_eq!(store.pending_effects(10).await.expect("read").len(), 1);
    assert_eq!(
        store
            .prune(UnixMillis(1_000), 100)
            .await
            .expect("prune")
            .effects,
        0
    );
    // B's claim is taken over: a late handling of it stores nothing.
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .exec("UPDATE inbox SET claimed_by = 'other'")
        .await
        .expect("take over");
    let late = [
        Write::Handled {
            id: "B".into(),
            at: UnixMillis(7),
            by: "me".into(),
            outbox: Vec::new(),
        },
        Write::BotSettings {
            json: r#"{"prefixes":"?"}"#.into(),
        },
        Write::Effect {
            id: "B:e0".into(),
            inbox_id: "B".into(),
            json: r#"{"action":"owner","control":"restart"}"#.into(),
            at: UnixMillis(7),
        },
    ];
    assert!(store.commit(&late).await.expect("commit").claim_lost);
    assert_eq!(
        store.bot_settings().await.expect("read").as_deref(),
        Some(r#"{"prefixes":"!"}"#),
        "the lost handling's settings are not stored"
    );
    assert_eq!(store.pending_effects(10).await.expect("read").len(), 1);
    // Settings written later replace the earlier ones; another session
    // of the database has its own.
    store
        .commit(&[Write::BotSettings {
            json: r#"{"language":"de"}"#.into(),
        }])
        .await
        .expect("commit");
    assert_eq!(
        store.bot_settings().await.expect("read").as_deref(),
        Some(r#"{"language":"de"}"#)
    );
    let mut other = Db::with_session(&store, "other-session");
    assert_eq!(other.bot_settings().await.expect("read"), None);
    assert!(other.pending_effects(10).await.expect("read").is_empty());
    // The groups a broadcast goes to: the inbox's group chats, once each.
    assert!(store.known_groups(10).await.expect("read").is_empty());
    let mut writes = Vec::new();
    for (id, group) in [
        ("G1", "1203630002"),
        ("G2", "1203630001"),
        ("G3", "1203630002"),
    ] {
        let mut in_group = entry(id, 4);
        in_group.from = format!("{group}@g.us");
        writes.push(Write::Inbox(in_group));
    }
    store.commit(&writes).await.expect("store");
    assert_eq!(
        store.known_groups(10).await.expect("read"),
        ["1203630001@g.us", "1203630002@g.us"]
    );
    assert_eq!(store.known_groups(1).await.expect("read").len(), 1);
    assert!(other.known_groups(10).await.expect("read").is_empty());
}

/// Two processes on one session never get the same inbox entry while a
/// claim lasts; a handled entry is never claimed again; an expired claim
/// (a dead process's) frees the entry, and so does an exit; the newest
/// registered process is the last to register.
pub async fn claims_keep_two_processes_apart<S: Db>(mut store: S) {
    store
        .commit(&[Write::Inbox(entry("A", 1)), Write::Inbox(entry("B", 2))])
        .await
        .expect("store");
    let ids = |entries: Vec<InboxRecord>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let first = store.claim_inbox("old", 60_000, 1).await.expect("claim");
    assert_eq!(ids(first), ["A"]);
    let second = store.claim_inbox("new", 60_000, 10).await.expect("claim");
    assert_eq!(ids(second), ["B"], "A is the old process's");
    assert!(
        store
            .claim_inbox("new", 60_000, 10)
            .await
            .expect("claim")
            .len()
            == 1,
        "its own claim comes back to the same process"
    );
    store
        .commit(&[Write::Handled {
            id: "B".into(),
            at: UnixMillis(3),
            by: "new".into(),
            outbox: Vec::new(),
        }])
        .await
        .expect("handled");
    assert!(
        store
            .claim_inbox("new", 60_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // A claim that has run out: the entry is free for the next process.
    let short = store.claim_inbox("old", 0, 10).await.expect("claim");
    assert_eq!(ids(short), ["A"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken_over = store.claim_inbox("new", 60_000, 10).await.expect("claim");
    assert_eq!(ids(taken_over), ["A"]);
    // A process that exits gives up its claims: the next one takes what it
    // did not handle at once, not after the lease.
    assert!(
        store
            .claim_inbox("next", 60_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "A is the new process's for a minute"
    );
    store.retire_instance("new").await.expect("retire");
    let after_exit = store.claim_inbox("next", 60_000, 10).await.expect("claim");
    assert_eq!(ids(after_exit), ["A"]);

    let standing = |newer_alive, newer_ran, older_recent| Standing {
        newer_alive,
        newer_ran,
        older_recent,
    };
    let (alive_ms, recent_ms) = (60_000, 120_000);
    assert_eq!(
        standing_of(&mut store, "old", alive_ms, recent_ms).await,
        standing(false, false, false),
        "nobody registered"
    );
    store.register_instance("old").await.expect("register");
    store.register_instance("new").await.expect("register");
    assert_eq!(
        standing_of(&mut store, "new", alive_ms, recent_ms).await,
        standing(false, false, true),
        "the newest, with the old one alive"
    );
    assert_eq!(
        standing_of(&mut store, "old", alive_ms, recent_ms).await,
        standing(true, true, false),
        "a newer one alive; nothing older"
    );
    assert_eq!(
        standing_of(&mut store, "stranger", alive_ms, recent_ms).await,
        standing(false, false, true),
        "an unregistered process counts every other as older"
    );
    // Marks go stale on the database's clock; a heartbeat renews one; a
    // stopped process is not alive, but was seen lately.
    // (Marks 300 ms old against a 100 ms window: a slow database only
    // makes them older, and a renewed one has 100 ms to be read.)
    let window_ms = 100;
    tokio::time::sleep(Duration::from_millis(3 * window_ms)).await;
    assert_eq!(
        standing_of(&mut store, "old", window_ms, window_ms).await,
        standing(false, true, false),
        "the new one's mark is stale"
    );
    store.heartbeat_instance("new").await.expect("heartbeat");
    assert_eq!(
        standing_of(&mut store, "old", window_ms, window_ms).await,
        standing(true, true, false),
        "renewed"
    );
    store.retire_instance("new").await.expect("retire");
    assert_eq!(
        standing_of(&mut store, "old", alive_ms, recent_ms).await,
        standing(false, true, false),
        "the new one stopped"
    );
    store.retire_instance("old").await.expect("retire");
    assert_eq!(
        standing_of(&mut store, "new", alive_ms, recent_ms).await,
        standing(false, false, true),
        "the old one stopped, but was seen lately"
    );
}

/// `n` fresh pre-keys numbered from `from`, as a process whose counter
/// reads `from` would make them.
fn fresh_pre_keys(seed: u64, from: u32, n: u32) -> Vec<PreKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| PreKey {
            id: from + i,
            key_pair: KeyPair::generate(&mut rng),
        })
        .collect()
}

/// One process's pre-key upload: the store op's writes.
async fn upload<S: Db>(
    store: &mut S,
    creds: &blacksky_core::session::Creds,
    keys: Vec<PreKey>,
) -> (u32, u32) {
    let mut creds = creds.clone();
    creds.next_pre_key_id = keys[0].id + keys.len() as u32;
    let committed = store
        .commit(&[Write::FreshPreKeys(keys), Write::Creds(Box::new(creds))])
        .await
        .expect("upload");
    committed.pre_key_ids.expect("fresh keys placed")
}

/// A session record write that names the record it replaces.
fn advance(record: &[u8], over: Option<&[u8]>) -> Write {
    Write::SignalSession {
        address: "15550000001.0".into(),
        record: record.to_vec(),
        replaces: replacing(over),
    }
}

pub async fn session_records_are_compare_and_set<S: Db>(mut store: S) {
    with_creds(&mut store).await;
    store.commit(&[advance(b"r0", None)]).await.expect("start");
    // Two processes of the session (an overlap at a dyno hand-over) both
    // read r0; the first to commit advances it.
    let mut other = store.clone();
    let first = [advance(b"r1-first", Some(b"r0"))];
    store.commit(&first).await.expect("the first advance");
    // The second's batch (its record and the message it sealed from r0)
    // is refused whole: nothing of it is stored.
    let second = [
        advance(b"r1-second", Some(b"r0")),
        Write::Inbox(entry("STALEBATCH", 1)),
    ];
    let refused = other.commit(&second).await;
    assert!(
        matches!(refused, Err(blacksky_io::store::StoreError::Stale(_))),
        "a batch over a record another process advanced is refused: {refused:?}"
    );
    assert!(
        !store
            .inbox()
            .await
            .expect("inbox")
            .iter()
            .any(|e| e.id == "STALEBATCH"),
        "nothing of a refused batch is stored"
    );
    let stored = store.load_session().await.expect("load").expect("stored");
    assert_eq!(stored.sessions["15550000001.0"], b"r1-first");
    // A retry of a batch that landed (its answer lost) lands again.
    store.commit(&first).await.expect("a retried commit");
    // A process that started its own session where one is stored is
    // refused too.
    let refused = other.commit(&[advance(b"mine", None)]).await;
    assert!(matches!(
        refused,
        Err(blacksky_io::store::StoreError::Stale(_))
    ));
    // At the same moment: exactly one of two advances of r1 lands.
    let mut third = store.clone();
    let (batch_a, batch_b) = (
        [advance(b"r2-a", Some(b"r1-first"))],
        [advance(b"r2-b", Some(b"r1-first"))],
    );
    let (a, b) = tokio::join!(store.commit(&batch_a), third.commit(&batch_b));
    assert!(
        a.is_ok() != b.is_ok(),
        "one of two concurrent advances lands: {a:?} / {b:?}"
    );
    let stored = store.load_session().await.expect("load").expect("stored");
    let landed: &[u8] = if a.is_ok() { b"r2-a" } else { b"r2-b" };
    assert_eq!(stored.sessions["15550000001.0"], landed);
}

const OWN_KEY_GROUP: &str = "120363000000000009@g.us";
const OWN_KEY_SENDER: &str = "15550009999.0";

/// What a write advancing `over` (`None`: starting anew) replaces.
fn replacing(over: Option<&[u8]>) -> Replaces {
    over.map_or(Replaces::Nothing, |old| {
        Replaces::Record(RecordDigest::of(old))
    })
}

/// `sender`'s key in [`OWN_KEY_GROUP`] advanced to `record` from `over`.
fn advance_sender_key(sender: &str, record: &[u8], over: Option<&[u8]>) -> Write {
    Write::SenderKey {
        group: OWN_KEY_GROUP.into(),
        sender: sender.into(),
        record: record.to_vec(),
        replaces: replacing(over),
    }
}

/// Our sender key in [`OWN_KEY_GROUP`] advanced to `record` from `over`.
fn advance_own_key(record: &[u8], over: Option<&[u8]>) -> Write {
    advance_sender_key(OWN_KEY_SENDER, record, over)
}

/// `store` holding creds, as the compare-and-set promises start.
async fn with_creds<S: Db>(store: &mut S) {
    let creds = sample_session(9, 0, 0, 10).creds;
    store
        .commit(&[Write::Creds(Box::new(creds))])
        .await
        .expect("creds");
}

/// `device` was given our sender key as `record`.
fn given_own_key(device: &str, record: &[u8]) -> Write {
    Write::SenderKeyShared {
        group: OWN_KEY_GROUP.into(),
        devices: vec![device.into()],
        given: GivenKey {
            sender: OWN_KEY_SENDER.into(),
            record: RecordDigest::of(record),
        },
    }
}

pub async fn sender_keys_are_compare_and_set<S: Db>(mut store: S) {
    with_creds(&mut store).await;
    // Our new key, given to Alice in the same batch.
    store
        .commit(&[
            advance_own_key(b"k0", None),
            given_own_key("alice.0", b"k0"),
        ])
        .await
        .expect("a new key given out");
    // Two processes read k0 and each send the next group message: the
    // second would use the key's iteration the first used.
    let mut other = store.clone();
    store
        .commit(&[advance_own_key(b"k1-first", Some(b"k0"))])
        .await
        .expect("the first advance");
    let refused = other
        .commit(&[advance_own_key(b"k1-second", Some(b"k0"))])
        .await;
    assert!(
        matches!(refused, Err(blacksky_io::store::StoreError::Stale(_))),
        "a second use of one sender key iteration is refused: {refused:?}"
    );
    // A process that made its own key where another made one is refused.
    let refused = other.commit(&[advance_own_key(b"mine", None)]).await;
    assert!(matches!(
        refused,
        Err(blacksky_io::store::StoreError::Stale(_))
    ));
    // A device marked as given a key that is no longer ours (the other
    // process answered a retry receipt from k0) is refused, and the mark
    // is not stored.
    let refused = other.commit(&[given_own_key("bob.0", b"k0")]).await;
    assert!(matches!(
        refused,
        Err(blacksky_io::store::StoreError::Stale(_))
    ));
    let stored = store.load_session().await.expect("load").expect("stored");
    let name = (OWN_KEY_GROUP.to_owned(), OWN_KEY_SENDER.to_owned());
    assert_eq!(stored.sender_keys[&name], b"k1-first");
    let shared: Vec<&String> = stored.sender_key_shared[OWN_KEY_GROUP].iter().collect();
    assert_eq!(shared, ["alice.0"], "only the mark under the stored key");
    // A mark under the stored key is taken; a retried batch that landed
    // lands again.
    store
        .commit(&[given_own_key("bob.0", b"k1-first")])
        .await
        .expect("a mark under the stored key");
    store
        .commit(&[advance_own_key(b"k1-first", Some(b"k0"))])
        .await
        .expect("a retried commit");
    // A member's key is checked the same way.
    let theirs = |record: &[u8], over| advance_sender_key("15550001111.0", record, over);
    store.commit(&[theirs(b"m0", None)]).await.expect("learnt");
    store
        .commit(&[theirs(b"m1", Some(b"m0"))])
        .await
        .expect("advanced");
    assert!(
        other
            .commit(&[theirs(b"m1-late", Some(b"m0"))])
            .await
            .is_err()
    );
}

pub async fn pre_key_ids_are_claimed_in_the_store<S: Db>(mut store: S) {
    // Two processes on one store (an overlap at a dyno hand-over), both
    // holding the counter at 813 in memory.
    let mut creds = sample_session(9, 0, 0, 10).creds;
    creds.next_pre_key_id = 813;
    store
        .commit(&[Write::Creds(Box::new(creds.clone()))])
        .await
        .expect("creds");
    let mut other = store.clone();
    let first = fresh_pre_keys(1, 813, 3);
    let second = fresh_pre_keys(2, 813, 3);
    assert_eq!(upload(&mut store, &creds, first.clone()).await, (813, 816));
    assert_eq!(
        upload(&mut other, &creds, second.clone()).await,
        (816, 819),
        "the second upload moves past the ids the first claimed"
    );
    let stored = store.load_session().await.expect("load").expect("stored");
    assert_eq!(stored.creds.next_pre_key_id, 819);
    let ids: Vec<u32> = stored.pre_keys.keys().copied().collect();
    assert_eq!(ids, (813..819).collect::<Vec<_>>());
    assert_eq!(
        stored.pre_keys[&813].key_pair.public(),
        first[0].key_pair.public()
    );
    assert_eq!(
        stored.pre_keys[&816].key_pair.public(),
        second[0].key_pair.public()
    );

    // A creds write from a process still at 813 keeps the counter.
    let mut stale = creds.clone();
    stale.routing_info = Some(vec![9]);
    other
        .commit(&[Write::Creds(Box::new(stale))])
        .await
        .expect("stale creds");
    let live = store.load_creds().await.expect("load").expect("stored");
    assert_eq!(live.creds.next_pre_key_id, 819);
    assert_eq!(
        live.creds.routing_info,
        Some(vec![9]),
        "the rest is written"
    );

    // At the same moment: the claims take turns and never overlap.
    let (a, b) = tokio::join!(
        upload(&mut store, &creds, fresh_pre_keys(3, 813, 50)),
        upload(&mut other, &creds, fresh_pre_keys(4, 813, 50)),
    );
    let (low, high) = if a.0 < b.0 { (a, b) } else { (b, a) };
    assert_eq!((low, high), ((819, 869), (869, 919)));
    let live = store.load_creds().await.expect("load").expect("stored");
    assert_eq!(live.creds.next_pre_key_id, 919);
}

pub async fn long_gone_instances_are_forgotten<S: Db>(mut store: S) {
    for owner in ["stopped", "crashed", "recent"] {
        store.register_instance(owner).await.expect("register");
    }
    store.retire_instance("stopped").await.expect("retire");
    store.retire_instance("recent").await.expect("retire");
    // Last seen in 1970: far more than 30 days ago. "crashed" never
    // marked itself stopped.
    store
        .exec(
            "UPDATE instances SET started_at = 1, seen_at = 1, \
             stopped_at = CASE WHEN stopped_at IS NULL THEN NULL ELSE 1 END \
             WHERE owner IN ('stopped', 'crashed')",
        )
        .await
        .expect("age two rows");
    store.register_instance("new").await.expect("register");
    let rows = |owner: &str| {
        format!("SELECT COUNT(*) FROM instances WHERE session = 's' AND owner = '{owner}'")
    };
    for (owner, left) in [("stopped", 0), ("crashed", 0), ("recent", 1), ("new", 1)] {
        assert_eq!(store.count(&rows(owner)).await, Ok(left), "{owner}");
    }
}

async fn standing_of<S: Db>(store: &mut S, owner: &str, alive_ms: u64, recent_ms: u64) -> Standing {
    store
        .instance_standing(owner, alive_ms, recent_ms)
        .await
        .expect("read the register")
}

pub async fn generations_rotate<S: Db>(mut store: S) {
    for n in 1..=8u64 {
        let generation = store
            .put_snapshot(UnixMillis(n), &[n as u8; 10], 5)
            .await
            .expect("put");
        assert_eq!(generation, n);
    }
    let kept: Vec<u64> = store
        .snapshots()
        .await
        .expect("read")
        .iter()
        .map(|s| s.generation)
        .collect();
    assert_eq!(kept, [8, 7, 6, 5, 4]);
    let newest = &store.snapshots().await.expect("read")[0];
    assert_eq!(newest.bytes, vec![8u8; 10]);
    assert_eq!(newest.created_at, UnixMillis(8));
}

/// Five generations; the newest three spoiled (bit flip, truncation, a
/// different secret); the live creds gone: the start restores generation 2.
pub async fn restore_skips_the_corrupt_newest_generations<S: Db>(mut store: S) {
    let mut sessions = Vec::new();
    for g in 1..=5u64 {
        let mut session = sample_session(7, 10, 3, 100);
        session.creds.next_pre_key_id = 100 + g as u32;
        let mut bytes = sealed(&session, b"right", 1, g as u8);
        match g {
            5 => bytes[80] ^= 0x10,
            4 => bytes.truncate(bytes.len() / 2),
            3 => bytes = sealed(&session, b"wrong", 2, 3),
            _ => {}
        }
        store
            .put_snapshot(UnixMillis(g), &bytes, 5)
            .await
            .expect("put");
        sessions.push(session);
    }
    let mut keys = Keyring::new(Some(b"right"));
    let prepared = backup::prepare(&mut store, None, &mut keys)
        .await
        .expect("restores");
    assert_eq!(prepared.source, Source::Restored { generation: 2 });
    assert_eq!(prepared.session.creds.next_pre_key_id, 102);
    let live = store.load_session().await.expect("read").expect("restored");
    assert!(live.same_as(&sessions[1]));
    // The next start uses the live tables.
    let again = backup::prepare(&mut store, None, &mut keys)
        .await
        .expect("live");
    assert_eq!(again.source, Source::Live);
}

/// Creds stored but unreadable, and every generation too: refuse, naming
/// each, and change nothing.
pub async fn a_start_refuses_when_nothing_stored_verifies<S: Db>(mut store: S) {
    let session = sample_session(8, 5, 1, 50);
    store.commit(&session.to_writes()).await.expect("commit");
    let name = store.session_name().to_owned();
    store
        .exec(&format!(
            "UPDATE creds SET record = {} WHERE session = '{name}'",
            hex_literal::<S>(&[0xff, 0xff, 0x01])
        ))
        .await
        .expect("spoil creds");
    let good = sealed(&session, b"k", 1, 1);
    let mut flipped = good.clone();
    flipped[100] ^= 1;
    store
        .put_snapshot(UnixMillis(1), &flipped, 5)
        .await
        .expect("put");
    store
        .put_snapshot(UnixMillis(2), &good[..good.len() - 1], 5)
        .await
        .expect("put");
    let mut keys = Keyring::new(Some(b"k"));
    let refusal = match backup::prepare(&mut store, None, &mut keys).await {
        Err(PrepareError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let text = refusal.to_string();
    assert!(text.contains("live creds: creds of session"), "{text}");
    assert!(
        text.contains("snapshot generation 1: checksum mismatch"),
        "{text}"
    );
    assert!(text.contains("snapshot generation 2: truncated"), "{text}");
    assert!(text.contains("blacksky session import"), "{text}");
    // Nothing was replaced: the spoiled row is still there, still spoiled.
    assert!(store.load_creds().await.is_err());
    // A wrong secret is a refusal too, and says so.
    store
        .put_snapshot(UnixMillis(3), &good, 5)
        .await
        .expect("put");
    let text = match backup::prepare(&mut store, None, &mut Keyring::new(Some(b"nope"))).await {
        Err(PrepareError::Refused(refusal)) => refusal.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(
        text.contains("cannot be decrypted with this SESSION_SECRET"),
        "{text}"
    );
    // With the right secret, generation 3 restores.
    let prepared = backup::prepare(&mut store, None, &mut Keyring::new(Some(b"k")))
        .await
        .expect("restores");
    assert_eq!(prepared.source, Source::Restored { generation: 3 });
}

fn hex_literal<S: Db>(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if std::any::type_name::<S>().contains("Pg") {
        format!("'\\x{hex}'::bytea")
    } else {
        format!("x'{hex}'")
    }
}

/// `session export` on one store, SESSION_DATA on a fresh one.
pub async fn a_session_string_moves_a_session_to_an_empty_store<S: Db>(store: S) {
    let mut from = store.with_session("exporter");
    let session = sample_session(11, 40, 5, 200);
    from.replace_session(&session).await.expect("seed");
    let secret = Secret::new("correct horse battery staple");
    let mut keys = backup::keyring(Some(&secret));
    let mut sealer = Sealer::new("exporter", Some(&secret), TEST_KDF_ITERATIONS);
    let text = backup::export(&mut from, &mut keys, &mut sealer, false)
        .await
        .expect("export");
    assert!(text.starts_with("exporter;;;"), "{}", &text[..20]);

    let mut to = store.with_session("importer");
    let data = Secret::new(text.clone());
    let prepared = backup::prepare(&mut to, Some(&data), &mut backup::keyring(Some(&secret)))
        .await
        .expect("import");
    assert_eq!(prepared.source, Source::Imported);
    let back = to.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
    assert_eq!(
        to.snapshots().await.expect("read").len(),
        1,
        "kept as a generation"
    );
    // A second start keeps what is live and ignores the string.
    let again = backup::prepare(&mut to, Some(&data), &mut backup::keyring(Some(&secret)))
        .await
        .expect("live");
    assert_eq!(again.source, Source::Live);
    // Without the secret the string does not open.
    let mut third = store.with_session("third");
    let err = backup::prepare(&mut third, Some(&data), &mut backup::keyring(None))
        .await
        .expect_err("no secret");
    assert!(err.to_string().contains("SESSION_SECRET"), "{err}");
    assert!(
        third.load_creds().await.expect("read").is_none(),
        "nothing invented"
    );
    // Compact strings leave out the one-time pre-keys.
    let compact = backup::export(&mut from, &mut keys, &mut sealer, true)
        .await
        .expect("compact");
    assert!(
        compact.len() < text.len() / 2,
        "{} vs {}",
        compact.len(),
        text.len()
    );
}

pub async fn sessions_share_a_database_by_name<S: Db>(store: S) {
    let mut a = store.with_session("alpha");
    let mut b = store.with_session("beta");
    a.replace_session(&sample_session(1, 3, 1, 10))
        .await
        .expect("a");
    b.replace_session(&sample_session(2, 5, 2, 10))
        .await
        .expect("b");
    b.commit(&[Write::Inbox(entry("M1", 1))])
        .await
        .expect("inbox");
    let a_back = a.load_session().await.expect("read").expect("a");
    assert_eq!(a_back.pre_keys.len(), 3);
    assert!(a.inbox().await.expect("read").is_empty());
    let names: Vec<String> = a
        .sessions()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    b.wipe().await.expect("wipe");
    assert!(b.load_creds().await.expect("read").is_none());
    assert!(b.inbox().await.expect("read").is_empty());
    assert!(
        a.load_creds().await.expect("read").is_some(),
        "alpha untouched"
    );
}

/// The WhatsApp version learnt after a 405 is one for the database: what
/// one session stores, every session reads, and a later one replaces it.
pub async fn the_client_version_is_one_for_the_database<S: Db>(store: S) {
    let mut a = store.with_session("alpha");
    let mut b = store.with_session("beta");
    assert_eq!(a.client_version().await.expect("read"), None);
    let first = AppVersion([2, 3000, 1_015_901_307]);
    a.put_client_version(first, UnixMillis(1))
        .await
        .expect("store");
    assert_eq!(b.client_version().await.expect("read"), Some(first));
    let newer = AppVersion([2, 3000, 1_020_000_000]);
    b.put_client_version(newer, UnixMillis(2))
        .await
        .expect("replace");
    assert_eq!(a.client_version().await.expect("read"), Some(newer));
    // A session's wipe is no reason to forget it.
    a.wipe().await.expect("wipe");
    assert_eq!(a.client_version().await.expect("read"), Some(newer));
}

/// Records the order the handler sees entries in.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<String>>>);

impl InboxHandler for Recorder {
    fn handle(&mut self, entry: &InboxRecord, _at: UnixMillis) -> Vec<OutboxEntry> {
        self.0.lock().expect("lock").push(entry.id.clone());
        vec![OutboxEntry {
            to: entry.from.clone(),
            payload: format!("re: {}", entry.id).into_bytes(),
        }]
    }
}

pub fn fast_worker_config() -> WorkerConfig {
    WorkerConfig {
        retry_base_ms: 20,
        retry_max_ms: 200,
        attempt_timeout_ms: 5_000,
        backup_interval: None,
        backup_keep: 3,
        ..WorkerConfig::default()
    }
}

/// The database goes away mid-run (a table disappears, as in a failed
/// migration or a dropped connection); writes queue, the connection's acks
/// wait; the table comes back; everything lands, in order, nothing lost.
pub async fn a_store_that_fails_for_a_while_recovers_with_nothing_lost<S: Db>(mut store: S) {
    let session = sample_session(12, 2, 0, 10);
    store.commit(&session.to_writes()).await.expect("seed");
    let health = StoreHealth::new();
    let recorder = Recorder::default();
    let mut worker = StoreWorker::spawn(
        store.clone(),
        Session::new(session.creds.clone()),
        Sealer::new("s", None, TEST_KDF_ITERATIONS),
        Box::new(recorder.clone()),
        fast_worker_config(),
        health.clone(),
    );
    let mut link = worker.link(IN_FLIGHT_MAX);
    link.submit(OpId(1), vec![Write::Inbox(entry("before", 1))])
        .expect("queued");
    assert_eq!(next_done(&mut link).await.expect("done").op, OpId(1));

    store
        .exec("ALTER TABLE inbox RENAME TO inbox_away")
        .await
        .expect("take the table away");
    for n in 2..=6u64 {
        link.submit(OpId(n), vec![Write::Inbox(entry(&format!("m{n}"), n))])
            .expect("queued");
    }
    // Nothing can complete while the table is away.
    let early = tokio::time::timeout(Duration::from_millis(600), next_done(&mut link)).await;
    assert!(
        early.is_err(),
        "a write completed during the outage: {early:?}"
    );
    assert!(!health.is_up(), "health says down");
    assert_eq!(health.queue_len(), 5);

    store
        .exec("ALTER TABLE inbox_away RENAME TO inbox")
        .await
        .expect("bring it back");
    for n in 2..=6u64 {
        let done = tokio::time::timeout(Duration::from_secs(10), next_done(&mut link))
            .await
            .expect("recovers")
            .expect("done");
        assert_eq!(done.op, OpId(n), "in order");
        assert_eq!(done.result, Ok(Committed::default()));
    }
    assert!(health.is_up());
    assert_eq!(health.queue_len(), 0);
    assert_eq!(health.outages_total(), 1);
    // The handler sees every entry, in order, each marked handled with
    // its reply.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.unhandled_inbox(10).await.expect("read").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "handler caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids: Vec<String> = store
        .inbox()
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["before", "m2", "m3", "m4", "m5", "m6"]);
    // In order; an entry whose "handled" commit failed in the outage is
    // handed over again (at least once), but its reply is stored once.
    let mut seen = recorder.0.lock().expect("lock").clone();
    seen.dedup();
    assert_eq!(seen, ids);
    assert_eq!(store.outbox().await.expect("read").len(), 6);
    let backlog = store.outbox_backlog().await.expect("count");
    assert_eq!(backlog.unsent, 6, "none sent yet");
    let first_queued = store
        .outbox()
        .await
        .expect("read")
        .iter()
        .map(|r| r.created_at)
        .min();
    assert_eq!(backlog.oldest_at, first_queued);
    worker.close(Duration::from_secs(5)).await;
}

/// Creds changes and the shutdown each leave a snapshot generation that
/// restores the session.
pub async fn the_worker_snapshots_on_creds_changes_and_at_close<S: Db>(mut store: S) {
    let session = sample_session(13, 4, 2, 50);
    store.commit(&session.to_writes()).await.expect("seed");
    let secret = Secret::new("s3cret");
    let mut worker = StoreWorker::spawn(
        store.clone(),
        Session::new(session.creds.clone()),
        Sealer::new("s", Some(&secret), TEST_KDF_ITERATIONS),
        Box::new(silent_bot()),
        fast_worker_config(),
        StoreHealth::new(),
    );
    let link = worker.link(IN_FLIGHT_MAX);
    let mut creds = session.creds.clone();
    creds.routing_info = Some(vec![7; 8]);
    link.submit_untracked(vec![Write::Creds(Box::new(creds.clone()))])
        .expect("queued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.snapshots().await.expect("read").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a snapshot after the creds change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(worker.durable_creds().0.routing_info, Some(vec![7; 8]));
    worker.close(Duration::from_secs(10)).await;
    let snapshots = store.snapshots().await.expect("read");
    assert_eq!(snapshots.len(), 2, "creds change + shutdown");
    let mut keys = backup::keyring(Some(&secret));
    let (header, restored) =
        blacksky_core::session::snapshot::decode_snapshot(&snapshots[0].bytes, &mut keys)
            .expect("opens");
    assert!(header.encrypted);
    assert_eq!(restored.creds.routing_info, Some(vec![7; 8]));
    assert_eq!(restored.pre_keys.len(), 4);
}

/// An inbox entry received and handled `days_ago` days before `now`
/// (`None`: received then, not handled), with one reply.
async fn aged_entry<S: Db>(store: &mut S, id: &str, now: UnixMillis, days_ago: u64, handled: bool) {
    let at = UnixMillis(now.as_millis() - days_ago * DAY_MS);
    let mut received = entry(id, 0);
    received.received_at = at;
    store
        .commit(&[Write::Inbox(received)])
        .await
        .expect("inbox");
    if handled {
        let reply = OutboxEntry {
            to: "15550001111@s.whatsapp.net".into(),
            payload: format!("re: {id}").into_bytes(),
        };
        store
            .commit(&[Write::Handled {
                id: id.into(),
                at,
                by: "test-instance".into(),
                outbox: vec![reply.into_outbound(id, 0)],
            }])
            .await
            .expect("handled");
    }
}

const DAY_MS: u64 = 24 * 3600 * 1000;

/// Marks the reply to inbox entry `id` sent `days_ago` days before `now`.
async fn mark_sent<S: Db>(store: &S, id: &str, now: UnixMillis, days_ago: u64) {
    let at = now.as_millis() - days_ago * DAY_MS;
    store
        .exec(&format!(
            "UPDATE outbox SET sent_at = {at} WHERE session = '{}' AND inbox_msg_id = '{id}'",
            store.session_name()
        ))
        .await
        .expect("mark sent");
}

/// Retention: inbox rows handled and outbox rows sent before the cut-off
/// go; unhandled, unsent and recent rows stay, and so does another
/// session's; one call deletes at most `rows_max` of each table.
pub async fn prune_drops_old_handled_rows_and_keeps_the_rest<S: Db>(mut store: S) {
    let now = UnixMillis(1_800_000_000_000);
    let week_ago = UnixMillis(now.as_millis() - 7 * DAY_MS);
    aged_entry(&mut store, "old-handled", now, 10, true).await;
    aged_entry(&mut store, "old-handled-unsent", now, 9, true).await;
    aged_entry(&mut store, "old-unhandled", now, 10, false).await;
    aged_entry(&mut store, "recent-handled", now, 1, true).await;
    mark_sent(&store, "old-handled", now, 10).await;
    mark_sent(&store, "recent-handled", now, 1).await;
    let mut other = Db::with_session(&store, "other");
    aged_entry(&mut other, "other-old", now, 10, true).await;
    mark_sent(&other, "other-old", now, 10).await;

    let pruned = store.prune(week_ago, 100).await.expect("prune");
    assert_eq!(
        pruned,
        PruneCount {
            inbox: 2,
            outbox: 1,
            effects: 0
        }
    );
    assert!(!pruned.hit(100));
    let inbox: Vec<String> = store
        .inbox()
        .await
        .expect("inbox")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(inbox, ["old-unhandled", "recent-handled"]);
    let outbox: Vec<(String, bool)> = store
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .map(|r| (r.inbox_id, r.sent_at.is_some()))
        .collect();
    assert_eq!(
        outbox,
        [
            ("old-handled-unsent".to_owned(), false),
            ("recent-handled".to_owned(), true)
        ],
        "an unsent reply stays however old; a recent sent one too"
    );
    // The unhandled entry is still handed out.
    let claimed = store.claim_inbox("me", 30_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "old-unhandled");
    // Nothing left to prune; the other session untouched.
    assert_eq!(
        store.prune(week_ago, 100).await.expect("prune"),
        PruneCount::default()
    );
    assert_eq!(other.inbox().await.expect("inbox").len(), 1);
    assert_eq!(other.outbox().await.expect("outbox").len(), 1);

    // A backlog goes in bounded rounds, oldest first.
    for n in 0..5 {
        aged_entry(&mut other, &format!("backlog-{n}"), now, 20 - n, true).await;
    }
    let first = other.prune(week_ago, 4).await.expect("prune");
    assert_eq!(
        first,
        PruneCount {
            inbox: 4,
            outbox: 1,
            effects: 0
        }
    );
    assert!(first.hit(4));
    let left: Vec<String> = other
        .inbox()
        .await
        .expect("inbox")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, ["backlog-3", "backlog-4"]);
    let second = other.prune(week_ago, 4).await.expect("prune");
    assert_eq!(
        second,
        PruneCount {
            inbox: 2,
            outbox: 0,
            effects: 0
        }
    );
    assert!(other.inbox().await.expect("inbox").is_empty());
}

/// The link's next finished write (these tests ask for no read-backs;
/// news of the outbound messages is skipped).
pub async fn next_done(
    link: &mut blacksky_io::session::worker::StoreLink,
) -> Option<blacksky_io::session::worker::Done> {
    use blacksky_io::session::worker::Finished;
    loop {
        match link.next_finished().await? {
            Finished::Write(done) => return Some(done),
            Finished::OutboundChanged => {}
            other @ Finished::ReadBack { .. } => {
                panic!("a read-back nobody asked for: {other:?}")
            }
        }
    }
}

/// The alert outbox: an alert is stored once however often it is handed
/// in, stays unsent until a delivery is recorded, keeps its order, and an
/// incident is open until its recovery is stored.
pub async fn the_alert_outbox_keeps_alerts_until_delivered<S>(mut store: S)
where
    S: Db + blacksky_io::store::alert_outbox::AlertOutbox,
{
    use blacksky_core::alerts::{AlertRecord, IncidentKind, OpenIncident, Phase};
    use blacksky_io::store::alert_outbox::{AlertRow, Delivery};
    let incident = OpenIncident {
        kind: IncidentKind::Offline,
        opened_at: UnixMillis(1_735_689_600_000),
    };
    let opened = AlertRecord {
        incident: incident.clone(),
        phase: Phase::Opened,
        at: incident.opened_at,
        detail: "not online for 5 min".into(),
    };
    for _ in 0..2 {
        store
            .put_alert(&AlertRow::new(opened.clone(), None))
            .await
            .expect("put");
    }
    assert_eq!(
        store.open_incidents().await.expect("open"),
        std::slice::from_ref(&incident)
    );
    let unsent = store.unsent_alerts(10).await.expect("unsent");
    assert_eq!(unsent.len(), 1, "stored once");
    assert_eq!(unsent[0].record, opened);
    let backlog = store.alert_backlog().await.expect("backlog");
    assert_eq!((backlog.unsent, backlog.oldest_at), (1, Some(opened.at)));
    let next_at = UnixMillis(opened.at.as_millis() + 5_000);
    store
        .alert_delivery(
            unsent[0].seq,
            Delivery::Retry {
                attempts: 1,
                next_at,
            },
        )
        .await
        .expect("retry");
    let recovered = AlertRecord {
        phase: Phase::Recovered,
        at: UnixMillis(opened.at.as_millis() + 60_000),
        detail: "online again".into(),
        ..opened.clone()
    };
    store
        .put_alert(&AlertRow::new(recovered.clone(), None))
        .await
        .expect("put");
    assert!(store.open_incidents().await.expect("open").is_empty());
    let unsent = store.unsent_alerts(10).await.expect("unsent");
    assert_eq!(
        unsent.iter().map(|r| r.record.phase).collect::<Vec<_>>(),
        [Phase::Opened, Phase::Recovered],
        "in order"
    );
    assert_eq!(
        (unsent[0].attempts, unsent[0].next_attempt_at),
        (1, next_at)
    );
    for row in &unsent {
        store
            .alert_delivery(row.seq, Delivery::Sent { at: recovered.at })
            .await
            .expect("sent");
    }
    assert!(store.unsent_alerts(10).await.expect("unsent").is_empty());
    assert_eq!(store.alert_backlog().await.expect("backlog").unsent, 0);
    assert_eq!(store.alerts().await.expect("all").len(), 2);
    // Another session of the database sees none of it.
    let mut other = store.with_session("other");
    assert!(other.alerts().await.expect("other").is_empty());
}

/// The plain values of `session`'s key rows long enough to be told apart
/// from chance (16 bytes or more), and the private keys in its creds.
pub fn plain_key_values(session: &Session) -> Vec<Vec<u8>> {
    let creds = &session.creds;
    let mut plain = vec![
        creds.encode(),
        creds.noise_key.private_bytes().to_vec(),
        creds.identity_key.private_bytes().to_vec(),
        creds.adv_secret.to_vec(),
    ];
    plain.extend(
        session
            .pre_keys
            .values()
            .map(|k| k.key_pair.private_bytes().to_vec()),
    );
    plain.extend(session.sessions.values().cloned());
    plain.extend(session.sender_keys.values().cloned());
    plain.extend(session.identities.values().cloned());
    plain.extend(session.app_state_keys.values().cloned());
    plain.retain(|v| v.len() >= 16);
    plain
}

/// Every value of the sealed columns of the key tables, as stored.
pub async fn stored_key_values<S: Db>(store: &S) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT record FROM creds",
        "SELECT record FROM pre_keys",
        "SELECT record FROM signal_sessions",
        "SELECT record FROM sender_keys",
        "SELECT identity_key FROM identities",
        "SELECT record FROM app_state_keys",
    ] {
        out.extend(store.blobs(sql).await.expect(sql));
    }
    out
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How many stored values hold one of `plain` (a 16-byte window of it).
pub fn plain_hits(stored: &[Vec<u8>], plain: &[Vec<u8>]) -> usize {
    stored
        .iter()
        .filter(|s| plain.iter().any(|p| holds(s, &p[..16])))
        .count()
}

/// A session with a sender key and a record long enough to be found.
fn sealable_session() -> Session {
    let mut session = sample_session(5, 4, 3, 80);
    session.apply(&Write::SenderKey {
        group: "120363000000000001@g.us".into(),
        sender: "15550002222.0:1".into(),
        record: vec![0x5a; 40],
        replaces: Replaces::Anything,
    });
    session
}

/// With a secret, no stored key row holds its plain value, and the
/// session reads back whole.
pub async fn sealed_rows_hold_no_plain_key_bytes<S: Db>(store: S) {
    let mut store = store.resealed(Some(&row_secret())).await.expect("seal");
    let session = sealable_session();
    store.replace_session(&session).await.expect("write");
    let plain = plain_key_values(&session);
    let stored = stored_key_values(&store).await;
    assert_eq!(
        stored.len(),
        1 + 4 + 3 + 2 + 1 + 1,
        "every key row is there"
    );
    // (The clear store's test shows the same check finds clear rows.)
    assert_eq!(
        plain_hits(&stored, &plain),
        0,
        "a sealed row holds plain key bytes"
    );
    let back = store.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
}

/// A store sealed under one secret refuses another secret and none, naming
/// SESSION_SECRET and never printing it.
pub async fn a_sealed_store_refuses_another_secret_and_none<S: Db>(store: S) {
    let mut sealed = store.resealed(Some(&row_secret())).await.expect("seal");
    sealed
        .replace_session(&sample_session(2, 2, 1, 40))
        .await
        .expect("write");
    let other = RowSecret::with_kdf_iterations(b"hunter2 other secret", TEST_KDF_ITERATIONS);
    for (secret, says) in [
        (Some(&other), "another SESSION_SECRET"),
        (None, "is not set"),
    ] {
        let Err(err) = store.resealed(secret).await else {
            panic!("a sealed store opened under a wrong secret or none");
        };
        let text = err.to_string();
        assert!(
            text.contains("SESSION_SECRET") && text.contains(says),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("row secret"),
            "{text}"
        );
        assert!(
            err.is_permanent(),
            "a start fails at once, no retry loop: {text}"
        );
    }
    // The right secret still opens it, nothing re-linked.
    let mut again = store.resealed(Some(&row_secret())).await.expect("reopen");
    assert!(again.load_session().await.expect("read").is_some());
}

/// A store written without the secret is sealed, whole, on the first open
/// with it, and reads back the same.
pub async fn a_clear_store_is_sealed_on_the_first_start_with_a_secret<S: Db>(mut store: S) {
    let session = sealable_session();
    store.replace_session(&session).await.expect("write clear");
    let mut other = store.with_session("second");
    let second = sample_session(6, 2, 2, 60);
    other.replace_session(&second).await.expect("write clear");
    let plain: Vec<Vec<u8>> = plain_key_values(&session)
        .into_iter()
        .chain(plain_key_values(&second))
        .collect();
    let before = stored_key_values(&store).await;
    assert!(
        plain_hits(&before, &plain) > 10,
        "clear rows hold their values"
    );

    let mut sealed = store.resealed(Some(&row_secret())).await.expect("seal");
    let after = stored_key_values(&store).await;
    assert_eq!(after.len(), before.len(), "every row stays");
    assert_eq!(plain_hits(&after, &plain), 0, "every row is sealed");
    let back = sealed.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
    let back = sealed
        .with_session("second")
        .load_session()
        .await
        .expect("read");
    assert!(back.expect("present").same_as(&second));
    // Sealed once: the next open with the secret finds it sealed.
    let mut again = store.resealed(Some(&row_secret())).await.expect("reopen");
    assert!(
        again
            .load_session()
            .await
            .expect("read")
            .expect("present")
            .same_as(&session)
    );
    assert!(
        store.resealed(None).await.is_err(),
        "now it needs the secret"
    );
}

/// A sealed value copied onto another row does not open there: the read
/// is refused naming the kind of row, never its JID.
pub async fn a_swapped_row_is_refused<S: Db>(store: S) {
    let mut sealed = store.resealed(Some(&row_secret())).await.expect("seal");
    let session = sample_session(3, 2, 2, 64);
    sealed.replace_session(&session).await.expect("write");
    store
        .exec(
            "UPDATE signal_sessions SET record = \
             (SELECT record FROM signal_sessions WHERE address = '15550000000.0:1') \
             WHERE address = '15550000001.0:1'",
        )
        .await
        .expect("swap");
    let err = sealed.load_session().await.expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("Signal session") && text.contains("moved"),
        "{text}"
    );
    assert!(!text.contains("1555000"), "no JID in the error: {text}");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    // The same for the creds of one session copied to another.
    let mut twin = sealed.with_session("twin");
    twin.replace_session(&sample_session(4, 1, 1, 32))
        .await
        .expect("write");
    store
        .exec("UPDATE creds SET record = (SELECT record FROM creds WHERE session = 's') WHERE session = 'twin'")
        .await
        .expect("swap creds");
    let err = twin.load_creds().await.expect_err("refused");
    assert!(
        err.to_string().contains("creds of session \"twin\""),
        "{err}"
    );
}

fn kept_upload(n: u8, media_type: &str, at: UnixMillis) -> MediaUpload {
    MediaUpload {
        file_sha256: [n; 32],
        media_type: media_type.to_owned(),
        media_key: vec![n ^ 0x5a; 32],
        file_enc_sha256: [n.wrapping_add(1); 32],
        file_length: u64::from(n) * 100,
        url: format!("https://mmg.example/v/{n}.enc"),
        direct_path: format!("/v/{n}.enc"),
        uploaded_at: at,
    }
}

/// Kept uploads: found by file and type, replaced by a newer upload of the
/// same, the expired and (past the bound) the oldest pruned; wiped with
/// the session.
pub async fn media_uploads_are_kept_replaced_and_bounded<S: Store>(mut store: S) {
    let day = 24 * 3600 * 1000;
    let t0 = UnixMillis(1_700_000_000_000);
    let gif = kept_upload(1, "gif", t0);
    store
        .commit(&[Write::MediaUploaded(gif.clone())])
        .await
        .expect("kept");
    let found = store.media_upload(&[1; 32], "gif").await.expect("read");
    assert_eq!(found, Some(gif.clone()));
    assert_eq!(
        store.media_upload(&[1; 32], "video").await.expect("read"),
        None,
        "another type is another upload"
    );
    assert_eq!(
        store.media_upload(&[2; 32], "gif").await.expect("read"),
        None
    );
    // Uploaded again (it had expired): the new one replaces it.
    let again = kept_upload(1, "gif", UnixMillis(t0.0 + day));
    let again = MediaUpload {
        direct_path: "/v/again.enc".into(),
        ..again
    };
    store
        .commit(&[Write::MediaUploaded(again.clone())])
        .await
        .expect("kept");
    assert_eq!(
        store.media_upload(&[1; 32], "gif").await.expect("read"),
        Some(again)
    );
    // A week on, storing another prunes the expired one.
    let late = UnixMillis(t0.0 + day + MEDIA_UPLOAD_REUSE_MS + 1);
    store
        .commit(&[Write::MediaUploaded(kept_upload(3, "sticker", late))])
        .await
        .expect("kept");
    assert_eq!(
        store.media_upload(&[1; 32], "gif").await.expect("read"),
        None
    );
    // Past the bound the oldest go.
    let writes: Vec<Write> = (0..MEDIA_UPLOADS_MAX + 2)
        .map(|i| {
            let mut upload = kept_upload(4, "image", UnixMillis(late.0 + 1 + u64::from(i)));
            upload.file_sha256[..4].copy_from_slice(&i.to_be_bytes());
            Write::MediaUploaded(upload)
        })
        .collect();
    for chunk in writes.chunks(64) {
        store.commit(chunk).await.expect("kept");
    }
    let first = {
        let mut sha = [4; 32];
        sha[..4].copy_from_slice(&0u32.to_be_bytes());
        sha
    };
    let last = {
        let mut sha = [4; 32];
        sha[..4].copy_from_slice(&(MEDIA_UPLOADS_MAX + 1).to_be_bytes());
        sha
    };
    assert_eq!(
        store.media_upload(&first, "image").await.expect("read"),
        None
    );
    assert!(
        store
            .media_upload(&last, "image")
            .await
            .expect("read")
            .is_some()
    );
    store.wipe().await.expect("wipe");
    assert_eq!(
        store.media_upload(&last, "image").await.expect("read"),
        None
    );
}
