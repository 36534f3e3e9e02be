//! The promise of the client issue, with the real binaries over real
//! sockets: link once by QR, stop with SIGTERM, start again, and log in
//! with no new QR.

use std::time::Duration;

use blacksky_tests::{FakeWa, Stream, inbox_ids, start_blacksky};

const WAIT: Duration = Duration::from_secs(30);

fn device(state: &serde_json::Value) -> Option<&serde_json::Value> {
    state["devices"].as_array()?.first()
}

fn flag(state: &serde_json::Value, key: &str) -> bool {
    device(state).is_some_and(|d| d[key].as_bool() == Some(true))
}

#[test]
fn links_by_qr_then_logs_in_again_after_sigterm_without_a_qr() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");

    let mut bot = start_blacksky(&wa, home.path(), &[]);
    let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    let text = qr.trim_start_matches("qr: ").to_owned();
    assert!(
        text.starts_with("https://wa.me/settings/linked_devices#"),
        "{text}"
    );
    wa.post("/scan", &text);
    let state = wa.wait_state(WAIT, "paired, logged in and active", |s| {
        flag(s, "paired") && flag(s, "logged_in") && flag(s, "passive_active")
    });
    let jid = device(&state)
        .and_then(|d| d["jid"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(jid.starts_with("491556123456:"), "{state:#}");
    bot.expect_line(WAIT, "online log line", |_, l| l.contains("online"));

    bot.signal("TERM");
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", bot.transcript()));
    assert!(
        status.success(),
        "exit status {status:?}:\n{}",
        bot.transcript()
    );
    let logins_before = device(&wa.state())
        .and_then(|d| d["logins"].as_u64())
        .unwrap_or_default();

    let mut again = start_blacksky(&wa, home.path(), &[]);
    wa.wait_state(WAIT, "a second login", |s| {
        device(s)
            .and_then(|d| d["logins"].as_u64())
            .unwrap_or_default()
            > logins_before
            && flag(s, "logged_in")
            && flag(s, "passive_active")
    });
    again.expect_line(WAIT, "online log line", |_, l| l.contains("online"));
    again.drain();
    assert!(
        !again.saw(|_, l| l.starts_with("qr: ")),
        "a restart must not ask for a QR:\n{}",
        again.transcript()
    );
    let state = wa.state();
    assert_eq!(
        state["devices"].as_array().map(Vec::len),
        Some(1),
        "no second device was registered: {state:#}"
    );
    assert_eq!(
        device(&state).and_then(|d| d["jid"].as_str()),
        Some(jid.as_str())
    );
}

#[test]
fn links_by_pairing_code() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(&wa, home.path(), &[("PAIRING_NUMBER", "+49 1556 123456")]);
    let line = bot.expect_line(WAIT, "pairing code line", |s, l| {
        s == Stream::Stdout && l.starts_with("pairing code: ")
    });
    let code = line.trim_start_matches("pairing code: ").to_owned();
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");
    assert_eq!(code.as_bytes()[4], b'-');
    wa.post("/code", &code);
    wa.wait_state(WAIT, "paired by code and active", |s| {
        flag(s, "paired") && flag(s, "passive_active")
    });
}

#[test]
fn a_message_is_stored_before_it_is_acked() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    wa.post("/scan", qr.trim_start_matches("qr: "));
    wa.wait_state(WAIT, "active", |s| flag(s, "passive_active"));
    let sent = wa.post("/send?from=15550001111", "hello");
    let id = sent["id"].as_str().expect("message id").to_owned();
    wa.wait_state(WAIT, "the message acked", |s| {
        s["messages"]["acked"].as_u64() == Some(1)
    });
    let stored = inbox_ids(home.path());
    assert!(
        stored.contains(&id),
        "acked message {id} is in the inbox: {stored:?}"
    );
}

/// Phone numbers and JIDs in the log are cut to their last three digits
/// unless LOG_FULL_JIDS is on: the bot's own number (linked as
/// 491556123456) and a sender's (15550001111).
#[test]
fn phones_and_jids_are_masked_in_logs_unless_log_full_jids() {
    for full in [false, true] {
        let wa = FakeWa::start();
        let home = tempfile::tempdir().expect("temp dir");
        let env: &[(&str, &str)] = if full {
            &[("LOG_FULL_JIDS", "true")]
        } else {
            &[]
        };
        let mut bot = start_blacksky(&wa, home.path(), env);
        let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
            s == Stream::Stdout && l.starts_with("qr: ")
        });
        wa.post("/scan", qr.trim_start_matches("qr: "));
        wa.wait_state(WAIT, "active", |s| flag(s, "passive_active"));
        wa.post("/send?from=15550001111", "hello");
        bot.expect_line(WAIT, "message stored line", |_, l| {
            l.contains("message stored")
        });
        bot.drain();
        let transcript = bot.transcript();
        assert!(
            bot.saw(|_, l| l.contains("logged in")),
            "the login (with the bot's JID) is logged:\n{transcript}"
        );
        for number in ["15550001111", "491556123456"] {
            assert_eq!(
                transcript.contains(number),
                full,
                "{number} in the log with LOG_FULL_JIDS={full}:\n{transcript}"
            );
        }
        if !full {
            assert!(
                transcript.contains("…111@s.whatsapp.net"),
                "the masked sender is still there to tell senders apart:\n{transcript}"
            );
        }
    }
}
