//! The store worker performs the effects a handler asked for, after the
//! commit that stored them with the handled mark: a restart is marked
//! done before the restart is asked for (the next process does not
//! restart again), a backup's answer names its generation and is queued
//! in the transaction that marks it done, and the settings stored with a
//! handling are handed back to the handler of the next process.

mod store_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use blacksky_bot::Action;
use blacksky_bot::commands::OwnerControl;
use blacksky_bot::{Jid, Reply};
use blacksky_core::message::ids;
use blacksky_core::session::testing::sample_session;
use blacksky_core::session::{InboxContent, OutboxEntry, Session, Write};
use blacksky_core::time::UnixMillis;
use blacksky_io::session::worker::{Handling, InboxHandler, StoreHealth, StoreWorker};
use blacksky_io::store::backup::Sealer;
use blacksky_io::store::{InboxRecord, MemoryDb, MemoryStore, Store};
use prost::Message as _;

use store_support::{TEST_KDF_ITERATIONS, entry, fast_worker_config};

const OWNER: &str = "15550001111";

/// Asks for the effect its entry's id names; records the settings it is
/// handed back.
#[derive(Clone, Default)]
struct Asker {
    restored: Arc<Mutex<Vec<String>>>,
}

impl InboxHandler for Asker {
    fn handle(&mut self, _: &InboxRecord, _: UnixMillis) -> Vec<OutboxEntry> {
        Vec::new()
    }

    fn handle_entry(&mut self, entry: &InboxRecord, _: UnixMillis) -> Handling {
        let owner = Jid::new(OWNER, "s.whatsapp.net");
        let (effect, settings) = match entry.id.as_str() {
            "restart" => (
                Action::Owner(OwnerControl::Restart),
                Some("{\"language\":\"de\"}"),
            ),
            "backup" => (
                Action::Owner(OwnerControl::BackupNow {
                    to: owner.clone(),
                    answer: "Backup {generation} saved.".into(),
                }),
                None,
            ),
            "block" => (
                Action::Owner(OwnerControl::Block {
                    people: vec![owner.clone()],
                }),
                None,
            ),
            _ => (Action::Broadcast { text: "hi".into() }, None),
        };
        Handling {
            outbox: vec![OutboxEntry {
                to: owner.to_string(),
                payload: blacksky_bot::compose::text(&Reply::text("ok"), None, &owner)
                    .encode_to_vec(),
            }],
            effects: vec![effect.to_json()],
            settings: settings.map(str::to_owned),
        }
    }

    fn restore_settings(&mut self, json: &str) {
        self.restored.lock().expect("lock").push(json.to_owned());
    }
}

fn message(id: &str, n: u64) -> Write {
    let mut entry = entry(id, n);
    entry.content = InboxContent::Message(vec![0x0a, 1, b'x']);
    Write::Inbox(entry)
}

fn in_group(id: &str, n: u64, group: &str) -> Write {
    let Write::Inbox(mut entry) = message(id, n) else {
        unreachable!("an inbox write")
    };
    entry.from = format!("{group}@g.us");
    Write::Inbox(entry)
}

fn spawn(store: &MemoryStore, handler: Asker) -> StoreWorker {
    StoreWorker::spawn(
        store.clone(),
        Session::new(sample_session(1, 0, 0, 0).creds),
        Sealer::new("s", None, TEST_KDF_ITERATIONS),
        Box::new(handler),
        fast_worker_config(),
        StoreHealth::new(),
    )
}

