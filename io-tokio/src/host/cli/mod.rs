//! The `blacksky` binary's subcommands beyond `run` and `config`.

pub mod session;
