//! `mute` / `unmute`: only admins may write (announce mode), or everyone.

use crate::commands::{Call, Command, GroupChange, Spec, Toggle};
use crate::{Action, Context};

pub struct Mute {
    spec: Spec,
    state: Toggle,
}

impl Mute {
    pub const ON: Mute = Mute {
        spec: Spec {
            aliases: &["close"],
            ..Spec::group_admin("mute", "mute.help", "mute.usage")
        },
        state: Toggle::On,
    };
    pub const OFF: Mute = Mute {
        spec: Spec {
            aliases: &["open"],
            ..Spec::group_admin("unmute", "unmute.help", "unmute.usage")
        },
        state: Toggle::Off,
    };
}

impl Command for Mute {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        ctx.perform(Action::Group {
            group,
            change: GroupChange::Announce { state: self.state },
            done: None,
        });
        let key = if self.state.is_on() {
            "mute.done"
        } else {
            "unmute.done"
        };
        call.answer(ctx, key, &[]);
    }
}
