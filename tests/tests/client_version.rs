//! A 405 ("client outdated") with the real binaries: fake-wa demands a
//! newer app version than the bot sends; the bot looks the current one up
//! at WA_VERSION_URL (fake-wa's stand-in for WhatsApp Web's sw.js), stores
//! it, reconnects with it and comes online; a restart logs in with the
//! stored one at once; WA_VERSION overrides it and is never looked up.

use blacksky_tests::{
    FakeWa, LINE_WAIT, flag, link_in, logins, start_blacksky, stored_client_version,
};

/// Above the built-in version's build, so the built-in one is refused.
const DEMANDED: &str = "2.3000.2000000000";

fn outdated_logins(wa: &FakeWa) -> u64 {
    wa.state()["outdated_logins"].as_u64().unwrap_or_default()
}

/// A login after `logins_before`, and the session active: with a version
/// the server takes.
fn online_again(wa: &FakeWa, logins_before: u64) {
    wa.wait_state(LINE_WAIT, "a login with the newer version", |s| {
        logins(s) > logins_before && flag(s, "logged_in") && flag(s, "passive_active")
    });
}

#[test]
fn a_405_looks_the_version_up_stores_it_and_a_restart_uses_it_at_once() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let sw_url = format!("{}/sw.js", wa.control_url);
    let env = [("WA_VERSION_URL", sw_url.as_str())];
    let mut bot = link_in(&wa, home.path(), &env, LINE_WAIT);
    assert_eq!(stored_client_version(home.path()), None);

    // WhatsApp moves on: the built-in version is refused from now on.
    wa.post(&format!("/min-version?v={DEMANDED}"), "");
    let before = logins(&wa.state());
    wa.post("/kick?code=515", "");
    bot.expect_line(LINE_WAIT, "the lookup after the 405", |_, l| {
        l.contains("looking up the current one")
    });
    online_again(&wa, before);
    assert_eq!(outdated_logins(&wa), 1, "one 405, then the newer version");
    bot.expect_line(LINE_WAIT, "the adopted version", |_, l| {
        l.contains("reconnecting with WhatsApp Web's current client version")
            && l.contains(DEMANDED)
    });
    bot.stop_cleanly(LINE_WAIT);
    assert_eq!(
        stored_client_version(home.path()).as_deref(),
        Some(DEMANDED)
    );

    // A restart sends the stored version at once: no 405, no lookup.
    let before = logins(&wa.state());
    let mut again = start_blacksky(&wa, home.path(), &env);
    online_again(&wa, before);
    again.expect_line(LINE_WAIT, "online log line", |_, l| l.contains("online"));
    again.stop_cleanly(LINE_WAIT);
    assert_eq!(outdated_logins(&wa), 1, "{}", again.transcript());
    assert!(
        again.saw(|_, l| l.contains(DEMANDED) && l.contains("learnt after a 405")),
        "the stored version is the one in use:\n{}",
        again.transcript()
    );
    assert!(
        !again.saw(|_, l| l.contains("looking up")),
        "{}",
        again.transcript()
    );

    // WA_VERSION overrides the stored one and is never looked up: refused,
    // it says so and backs off.
    let pinned = [
        ("WA_VERSION_URL", sw_url.as_str()),
        ("WA_VERSION", "2.3000.1"),
    ];
    let mut pinned_bot = start_blacksky(&wa, home.path(), &pinned);
    pinned_bot.expect_line(LINE_WAIT, "the refused WA_VERSION", |_, l| {
        l.contains("WA_VERSION sets (405)")
    });
    pinned_bot.stop_cleanly(LINE_WAIT);
    assert_eq!(outdated_logins(&wa), 2, "{}", pinned_bot.transcript());
    assert!(
        !pinned_bot.saw(|_, l| l.contains("looking up")),
        "{}",
        pinned_bot.transcript()
    );
    assert_eq!(
        stored_client_version(home.path()).as_deref(),
        Some(DEMANDED),
        "a pinned version is not stored"
    );
}

#[test]
fn a_failed_lookup_keeps_the_version_says_so_and_backs_off() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    // Nothing listens on port 9: the lookup fails at once.
    let env = [
        ("WA_VERSION_URL", "http://127.0.0.1:9/sw.js"),
        ("RECONNECT_BASE_MS", "60000"),
    ];
    let mut bot = link_in(&wa, home.path(), &env, LINE_WAIT);
    wa.post(&format!("/min-version?v={DEMANDED}"), "");
    wa.post("/kick?code=515", "");
    bot.expect_line(LINE_WAIT, "the failed lookup", |_, l| {
        l.contains("the client version lookup failed") && l.contains("built in")
    });
    bot.expect_line(LINE_WAIT, "a backoff after the 405", |_, l| {
        l.contains("reconnecting after a pause") && l.contains("405")
    });
    bot.stop_cleanly(LINE_WAIT);
    // (A short jittered pause may have let one more login try.)
    assert!(outdated_logins(&wa) >= 1, "{}", bot.transcript());
    assert_eq!(stored_client_version(home.path()), None);
}
