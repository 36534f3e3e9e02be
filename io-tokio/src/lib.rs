//! blacksky-io: the tokio shell around blacksky-core's state machines.
