//! The chaos harness: the production driver (`blacksky_io::supervise`)
//! against the fake server, over turmoil's deterministic network and
//! clock. See DESIGN.md, "Testing".
//!
//! - [`clock`]: [`SimClock`], the bot's clocks in the simulation.
//! - [`dial`]: [`TurmoilDialer`], the WebSocket over turmoil's TCP.
//! - [`world`]: [`World`], the hosts built from a seed, and invariants.

pub mod clock;
pub mod dial;
pub mod world;

pub use clock::{SIM_EPOCH, SimClock};
pub use dial::TurmoilDialer;
pub use world::{SeedGuard, World, WorldConfig, seed_from_env};
