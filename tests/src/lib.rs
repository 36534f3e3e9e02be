//! Helpers for the end-to-end tests (process spawning, log reading).
