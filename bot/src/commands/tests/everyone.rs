//! The commands for everyone: menu, help, ping, alive, uptime, stats,
//! owner.

use super::*;

#[test]
fn menu_lists_commands_by_category_and_owner_commands_only_to_the_owner() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let menu = answer(&mut bot, &in_group(MEMBER, ".menu"));
    assert!(
        menu.starts_with("*Commands* (start them with .!)"),
        "{menu}"
    );
    let general = menu.find("*General*").expect("a general section");
    let info = menu.find("*Info*").expect("an info section");
    let group = menu.find("*Group admins*").expect("a group section");
    assert!(general < info && info < group, "sections in order: {menu}");
    assert!(menu.contains(".ping — Answers with how long"), "{menu}");
    assert!(menu.contains(".kick — Removes people"), "{menu}");
    assert!(
        !menu.contains("*Owner*") && !menu.contains(".restart"),
        "{menu}"
    );
    assert!(menu.ends_with(".help [command] explains one."), "{menu}");

    let owners_menu = answer(&mut bot, &private(OWNER, "!MENU"));
    assert!(owners_menu.contains("*Owner*"), "{owners_menu}");
    assert!(
        owners_menu.contains("!restart — Saves everything"),
        "the prefix used: {owners_menu}"
    );
}

#[test]
fn menu_and_help_in_german() {
    let fake = Fake::with_group(true);
    let mut bot = commands_with(&fake, Language::De, Settings::default());
    let menu = answer(&mut bot, &private(MEMBER, ".menu"));
    assert!(menu.starts_with("*Befehle*"), "{menu}");
    assert!(
        menu.contains("*Allgemein*") && menu.contains("*Gruppen-Admins*"),
        "{menu}"
    );
    let help = answer(&mut bot, &private(MEMBER, ".help kick"));
    assert_eq!(
        help,
        ".kick @jemand (oder auf ihn antworten)\nEntfernt Leute aus der Gruppe.\nAuch: .remove\nFür Gruppen-Admins."
    );
}

#[test]
fn help_explains_one_command_by_name_or_alias() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".help .Remove")),
        ".kick @someone (or reply to them)\nRemoves people from the group.\nAlso: .remove\nFor group admins."
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, "!help ping")),
        "!ping\nAnswers with how long your message took to reach me.\nFor everyone."
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".help nosuch")),
        "There is no command .nosuch."
    );
    assert!(answer(&mut bot, &private(MEMBER, ".help")).starts_with("*Commands*"));
}

#[test]
fn ping_measures_from_the_message_s_time() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(MEMBER, ".ping"));
    assert_eq!(texts(&actions), ["Pong! 100000 ms"]);
    match &actions[0] {
        Action::Text { to, reply } => {
            assert_eq!(to, &group_jid());
            assert!(reply.quote, "answers quote the command");
        }
        other => panic!("a text expected, got {other:?}"),
    }
}

#[test]
fn alive_uptime_and_stats_read_the_runtime() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".alive")),
        "I am alive and listening. Up for 3h 2m."
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".uptime")),
        "Up for 3h 2m; online for 10m 0s."
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".stats")),
        "Messages: 42 in, 17 out\nUp for: 3h 2m\nMemory: 50.0 MB\nReconnects: 3"
    );
    {
        let mut runtime = fake.runtime.lock().unwrap_or_else(PoisonError::into_inner);
        runtime.online_since = None;
        runtime.rss_bytes = None;
    }
    assert_eq!(
        answer(&mut bot, &private(OTHER, ".runtime")),
        "Up for 3h 2m; offline right now."
    );
    assert!(answer(&mut bot, &private(OTHER, ".stats")).contains("Memory: unknown"));
}

#[test]
fn stats_in_german() {
    let fake = Fake::with_group(true);
    let mut bot = commands_with(&fake, Language::De, Settings::default());
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".stats")),
        "Nachrichten: 42 empfangen, 17 gesendet\nLaufzeit: 3h 2m\nSpeicher: 50.0 MB\nNeuverbindungen: 3"
    );
    assert_eq!(
        answer(&mut bot, &private(MEMBER, ".ping")),
        "Pong! 100000 ms"
    );
}

#[test]
fn owner_mentions_the_owners() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(MEMBER, ".owner"));
    assert_eq!(texts(&actions), [format!("My owner: @{OWNER}")]);
    match &actions[0] {
        Action::Text { reply, .. } => assert_eq!(reply.mentions, [pn(OWNER)]),
        other => panic!("a text expected, got {other:?}"),
    }
    let mut no_owner = Commands::with_builtins(
        CommandsConfig::default(),
        Settings::default(),
        fake.clone(),
        fake.clone(),
    )
    .expect("registers");
    assert_eq!(
        answer(&mut no_owner, &private(MEMBER, ".owner")),
        "No owner number is set."
    );
}

#[test]
fn noisy_commands_cool_down_per_chat_with_one_notice_and_the_owner_is_exempt() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let menus: Vec<Vec<String>> = (0..4)
        .map(|_| texts(&run(&mut bot, &in_group(MEMBER, ".menu"))))
        .collect();
    assert_eq!(menus[0].len(), 1);
    assert_eq!(menus[1].len(), 1, "two menus a minute per chat");
    assert_eq!(menus[2], [".menu rests in this chat for a minute."]);
    assert!(menus[3].is_empty(), "told once");
    let elsewhere = texts(&run(&mut bot, &private(MEMBER, ".menu")));
    assert_eq!(elsewhere.len(), 1, "another chat has its own");
    assert!(
        answer(&mut bot, &in_group(OWNER, ".menu")).starts_with("*Commands*"),
        "the owner is exempt"
    );
}
