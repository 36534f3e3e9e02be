//! The store worker over the in-memory store with injected outages: the
//! bounded queue, results per connection, shutdown during an outage, and
//! inbox entries left unhandled by a crash.

mod store_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blacksky_core::client::OpId;
use blacksky_core::session::testing::sample_session;
use blacksky_core::session::{RecordDigest, Replaces, Session, StoreFault, Write};
use blacksky_core::time::UnixMillis;
use blacksky_io::host::clock::{Clock, SharedClock};
use blacksky_io::session::worker::{QueueFull, silent_bot};
use blacksky_io::session::worker::{StoreHealth, StoreWorker, WorkerConfig};
use blacksky_io::store::backup::Sealer;
use blacksky_io::store::{INSTANCE_FORGET_MS, MemoryDb, MemoryStore, Store};

use store_support::{IN_FLIGHT_MAX, Recorder, TEST_KDF_ITERATIONS, entry, fast_worker_config};

fn spawn(store: MemoryStore, config: WorkerConfig) -> StoreWorker {
    let creds = sample_session(1, 0, 0, 0).creds;
    StoreWorker::spawn(
        store,
        Session::new(creds),
        Sealer::new("s", None, TEST_KDF_ITERATIONS),
        Box::new(silent_bot()),
        config,
        StoreHealth::new(),
    )
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_the_gauge_shows_it() {
    let db = MemoryDb::new();
    let store = MemoryStore::new(db.clone(), "s");
    let mut worker = spawn(
        store.clone(),
        WorkerConfig {
            queue_len_max: 3,
            ..fast_worker_config()
        },
    );
    let mut link = worker.link(IN_FLIGHT_MAX);
    db.set_failing(true);
    // The first is taken off the queue and retried; three more fill it.
    for n in 1..=4 {
        link.submit(OpId(n), vec![Write::Inbox(entry(&format!("m{n}"), n))])
            .expect("fits");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = link.submit(OpId(5), vec![Write::Inbox(entry("m5", 5))]);
    assert_eq!(refused, Err(QueueFull(4)));
    assert_eq!(worker.health().queue_len(), 4);
    assert!(!worker.health().is_up());
    db.set_failing(false);
    for n in 1..=4 {
        let done =
            tokio::time::timeout(Duration::from_secs(5), store_support::next_done(&mut link))
                .await
                .expect("recovered")
                .expect("done");
        assert_eq!(done.op, OpId(n));
    }
    assert_eq!(worker.health().queue_len(), 0);
    assert_eq!(worker.health().queue_len_max(), 4);
    worker.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn writes_of_an_ended_connection_land_but_report_nowhere() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    let mut worker = spawn(store.clone(), fast_worker_config());
    let old = worker.link(IN_FLIGHT_MAX);
    db.set_failing(true);
    old.submit(OpId(1), vec![Write::Inbox(entry("old", 1))])
        .expect("queued");
    let mut new = worker.link(IN_FLIGHT_MAX);
    new.submit(OpId(1), vec![Write::Inbox(entry("new", 2))])
        .expect("queued");
    db.set_failing(false);
    let done = tokio::time::timeout(Duration::from_secs(5), store_support::next_done(&mut new))
        .await
        .expect("done")
        .expect("done");
    assert_eq!(done.op, OpId(1));
    let ids: Vec<String> = store
        .inbox()
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["old", "new"]);
    worker.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn shutdown_during_an_outage_ends_within_its_budget() {
    let db = MemoryDb::new();
    let store = MemoryStore::new(db.clone(), "s");
    let mut worker = spawn(store, fast_worker_config());
    let link = worker.link(IN_FLIGHT_MAX);
    db.set_failing(true);
    link.submit(OpId(1), vec![Write::Inbox(entry("stuck", 1))])
        .expect("queued");
    let started = std::time::Instant::now();
    worker.close(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn entries_left_unhandled_by_a_crash_are_handed_over_at_start() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    store
        .commit(&[Write::Inbox(entry("a", 1)), Write::Inbox(entry("b", 2))])
        .await
        .expect("stored before the crash");
    let recorder = Recorder::default();
    let worker = StoreWorker::spawn(
        store.clone(),
        Session::new(sample_session(1, 0, 0, 0).creds),
        Sealer::new("s", None, TEST_KDF_ITERATIONS),
        Box::new(recorder.clone()),
        fast_worker_config(),
        StoreHealth::new(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !store.unhandled_inbox(10).await.expect("read").is_empty() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*recorder.0.lock().expect("lock"), ["a", "b"]);
    assert_eq!(worker.health().handled_total(), 2);
    worker.close(Duration::from_secs(2)).await;
}

/// A wall clock the test moves.
struct SteppedClock(AtomicU64);

impl Clock for SteppedClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> UnixMillis {
        UnixMillis(self.0.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn the_memory_store_forgets_processes_gone_for_30_days() {
    let clock = Arc::new(SteppedClock(1_000.into()));
    let db = MemoryDb::new();
    db.set_clock(SharedClock(clock.clone()));
    let mut store = MemoryStore::new(db, "s");
    store.register_instance("old").await.expect("register");
    clock
        .0
        .store(1_000 + INSTANCE_FORGET_MS + 1, Ordering::SeqCst);
    store.register_instance("new").await.expect("register");
    // Forgotten, "old" counts as unregistered: everyone else is older.
    let standing = store
        .instance_standing("old", 45_000, 300_000)
        .await
        .expect("standing");
    assert!(!standing.newer_ran && standing.older_recent, "{standing:?}");
}

#[tokio::test]
async fn a_backlog_lands_in_few_transactions_in_order_and_fresh_keys_commit_alone() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    let mut worker = spawn(store.clone(), fast_worker_config());
    let mut link = worker.link(IN_FLIGHT_MAX);
    db.set_failing(true);
    let fresh = sample_session(2, 3, 0, 0)
        .pre_keys
        .into_values()
        .collect::<Vec<_>>();
    for n in 1..=12u64 {
        let writes = if n == 7 {
            vec![Write::FreshPreKeys(fresh.clone())]
        } else {
            vec![Write::Inbox(entry(&format!("m{n:02}"), n))]
        };
        link.submit(OpId(n), writes).expect("fits");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = db.commits_total();
    db.set_failing(false);
    for n in 1..=12u64 {
        let done =
            tokio::time::timeout(Duration::from_secs(5), store_support::next_done(&mut link))
                .await
                .expect("recovered")
                .expect("done");
        assert_eq!(done.op, OpId(n), "in the order handed in");
        let ids = done.result.expect("committed").pre_key_ids;
        assert_eq!(ids.is_some(), n == 7, "op {n}: only the fresh keys get ids");
    }
    // The one being retried, the five behind it, the fresh keys alone, the
    // five after them: four transactions, not twelve.
    assert_eq!(db.commits_total() - before, 4);
    let ids: Vec<String> = store
        .inbox()
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 11);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    worker.close(Duration::from_secs(2)).await;
}

/// Retention runs by itself: a minute after the start (virtual time), the
/// row handled long ago is gone with its sent reply; the entry left
/// unhandled is handled now and stays. With retention off nothing goes.
#[tokio::test(start_paused = true)]
async fn the_worker_prunes_rows_past_their_retention_on_its_own() {
    use blacksky_core::session::OutboxEntry;
    use blacksky_io::session::retention::PRUNE_FIRST_AFTER;

    for retention in [Some(Duration::from_secs(7 * 24 * 3600)), None] {
        let db = MemoryDb::new();
        let mut store = MemoryStore::new(db.clone(), "s");
        let long_ago = UnixMillis(1_000_000_000_000);
        store
            .commit(&[
                Write::Inbox(entry("old", 1)),
                Write::Inbox(entry("waiting", 2)),
            ])
            .await
            .expect("inbox");
        store
            .commit(&[Write::Handled {
                id: "old".into(),
                at: long_ago,
                by: "test-instance".into(),
                outbox: vec![
                    OutboxEntry {
                        to: "15550001111@s.whatsapp.net".into(),
                        payload: b"pong".to_vec(),
                    }
                    .into_outbound("old", 0),
                ],
            }])
            .await
            .expect("handled");
        let seq = store.outbox().await.expect("outbox")[0].seq;
        assert!(db.mark_outbox_sent("s", seq, long_ago));
        let worker = spawn(
            store.clone(),
            WorkerConfig {
                inbox_retention: retention,
                ..fast_worker_config()
            },
        );
        tokio::time::sleep(PRUNE_FIRST_AFTER + Duration::from_secs(1)).await;
        let inbox = store.inbox().await.expect("inbox");
        let ids: Vec<&str> = inbox.iter().map(|e| e.id.as_str()).collect();
        let outbox = store.outbox().await.expect("outbox");
        match retention {
            Some(_) => {
                assert_eq!(ids, ["waiting"], "{inbox:?}");
                assert!(inbox[0].handled_at.is_some(), "handled at start");
                assert!(outbox.is_empty(), "{outbox:?}");
            }
            None => {
                assert_eq!(ids, ["old", "waiting"], "{inbox:?}");
                assert_eq!(outbox.len(), 1);
            }
        }
        worker.close(Duration::from_secs(2)).await;
    }
}

/// A driver that falls behind: the link's results channel (its client's
/// in-flight cap plus a slack) fills, and the worker waits for room
/// instead of dropping a `Done` (whose ack would never go out). The wait is
/// counted, and the worker still answers requests meanwhile.
#[tokio::test]
async fn a_full_results_channel_makes_the_worker_wait_and_loses_no_done() {
    let db = MemoryDb::new();
    let store = MemoryStore::new(db.clone(), "s");
    let mut worker = spawn(store, fast_worker_config());
    // A client with no cap of its own: the channel holds the slack alone.
    let mut link = worker.link(0);
    let mut submitted = 0;
    loop {
        submitted += 1;
        let id = format!("m{submitted}");
        link.submit(OpId(submitted), vec![Write::Inbox(entry(&id, submitted))])
            .expect("fits");
        // Each op lands and its `Done` waits in the channel until it is full.
        let mut turns = 0;
        while worker.health().writes_total() < submitted {
            turns += 1;
            assert!(turns < 10_000, "the worker made no progress");
            tokio::task::yield_now().await;
        }
        if worker.health().results_waits_total() > 0 {
            break;
        }
        assert!(submitted < 1_000, "the results channel never filled");
    }
    assert_eq!(worker.health().results_waits_total(), 1);
    // Waiting, the worker still answers.
    worker
        .instance_standing(Duration::from_secs(5))
        .await
        .expect("answered while waiting for room");
    for n in 1..=submitted {
        let done =
            tokio::time::timeout(Duration::from_secs(5), store_support::next_done(&mut link))
                .await
                .expect("in time")
                .expect("done");
        assert_eq!(done.op, OpId(n), "in order, none lost");
        assert!(done.result.is_ok());
    }
    assert_eq!(submitted, 65, "the slack (64) in the channel, one waiting");
    assert_eq!(worker.health().results_waits_total(), 1);
    assert!(worker.flush(Duration::from_secs(5)).await);
    worker.close(Duration::from_secs(2)).await;
}

/// Another process of the session advanced a key record: the batch that
/// replaces the old one is refused for good (its connection hears of it),
/// the batches committed with it in one group still land, and the view
/// new connections start from is read back from the store.
#[tokio::test]
async fn a_batch_over_a_record_another_process_changed_is_refused_alone() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    let address = "15550000001.0".to_owned();
    let theirs = Write::SignalSession {
        address: address.clone(),
        record: b"advanced by the other process".to_vec(),
        replaces: Replaces::Anything,
    };
    let creds = Write::Creds(Box::new(sample_session(1, 0, 0, 0).creds));
    store
        .commit(&[creds, theirs])
        .await
        .expect("the other's write");
    let mut worker = spawn(store.clone(), fast_worker_config());
    let mut link = worker.link(IN_FLIGHT_MAX);
    // Held back, so the three go in one group commit.
    db.set_failing(true);
    link.submit(OpId(1), vec![Write::Inbox(entry("before", 1))])
        .expect("queued");
    let stale = Write::SignalSession {
        address: address.clone(),
        record: b"advanced from what this process read".to_vec(),
        replaces: Replaces::Record(RecordDigest::of(b"what this process read")),
    };
    link.submit(OpId(2), vec![stale, Write::Inbox(entry("stale", 2))])
        .expect("queued");
    link.submit(OpId(3), vec![Write::Inbox(entry("after", 3))])
        .expect("queued");
    db.set_failing(false);
    let mut results = Vec::new();
    for _ in 0..3 {
        let done =
            tokio::time::timeout(Duration::from_secs(5), store_support::next_done(&mut link))
                .await
                .expect("answered")
                .expect("done");
        results.push((done.op, done.result.is_ok()));
        if let Err(fault) = done.result {
            assert!(matches!(fault, StoreFault::Stale(_)), "{fault:?}");
        }
    }
    assert_eq!(
        results,
        [(OpId(1), true), (OpId(2), false), (OpId(3), true)]
    );
    let ids: Vec<String> = store
        .inbox()
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["before", "after"], "nothing of the refused batch");
    assert_eq!(worker.health().stale_refusals_total(), 1);
    // Idle now: the view holds the store's record again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while worker.session().sessions.get(&address).map(Vec::as_slice)
        != Some(b"advanced by the other process".as_slice())
    {
        assert!(Instant::now() < deadline, "the view was not read back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.close(Duration::from_secs(2)).await;
}
