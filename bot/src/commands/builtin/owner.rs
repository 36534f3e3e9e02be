//! `owner`: who runs the bot, as mentions.

use crate::commands::format::mentions;
use crate::commands::{Call, Category, Command, Cooldown, Spec};
use crate::{Context, Reply};

pub struct OwnerContact;

const SPEC: Spec = Spec {
    aliases: &["creator"],
    cooldown: Cooldown::PerChatPerMinute(3),
    ..Spec::new("owner", Category::General, "owner.help", "owner.usage")
};

impl Command for OwnerContact {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let owners = call.owners().jids();
        if owners.is_empty() {
            return call.answer(ctx, "owner.none", &[]);
        }
        let mut reply =
            Reply::text(call.render("owner.text", &[("owners", &mentions(&owners))])).quoting();
        for owner in owners {
            reply = reply.mentioning(owner);
        }
        ctx.reply(reply);
    }
}
