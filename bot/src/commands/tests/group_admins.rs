//! The group admins' commands, and each refusal.

use super::*;

fn group_change(actions: &[Action]) -> Option<&GroupChange> {
    actions.iter().find_map(|action| match action {
        Action::Group { group, change, .. } => {
            assert_eq!(group, &group_jid());
            Some(change)
        }
        _ => None,
    })
}

#[test]
fn kick_by_a_member_is_refused_once_and_by_an_admin_done() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let refused = run(
        &mut bot,
        &in_group(MEMBER, &format!(".kick @{OTHER}")).mentioning(OTHER),
    );
    assert_eq!(texts(&refused), ["Only group admins may use .kick."]);
    assert_eq!(group_change(&refused), None);
    assert!(
        run(&mut bot, &in_group(MEMBER, ".kick @x")).is_empty(),
        "said once"
    );

    let done = run(
        &mut bot,
        &in_group(ADMIN, &format!(".kick @{OTHER}")).mentioning(OTHER),
    );
    assert_eq!(
        group_change(&done),
        Some(&GroupChange::Remove {
            people: vec![pn(OTHER)]
        })
    );
    assert_eq!(texts(&done), [format!("Removing @{OTHER}.")]);
    assert_eq!(replies(&done)[0].mentions, [pn(OTHER)]);
    assert_json_round_trips(&done);
}

#[test]
fn kick_by_reply_and_never_the_owner_or_the_bot() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let by_reply = run(&mut bot, &in_group(ADMIN, ".remove").quoting(MEMBER));
    assert_eq!(
        group_change(&by_reply),
        Some(&GroupChange::Remove {
            people: vec![pn(MEMBER)]
        })
    );
    let mixed = run(
        &mut bot,
        &in_group(ADMIN, &format!(".kick {OWNER} {MEMBER} {BOT}")),
    );
    assert_eq!(
        group_change(&mixed),
        Some(&GroupChange::Remove {
            people: vec![pn(MEMBER)]
        })
    );
    assert_eq!(
        texts(&mixed),
        [format!(
            "Removing @{MEMBER}.\nI leave out my owner and myself."
        )]
    );
    let only_owner = run(&mut bot, &in_group(ADMIN, ".kick").quoting(OWNER));
    assert_eq!(group_change(&only_owner), None);
    assert_eq!(texts(&only_owner), ["I leave out my owner and myself."]);
}

#[test]
fn kick_without_anyone_gives_the_usage_line_in_the_chat_s_language() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".kick everyone")),
        "Name someone: mention them, write their number, or reply to their message.\nUsage: .kick @someone (or reply to them)"
    );
    let mut german = commands_with(&fake, Language::De, Settings::default());
    assert_eq!(
        answer(&mut german, &in_group(ADMIN, "!kick")),
        "Nenne jemanden: erwähne ihn, schreib seine Nummer oder antworte auf seine Nachricht.\nSo geht's: !kick @jemand (oder auf ihn antworten)"
    );
}

#[test]
fn admin_commands_need_a_group_a_known_one_and_the_bot_as_admin() {
    let fake = Fake::with_group(false);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &private(ADMIN, ".kick 15550003333")),
        ".kick works in groups only."
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".kick 15550003333")),
        "Make me a group admin first: .kick needs it."
    );
    assert_eq!(
        answer(&mut bot, &in_group(OWNER, ".antilink on")),
        "Make me a group admin first: .antilink needs it.",
        "the owner too: the bot cannot act"
    );
    fake.forget_groups();
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".mute")),
        "I do not know this group's members yet; try again in a moment."
    );
}

#[test]
fn the_owner_may_act_as_a_group_admin() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(OWNER, ".promote").quoting(MEMBER));
    assert_eq!(
        group_change(&actions),
        Some(&GroupChange::Promote {
            people: vec![pn(MEMBER)]
        })
    );
    assert_eq!(texts(&actions), [format!("Making @{MEMBER} admin.")]);
}

