//! What one session run is given ([`RunSetup`]): where its store comes
//! from, the network, the clock, the inbox handler, the seeds of its
//! random choices and its worker's settings. Production builds it with
//! [`RunSetup::production`]; the simulation builds its own from the same
//! parts over turmoil, so both run the one start and shutdown in
//! [`super::runner`].

use std::future::Future;
use std::sync::Arc;

#[cfg(feature = "testing")]
use blacksky_core::client::ClientConfig;
use blacksky_core::session::snapshot::KDF_ITERATIONS_DEFAULT;
use rand_core::{OsRng, RngCore};

use crate::host::clock::SystemClock;
use crate::host::config::{CodeDisplay, Config};
use crate::host::memory::RssSampler;
use crate::host::status::StatusBoard;
use crate::session::client_version::Lookup;
use crate::session::proactive::Proactive;
use crate::session::settings::worker_config;
use crate::session::supervise::Finished;
use crate::session::transport::WsDialer;
use crate::session::worker::{InboxHandler, StoreHealth, WorkerConfig};
use crate::store::{AnyStore, Store, StoreError};

/// Opens the session's store; asked again after each failed start.
pub trait OpenStore: Send {
    type Store: Store;

    fn open(
        &mut self,
        config: &Config,
    ) -> impl Future<Output = Result<Self::Store, StoreError>> + Send;
}

/// The store the configuration names (PostgreSQL or SQLite).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfiguredStore;

impl OpenStore for ConfiguredStore {
    type Store = AnyStore;

    async fn open(&mut self, config: &Config) -> Result<AnyStore, StoreError> {
        AnyStore::open(config).await
    }
}

/// Any `FnMut(&Config) -> future of a store` opens a store (the
/// simulation's network store).
impl<F, Fut, S> OpenStore for F
where
    F: FnMut(&Config) -> Fut + Send,
    Fut: Future<Output = Result<S, StoreError>> + Send,
    S: Store,
{
    type Store = S;

    fn open(&mut self, config: &Config) -> impl Future<Output = Result<S, StoreError>> + Send {
        self(config)
    }
}

/// Moments of a run someone outside may want to see (the simulation
/// records them); each does nothing unless implemented.
pub trait RunHooks: Send {
    /// The session's status board exists (its store answered).
    fn board_ready(&mut self, _board: &StatusBoard) {}

    /// The keeper's loop ended; the store worker closes next.
    fn loop_ended(&mut self, _finished: &Finished) {}
}

/// No hooks.
impl RunHooks for () {}

/// What one session run is given. See the module docs.
pub struct RunSetup<O, D, C, H> {
    pub open_store: O,
    pub dialer: D,
    /// Read by the loop, the connections and the store worker.
    pub clock: C,
    pub inbox_handler: H,
    /// The bot's proactive sends (and the owner's alerts), if it makes
    /// any.
    pub proactive: Option<Proactive>,
    pub store_health: Arc<StoreHealth>,
    /// The worker's limits, timings and owner name; its `clock` is
    /// replaced by `clock` above, so one clock runs the session.
    pub worker: WorkerConfig,
    /// Key derivation rounds for sealed snapshots (the simulation uses 1:
    /// sealing is not what it tests).
    pub sealer_kdf_iterations: u32,
    /// Draws new credentials when the store holds none.
    pub prepare_seed: [u8; 32],
    /// Drives every random choice of the keeper's loop (jitter, client
    /// keys and ids), so a seed replays a run.
    pub loop_seed: [u8; 32],
    /// The memory samples the keeper's MEMORY_LIMIT_MB policy reads.
    pub rss: RssSampler,
    /// Where QR codes and pairing codes show besides the /qr page.
    pub console: CodeDisplay,
    /// TEST ONLY: adjusts the client's settings (the chaos harness plants
    /// a deliberately broken policy with it, to show it is caught).
    #[cfg(feature = "testing")]
    pub tune_client: Option<fn(&mut ClientConfig)>,
    pub hooks: Box<dyn RunHooks>,
    /// Where a newer client version is looked up after a 405 (off in the
    /// simulation, whose network is not the host's).
    pub version_lookup: Lookup,
}

impl<O, D, C, H> std::fmt::Debug for RunSetup<O, D, C, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seeds are key material: never shown.
        f.debug_struct("RunSetup")
            .field("worker", &self.worker)
            .field("sealer_kdf_iterations", &self.sealer_kdf_iterations)
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

impl<H: InboxHandler> RunSetup<ConfiguredStore, WsDialer, SystemClock, H> {
    /// The process's: the configured store, the real network and clocks,
    /// the OS's randomness, this process's RSS, codes on stdout where the
    /// configuration says a person watches it.
    pub fn production(config: &Config, store_health: Arc<StoreHealth>, inbox_handler: H) -> Self {
        RunSetup {
            open_store: ConfiguredStore,
            dialer: WsDialer::default(),
            clock: SystemClock,
            inbox_handler,
            proactive: None,
            store_health,
            worker: worker_config(config),
            sealer_kdf_iterations: KDF_ITERATIONS_DEFAULT,
            prepare_seed: os_seed(),
            loop_seed: os_seed(),
            rss: RssSampler::default(),
            console: config.code_display,
            #[cfg(feature = "testing")]
            tune_client: None,
            hooks: Box::new(()),
            version_lookup: Lookup::from_config(config),
        }
    }
}

fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    seed
}
