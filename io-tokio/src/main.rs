//! The `blacksky` binary: the bot with no code of its own. It answers with
//! the auto-reply rules of `AUTO_REPLY_FILE` (see the README) and stores
//! and logs everything else. A bot with code starts the same way with its
//! own handler: see `examples/`.

fn main() {
    blacksky_io::host::launch::main_with(|_, _| Ok(blacksky_bot::Silent));
}