#[test]
fn add_promote_demote() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let add = run(&mut bot, &in_group(ADMIN, ".add +49 1556"));
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".add hello")),
        "Name someone: mention them, write their number, or reply to their message.\nUsage: .add <number>"
    );
    assert!(
        group_change(&add).is_none(),
        "`+49` alone is too short to be a number"
    );
    let add = run(&mut bot, &in_group(ADMIN, ".add +4915561234567"));
    assert_eq!(
        group_change(&add),
        Some(&GroupChange::Add {
            people: vec![pn("4915561234567")]
        })
    );
    assert_eq!(texts(&add), ["Adding @4915561234567."]);
    let demote = run(
        &mut bot,
        &in_group(ADMIN, &format!(".demote @{MEMBER}")).mentioning(MEMBER),
    );
    assert_eq!(
        group_change(&demote),
        Some(&GroupChange::Demote {
            people: vec![pn(MEMBER)]
        })
    );
    let demote_owner = run(&mut bot, &in_group(ADMIN, &format!(".demote {OWNER}")));
    assert_eq!(group_change(&demote_owner), None);
    assert_json_round_trips(&add);
}

#[test]
fn tagall_mentions_every_member_but_the_bot_once_a_minute() {
    let fake = Fake::with_group(false);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(ADMIN, ".tagall Meeting now"));
    assert_eq!(
        texts(&actions),
        [format!("Meeting now\n\n@{ADMIN}, @{MEMBER}, @{OTHER}")],
        "the bot need not be admin"
    );
    match &actions[0] {
        Action::Text { reply, .. } => {
            assert_eq!(reply.mentions, [pn(ADMIN), pn(MEMBER), pn(OTHER)]);
        }
        other => panic!("a text expected, got {other:?}"),
    }
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".everyone")),
        ".tagall rests in this chat for a minute."
    );
    let owner = texts(&run(&mut bot, &in_group(OWNER, ".tagall")));
    assert_eq!(
        owner,
        [format!(
            "Attention, everyone!\n\n@{ADMIN}, @{MEMBER}, @{OTHER}"
        )],
        "the owner is exempt"
    );
    assert_eq!(
        answer(&mut bot, &in_group(MEMBER, ".tagall")),
        "Only group admins may use .tagall."
    );
}

#[test]
fn link_and_revoke_leave_the_link_to_the_shell() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let link = run(&mut bot, &in_group(ADMIN, ".link"));
    assert_eq!(
        group_change(&link),
        Some(&GroupChange::InviteLink {
            answer: "Invite link: {link}".into()
        })
    );
    assert!(texts(&link).is_empty(), "the shell answers with the link");
    let mut german = commands_with(&fake, Language::De, Settings::default());
    let revoke = run(&mut german, &in_group(ADMIN, ".revoke"));
    assert_eq!(
        group_change(&revoke),
        Some(&GroupChange::RevokeInviteLink {
            answer: "Neuer Einladungslink: {link}".into()
        })
    );
    assert_json_round_trips(&revoke);
}

#[test]
fn mute_and_unmute_switch_announce_mode() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let mute = run(&mut bot, &in_group(ADMIN, ".mute"));
    assert_eq!(
        group_change(&mute),
        Some(&GroupChange::Announce { state: Toggle::On })
    );
    assert_eq!(texts(&mute), ["Only admins can write now."]);
    let unmute = run(&mut bot, &in_group(ADMIN, ".open"));
    assert_eq!(
        group_change(&unmute),
        Some(&GroupChange::Announce { state: Toggle::Off })
    );
    assert_eq!(texts(&unmute), ["Everyone can write now."]);
    assert_json_round_trips(&mute);
}

