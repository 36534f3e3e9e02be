//! Poison end to end: the real `blacksky` against `fake-wa`, whose
//! `/poison` control sends stanzas a client cannot use and sends them
//! again at every login until they are answered (as WhatsApp's offline
//! queue does). The bot answers what it can (a nack for a message that
//! can never be read, an ack for a notification), skips the rest, counts
//! each in /metrics, and stays online: no reconnect loop.

use std::time::{Duration, Instant};

use blacksky_tests::{flag, http_get, http_port, inbox_texts, linked_bot, logins};

const WAIT: Duration = Duration::from_secs(15);
const FAST_BACKOFF: [(&str, &str); 2] = [("RECONNECT_BASE_MS", "50"), ("RECONNECT_MAX_MS", "200")];

/// The answer fake-wa got for the poison of `kind`.
fn answer(poison: &serde_json::Value, kind: &str) -> Option<String> {
    poison["sent"]
        .as_array()?
        .iter()
        .find(|sent| sent["kind"] == kind)
        .and_then(|sent| sent["answer"].as_str())
        .map(str::to_owned)
}

/// `blacksky_stanzas_ignored_total{kind="…"}` from the bot's /metrics.
fn ignored(port: u16, kind: &str) -> Option<u64> {
    let (_, body) = http_get(port, "/metrics");
    let prefix = format!("blacksky_stanzas_ignored_total{{kind=\"{kind}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what} not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn poison_is_answered_or_skipped_and_the_bot_stays_online() {
    let (wa, home, mut bot) = linked_bot(&FAST_BACKOFF);
    let port = http_port(&mut bot);
    let before = logins(&wa.state());
    for kind in [
        "message-without-id",
        "undecodable",
        "message-unreadable",
        "count-notification",
    ] {
        let sent = wa.post(&format!("/poison?kind={kind}"), "");
        assert_eq!(
            sent["sent_to"].as_array().map(Vec::len),
            Some(1),
            "{kind}: {sent}"
        );
    }
    wait_until("the poison answered", || {
        let poison = wa.get("/poison");
        answer(&poison, "message-unreadable").as_deref() == Some("nack 487")
            && answer(&poison, "count-notification").as_deref() == Some("ack")
    });
    // A contact's message after the poison is stored and acked as ever.
    let id = wa.post("/send?from=15550003333", "after the poison")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    wa.wait_state(WAIT, "the message acked", |s| {
        s["messages"]["list"]
            .as_array()
            .is_some_and(|list| list.iter().any(|m| m["id"] == id && m["acked"] == true))
    });
    wait_until("the skipped stanzas counted", || {
        ignored(port, "message_without_id") == Some(1)
            && ignored(port, "undecodable_stanza") == Some(1)
            && ignored(port, "pre_key_count_notification_without_value") == Some(1)
    });

    // From now on the pre-key count answer has no value; the connection is
    // dropped so the bot asks at its next login, and meets the two
    // unanswerable stanzas again there.
    wa.post("/poison?kind=count-answer", "");
    wa.wait_state(WAIT, "the login after the drop", |s| {
        logins(s) == before + 1 && flag(s, "passive_active")
    });
    wait_until("the second login's poison skipped", || {
        ignored(port, "pre_key_count_answer_without_value") == Some(1)
            && ignored(port, "message_without_id") == Some(2)
            && ignored(port, "undecodable_stanza") == Some(2)
    });
    // Many fast backoffs' worth of time: a bot that hung up on poison
    // would have logged in again and again by now.
    std::thread::sleep(Duration::from_secs(3));
    let state = wa.state();
    assert_eq!(logins(&state), before + 1, "{state:#}");
    assert!(flag(&state, "passive_active"), "{state:#}");
    assert_eq!(wa.get("/poison")["count_answers_sent"].as_u64(), Some(1));
    assert!(
        bot.wait_exit(Duration::from_millis(1)).is_none(),
        "the bot exited:\n{}",
        bot.transcript()
    );
    bot.signal("TERM");
    assert!(bot.wait_exit(WAIT).is_some_and(|s| s.success()));
    let stored = inbox_texts(home.path());
    assert!(
        stored.iter().any(|(_, text)| text.contains("unknown type")),
        "the unreadable message is recorded: {stored:?}"
    );
    assert!(
        stored.contains(&(id, "after the poison".to_owned())),
        "{stored:?}"
    );
    // Past the restart that follows linking: the one drop fake-wa made,
    // none of the bot's own.
    let transcript = bot.transcript();
    let disconnects: Vec<&str> = transcript
        .lines()
        .filter(|line| line.contains("disconnected") && !line.contains("515"))
        .collect();
    assert_eq!(disconnects.len(), 1, "{transcript}");
    assert!(disconnects[0].contains("428"), "{transcript}");
}
