//! blacksky-io: the tokio shell around blacksky-core's state machines:
//! configuration, the WebSocket, the stores, the driver loop, and the
//! `blacksky` binary's pieces.

pub mod anti_idle;
pub mod cli;
pub mod clock;
pub mod config;
pub mod driver;
pub mod http;
pub mod memory;
pub mod qr;
pub mod runner;
pub mod status;
pub mod store;
pub mod supervise;
pub mod transport;
