//! `leave`: the bot says goodbye and leaves the group (the owner's call).

use crate::commands::{Call, Command, GroupChange, Scope, Spec};
use crate::{Action, Context};

pub struct Leave;

const SPEC: Spec = Spec {
    scope: Scope::Groups,
    ..Spec::owner("leave", "leave.help", "leave.usage")
};

impl Command for Leave {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        call.answer(ctx, "leave.text", &[]);
        ctx.perform(Action::Group {
            group,
            change: GroupChange::Leave,
            done: None,
        });
    }
}
