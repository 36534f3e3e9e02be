//! A store outage with the real binary: the inbox table goes away under a
//! running bot; the connection stays up, messages are not acked; the table
//! comes back; every message is stored decrypted and acked, none lost.

use std::time::Duration;

use blacksky_tests::{FakeWa, Stream, inbox_texts, sqlite_exec, start_blacksky};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn messages_wait_out_a_store_outage_unacked_and_land_after_it() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    wa.post("/scan", qr.trim_start_matches("qr: "));
    bot.expect_line(WAIT, "online", |_, l| l.contains("online"));

    sqlite_exec(home.path(), "ALTER TABLE inbox RENAME TO inbox_away");
    // A 1:1 text, a second one, and a group text: each moves the bot's
    // Signal state on in memory while the store cannot take it.
    let sent: Vec<(String, String)> = (0..3)
        .map(|n| {
            let text = format!("during the outage {n}");
            let path = if n == 2 {
                "/send?from=15550001111&group=120363000000000001"
            } else {
                "/send?from=15550001111"
            };
            let id = wa.post(path, &text)["id"].as_str().expect("id").to_owned();
            (id, text)
        })
        .collect();
    bot.expect_line(WAIT, "store down", |_, l| l.contains("store down"));
    std::thread::sleep(Duration::from_millis(1500));
    let state = wa.state();
    assert_eq!(
        state["messages"]["acked"].as_u64(),
        Some(0),
        "nothing acked while the store is down: {state:#}"
    );
    assert!(
        state["devices"][0]["logged_in"].as_bool() == Some(true),
        "the connection stays up: {state:#}"
    );

    sqlite_exec(home.path(), "ALTER TABLE inbox_away RENAME TO inbox");
    bot.expect_line(WAIT, "store recovered", |_, l| {
        l.contains("store recovered")
    });
    wa.wait_state(WAIT, "every message acked", |s| {
        s["messages"]["acked"].as_u64() == Some(3)
    });
    let stored = inbox_texts(home.path());
    for message in &sent {
        assert!(
            stored.contains(message),
            "{message:?} stored decrypted: {stored:?}"
        );
    }
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(
        bot.transcript().matches("store down").count(),
        1,
        "said once:\n{}",
        bot.transcript()
    );
}