#[test]
fn lang_in_a_group_is_the_group_s_and_admins_may_set_it() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    assert_eq!(
        answer(&mut bot, &in_group(MEMBER, ".lang de")),
        "Only group admins may use .lang."
    );
    let actions = run(&mut bot, &in_group(ADMIN, ".lang de"));
    assert_eq!(
        texts(&actions),
        ["Diese Gruppe bekommt von mir jetzt Deutsch."]
    );
    assert_eq!(
        effects(&actions),
        [&Action::Setting(SettingChange::GroupLanguage {
            group: group_jid(),
            language: Some(Language::De)
        })]
    );
    assert_eq!(
        answer(&mut bot, &in_group(MEMBER, ".ping")),
        "Pong! 100000 ms"
    );
    assert!(answer(&mut bot, &in_group(MEMBER, ".menu")).starts_with("*Befehle*"));
    assert!(
        answer(&mut bot, &private(MEMBER, ".menu")).starts_with("*Commands*"),
        "elsewhere the bot's language"
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".lang default")),
        "This group now gets English from me."
    );
    assert!(bot.settings().groups.is_empty());
}

#[test]
fn antilink_deletes_members_links_and_warns_but_spares_admins() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let link = "join us: https://chat.whatsapp.com/AbCdEf123";
    assert!(
        run(&mut bot, &in_group(MEMBER, link)).is_empty(),
        "off by default"
    );
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".antilink AN")),
        "Invite links to other groups will be deleted."
    );
    let actions = run(&mut bot, &in_group(MEMBER, link));
    assert_eq!(
        effects(&actions),
        [&Action::Delete {
            chat: group_jid(),
            id: "3EB0COMMAND".into(),
            author: Some(pn(MEMBER)),
        }]
    );
    assert_eq!(
        texts(&actions),
        [format!(
            "@{MEMBER}, links to other groups are not allowed here."
        )]
    );
    assert_json_round_trips(&actions);
    assert!(
        run(&mut bot, &in_group(ADMIN, link)).is_empty(),
        "admins may"
    );
    assert!(
        run(&mut bot, &in_group(OWNER, link)).is_empty(),
        "the owner may"
    );
    // Without admin rights the bot can only warn.
    fake.set_group(false);
    let warned = run(&mut bot, &in_group(OTHER, link));
    assert!(effects(&warned).is_empty());
    assert_eq!(texts(&warned).len(), 1);
    fake.forget_groups();
    assert!(
        run(&mut bot, &in_group(ADMIN, link)).is_empty(),
        "members unknown: no admin is warned by mistake"
    );
    fake.set_group(true);
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, ".antilink off")),
        "Invite links are allowed again."
    );
    assert!(run(&mut bot, &in_group(MEMBER, link)).is_empty());
}

#[test]
fn setname_setdesc_lock_and_unlock() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let name = run(&mut bot, &in_group(ADMIN, ".subject Rustaceans 🦀"));
    assert_eq!(
        group_change(&name),
        Some(&GroupChange::Subject {
            subject: "Rustaceans 🦀".into()
        })
    );
    assert_eq!(texts(&name), ["The group has a new name."]);
    let too_long = format!(".setname {}", "n".repeat(101));
    assert_eq!(
        answer(&mut bot, &in_group(ADMIN, &too_long)),
        "That is too long: at most 100 characters."
    );
    let desc = run(&mut bot, &in_group(ADMIN, ".setdesc Rules:\n1. be kind"));
    assert_eq!(
        group_change(&desc),
        Some(&GroupChange::Description {
            description: "Rules:\n1. be kind".into()
        })
    );
    let lock = run(&mut bot, &in_group(ADMIN, ".lock"));
    assert_eq!(
        group_change(&lock),
        Some(&GroupChange::Locked { state: Toggle::On })
    );
    assert_eq!(texts(&lock), ["Only admins can edit the group's info now."]);
    let mut german = commands_with(&fake, Language::De, Settings::default());
    let unlock = run(&mut german, &in_group(ADMIN, ".unlock"));
    assert_eq!(
        group_change(&unlock),
        Some(&GroupChange::Locked { state: Toggle::Off })
    );
    assert_eq!(
        texts(&unlock),
        ["Jetzt können alle die Gruppeninfo ändern."]
    );
    assert_eq!(
        answer(&mut bot, &in_group(MEMBER, ".setname mine now")),
        "Only group admins may use .setname."
    );
    assert_json_round_trips(&name);
    assert_json_round_trips(&desc);
}
