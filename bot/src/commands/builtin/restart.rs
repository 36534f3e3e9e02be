//! `restart`: a graceful cycle (the shell sends what is queued, saves a
//! final snapshot and exits for the host to start it again).

use crate::commands::{Call, Command, OwnerControl, Spec};
use crate::{Action, Context};

pub struct Restart;

const SPEC: Spec = Spec {
    aliases: &["reboot"],
    ..Spec::owner("restart", "restart.help", "restart.usage")
};

impl Command for Restart {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        call.answer(ctx, "restart.text", &[]);
        ctx.perform(Action::Owner(OwnerControl::Restart));
    }
}
