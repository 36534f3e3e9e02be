//! `broadcast <text>`: the text to every group the bot is in (the shell
//! paces it through the durable outbox).

use crate::commands::{ArgKind, ArgSpec, Call, Command, Spec};
use crate::{Action, Context};

pub struct Broadcast;

const SPEC: Spec = Spec {
    aliases: &["bc"],
    args: &[ArgSpec::required("text", ArgKind::Rest)],
    ..Spec::owner("broadcast", "broadcast.help", "broadcast.usage")
};

impl Command for Broadcast {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(text) = call.args.rest("text") else {
            return;
        };
        ctx.perform(Action::Broadcast {
            text: text.to_owned(),
        });
        call.answer(ctx, "broadcast.done", &[]);
    }
}
