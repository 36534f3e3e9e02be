//! A small bot written with blacksky's API: it answers `!ping` with a
//! quoted `pong`, reacts to thanks, greets people who mention it by name,
//! and, when `GREETER_OWNER` names a phone number, tells its owner it has
//! started (a proactive send, durable like every answer).
//!
//! Run it as you run `blacksky` (same variables, same store):
//! `cargo run --release -p blacksky-examples --bin greeter`.

use blacksky_bot::{Context, Incoming, Jid, Reply};
use blacksky_io::host::launch::main_with;

fn on_message(message: &Incoming, ctx: &mut Context) {
    let Some(text) = message.content.text() else {
        return;
    };
    let text = text.trim();
    if text.eq_ignore_ascii_case("!ping") {
        ctx.reply(Reply::text("pong").quoting());
    } else if text.to_lowercase().contains("thank") {
        ctx.react("❤️");
    } else if text.to_lowercase().contains("greeter") {
        let name = message.push_name.as_deref().unwrap_or("there");
        let reply = match &message.sender.pn {
            // Mentioned people are written @number in the text.
            Some(pn) => {
                Reply::text(format!("Hello @{}, {name}!", pn.user())).mentioning(pn.clone())
            }
            None => Reply::text(format!("Hello {name}!")),
        };
        ctx.reply(reply);
    }
}

fn main() {
    main_with(|_config, outbox| {
        if let Ok(owner) = std::env::var("GREETER_OWNER") {
            let owner = Jid::new(
                owner.trim().trim_start_matches('+').to_owned(),
                "s.whatsapp.net",
            );
            tokio::spawn(async move {
                match outbox.send(&owner, "greeter started").await {
                    Ok(id) => tracing::info!(%id, "start notice queued for the owner"),
                    Err(err) => tracing::warn!("start notice not queued: {err}"),
                }
            });
        }
        Ok(on_message)
    });
}
