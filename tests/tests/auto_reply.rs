//! The auto-reply round trip with the real binary and `fake-wa` over real
//! sockets: contacts (real Signal stacks inside fake-wa, writing from
//! their phone number or from their LID) send `ping n`; the rule of
//! `auto-replies.toml` answers `pong n`; each contact decrypts every pong.
//! Live, across SIGTERM (pings queued while the bot is down), and across
//! kill -9 at random moments: no pong lost, none answered twice (a pong
//! resent after a crash has the same id: WhatsApp shows it once), and
//! nothing a real server or contact would refuse.
//!
//! The kill moments come from a seed, printed; `SEED=n` replays a run.

use std::time::{Duration, Instant};

use blacksky_tests::{
    FakeWa, Moments, Proc, Stream, assert_no_violations, http_get_json, http_port,
    linked_ping_pong, ping, pongs, read_by, seen_or_wait, start_blacksky, wait_for_pongs,
};

const WAIT: Duration = Duration::from_secs(60);
const PN_CONTACT: &str = "4915112345678";
const LID_CONTACT: &str = "4915187654321";

fn stop(bot: &mut Proc, signal: &str) {
    bot.signal(signal);
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after SIG{signal}:\n{}", bot.transcript()));
    if signal == "TERM" {
        assert!(status.success(), "{status:?}:\n{}", bot.transcript());
    }
}

#[test]
fn contacts_by_number_and_by_lid_get_their_pongs() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot) = linked_ping_pong(home.path(), &[]);
    for n in 1..=5 {
        ping(&wa, PN_CONTACT, false, n);
        ping(&wa, LID_CONTACT, true, n);
    }
    wait_for_pongs(&wa, &bot, PN_CONTACT, &pongs(1..=5));
    wait_for_pongs(&wa, &bot, LID_CONTACT, &pongs(1..=5));
    assert_no_violations(&wa);
    // The phone got its copy of what this device said (DSM), per chat.
    let own = wa.state()["phone"]
        .as_str()
        .expect("the account's number")
        .to_owned();
    let copies = read_by(&wa, &own);
    assert!(
        copies.contains_key("pong 5"),
        "the phone's copies: {copies:?}"
    );
    // The operator sees them: /stats counts what the server acked.
    let port = http_port(&mut bot);
    let deadline = Instant::now() + WAIT;
    while http_get_json(port, "/stats")["messages"]["sent"]["total"].as_u64() < Some(10) {
        assert!(Instant::now() < deadline, "/stats never counted 10 sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(&mut bot, "TERM");
}

#[test]
fn pings_sent_while_the_bot_is_down_are_answered_after_sigterm() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot) = linked_ping_pong(home.path(), &[]);
    ping(&wa, PN_CONTACT, false, 1);
    wait_for_pongs(&wa, &bot, PN_CONTACT, &pongs(1..=1));
    stop(&mut bot, "TERM");
    for n in 2..=6 {
        ping(&wa, PN_CONTACT, false, n);
        ping(&wa, LID_CONTACT, true, n);
    }
    let bot = start_blacksky(&wa, home.path(), &[]);
    wait_for_pongs(&wa, &bot, PN_CONTACT, &pongs(1..=6));
    wait_for_pongs(&wa, &bot, LID_CONTACT, &pongs(2..=6));
    assert_no_violations(&wa);
}

#[test]
fn kill_9_at_random_moments_loses_no_pong_and_answers_none_twice() {
    let mut moments = Moments::from_env("kill -9 round trip");
    let home = tempfile::tempdir().expect("temp dir");
    // No rate limit: this test sends more than 30 pings a minute.
    let env = [("RATE_LIMIT_PER_MIN", "0")];
    let (wa, mut bot) = linked_ping_pong(home.path(), &env);
    let mut sent = 0;
    for round in 0..8 {
        for _ in 0..4 {
            sent += 1;
            ping(&wa, PN_CONTACT, false, sent);
            ping(&wa, LID_CONTACT, true, sent);
        }
        // Killed while it stores, answers, seals or sends.
        std::thread::sleep(Duration::from_millis(moments.next_ms(400)));
        bot.signal("KILL");
        bot.wait_exit(WAIT)
            .unwrap_or_else(|| panic!("round {round}: no exit after SIGKILL"));
        bot = start_blacksky(&wa, home.path(), &env);
        bot.expect_line(WAIT, "logged in again", |_, l| l.contains("logged in"));
    }
    wait_for_pongs(&wa, &bot, PN_CONTACT, &pongs(1..=sent));
    wait_for_pongs(&wa, &bot, LID_CONTACT, &pongs(1..=sent));
    assert_no_violations(&wa);
    // Stated, not hidden: a pong whose ack the kill cut off goes out again
    // with its id and bytes; the contact's phone opens it once.
    let resent: u64 = wa
        .get(&format!("/received?from={PN_CONTACT}"))
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["copies"].as_u64().unwrap_or(1).saturating_sub(1))
        .sum();
    eprintln!(
        "{sent} pings per contact, 8 kills: every pong read once; {resent} resent copies (same id, same bytes)"
    );
    stop(&mut bot, "TERM");
}

#[test]
fn past_the_rate_limit_a_sender_gets_one_notice_then_silence() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot) = linked_ping_pong(home.path(), &[("RATE_LIMIT_PER_MIN", "3")]);
    for n in 1..=6 {
        ping(&wa, PN_CONTACT, false, n);
    }
    ping(&wa, LID_CONTACT, true, 1);
    wait_for_pongs(&wa, &bot, LID_CONTACT, &pongs(1..=1));
    let deadline = Instant::now() + WAIT;
    let read = loop {
        let read = read_by(&wa, PN_CONTACT);
        if read.len() >= 4 || Instant::now() > deadline {
            break read;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let texts: Vec<&str> = read.keys().map(String::as_str).collect();
    assert_eq!(
        texts,
        [
            "You are sending faster than I answer: I will answer again in a minute.",
            "pong 1",
            "pong 2",
            "pong 3"
        ],
        "three pongs and one notice:\n{}",
        bot.transcript()
    );
    seen_or_wait(&mut bot, "the log line saying why", |_, l| {
        l.contains("RATE_LIMIT_PER_MIN")
    });
    stop(&mut bot, "TERM");
}

#[test]
fn a_bad_auto_reply_file_stops_the_start_naming_the_rule() {
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        home.path().join("auto-replies.toml"),
        "[[reply]]\nmatch = 'ok'\ntext = 'fine'\n\n[[reply]]\nmatch = '^ping ('\ntext = 'pong'\n",
    )
    .expect("write");
    let wa = FakeWa::start();
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    let status = bot.wait_exit(WAIT).expect("exits");
    assert_eq!(status.code(), Some(2), "{}", bot.transcript());
    assert!(
        bot.saw(|s, l| s == Stream::Stderr
            && l.contains("auto-reply file ./auto-replies.toml: rule 2 (match = \"^ping (\")")
            && l.contains("does not compile")),
        "{}",
        bot.transcript()
    );
    // AUTO_REPLY_FILE names a file that is not there: named too.
    let mut bot = start_blacksky(&wa, home.path(), &[("AUTO_REPLY_FILE", "missing.toml")]);
    let status = bot.wait_exit(WAIT).expect("exits");
    assert_eq!(status.code(), Some(2), "{}", bot.transcript());
    assert!(
        bot.saw(|_, l| l.contains("missing.toml") && l.contains("cannot be read")),
        "{}",
        bot.transcript()
    );
}
