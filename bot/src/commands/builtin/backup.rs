//! `backup`: a snapshot now; the shell answers with its generation.

use crate::commands::{Call, Command, OwnerControl, Spec};
use crate::{Action, Context};

pub struct Backup;

const SPEC: Spec = Spec {
    aliases: &["snapshot"],
    ..Spec::owner("backup", "backup.help", "backup.usage")
};

impl Command for Backup {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        call.answer(ctx, "backup.started", &[]);
        // `{generation}` is left for the shell to fill in.
        ctx.perform(Action::Owner(OwnerControl::BackupNow {
            to: call.chat(),
            answer: call.text("backup.done"),
        }));
    }
}
