use blacksky_core::client::groups::notification::GroupChange;
use blacksky_core::wire::binary::{Jid, Node, encode};
use blacksky_proto::wa;
use prost::Message as _;

use super::*;
use crate::{AutoReplies, Silent};

const NOW: UnixMillis = UnixMillis(1_700_000_100_000);

fn stored(from: &str, id: &str, message: &wa::Message) -> (Vec<u8>, Vec<u8>) {
    let node = Node::new("message")
        .with_attr("from", Jid::ad(from.to_owned(), 0, 0))
        .with_attr("id", id.to_owned())
        .with_attr("t", "1700000000");
    (encode(&node).expect("encodes"), message.encode_to_vec())
}

fn text(body: &str) -> wa::Message {
    wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    }
}

fn pinger() -> Bot<AutoReplies> {
    let rules = AutoReplies::parse(
        "[[reply]]\nmatch = '^ping (\\d+)$'\ntext = 'pong $1'\n",
        "t",
    )
    .expect("parses");
    Bot::new(
        rules,
        BotConfig {
            rate_limit_per_min: 2,
            rate_limit_senders_max: 100,
        },
    )
}

fn answers(bot: &mut Bot<impl Handler>, from: &str, id: &str, body: &str) -> Vec<String> {
    let (stanza, message) = stored(from, id, &text(body));
    bot.on_stored(&stanza, &message, NOW)
        .into_iter()
        .map(|entry| {
            let message = wa::Message::decode(entry.payload.as_slice()).expect("decodes");
            let body = message
                .conversation
                .or_else(|| message.extended_text_message.and_then(|e| e.text))
                .unwrap_or_default();
            format!("{} {body}", entry.to)
        })
        .collect()
}

#[test]
fn an_auto_reply_goes_to_the_chat_without_a_device() {
    let mut bot = pinger();
    assert_eq!(
        answers(&mut bot, "15550001111", "A1", "ping 7"),
        ["15550001111@s.whatsapp.net pong 7"]
    );
    assert_eq!(
        answers(&mut bot, "15550001111", "A2", "hello"),
        Vec::<String>::new()
    );
}

#[test]
fn past_the_rate_limit_one_notice_then_silence_and_others_unaffected() {
    let mut bot = pinger();
    let mut got = Vec::new();
    for n in 0..5 {
        got.push(answers(
            &mut bot,
            "15550001111",
            &format!("B{n}"),
            &format!("ping {n}"),
        ));
    }
    assert_eq!(got[0], ["15550001111@s.whatsapp.net pong 0"]);
    assert_eq!(got[1], ["15550001111@s.whatsapp.net pong 1"]);
    assert_eq!(
        got[2],
        [format!("15550001111@s.whatsapp.net {RATE_LIMIT_NOTICE}")]
    );
    assert!(got[3].is_empty() && got[4].is_empty(), "{got:?}");
    assert_eq!(bot.limited_total(), 3);
    assert_eq!(
        answers(&mut bot, "15550002222", "C1", "ping 9"),
        ["15550002222@s.whatsapp.net pong 9"]
    );
}

#[test]
fn a_handler_that_panics_costs_its_message_no_more() {
    let mut bot = Bot::new(
        |message: &Incoming, ctx: &mut Context| {
            if message.content.text() == Some("boom") {
                panic!("the handler's own bug");
            }
            ctx.reply("fine");
        },
        BotConfig::default(),
    );
    assert!(answers(&mut bot, "15550001111", "D1", "boom").is_empty());
    assert_eq!(bot.panics_total(), 1);
    assert_eq!(
        answers(&mut bot, "15550001111", "D2", "next"),
        ["15550001111@s.whatsapp.net fine"]
    );
}

#[test]
fn the_protocols_own_messages_reach_no_handler() {
    let mut bot = Bot::new(
        |_: &Incoming, ctx: &mut Context| ctx.reply("should not"),
        BotConfig::default(),
    );
    let key_share = wa::Message {
        protocol_message: Some(Box::default()),
        ..Default::default()
    };
    let (stanza, message) = stored("15550001111", "E1", &key_share);
    assert!(bot.on_stored(&stanza, &message, NOW).is_empty());
    let mut silent = Bot::new(Silent, BotConfig::default());
    assert!(answers(&mut silent, "15550001111", "E2", "hi").is_empty());
}

