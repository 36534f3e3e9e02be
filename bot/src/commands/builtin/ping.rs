//! `ping`: how long the message took from its sender to the bot.

use crate::Context;
use crate::commands::{Call, Category, Command, Cooldown, Spec};

pub struct Ping;

const SPEC: Spec = Spec {
    cooldown: Cooldown::PerChatPerMinute(6),
    ..Spec::new("ping", Category::General, "ping.help", "ping.usage")
};

impl Command for Ping {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        // The message's time is whole seconds: the latency is at most a
        // second more than it was.
        let ms = call
            .now
            .as_millis()
            .saturating_sub(call.message.sent_at.as_millis());
        call.answer(ctx, "ping.pong", &[("ms", &ms.to_string())]);
    }
}
