//! The built-in commands with the real binary and `fake-wa`: a contact's
//! `.menu` and `.ping` are answered in a 1:1 chat, `.restart` by someone
//! who is not the owner is refused once; the owner (`OWNER_NUMBER`)
//! changes the prefix and the language, and both survive a SIGTERM and a
//! new start (they are in the store); `.backup` answers with the
//! snapshot's generation; `.restart` ends the process as a planned
//! restart (exit 75), and the next start does not restart again.

use std::time::{Duration, Instant};

use blacksky_tests::{FakeWa, Proc, assert_no_violations, linked_bot, read_by, start_blacksky};

const WAIT: Duration = Duration::from_secs(60);
const CONTACT: &str = "4915112345678";
const OWNER: &str = "4915199990000";
/// The keeper's exit code for a planned restart.
const PLANNED_RESTART: i32 = 75;

fn say(wa: &FakeWa, phone: &str, text: &str) {
    wa.post(&format!("/send?from={phone}&as=pn"), text);
}

/// The texts `phone` read from the bot, with how many messages each came
/// as.
fn texts(wa: &FakeWa, phone: &str) -> Vec<(String, usize)> {
    read_by(wa, phone)
        .into_iter()
        .map(|(text, ids)| (text, ids.len()))
        .collect()
}

/// Waits until `phone` read a text that `pred` accepts; returns it.
fn wait_for_text(wa: &FakeWa, bot: &Proc, phone: &str, what: &str, pred: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        if texts(wa, phone).iter().any(|(text, _)| pred(text)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never read by {phone}; read: {:?}\n{}",
            texts(wa, phone),
            bot.transcript()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(wa: &FakeWa, phone: &str, pred: impl Fn(&str) -> bool) -> usize {
    texts(wa, phone)
        .iter()
        .filter(|(text, _)| pred(text))
        .map(|(_, copies)| copies)
        .sum()
}

#[test]
fn menu_and_ping_are_answered_and_an_owner_command_is_refused_once() {
    let (wa, _home, mut bot) = linked_bot(&[("OWNER_NUMBER", OWNER)]);
    say(&wa, CONTACT, ".menu");
    wait_for_text(&wa, &bot, CONTACT, "the menu", |t| {
        t.starts_with("*Commands*") && t.contains(".ping")
    });
    say(&wa, CONTACT, ".PING");
    wait_for_text(&wa, &bot, CONTACT, "the pong", |t| t.starts_with("Pong! "));
    let refused = |t: &str| t == "Only the bot's owner may use .restart.";
    say(&wa, CONTACT, ".restart");
    wait_for_text(&wa, &bot, CONTACT, "the refusal", refused);
    say(&wa, CONTACT, ".restart");
    // Asked again: silent. The ping after it is answered, so the second
    // `.restart` was handled by then (in order).
    say(&wa, CONTACT, ".ping");
    let deadline = Instant::now() + WAIT;
    while count(&wa, CONTACT, |t| t.starts_with("Pong! ")) < 2 {
        assert!(Instant::now() < deadline, "second pong missing");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(&wa, CONTACT, refused), 1, "refused once, not twice");
    assert!(
        bot.wait_exit(Duration::from_millis(200)).is_none(),
        "no restart for a stranger"
    );
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}

#[test]
fn the_owners_settings_survive_a_restart_and_restart_exits_once() {
    let env = [("OWNER_NUMBER", OWNER)];
    let (wa, home, mut bot) = linked_bot(&env);
    say(&wa, OWNER, ".setprefix !");
    wait_for_text(&wa, &bot, OWNER, "the new prefix", |t| {
        t == "Commands now start with !."
    });
    bot.stop_cleanly(WAIT);

    // A new process: the prefix comes from the store.
    let mut bot = start_blacksky(&wa, home.path(), &env);
    say(&wa, OWNER, "!ping");
    wait_for_text(&wa, &bot, OWNER, "a pong to !ping", |t| {
        t.starts_with("Pong! ")
    });
    say(&wa, OWNER, "!lang de");
    wait_for_text(&wa, &bot, OWNER, "German", |t| {
        t == "Ich spreche jetzt Deutsch."
    });
    say(&wa, OWNER, "!menu");
    wait_for_text(&wa, &bot, OWNER, "the German menu", |t| {
        t.starts_with("*Befehle*") && t.contains("!ping")
    });
    say(&wa, OWNER, "!backup");
    wait_for_text(&wa, &bot, OWNER, "the backup's generation", |t| {
        t.starts_with("Sicherung ") && t.ends_with(" gespeichert.")
    });

    // `.restart`: a planned restart, exit 75 for the host to start again.
    say(&wa, OWNER, "!restart");
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after !restart:\n{}", bot.transcript()));
    assert_eq!(status.code(), Some(PLANNED_RESTART), "{}", bot.transcript());

    // Started again: it stays up (the restart was marked done first) and
    // still speaks German with the `!` prefix.
    let mut bot = start_blacksky(&wa, home.path(), &env);
    say(&wa, OWNER, "!uptime");
    wait_for_text(&wa, &bot, OWNER, "a German uptime", |t| {
        t.starts_with("Seit ") && t.contains("in Betrieb; seit ")
    });
    assert!(
        bot.wait_exit(Duration::from_secs(3)).is_none(),
        "restarted again:\n{}",
        bot.transcript()
    );
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}
