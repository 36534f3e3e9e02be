//! Helpers shared by the benches: loading the shared stanza set.
