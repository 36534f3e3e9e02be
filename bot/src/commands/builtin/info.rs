//! `alive`, `uptime`, `stats`: what the runtime tells of itself.

use crate::Context;
use crate::commands::format::{duration, megabytes};
use crate::commands::{Call, Category, Command, Cooldown, Spec};

pub struct Alive;
pub struct Uptime;
pub struct Stats;

const ALIVE: Spec = Spec {
    cooldown: Cooldown::PerChatPerMinute(3),
    ..Spec::new("alive", Category::General, "alive.help", "alive.usage")
};
const UPTIME: Spec = Spec {
    aliases: &["runtime"],
    cooldown: Cooldown::PerChatPerMinute(3),
    ..Spec::new("uptime", Category::Info, "uptime.help", "uptime.usage")
};
const STATS: Spec = Spec {
    aliases: &["status"],
    cooldown: Cooldown::PerChatPerMinute(3),
    ..Spec::new("stats", Category::Info, "stats.help", "stats.usage")
};

fn up_for(call: &Call<'_>) -> String {
    let started = call.runtime().started_at.as_millis();
    duration(call.now.as_millis().saturating_sub(started))
}

impl Command for Alive {
    fn spec(&self) -> &Spec {
        &ALIVE
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        call.answer(ctx, "alive.text", &[("uptime", &up_for(call))]);
    }
}

impl Command for Uptime {
    fn spec(&self) -> &Spec {
        &UPTIME
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let uptime = up_for(call);
        match call.runtime().online_since {
            Some(since) => {
                let online = duration(call.now.as_millis().saturating_sub(since.as_millis()));
                call.answer(
                    ctx,
                    "uptime.online",
                    &[("uptime", &uptime), ("online", &online)],
                );
            }
            None => call.answer(ctx, "uptime.offline", &[("uptime", &uptime)]),
        }
    }
}

impl Command for Stats {
    fn spec(&self) -> &Spec {
        &STATS
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let runtime = call.runtime();
        let memory = runtime
            .rss_bytes
            .map_or_else(|| call.text("value.unknown"), megabytes);
        call.answer(
            ctx,
            "stats.text",
            &[
                ("in", &runtime.messages_in.to_string()),
                ("out", &runtime.messages_out.to_string()),
                ("uptime", &up_for(call)),
                ("memory", &memory),
                ("reconnects", &runtime.reconnects.to_string()),
            ],
        );
    }
}
