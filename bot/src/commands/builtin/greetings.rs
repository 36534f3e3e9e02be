//! `welcome on|off|text [text]` and `goodbye …`: greet members who join
//! or leave; the text may use `{user}` and `{group}`.

use crate::commands::settings::GREETING_MAX_CHARS;
use crate::commands::texts::{fill, placeholders};
use crate::commands::{
    ArgKind, ArgSpec, BotNeeds, Call, Command, GreetingKind, SettingChange, Spec, Toggle,
};
use crate::{Action, Context};

pub struct Greetings {
    spec: Spec,
    kind: GreetingKind,
}

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("what", ArgKind::Choice(&["on", "off", "text"])),
    ArgSpec::optional("text", ArgKind::Rest),
];

impl Greetings {
    pub const WELCOME: Greetings = Greetings {
        spec: Spec {
            args: ARGS,
            bot_needs: BotNeeds::Nothing,
            ..Spec::group_admin("welcome", "welcome.help", "welcome.usage")
        },
        kind: GreetingKind::Welcome,
    };
    pub const GOODBYE: Greetings = Greetings {
        spec: Spec {
            aliases: &["bye"],
            args: ARGS,
            bot_needs: BotNeeds::Nothing,
            ..Spec::group_admin("goodbye", "goodbye.help", "goodbye.usage")
        },
        kind: GreetingKind::Goodbye,
    };

    fn key(&self, what: &str) -> String {
        let name = match self.kind {
            GreetingKind::Welcome => "welcome",
            GreetingKind::Goodbye => "goodbye",
        };
        format!("{name}.{what}")
    }
}

impl Command for Greetings {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        let kind = self.kind;
        let (change, answer) = match call.args.word("what") {
            Some("on") => (
                SettingChange::Greeting {
                    group,
                    kind,
                    state: Toggle::On,
                },
                call.text(&self.key("on")),
            ),
            Some("off") => (
                SettingChange::Greeting {
                    group,
                    kind,
                    state: Toggle::Off,
                },
                call.text(&self.key("off")),
            ),
            _ => match call.args.rest("text") {
                Some(text) => {
                    if text.chars().count() > GREETING_MAX_CHARS {
                        let max = GREETING_MAX_CHARS.to_string();
                        return call.answer(ctx, "arg.too_long", &[("max", &max)]);
                    }
                    if let Some(other) = placeholders(text)
                        .into_iter()
                        .find(|name| !matches!(*name, "user" | "group"))
                    {
                        let got = format!("{{{other}}}");
                        return call.answer(ctx, "greeting.bad_placeholder", &[("got", &got)]);
                    }
                    let preview = preview(call, text);
                    (
                        SettingChange::GreetingText {
                            group,
                            kind,
                            text: Some(text.to_owned()),
                        },
                        call.render("greeting.saved", &[("preview", &preview)]),
                    )
                }
                None => {
                    let standard = call
                        .catalog()
                        .template(call.language, &self.key("default"))
                        .to_owned();
                    let preview = preview(call, &standard);
                    (
                        SettingChange::GreetingText {
                            group,
                            kind,
                            text: None,
                        },
                        call.render("greeting.reset", &[("preview", &preview)]),
                    )
                }
            },
        };
        if call.settings().check(&change).is_err() {
            return call.answer(ctx, "settings.full", &[]);
        }
        ctx.perform(Action::Setting(change));
        ctx.reply(crate::Reply::text(answer).quoting());
    }
}

/// The text as the caller would see it greeting themselves.
fn preview(call: &Call<'_>, template: &str) -> String {
    let sender = &call.message.sender;
    let user = sender
        .pn
        .as_ref()
        .or(sender.lid.as_ref())
        .map_or_else(String::new, |jid| format!("@{}", jid.user()));
    let subject = call.group.map_or("", |group| group.subject.as_str());
    fill(template, &[("user", &user), ("group", subject)])
}
