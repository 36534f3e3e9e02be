//! The store promises against the embedded SQLite store (a fresh database
//! file per test).

mod store_support;

use blacksky_io::store::{RowSecret, SqliteStore};
use tempfile::TempDir;

async fn fresh(secret: Option<&RowSecret>) -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_sealed(&dir.path().join("data/blacksky.db"), "s", secret)
        .await
        .expect("open");
    (dir, store)
}

macro_rules! promise {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh(None).await;
            store_support::$name(store).await;
        }

        /// The same promise with the key rows sealed (SESSION_SECRET).
        mod $name {
            #[tokio::test]
            async fn sealed() {
                let secret = super::store_support::row_secret();
                let (_dir, store) = super::fresh(Some(&secret)).await;
                super::store_support::$name(store).await;
            }
        }
    };
}

/// A promise about sealing itself (it opens with and without the secret).
macro_rules! sealing {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh(None).await;
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
promise!(sender_keys_are_compare_and_set);
promise!(long_gone_instances_are_forgotten);
promise!(generations_rotate);
promise!(restore_skips_the_corrupt_newest_generations);
promise!(a_start_refuses_when_nothing_stored_verifies);
promise!(a_session_string_moves_a_session_to_an_empty_store);
promise!(sessions_share_a_database_by_name);
promise!(a_store_that_fails_for_a_while_recovers_with_nothing_lost);
promise!(the_worker_snapshots_on_creds_changes_and_at_close);
promise!(prune_drops_old_handled_rows_and_keeps_the_rest);
promise!(the_client_version_is_one_for_the_database);

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
sealing!(sealed_rows_hold_no_plain_key_bytes);
sealing!(a_sealed_store_refuses_another_secret_and_none);
sealing!(a_clear_store_is_sealed_on_the_first_start_with_a_secret);
sealing!(a_swapped_row_is_refused);

/// On disk, not only in the rows: after a clear store is sealed, no file
/// of the database (main file, write-ahead log) holds a plain key value
/// (secure_delete overwrites the replaced values, the log is truncated).
#[tokio::test]
async fn the_database_files_hold_no_plain_key_bytes_once_sealed() {
    use blacksky_io::store::Store;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blacksky.db");
    let mut store = SqliteStore::open(&path, "s").await.expect("open");
    let session = blacksky_core::session::testing::sample_session(8, 20, 10, 200);
    store.replace_session(&session).await.expect("write clear");
    let plain = store_support::plain_key_values(&session);
    let on_disk = || -> Vec<Vec<u8>> {
        std::fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| std::fs::read(entry.expect("entry").path()).expect("read"))
            .collect()
    };
    assert!(
        store_support::plain_hits(&on_disk(), &plain) > 0,
        "the clear store's files hold its keys"
    );
    let secret = store_support::row_secret();
    let mut sealed = store.resealed(Some(&secret)).await.expect("seal");
    assert_eq!(
        store_support::plain_hits(&on_disk(), &plain),
        0,
        "a plain key value is left on disk"
    );
    let back = sealed.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
}
