//! The store promises against the embedded SQLite store (a fresh database
//! file per test).

mod store_support;

use blacksky_io::store::SqliteStore;
use tempfile::TempDir;

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("data/blacksky.db"), "s")
        .await
        .expect("open");
    (dir, store)
}

macro_rules! promise {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh().await;
            store_support::$name(store).await;
        }
    };
}

promise!(migrations_from_empty_leave_an_empty_store);
promise!(every_record_kind_round_trips);
promise!(the_inbox_drops_duplicates_and_marks_handled_with_the_replies);
promise!(claims_keep_two_processes_apart);
promise!(a_claim_taken_over_keeps_a_late_handling_out);
promise!(settings_and_effects_ride_on_the_handled_mark);
promise!(media_uploads_are_kept_replaced_and_bounded);
promise!(pre_key_ids_are_claimed_in_the_store);
promise!(session_records_are_compare_and_set);
promise!(long_gone_instances_are_forgotten);
promise!(generations_rotate);
promise!(restore_skips_the_corrupt_newest_generations);
promise!(a_start_refuses_when_nothing_stored_verifies);
promise!(a_session_string_moves_a_session_to_an_empty_store);
promise!(sessions_share_a_database_by_name);
promise!(a_store_that_fails_for_a_while_recovers_with_nothing_lost);
promise!(the_worker_snapshots_on_creds_changes_and_at_close);
promise!(prune_drops_old_handled_rows_and_keeps_the_rest);

#[tokio::test]
async fn reopening_runs_no_migration_twice_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blacksky.db");
    let mut store = SqliteStore::open(&path, "s").await.expect("open");
    let session = blacksky_core::session::testing::sample_session(1, 3, 1, 10);
    blacksky_io::store::Store::replace_session(&mut store, &session)
        .await
        .expect("write");
    drop(store);
    let mut again = SqliteStore::open(&path, "s").await.expect("reopen");
    let back = blacksky_io::store::Store::load_session(&mut again)
        .await
        .expect("read")
        .expect("present");
    assert!(back.same_as(&session));
}
promise!(the_alert_outbox_keeps_alerts_until_delivered);
