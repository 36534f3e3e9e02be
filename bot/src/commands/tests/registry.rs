//! The registry itself: plugins, names, unknown commands, settings that
//! survive a restart.

use super::*;
use crate::Reply;

struct Echo;

const ECHO: Spec = Spec {
    aliases: &["say"],
    args: &[
        ArgSpec::required("times", ArgKind::Integer),
        ArgSpec::required("text", ArgKind::Rest),
    ],
    category: Category::Custom {
        title_key: "echo.category",
    },
    ..Spec::new("echo", Category::General, "echo.help", "echo.usage")
};

impl Command for Echo {
    fn spec(&self) -> &Spec {
        &ECHO
    }

    fn texts(&self, language: Language) -> Table {
        match language {
            Language::En => &[
                ("echo.category", "Fun"),
                ("echo.help", "Says it back."),
                ("echo.usage", "{prefix}echo <times> <text>"),
            ],
            Language::De => &[
                ("echo.category", "Spaß"),
                ("echo.help", "Sagt es zurück."),
                ("echo.usage", "{prefix}echo <Anzahl> <Text>"),
            ],
        }
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let times = call.args.integer("times").unwrap_or(1).clamp(1, 3);
        let text = call.args.rest("text").unwrap_or_default();
        for _ in 0..times {
            ctx.reply(Reply::text(text));
        }
    }
}

#[test]
fn a_plugin_is_one_type_and_one_line() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    bot.register(Echo).expect("registers");
    assert_eq!(
        texts(&run(&mut bot, &private(MEMBER, ".SAY 2 hi there"))),
        ["hi there", "hi there"]
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".echo two hi")),
        "“two” is not a whole number.\nUsage: .echo <times> <text>"
    );
    let menu = answer(&mut bot, &private(OWNER, ".menu"));
    let owner = menu.find("*Owner*").expect("owner section");
    let fun = menu
        .find("*Fun*\n.echo — Says it back.")
        .expect("the plugin's section");
    assert!(owner < fun, "plugins after the built-ins: {menu}");
}

struct Named(Spec);

impl Command for Named {
    fn spec(&self) -> &Spec {
        &self.0
    }

    fn run(&self, _: &Call<'_>, _: &mut Context) {}
}

#[test]
fn bad_plugins_are_refused_by_name() {
    let fake = Fake::default();
    let mut bot = commands(&fake);
    let clash = bot.register(Named(Spec {
        aliases: &["p"],
        ..Spec::new("pong", Category::General, "ping.help", "ping.usage")
    }));
    assert_eq!(clash, Ok(()));
    let taken = bot.register(Named(Spec::new(
        "kick",
        Category::General,
        "ping.help",
        "ping.usage",
    )));
    assert_eq!(
        taken,
        Err(RegistryError::NameTaken {
            name: "kick".into(),
            by: "kick".into()
        })
    );
    let alias_taken = bot.register(Named(Spec {
        aliases: &["remove"],
        ..Spec::new("boot", Category::General, "ping.help", "ping.usage")
    }));
    assert_eq!(
        alias_taken,
        Err(RegistryError::NameTaken {
            name: "remove".into(),
            by: "kick".into()
        })
    );
    assert_eq!(
        bot.register(Named(Spec::new(
            "Big",
            Category::General,
            "ping.help",
            "ping.usage"
        ))),
        Err(RegistryError::BadName { name: "Big".into() })
    );
    assert_eq!(
        bot.register(Named(Spec::new(
            "quiet",
            Category::General,
            "quiet.help",
            "ping.usage"
        ))),
        Err(RegistryError::MissingText {
            command: "quiet".into(),
            key: "quiet.help".into()
        })
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".boot")),
        "I do not know .boot. .menu lists what I can do.",
        "a refused plugin is not half-registered"
    );
}

#[test]
fn unknown_commands_get_a_hint_alone_with_the_bot_and_silence_in_groups() {
    let fake = Fake::with_group(true);
    let mut bot = commands_with(&fake, Language::De, Settings::default());
    assert_eq!(
        answer(&mut bot, &private(MEMBER, "!befehle")),
        "!befehle kenne ich nicht. !menu zeigt, was ich kann."
    );
    assert!(run(&mut bot, &in_group(MEMBER, ".lol")).is_empty());
    assert!(run(&mut bot, &in_group(MEMBER, "hello .menu")).is_empty());
    assert!(run(&mut bot, &in_group(MEMBER, "...")).is_empty());
}

