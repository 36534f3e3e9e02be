use blacksky_core::wire::binary::{Jid, Node, encode};
use blacksky_proto::wa;
use prost::Message as _;

use super::*;

const FILE: &str = "auto-replies.toml";

fn message(chat: Jid, body: &str) -> Incoming {
    let mut node = Node::new("message")
        .with_attr("id", "3EB0AAAA")
        .with_attr("t", "1700000000");
    if chat.server() == "g.us" {
        node = node.with_attr("participant", Jid::new("15550001111", "s.whatsapp.net"));
    }
    let node = node.with_attr("from", chat);
    let raw = wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    }
    .encode_to_vec();
    Incoming::read(&encode(&node).expect("encodes"), &raw).expect("reads")
}

fn private(body: &str) -> Incoming {
    message(Jid::new("15550001111", "s.whatsapp.net"), body)
}

fn group(body: &str) -> Incoming {
    message(Jid::new("120363000000000001", "g.us"), body)
}

fn refused(text: &str) -> String {
    AutoReplies::parse(text, FILE)
        .expect_err("refused")
        .to_string()
}

#[test]
fn the_first_matching_rule_answers_with_its_groups() {
    let rules = AutoReplies::parse(
        r#"
        [[reply]]
        match = '^ping (\d+)$'
        text = 'pong $1'

        [[reply]]
        match = '^(?i)hello (?P<who>\w+)'
        text = 'hi ${who}, that is $$5'
        quote = true

        [[reply]]
        match = 'ping'
        text = 'never: the first rule took it'
        "#,
        FILE,
    )
    .expect("parses");
    assert_eq!(rules.len(), 3);
    let pong = rules.answer(&private("ping 42")).expect("answers");
    assert_eq!(pong, Reply::text("pong 42"));
    let hi = rules.answer(&private("HELLO Ana")).expect("answers");
    assert_eq!(hi, Reply::text("hi Ana, that is $5").quoting());
    let third = rules.answer(&private("a ping")).expect("answers");
    assert_eq!(third.text, "never: the first rule took it");
    assert_eq!(rules.answer(&private("nothing here")), None);
}

#[test]
fn chats_limit_where_a_rule_answers() {
    let rules = AutoReplies::parse(
        r#"
        [[reply]]
        match = '^rules$'
        text = 'group rules'
        chats = "groups"

        [[reply]]
        match = '^rules$'
        text = 'ask in the group'
        chats = "private"
        "#,
        FILE,
    )
    .expect("parses");
    assert_eq!(
        rules.answer(&group("rules")).map(|r| r.text).as_deref(),
        Some("group rules")
    );
    assert_eq!(
        rules.answer(&private("rules")).map(|r| r.text).as_deref(),
        Some("ask in the group")
    );
}

#[test]
fn an_empty_file_answers_nothing() {
    let rules = AutoReplies::parse("", FILE).expect("parses");
    assert!(rules.is_empty());
    assert_eq!(rules.answer(&private("ping 1")), None);
}

#[test]
fn a_bad_pattern_names_the_file_the_rule_and_the_problem() {
    let err = refused(
        r#"
        [[reply]]
        match = 'ok'
        text = 'fine'

        [[reply]]
        match = '^ping ('
        text = 'pong'
        "#,
    );
    assert!(err.starts_with("auto-reply file auto-replies.toml: rule 2 (match = \"^ping (\"): the pattern does not compile"), "{err}");
}

#[test]
fn every_mistake_is_named() {
    let cases = [
        (
            "[[reply]]\nmatch = 'a'\ntext = 'b'\nchats = 'dms'\n",
            "rule 1",
            "dms",
        ),
        ("[[reply]]\nmatch = 'a'\n", "rule 1", "text"),
        (
            "[[reply]]\nmatch = 'a'\ntext = 'b'\nqoute = true\n",
            "rule 1",
            "qoute",
        ),
        ("[[reply]]\nmatch = 'a'\ntext = '  '\n", "rule 1", "empty"),
        (
            "[[reply]]\nmatch = 'a(b)'\ntext = 'x $2'\n",
            "rule 1",
            "has 1 group",
        ),
        (
            "[[reply]]\nmatch = '(a)'\ntext = '$1st'\n",
            "rule 1",
            "write ${1}",
        ),
        (
            "[[reply]]\nmatch = '(a)'\ntext = 'costs $ 5'\n",
            "rule 1",
            "$$",
        ),
        (
            "[[reply]]\nmatch = '(?P<x>a)'\ntext = '${y}'\n",
            "rule 1",
            "uses $y",
        ),
        (
            "[[reply]]\nmatch = 'a'\ntext = 'b'\n[settings]\n",
            "",
            "unknown key `settings`",
        ),
        ("reply = 'x'\n", "", "[[reply]]"),
        (
            "[[reply]\nmatch = 'a'\n",
            "",
            "auto-reply file auto-replies.toml: ",
        ),
    ];
    for (text, rule, problem) in cases {
        let err = refused(text);
        assert!(
            err.contains(rule) && err.contains(problem),
            "{text:?} gave {err}"
        );
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = AutoReplies::load(Path::new("/nonexistent/auto-replies.toml"))
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("/nonexistent/auto-replies.toml") && err.contains("cannot be read"),
        "{err}"
    );
}
