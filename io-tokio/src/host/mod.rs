//! What belongs to the process, shared by every session it runs:
//! configuration (and the `.env` file), what logs may show of a secret
//! ([`redact`]), the HTTP server and anti-idle
//! pings ([`services`]), the status registry, the memory watchdog, the
//! `blacksky session` CLI and the clocks.

pub mod anti_idle;
pub mod builtin_bot;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dotenv;
pub mod groups;
pub mod history;
pub mod http;
pub mod launch;
pub mod memory;
pub mod qr;
pub mod redact;
pub mod runtime_facts;
pub mod services;
pub mod status;
