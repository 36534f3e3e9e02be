//! The registry behind [`crate::Bot`], as the shell runs it: stored
//! messages in, outbox entries and effects out.

use blacksky_core::wire::binary::{Node, encode};
use blacksky_proto::wa;
use prost::Message as _;

use super::*;
use crate::{AutoReplies, Bot, BotConfig, Either, Reply};

fn stored(from: &str, id: &str, body: &str) -> (Vec<u8>, Vec<u8>) {
    let node = Node::new("message")
        .with_attr("from", Jid::new(GROUP, "g.us"))
        .with_attr("participant", Jid::ad(from.to_owned(), 0, 0))
        .with_attr("id", id.to_owned())
        .with_attr("t", "1700000000");
    let message = wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    };
    (encode(&node).expect("encodes"), message.encode_to_vec())
}

fn bodies(outbox: &[blacksky_core::session::OutboxEntry]) -> Vec<String> {
    outbox
        .iter()
        .map(|entry| {
            let message = wa::Message::decode(entry.payload.as_slice()).expect("decodes");
            message
                .conversation
                .or_else(|| message.extended_text_message.and_then(|e| e.text))
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn auto_replies_first_then_commands_with_effects_apart() {
    let fake = Fake::with_group(true);
    let rules =
        AutoReplies::parse("[[reply]]\nmatch = '^hi$'\ntext = 'hello'\n", "t").expect("parses");
    let mut bot = Bot::new(
        Either(rules, commands(&fake)),
        BotConfig {
            rate_limit_per_min: 2,
            rate_limit_senders_max: 100,
        },
    );
    let (stanza, message) = stored(MEMBER, "A1", "hi");
    assert_eq!(
        bodies(&bot.handle_stored(&stanza, &message, NOW).outbox),
        ["hello"]
    );

    let (stanza, message) = stored(ADMIN, "A2", &format!(".kick {OTHER}"));
    let handled = bot.handle_stored(&stanza, &message, NOW);
    assert!(
        handled.outbox.is_empty(),
        "said once WhatsApp made the change, not before"
    );
    assert_eq!(
        handled.effects,
        [Action::Group {
            group: group_jid(),
            change: GroupChange::Remove {
                people: vec![pn(OTHER)]
            },
            done: Some(Reply::text(format!("Removing @{OTHER}.")).mentioning(pn(OTHER))),
        }]
    );
    assert_eq!(
        handled.effects[0].to_json(),
        format!(
            r#"{{"action":"group","group":"{GROUP}@g.us","change":{{"change":"remove","people":["{OTHER}@s.whatsapp.net"]}},"done":{{"text":"Removing @{OTHER}.","quote":false,"mentions":["{OTHER}@s.whatsapp.net"]}}}}"#
        )
    );
    let (stanza, message) = stored(ADMIN, "A3", ".mute");
    assert!(
        bot.on_stored(&stanza, &message, NOW).len() == 1,
        "on_stored keeps the messages"
    );
}

#[test]
fn the_owner_is_exempt_from_the_rate_limit() {
    let fake = Fake::with_group(true);
    let mut bot = Bot::new(
        commands(&fake),
        BotConfig {
            rate_limit_per_min: 1,
            rate_limit_senders_max: 100,
        },
    );
    for n in 0..5 {
        let (stanza, message) = stored(OWNER, &format!("O{n}"), ".ping");
        assert_eq!(
            bodies(&bot.handle_stored(&stanza, &message, NOW).outbox),
            ["Pong! 100000 ms"],
            "ping {n}"
        );
    }
    let mut answered = Vec::new();
    for n in 0..3 {
        let (stanza, message) = stored(MEMBER, &format!("M{n}"), ".ping");
        answered.push(bodies(&bot.handle_stored(&stanza, &message, NOW).outbox));
    }
    assert_eq!(answered[0], ["Pong! 100000 ms"]);
    assert_eq!(answered[1], [crate::dispatch::RATE_LIMIT_NOTICE]);
    assert!(answered[2].is_empty());
}

#[test]
fn the_rate_limit_holds_back_answers_but_not_effects() {
    let fake = Fake::with_group(true);
    let mut bot = Bot::new(
        commands(&fake),
        BotConfig {
            rate_limit_per_min: 1,
            rate_limit_senders_max: 100,
        },
    );
    let (stanza, message) = stored(ADMIN, "K1", ".mute");
    let first = bot.handle_stored(&stanza, &message, NOW);
    assert_eq!((first.outbox.len(), first.effects.len()), (1, 1));
    let (stanza, message) = stored(ADMIN, "K2", ".unmute");
    let second = bot.handle_stored(&stanza, &message, NOW);
    assert_eq!(bodies(&second.outbox), [crate::dispatch::RATE_LIMIT_NOTICE]);
    assert_eq!(
        second.effects,
        [Action::Group {
            group: group_jid(),
            change: GroupChange::Announce {
                state: crate::commands::Toggle::Off
            },
            done: None,
        }],
        "an admin's unmute is done even when its answer is held back"
    );
}

#[test]
fn a_setting_change_hands_the_settings_to_store_and_a_restore_brings_them_back() {
    let fake = Fake::with_group(true);
    let rules = AutoReplies::parse("", "t").expect("parses");
    let mut bot = Bot::new(Either(rules, commands(&fake)), BotConfig::default());
    let (stanza, message) = stored(OWNER, "S1", ".ping");
    assert_eq!(
        bot.handle_stored(&stanza, &message, NOW).settings,
        None,
        "nothing changed: nothing to store"
    );
    let (stanza, message) = stored(OWNER, "S2", ".setprefix #");
    let handled = bot.handle_stored(&stanza, &message, NOW);
    let json = handled.settings.expect("the settings, to store");
    let kept = Settings::from_json(&json).expect("reads back");
    assert_eq!(kept.prefixes.as_ref().map(Prefixes::as_str), Some("#"));

    // The next process: defaults until the store's settings come back.
    let rules = AutoReplies::parse("", "t").expect("parses");
    let mut next = Bot::new(Either(rules, commands(&fake)), BotConfig::default());
    let (stanza, message) = stored(OWNER, "S3", "#ping");
    assert!(next.handle_stored(&stanza, &message, NOW).outbox.is_empty());
    next.restore_settings(kept);
    let (stanza, message) = stored(OWNER, "S4", "#ping");
    assert_eq!(
        bodies(&next.handle_stored(&stanza, &message, NOW).outbox),
        ["Pong! 100000 ms"]
    );
}

#[test]
fn the_linked_account_reaches_the_commands_through_the_bot() {
    let fake = Fake::with_group(true);
    let mut config = config(Language::En);
    config.account = Account::default();
    config.owners = Owners::default();
    let commands = Commands::with_builtins(config, Settings::default(), fake.clone(), fake.clone())
        .expect("registers");
    let mut bot = Bot::new(commands, BotConfig::default());
    let (stanza, message) = stored(BOT, "L1", ".restart");
    let before = bot.handle_stored(&stanza, &message, NOW);
    assert!(before.effects.is_empty(), "not the owner yet");
    bot.linked_account(Account {
        pn: Some(pn(BOT)),
        lid: None,
    });
    let (stanza, message) = stored(BOT, "L2", ".restart");
    let after = bot.handle_stored(&stanza, &message, NOW);
    assert_eq!(after.effects, [Action::Owner(OwnerControl::Restart)]);
}

#[test]
fn a_stored_group_notice_is_welcomed_once_welcome_is_on() {
    let fake = Fake::with_group(true);
    let mut bot = Bot::new(commands(&fake), BotConfig::default());
    let (stanza, message) = stored(ADMIN, "W1", ".welcome on");
    let on = bot.handle_stored(&stanza, &message, NOW);
    assert_eq!(bodies(&on.outbox), ["New members will be welcomed."]);
    let notice = Node::new("notification")
        .with_attr("from", group_jid())
        .with_attr("type", "w:gp2")
        .with_attr("id", "N1")
        .with_attr("participant", pn(ADMIN))
        .with_children(vec![
            Node::new("add").with_child(Node::new("participant").with_attr("jid", pn(OTHER))),
        ]);
    let welcomed = bot.handle_group_notice(&encode(&notice).expect("encodes"), NOW);
    assert_eq!(bodies(&welcomed).len(), 1, "{:?}", bodies(&welcomed));
}
