//! `setprefix <signs>`: the signs commands start with, kept across
//! restarts.

use crate::commands::{ArgKind, ArgSpec, Call, Command, Prefixes, SettingChange, Spec};
use crate::{Action, Context};

pub struct SetPrefix;

const SPEC: Spec = Spec {
    aliases: &["prefix"],
    args: &[ArgSpec::required("signs", ArgKind::Word)],
    ..Spec::owner("setprefix", "setprefix.help", "setprefix.usage")
};

impl Command for SetPrefix {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let signs = call.args.word("signs").unwrap_or_default();
        let Ok(prefixes) = Prefixes::new(signs) else {
            let got: String = signs.chars().take(16).collect();
            return call.answer(ctx, "setprefix.bad", &[("got", &got)]);
        };
        let shown = prefixes.to_string();
        ctx.perform(Action::Setting(SettingChange::Prefixes { prefixes }));
        call.answer(ctx, "setprefix.done", &[("prefixes", &shown)]);
    }
}
