//! blacksky-core: the deterministic, sans-I/O heart of blacksky.
//!
//! Nothing in this crate reads a clock, the OS random number generator or
//! the environment: time, wall-clock and randomness are passed in by the
//! caller, so the same inputs always give the same outputs, byte for byte.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod client;
pub mod crypto;
pub mod keeper;
pub mod media;
pub mod message;
pub mod session;
pub mod signal;
pub mod time;
pub mod wire;