#[test]
fn settings_survive_a_restart_through_their_store() {
    let fake = Fake::with_group(true);
    let mut store = MemorySettings::default();
    let mut bot = commands(&fake);
    for (from, text) in [
        (OWNER, ".setprefix !"),
        (ADMIN, "!lang de"),
        (ADMIN, "!welcome on"),
        (ADMIN, "!antilink on"),
    ] {
        for action in run(&mut bot, &in_group(from, text)) {
            if let Action::Setting(change) = &action {
                // The shell stores the JSON in the handled mark's transaction.
                let stored = SettingChange::from_json(&change.to_json()).expect("reads back");
                store.record(&stored).expect("kept");
            }
        }
    }
    // The next start: a new registry on what was stored.
    let mut restarted = commands_with(&fake, Language::En, store.load().expect("loads"));
    assert_eq!(restarted.settings(), bot.settings());
    assert!(
        run(&mut restarted, &in_group(MEMBER, ".ping")).is_empty(),
        "prefix `!` kept"
    );
    assert_eq!(
        answer(&mut restarted, &in_group(MEMBER, "!alive")),
        "Ich lebe und höre zu. Seit 3h 2m in Betrieb."
    );
    let mut ctx = Context::for_chat(&group_jid(), NOW);
    restarted.on_group_event(
        &GroupEvent {
            group: group_jid(),
            actor: None,
            change: blacksky_core::client::groups::notification::GroupChange::Added(vec![pn(
                OTHER,
            )]),
        },
        &mut ctx,
    );
    assert_eq!(texts(&ctx.into_actions()).len(), 1, "welcome kept");
    let link = run(&mut restarted, &in_group(MEMBER, "chat.whatsapp.com/abc"));
    assert_eq!(effects(&link).len(), 1, "antilink kept");
}

#[test]
fn reactions_edits_and_plain_texts_run_nothing() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let mut incoming = in_group(ADMIN, ".ping").incoming();
    incoming.content.kind = blacksky_core::message::content::Kind::Empty;
    let mut ctx = Context::new(&incoming, NOW);
    bot.on_message(&incoming, &mut ctx);
    assert!(ctx.actions().is_empty());
    assert!(run(&mut bot, &in_group(ADMIN, "ping")).is_empty());
}

#[test]
fn nothing_secret_in_debug_output() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let mut actions = run(&mut bot, &in_group(ADMIN, &format!(".kick {OTHER}")));
    actions.extend(run(&mut bot, &private(OWNER, &format!(".block {OTHER}"))));
    actions.extend(run(&mut bot, &private(OWNER, ".bc secret plans")));
    let shown = format!("{actions:?} {bot:?} {:?}", config(Language::En));
    for secret in [OTHER, OWNER, BOT, GROUP, "secret plans"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

mod any_text {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_and_answers_briefly(
            text in prop_oneof![
                "\\PC*",
                "[.!][a-zA-Z]{1,9}( [@+]?[0-9a-z{}]{0,14}){0,4}",
            ],
            from in prop_oneof![Just(OWNER), Just(ADMIN), Just(MEMBER)],
            grouped in any::<bool>(),
        ) {
            let fake = Fake::with_group(true);
            let mut bot = commands(&fake);
            let message = if grouped { in_group(from, &text) } else { private(from, &text) };
            let actions = run(&mut bot, &message.quoting(OTHER).mentioning(MEMBER));
            prop_assert!(actions.len() <= 3, "{actions:?}");
            for action in &actions {
                let read = Action::from_json(&action.to_json()).ok();
                prop_assert_eq!(read.as_ref(), Some(action));
            }
        }
    }
}

#[test]
fn every_built_in_has_its_help_and_usage_in_both_languages() {
    let fake = Fake::with_group(true);
    let specs: Vec<Spec> = builtin::all().iter().map(|c| *c.spec()).collect();
    assert!(specs.len() >= 30, "{} built-ins", specs.len());
    for language in Language::ALL {
        let mut bot = commands_with(&fake, language, Settings::default());
        let menu = answer(&mut bot, &private(OWNER, ".menu"));
        for spec in &specs {
            let name = spec.name;
            // Commands sharing a help text (the reactions) share a line.
            let listed = menu.lines().any(|line| {
                line.split(" — ")
                    .next()
                    .is_some_and(|names| names.split(' ').any(|n| n == format!(".{name}")))
            });
            assert!(listed, "{name} in the {language} menu");
            let help = answer(&mut bot, &private(OWNER, &format!(".help {name}")));
            let usage = help.lines().next().unwrap_or_default();
            assert!(
                usage.starts_with(&format!(".{name}")),
                "{language} {name}: {help}"
            );
            for raw in [spec.help, spec.usage, "{prefix}"] {
                assert!(!help.contains(raw), "{language} {name}: {raw} in {help}");
                assert!(!menu.contains(raw), "{language}: {raw} in {menu}");
            }
        }
        assert!(!menu.contains("category."), "{language}: {menu}");
    }
}
