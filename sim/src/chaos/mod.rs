//! The chaos harness: the production session run
//! (`blacksky_io::session::runner::run_with`) against the fake server, over
//! turmoil's deterministic network and clock. See DESIGN.md, "Testing".
//!
//! - [`clock`]: [`SimClock`], the bot's clocks in the simulation.
//! - [`db`]: host `db`, the store over the simulated network.
//! - [`dial`]: [`TurmoilDialer`], the WebSocket over turmoil's TCP.
//! - [`logs`]: the bot's logs on stderr with `SIM_LOG`.
//! - [`invariants`]: the promises every run is held to.
//! - [`plan`]: random chaos from a seed, and the checks after it.
//! - [`rows`]: where the `db` host keeps its rows (memory or SQLite).
//! - [`sockets`]: the hosts' TCP streams, closed in a fixed order on a
//!   crash (so a seed replays exactly in any process).
//! - [`world`]: [`World`], the hosts built from a seed, and invariants.

pub mod clock;
pub mod db;
pub mod dial;
pub mod invariants;
pub mod logs;
pub mod plan;
pub mod rows;
pub mod sockets;
pub mod world;

pub use clock::{SIM_EPOCH, SimClock};
pub use dial::TurmoilDialer;
pub use world::{SeedGuard, SimStore, World, WorldConfig, seed_from_env};
