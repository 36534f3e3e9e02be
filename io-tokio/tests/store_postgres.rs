//! The store promises against a real PostgreSQL: DATABASE_URL (CI sets it
//! to its local server). Each test works in a schema of its own, created
//! here and dropped afterwards. Without DATABASE_URL the tests say so and
//! pass, except under CI (CI set), where they fail.

mod store_support;

use std::sync::atomic::{AtomicU32, Ordering};

use blacksky_io::store::{PgStore, RowSecret};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A schema that is dropped when the test ends, however it ends.
struct Schema {
    url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: clean up from a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("DATABASE_URL is not set, and CI needs the PostgreSQL tests to run")
        }
        _ => {
            eprintln!(
                "skipped: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

async fn fresh(secret: Option<&RowSecret>) -> Option<(Schema, PgStore)> {
    let url = database_url()?;
    let name = format!(
        "blacksky_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {name}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let schema = Schema {
        url: url.clone(),
        name,
    };
    let store = PgStore::open_sealed(&url, "s", Some(&schema.name), secret)
        .await
        .expect("open");
    Some((schema, store))
}

macro_rules! promise {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some((_schema, store)) = fresh(None).await else {
                return;
            };
            store_support::$name(store).await;
        }

        /// The same promise with the key rows sealed (SESSION_SECRET).
        mod $name {
            #[tokio::test]
            async fn sealed() {
                let secret = super::store_support::row_secret();
                let Some((_schema, store)) = super::fresh(Some(&secret)).await else {
                    return;
                };
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
            let Some((_schema, store)) = fresh(None).await else {
                return;
            };
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

/// The server drops every connection of the store (a failover, a restart
/// of the database): the pool reconnects and the next write lands.
#[tokio::test]
async fn dropped_connections_are_replaced() {
    let Some((schema, mut store)) = fresh(None).await else {
        return;
    };
    use blacksky_io::store::Store;
    let session = blacksky_core::session::testing::sample_session(3, 2, 1, 10);
    store.replace_session(&session).await.expect("write");
    // Only this store's connections: other tests run beside this one on
    // the same server (terminating every `blacksky` connection broke them).
    let pool = store.pool().clone();
    let mut held = Vec::new();
    for _ in 0..pool.size() {
        held.push(pool.acquire().await.expect("acquire"));
    }
    let mut pids: Vec<i32> = Vec::new();
    for conn in &mut held {
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .expect("pid");
        pids.push(pid);
    }
    drop(held);
    assert!(!pids.is_empty(), "the store holds connections");
    let admin = sqlx::PgPool::connect(&schema.url).await.expect("connect");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid")
        .bind(&pids)
        .execute(&admin)
        .await
        .expect("terminate");
    // The first call may see the dead connection; a retry (what the worker
    // does) gets a fresh one.
    let mut ok = false;
    for _ in 0..5 {
        if store.load_session().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "the store came back after its connections were dropped");
    let back = store.load_session().await.expect("read").expect("present");
    assert!(back.same_as(&session));
}
promise!(the_alert_outbox_keeps_alerts_until_delivered);
sealing!(sealed_rows_hold_no_plain_key_bytes);
sealing!(a_sealed_store_refuses_another_secret_and_none);
sealing!(a_clear_store_is_sealed_on_the_first_start_with_a_secret);
sealing!(a_swapped_row_is_refused);
