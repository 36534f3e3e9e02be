//! blacksky-io: the tokio shell around blacksky-core's state machines:
//! configuration, the WebSocket, the stores, the driver loop, and the
//! `blacksky` binary's pieces.

pub mod clock;
pub mod config;
pub mod driver;
pub mod qr;
pub mod runner;
pub mod store;
pub mod transport;