#[test]
fn replies_reactions_and_sends_come_out_in_order() {
    let mut bot = Bot::new(
        |_: &Incoming, ctx: &mut Context| {
            ctx.react("👍");
            ctx.reply(Reply::text("quoted").quoting());
            ctx.send(&Jid::new("120363000000000009", "g.us"), "to a group");
        },
        BotConfig::default(),
    );
    let (stanza, message) = stored("15550001111", "F1", &text("hi"));
    let entries = bot.on_stored(&stanza, &message, NOW);
    let to: Vec<&str> = entries.iter().map(|e| e.to.as_str()).collect();
    assert_eq!(
        to,
        [
            "15550001111@s.whatsapp.net",
            "15550001111@s.whatsapp.net",
            "120363000000000009@g.us"
        ]
    );
    let first = wa::Message::decode(entries[0].payload.as_slice()).expect("decodes");
    assert!(first.reaction_message.is_some());
    let second = wa::Message::decode(entries[1].payload.as_slice()).expect("decodes");
    let quoted = second
        .extended_text_message
        .and_then(|e| e.context_info)
        .and_then(|c| c.stanza_id);
    assert_eq!(quoted.as_deref(), Some("F1"));
}

#[test]
fn a_mention_of_the_bot_is_flagged_and_others_are_not() {
    let mut bot = Bot::new(
        |_: &Incoming, ctx: &mut Context| {
            if ctx.mentions_bot() {
                ctx.reply("you called?");
            }
        },
        BotConfig::default(),
    );
    bot.linked_account(Account {
        pn: Some(Jid::new("15550009999", "s.whatsapp.net")),
        lid: Some(Jid::new("8888", "lid")),
    });
    let mentioning = |who: &str| wa::Message {
        extended_text_message: Some(Box::new(wa::message::ExtendedTextMessage {
            text: Some("hey".into()),
            context_info: Some(Box::new(wa::ContextInfo {
                mentioned_jid: vec![who.to_owned()],
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    };
    for (id, who, answered) in [
        ("M1", "15550009999@s.whatsapp.net", true),
        ("M2", "8888@lid", true),
        ("M3", "15550001234@s.whatsapp.net", false),
    ] {
        let (stanza, message) = stored("15550001111", id, &mentioning(who));
        let out = bot.on_stored(&stanza, &message, NOW);
        assert_eq!(!out.is_empty(), answered, "{who}");
    }
}

#[test]
fn a_group_notice_reaches_the_handler_one_typed_change_at_a_time() {
    struct Greeter;
    impl Handler for Greeter {
        fn on_message(&mut self, _: &Incoming, _: &mut Context) {}
        fn on_group_event(&mut self, event: &GroupEvent, ctx: &mut Context) {
            let said = match (&event.change, event.membership()) {
                (_, Some((membership, who))) => {
                    let names: Vec<&str> = who.iter().map(|p| p.user()).collect();
                    format!("{membership:?} {}", names.join(","))
                }
                (GroupChange::Subject(subject), None) => format!("subject {subject}"),
                (GroupChange::Promoted(who), None) => format!("promoted {}", who[0].user()),
                (other, None) => format!("{other:?}"),
            };
            let by = event.actor.as_ref().map_or("?", |actor| actor.user());
            ctx.reply(format!("{said} by {by}"));
        }
    }
    let mut bot = Bot::new(Greeter, BotConfig::default());
    let member = |user: &str| {
        Node::new("participant").with_attr("jid", Jid::new(user.to_owned(), "s.whatsapp.net"))
    };
    let notice = Node::new("notification")
        .with_attr("from", Jid::new("120363000000000001", "g.us"))
        .with_attr("type", "w:gp2")
        .with_attr("id", "N1")
        .with_attr("participant", Jid::new("15550001111", "s.whatsapp.net"))
        .with_children(vec![
            Node::new("add").with_child(member("15550002222")),
            Node::new("promote").with_child(member("15550002222")),
            Node::new("subject").with_attr("subject", "Tea"),
            Node::new("announcement"),
        ]);
    let out = bot.handle_group_notice(&encode(&notice).expect("encodes"), NOW);
    let texts: Vec<String> = out
        .iter()
        .map(|entry| {
            let message = wa::Message::decode(entry.payload.as_slice()).expect("decodes");
            format!("{} {}", entry.to, message.conversation.unwrap_or_default())
        })
        .collect();
    assert_eq!(
        texts,
        [
            "120363000000000001@g.us Added 15550002222 by 15550001111",
            "120363000000000001@g.us promoted 15550002222 by 15550001111",
            "120363000000000001@g.us subject Tea by 15550001111",
            "120363000000000001@g.us Announce(true) by 15550001111",
        ]
    );
    assert!(bot.handle_group_notice(b"\0not a stanza", NOW).is_empty());
}
