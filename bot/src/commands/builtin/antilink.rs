//! `antilink on|off`: delete invite links to other groups and warn their
//! sender (the bot must be an admin to delete).

use crate::commands::{ArgKind, ArgSpec, Call, Command, SettingChange, Spec, Toggle};
use crate::{Action, Context};

pub struct Antilink;

const SPEC: Spec = Spec {
    args: &[ArgSpec::required("state", ArgKind::Choice(&["on", "off"]))],
    ..Spec::group_admin("antilink", "antilink.help", "antilink.usage")
};

impl Command for Antilink {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        let change = SettingChange::Antilink {
            group,
            state: if call.args.word("state") == Some("on") {
                Toggle::On
            } else {
                Toggle::Off
            },
        };
        if call.settings().check(&change).is_err() {
            return call.answer(ctx, "settings.full", &[]);
        }
        let key = match &change {
            SettingChange::Antilink {
                state: Toggle::On, ..
            } => "antilink.on",
            _ => "antilink.off",
        };
        ctx.perform(Action::Setting(change));
        call.answer(ctx, key, &[]);
    }
}
