//! blacksky-io: the tokio shell around blacksky-core's state machines.
//!
//! - [`session`]: what runs ONE WhatsApp session (its start and shutdown,
//!   the keeper's loop, the connection driver, the WebSocket, the store
//!   worker).
//! - [`host`]: what belongs to the process (configuration, HTTP, the status
//!   registry, the memory watchdog, anti-idle pings, the CLI, clocks).
//! - [`store`]: the sqlx and memory stores and the session backups.
//! - [`media`]: media uploads and downloads (`media_conn`, the media
//!   hosts), streaming through the core's media crypto.

pub mod alerts;
pub mod host;
pub mod media;
pub mod session;
pub mod store;
