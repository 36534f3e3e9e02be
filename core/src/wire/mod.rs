//! The wire path: WebSocket bytes → 3-byte frames → Noise transport
//! (AES-256-GCM) → binary nodes, and back. Pure functions and small
//! state machines; every decoder of untrusted bytes returns a typed error
//! with the offset of the fault and never panics.

pub mod binary;
pub mod frame;
pub mod noise;
