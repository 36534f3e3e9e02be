//! Welcome and goodbye: switching them, their texts, and group events.

use blacksky_core::client::groups::notification::GroupChange as Notified;

use super::*;

fn event(change: Membership, who: &[&str]) -> GroupEvent {
    let who = who
        .iter()
        .map(|user| Jid::ad((*user).to_owned(), 0, 0))
        .collect();
    GroupEvent {
        group: group_jid(),
        actor: None,
        change: match change {
            Membership::Added => Notified::Added(who),
            Membership::Removed => Notified::Removed(who),
            Membership::Left => Notified::Left(who),
        },
    }
}

fn greet(bot: &mut Commands, event: &GroupEvent) -> Vec<Action> {
    let mut ctx = Context::for_chat(&event.group, NOW);
    bot.on_group_event(event, &mut ctx);
    ctx.into_actions()
}

#[test]
fn welcome_on_greets_new_members_by_mention_with_the_group_s_name() {
    let fake = Fake::with_group(false);
    let mut bot = commands(&fake);
    assert!(
        greet(&mut bot, &event(Membership::Added, &[OTHER])).is_empty(),
        "off by default"
    );
    let on = run(&mut bot, &in_group(ADMIN, ".welcome on"));
    assert_eq!(
        texts(&on),
        ["New members will be welcomed."],
        "the bot need not be admin"
    );
    assert_eq!(
        effects(&on),
        [&Action::Setting(SettingChange::Greeting {
            group: group_jid(),
            kind: GreetingKind::Welcome,
            state: Toggle::On
        })]
    );
    let welcome = greet(&mut bot, &event(Membership::Added, &[OTHER, MEMBER]));
    assert_eq!(
        texts(&welcome),
        [format!("Welcome to Rust Friends, @{OTHER}, @{MEMBER}!")]
    );
    match &welcome[0] {
        Action::Text { to, reply } => {
            assert_eq!(to, &group_jid());
            assert_eq!(reply.mentions, [pn(OTHER), pn(MEMBER)]);
            assert!(!reply.quote, "nothing to quote");
        }
        other => panic!("a text expected, got {other:?}"),
    }
    assert!(
        greet(&mut bot, &event(Membership::Added, &[BOT])).is_empty(),
        "the bot does not greet itself"
    );
    assert!(
        greet(&mut bot, &event(Membership::Left, &[OTHER])).is_empty(),
        "goodbye is separate"
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".welcome off")),
        "New members will not be welcomed."
    );
    assert!(greet(&mut bot, &event(Membership::Added, &[OTHER])).is_empty());
}

#[test]
fn greeting_texts_are_editable_checked_and_reset() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    run(&mut bot, &in_group(ADMIN, ".goodbye on"));
    let saved = run(
        &mut bot,
        &in_group(ADMIN, ".bye text So long {user}, {group} will miss you"),
    );
    assert_eq!(
        texts(&saved),
        [format!(
            "Saved. It will read:\nSo long @{ADMIN}, Rust Friends will miss you"
        )]
    );
    assert_json_round_trips(&saved);
    let goodbye = greet(&mut bot, &event(Membership::Removed, &[OTHER]));
    assert_eq!(
        texts(&goodbye),
        [format!("So long @{OTHER}, Rust Friends will miss you")]
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".goodbye text Bye {name}")),
        "Only {user} and {group} can be filled in, not {name}."
    );
    let long = format!(
        ".goodbye text {}",
        "x".repeat(settings::GREETING_MAX_CHARS + 1)
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, &long)),
        "That is too long: at most 1000 characters."
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".goodbye text")),
        format!("Back to the standard text:\nGoodbye, @{ADMIN}.")
    );
    assert_eq!(
        texts(&greet(&mut bot, &event(Membership::Left, &[OTHER]))),
        [format!("Goodbye, @{OTHER}.")]
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".goodbye maybe")),
        "“maybe” is not one of: on, off, text.\nUsage: .goodbye on|off|text [text]"
    );
    assert_eq!(
        answer(&mut bot, &in_group(MEMBER, ".welcome on")),
        "Only group admins may use .welcome."
    );
}

#[test]
fn greetings_speak_the_group_s_language() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    run(&mut bot, &in_group(ADMIN, ".lang de"));
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".welcome an")),
        "Neue Mitglieder werden begrüßt."
    );
    assert_eq!(
        texts(&greet(&mut bot, &event(Membership::Added, &[OTHER]))),
        [format!("Willkommen in Rust Friends, @{OTHER}!")]
    );
}