#[tokio::test]
async fn a_restart_is_done_before_it_is_asked_for_and_never_twice() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    store
        .commit(&[message("restart", 2)])
        .await
        .expect("stored");
    let worker = spawn(&store, Asker::default());
    let mut restart = worker.restart_requested();
    tokio::time::timeout(Duration::from_secs(5), restart.wait_for(|asked| *asked))
        .await
        .expect("a restart is asked for")
        .expect("the worker runs");
    assert!(
        store.pending_effects(10).await.expect("read").is_empty(),
        "marked done before the restart was asked for"
    );
    assert_eq!(
        store.bot_settings().await.expect("read").as_deref(),
        Some("{\"language\":\"de\"}"),
        "the settings were stored with the handled mark"
    );
    assert_eq!(
        store.outbox().await.expect("outbox").len(),
        1,
        "the answer too"
    );
    worker.close(Duration::from_secs(2)).await;

    // The next process: the settings come back, no restart again.
    let next = Asker::default();
    let worker = spawn(&store, next.clone());
    let mut restart = worker.restart_requested();
    let again = tokio::time::timeout(Duration::from_millis(500), restart.wait_for(|a| *a)).await;
    assert!(again.is_err(), "no second restart");
    assert_eq!(
        *next.restored.lock().expect("lock"),
        ["{\"language\":\"de\"}"]
    );
    worker.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_backup_answers_with_its_generation_once_and_group_iqs_wait() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    store
        .commit(&sample_session(1, 0, 0, 0).to_writes())
        .await
        .expect("a session to back up");
    store
        .commit(&[message("backup", 2), message("block", 4)])
        .await
        .expect("stored");
    let worker = spawn(&store, Asker::default());
    let answer_id = ids::reply_id("backup:e0", 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let outbox = store.outbox().await.expect("outbox");
        if outbox.iter().any(|row| row.id == answer_id) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no backup answer: {outbox:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let generation = store.snapshots().await.expect("snapshots")[0].generation;
    assert!(generation >= 1);
    let unsent = store.unsent_outbound(10).await.expect("read");
    let answer = unsent
        .iter()
        .find(|row| row.id == answer_id)
        .expect("the answer waits to be sent");
    assert_eq!(answer.to, format!("{OWNER}@s.whatsapp.net"));
    let text = blacksky_proto::wa::Message::decode(answer.message.as_slice())
        .expect("a Message")
        .conversation
        .unwrap_or_default();
    assert!(
        text.starts_with("Backup ") && text.ends_with(" saved."),
        "{text}"
    );
    let pending = store.pending_effects(10).await.expect("read");
    let ids: Vec<&str> = pending.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["block:e0"], "a block waits for the group layer");
    worker.close(Duration::from_secs(2)).await;
    // Performed once: the next process queues no second answer.
    let worker = spawn(&store, Asker::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers = store
        .outbox()
        .await
        .expect("outbox")
        .iter()
        .filter(|row| row.id == answer_id)
        .count();
    assert_eq!(answers, 1);
    worker.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_broadcast_queues_one_text_per_known_group_once() {
    let db = MemoryDb::new();
    let mut store = MemoryStore::new(db.clone(), "s");
    store
        .commit(&[
            in_group("g1", 2, "1203630001"),
            in_group("g2", 4, "1203630002"),
            in_group("g3", 6, "1203630001"),
            message("broadcast", 8),
        ])
        .await
        .expect("stored");
    let worker = spawn(&store, Asker::default());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !store.unhandled_inbox(10).await.expect("read").is_empty()
        || !store.pending_effects(10).await.expect("read").is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the broadcasts were not performed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.close(Duration::from_secs(2)).await;
    // Each of the 4 entries asked for a broadcast (the test handler's
    // default): each group gets one text per broadcast, none twice.
    let unsent = store.unsent_outbound(100).await.expect("read");
    let to_groups: Vec<&str> = unsent
        .iter()
        .filter(|row| row.to.ends_with("@g.us"))
        .map(|row| row.to.as_str())
        .collect();
    assert_eq!(
        to_groups.len(),
        4 * 2,
        "4 broadcasts to 2 groups: {to_groups:?}"
    );
    for group in ["1203630001@g.us", "1203630002@g.us"] {
        assert_eq!(to_groups.iter().filter(|to| **to == group).count(), 4);
    }
    let mut ids: Vec<&str> = unsent.iter().map(|row| row.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), unsent.len(), "every row its own id");
}

#[tokio::test]
async fn the_memory_store_keeps_media_uploads_as_the_sql_stores_do() {
    store_support::media_uploads_are_kept_replaced_and_bounded(MemoryStore::new(
        MemoryDb::new(),
        "s",
    ))
    .await;
}
