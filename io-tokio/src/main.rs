//! The `blacksky` binary: the bot with its built-in commands (`.menu`,
//! `.ping`, `.restart`, … as `PREFIX`, `LANGUAGE` and `OWNER_NUMBER` set
//! them up; `COMMANDS=off` turns them off). The auto-reply rules of
//! `AUTO_REPLY_FILE` answer first (see the README). A bot with code starts
//! the same way with its own handler: see `examples/`.

use blacksky_io::host::builtin_bot::BuiltinBot;

fn main() {
    blacksky_io::host::launch::main_with_facts(|config, _outbox, facts| {
        BuiltinBot::from_config(config, facts).map_err(|err| err.to_string())
    });
}
