//! The session's start, through `runner::run_with` over the in-memory
//! store: a store that does not answer is waited for (and a shutdown ends
//! the wait), and stored creds that cannot be read stop the start with
//! exit 4. Neither gets as far as the status board. The full run (loop,
//! connections, shutdown budget) is covered by the simulation.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use blacksky_bot::{Bot, Silent};
use blacksky_io::host::clock::SystemClock;
use blacksky_io::host::config::{CodeDisplay, Config};
use blacksky_io::host::status::StatusBoard;
use blacksky_io::session::client_version::Lookup;
use blacksky_io::session::runner::{EXIT_SESSION_UNREADABLE, run_with};
use blacksky_io::session::setup::{OpenStore, RunHooks, RunSetup};
use blacksky_io::session::transport::WsDialer;
use blacksky_io::session::worker::{StoreHealth, silent_bot};
use blacksky_io::store::{MemoryDb, MemoryStore, StoreError};
use tokio::sync::watch;

const SESSION: &str = "runner-test";

/// Counts the status boards handed out.
struct BoardCount(Arc<AtomicU32>);

impl RunHooks for BoardCount {
    fn board_ready(&mut self, _board: &StatusBoard) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn config() -> Config {
    let mut config = match Config::from_env(&HashMap::<String, String>::new()) {
        Ok(config) => config,
        Err(err) => panic!("the default config is valid: {err}"),
    };
    config.session_id = SESSION.to_owned();
    config.health_check = false;
    config.heroku_app_url = None;
    config
}

/// Opens the memory store on `db`, counting the tries.
struct CountingOpener {
    db: Arc<MemoryDb>,
    opens: Arc<AtomicU32>,
}

impl OpenStore for CountingOpener {
    type Store = MemoryStore;

    async fn open(&mut self, _config: &Config) -> Result<MemoryStore, StoreError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        Ok(MemoryStore::new(self.db.clone(), SESSION))
    }
}

/// The production setup, on `db`, counting store opens and boards.
fn setup(
    db: &Arc<MemoryDb>,
    opens: &Arc<AtomicU32>,
    boards: &Arc<AtomicU32>,
) -> RunSetup<CountingOpener, WsDialer, SystemClock, Bot<Silent>> {
    let production = RunSetup::production(&config(), StoreHealth::new(), silent_bot());
    RunSetup {
        open_store: CountingOpener {
            db: db.clone(),
            opens: opens.clone(),
        },
        dialer: production.dialer,
        clock: production.clock,
        inbox_handler: production.inbox_handler,
        proactive: None,
        store_health: production.store_health,
        worker: production.worker,
        sealer_kdf_iterations: 1,
        prepare_seed: [7; 32],
        loop_seed: [8; 32],
        rss: production.rss,
        console: CodeDisplay::PageOnly,
        #[cfg(feature = "testing")]
        tune_client: None,
        hooks: Box::new(BoardCount(boards.clone())),
        version_lookup: Lookup::Off,
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_is_waited_for_until_shutdown() {
    let db = MemoryDb::new();
    db.set_failing(true);
    let (opens, boards) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (stop, shutdown) = watch::channel(false);
    let run = tokio::spawn({
        let setup = setup(&db, &opens, &boards);
        async move { run_with(&config(), shutdown, setup).await }
    });
    // The first try fails at once; the second comes after the backoff.
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while opens.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the store was not tried again");
    assert!(
        !run.is_finished(),
        "the run gave up on a store that is down"
    );
    let _ = stop.send(true);
    let code = match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Ok(Ok(code))) => code,
        other => panic!("the run did not end on shutdown: {other:?}"),
    };
    assert_eq!(code, 0);
    assert_eq!(boards.load(Ordering::SeqCst), 0, "no session was started");
    // Nothing was taken for an empty store: no creds were written.
    db.set_failing(false);
    let mut store = MemoryStore::new(db, SESSION);
    let stored = blacksky_io::store::Store::load_creds(&mut store).await;
    assert!(matches!(stored, Ok(None)), "{stored:?}");
}

#[tokio::test]
async fn unreadable_stored_creds_stop_the_start_with_exit_4() {
    let db = MemoryDb::new();
    db.corrupt_creds(SESSION, b"not a creds record".to_vec());
    let (opens, boards) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (_stop, shutdown) = watch::channel(false);
    let ran = tokio::time::timeout(
        Duration::from_secs(10),
        run_with(&config(), shutdown, setup(&db, &opens, &boards)),
    )
    .await;
    let code = match ran {
        Ok(Ok(code)) => code,
        other => panic!("the run did not refuse: {other:?}"),
    };
    assert_eq!(code, EXIT_SESSION_UNREADABLE);
    assert_eq!(opens.load(Ordering::SeqCst), 1, "a refusal is not retried");
    assert_eq!(boards.load(Ordering::SeqCst), 0, "no session was started");
}
