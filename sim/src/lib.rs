//! blacksky-sim: the fake WhatsApp server and the chaos harness.
//!
//! - [`chaos`]: the turmoil harness that runs the real driver against it.
//! - [`server`]: the server as a sans-I/O machine ([`server::FakeServer`]),
//!   with a mock phone (QR and code pairing) and mock contacts.
//! - [`net`]: the tokio shell around it (WebSockets + an HTTP control
//!   API), which the `fake-wa` binary runs.
//! - [`media_host`]: the media host's HTTP routes (uploads, downloads).
//! - [`pipe`]: a real [`blacksky_core::client::Client`] wired to a server
//!   in memory, stepped by hand, for tests.

pub mod chaos;
pub mod media_host;
pub mod net;
pub mod pipe;
pub mod server;
