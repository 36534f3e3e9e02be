//! `lang en|de|default`: in a group (its admins, the owner) the group's
//! language; alone with the bot (the owner) the bot's.

use crate::commands::{
    ArgKind, ArgSpec, Call, Category, Command, Language, Permission, SettingChange, Spec,
};
use crate::{Action, Context};

pub struct Lang;

const SPEC: Spec = Spec {
    aliases: &["language", "sprache"],
    permission: Permission::GroupAdmin,
    args: &[ArgSpec::required(
        "language",
        ArgKind::Choice(&["en", "de", "default"]),
    )],
    ..Spec::new("lang", Category::Group, "lang.help", "lang.usage")
};

impl Command for Lang {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let chosen: Option<Language> = call.args.word("language").and_then(|w| w.parse().ok());
        let (change, now_speaking, key) = match call.group_jid() {
            Some(group) => (
                SettingChange::GroupLanguage {
                    group,
                    language: chosen,
                },
                chosen.unwrap_or(call.bot_language()),
                "lang.done_group",
            ),
            None => (
                SettingChange::Language { language: chosen },
                chosen.unwrap_or(call.configured_language()),
                "lang.done_bot",
            ),
        };
        if call.settings().check(&change).is_err() {
            return call.answer(ctx, "settings.full", &[]);
        }
        ctx.perform(Action::Setting(change));
        // The answer is in the language just chosen.
        let text = call.render_in(now_speaking, key, &[]);
        ctx.reply(crate::Reply::text(text).quoting());
    }
}
