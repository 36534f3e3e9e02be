//! The binary_* tests read the shared stanza set through the benches
//! crate, the one place that knows its format.
#![allow(unused_imports)]

pub use blacksky_benches::{Stanza, load_stanzas, node_from_json};
