//! The owner's commands, and their refusal to others.

use super::*;

#[test]
fn owner_commands_are_refused_to_others_once_per_episode() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    for command in [
        ".restart",
        ".backup",
        ".session",
        ".broadcast hi",
        ".block @1555",
        ".setprefix !",
    ] {
        let name = command.split_whitespace().next().unwrap_or_default();
        let first = run(&mut bot, &private(MEMBER, command));
        assert_eq!(
            texts(&first),
            [format!("Only the bot's owner may use {name}.")],
            "{command}"
        );
        assert!(effects(&first).is_empty(), "{command}: nothing done");
        let again = run(&mut bot, &private(MEMBER, command));
        assert!(again.is_empty(), "{command}: said once");
    }
    // An admin is no owner either, and is told in German in a German bot.
    let mut german = commands_with(&fake, Language::De, Settings::default());
    assert_eq!(
        answer(&mut german, &in_group(ADMIN, ".restart")),
        "Nur der Besitzer des Bots darf .restart benutzen."
    );
}

#[test]
fn restart_answers_then_asks_for_the_cycle() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &private(OWNER, ".restart"));
    assert_eq!(texts(&actions), ["Restarting: back in a moment."]);
    assert_eq!(effects(&actions), [&Action::Owner(OwnerControl::Restart)]);
    assert!(
        actions[0].is_message(),
        "the answer is queued before the cycle"
    );
    // The linked account itself is an owner too, by number or LID.
    let from_bot = run(&mut bot, &private(BOT, ".reboot"));
    assert_eq!(effects(&from_bot), [&Action::Owner(OwnerControl::Restart)]);
    assert_json_round_trips(&actions);
}

#[test]
fn backup_asks_for_a_snapshot_and_leaves_the_generation_to_the_shell() {
    let fake = Fake::with_group(true);
    let mut bot = commands_with(&fake, Language::De, Settings::default());
    let actions = run(&mut bot, &private(OWNER, ".backup"));
    assert_eq!(texts(&actions), ["Lege eine Sicherung an…"]);
    assert_eq!(
        effects(&actions),
        [&Action::Owner(OwnerControl::BackupNow {
            to: pn(OWNER),
            answer: "Sicherung {generation} gespeichert.".into()
        })]
    );
    assert_json_round_trips(&actions);
}

#[test]
fn session_tells_connection_store_backup_and_pre_keys() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".session")),
        "Connection: online\nStore: sqlite\nLast backup: #12, 1h 0m ago\nPre-keys left: 87"
    );
    *fake.runtime.lock().unwrap_or_else(PoisonError::into_inner) = RuntimeSnapshot::default();
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".session")),
        "Connection: offline\nStore: unknown\nLast backup: never\nPre-keys left: unknown"
    );
}

#[test]
fn broadcast_hands_the_text_to_the_shell() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(
        &mut bot,
        &private(OWNER, ".bc Maintenance at 10:00\nBack soon"),
    );
    assert_eq!(
        effects(&actions),
        [&Action::Broadcast {
            text: "Maintenance at 10:00\nBack soon".into()
        }]
    );
    assert_eq!(texts(&actions), ["Sending it to all my groups."]);
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".broadcast")),
        "Usage: .broadcast <text>",
        "nothing to send: the usage line"
    );
    assert_json_round_trips(&actions);
}

#[test]
fn block_and_unblock_never_the_owner_or_the_bot() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(
        &mut bot,
        &private(OWNER, &format!(".block @{MEMBER} {OTHER}")).mentioning(MEMBER),
    );
    assert_eq!(
        effects(&actions),
        [&Action::Owner(OwnerControl::Block {
            people: vec![pn(MEMBER), pn(OTHER)]
        })]
    );
    assert_eq!(texts(&actions), [format!("Blocked @{MEMBER}, @{OTHER}.")]);
    let protected = run(&mut bot, &private(OWNER, &format!(".block {OWNER} {BOT}")));
    assert!(effects(&protected).is_empty());
    assert_eq!(texts(&protected), ["I do not block my owner or myself."]);
    let unblock = run(&mut bot, &in_group(OWNER, ".unblock").quoting(OTHER));
    assert_eq!(
        effects(&unblock),
        [&Action::Owner(OwnerControl::Unblock {
            people: vec![pn(OTHER)]
        })]
    );
    assert_json_round_trips(&actions);
}

#[test]
fn setprefix_changes_the_prefix_at_once_and_as_a_setting() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &private(OWNER, ".setprefix #/"));
    assert_eq!(texts(&actions), ["Commands now start with #/."]);
    let change = SettingChange::Prefixes {
        prefixes: Prefixes::new("#/").expect("valid"),
    };
    assert_eq!(effects(&actions), [&Action::Setting(change.clone())]);
    assert_eq!(
        actions[0].to_json(),
        r##"{"action":"setting","setting":"prefixes","prefixes":"#/"}"##,
        "the stable JSON form"
    );
    assert_json_round_trips(&actions);
    assert_eq!(bot.prefixes().as_str(), "#/");
    assert!(
        run(&mut bot, &private(MEMBER, ".ping")).is_empty(),
        "the old prefix is text now"
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, "/ping")),
        "Pong! 100000 ms"
    );
    assert_eq!(
        answer(&mut bot, &private(OWNER, "#setprefix abc")),
        "“abc” cannot be a prefix: use 1 to 8 signs like . ! / #, no letters, digits or spaces."
    );
    assert_eq!(bot.prefixes().as_str(), "#/", "unchanged");
}

#[test]
fn lang_alone_with_the_bot_sets_the_bot_s_language() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &private(OWNER, ".lang DE"));
    assert_eq!(
        texts(&actions),
        ["Ich spreche jetzt Deutsch."],
        "said in the new language"
    );
    assert_eq!(
        effects(&actions),
        [&Action::Setting(SettingChange::Language {
            language: Some(Language::De)
        })]
    );
    assert_eq!(bot.language(), Language::De);
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".alive")),
        "Ich lebe und höre zu. Seit 3h 2m in Betrieb."
    );
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".sprache default")),
        "I now speak English.",
        "back to LANGUAGE"
    );
    assert_eq!(bot.settings().language, None);
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".lang de")),
        "Only the bot's owner may use .lang.",
        "alone with the bot, only the owner"
    );
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".lang fr")),
        "“fr” is not one of: en, de, default.\nUsage: .lang en|de|default"
    );
}

#[test]
fn leave_says_goodbye_then_leaves_and_only_in_groups() {
    let fake = Fake::with_group(false);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(OWNER, ".leave"));
    assert_eq!(texts(&actions), ["Goodbye, everyone!"]);
    assert_eq!(
        effects(&actions),
        [&Action::Group {
            group: group_jid(),
            change: GroupChange::Leave,
            done: None
        }]
    );
    assert!(actions[0].is_message(), "the goodbye goes first");
    assert_eq!(
        answer(&mut bot, &private(OWNER, ".leave")),
        ".leave works in groups only."
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".leave")),
        "Only the bot's owner may use .leave."
    );
    assert_json_round_trips(&actions);
}
