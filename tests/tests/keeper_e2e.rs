//! The keeper's reconnect table, shutdown and the HTTP status routes, end
//! to end: the real `blacksky` binary against the real `fake-wa`, both as
//! processes over real sockets.

use std::time::{Duration, Instant};

use blacksky_tests::{
    FakeWa, Proc, Stream, flag, http_get as get, http_get_json as get_json, http_port, inbox_ids,
    linked_bot, logins, seen_or_wait, start_blacksky,
};

const WAIT: Duration = Duration::from_secs(15);
/// Fast backoff so the "comes back after a pause" cases stay quick.
const FAST_BACKOFF: [(&str, &str); 2] = [("RECONNECT_BASE_MS", "50"), ("RECONNECT_MAX_MS", "200")];

// ---- helpers ----

fn state_word(port: u16) -> String {
    get_json(port, "/status")["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls `probe` until it returns `Some`; fails with `what` and the log.
fn poll<T>(bot: &mut Proc, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            bot.drain();
            panic!("{what} not reached within {WAIT:?}:\n{}", bot.transcript());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_state_word(bot: &mut Proc, port: u16, word: &str) {
    poll(bot, &format!("/status state {word:?}"), || {
        (state_word(port) == word).then_some(())
    });
}

fn assert_running(bot: &mut Proc) {
    assert!(
        bot.wait_exit(Duration::from_millis(1)).is_none(),
        "the bot exited:\n{}",
        bot.transcript()
    );
}

/// Disconnects with `route`, then expects a new login within `within`.
fn kick_and_expect_relogin(route: &str, within: Duration, env: &[(&str, &str)]) {
    let (wa, _home, mut bot) = linked_bot(env);
    let before = logins(&wa.state());
    let kicked_at = Instant::now();
    let closed = wa.post(route, "");
    assert_ne!(closed["closed"], serde_json::json!(0), "{route}: {closed}");
    wa.wait_state(within, "a new login", |s| {
        logins(s) > before && flag(s, "logged_in") && flag(s, "passive_active")
    });
    let took = kicked_at.elapsed();
    assert!(took < within, "{route}: back after {took:?}");
    assert_running(&mut bot);
}

// ---- 1. the reconnect table ----

#[test]
fn kick_515_logs_in_again_at_once() {
    // Slow backoff: only an immediate reconnect makes it within 3 s.
    kick_and_expect_relogin(
        "/kick?code=515",
        Duration::from_secs(3),
        &[
            ("RECONNECT_BASE_MS", "10000"),
            ("RECONNECT_MAX_MS", "20000"),
        ],
    );
}

#[test]
fn kick_503_comes_back_after_a_backoff() {
    let (wa, _home, mut bot) = linked_bot(&FAST_BACKOFF);
    let before = logins(&wa.state());
    wa.post("/kick?code=503", "");
    bot.expect_line(WAIT, "the backoff log line", |_, l| {
        l.contains("reconnecting after a pause")
    });
    wa.wait_state(WAIT, "a new login", |s| {
        logins(s) > before && flag(s, "passive_active")
    });
    assert_running(&mut bot);
}

#[test]
fn a_dropped_connection_428_comes_back_after_a_backoff() {
    let (wa, _home, mut bot) = linked_bot(&FAST_BACKOFF);
    let before = logins(&wa.state());
    wa.post("/drop", "");
    bot.expect_line(WAIT, "the backoff log line", |_, l| {
        l.contains("reconnecting after a pause")
    });
    wa.wait_state(WAIT, "a new login", |s| {
        logins(s) > before && flag(s, "passive_active")
    });
    assert_running(&mut bot);
}

#[test]
fn kick_440_stands_by_and_never_fights() {
    let (wa, _home, mut bot) = linked_bot(&FAST_BACKOFF);
    let port = http_port(&mut bot);
    let before = logins(&wa.state());
    wa.post("/kick?code=440", "");
    wait_state_word(&mut bot, port, "standing_by");
    // Well past many fast backoffs: no new login.
    std::thread::sleep(Duration::from_secs(2));
    let state = wa.state();
    assert_eq!(logins(&state), before, "it reconnected: {state:#}");
    assert!(!flag(&state, "logged_in"), "{state:#}");
    assert_running(&mut bot);
    assert_eq!(state_word(port), "standing_by");
    let (ready, body) = get(port, "/ready");
    assert_eq!(ready, 503, "{body}");
}

#[test]
fn kick_401_exits_3_without_the_pairing_page() {
    let env = [
        FAST_BACKOFF[0],
        FAST_BACKOFF[1],
        ("ENABLE_HEALTH_CHECK", "false"),
    ];
    let (wa, _home, mut bot) = linked_bot(&env);
    wa.post("/kick?code=401", "");
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after 401:\n{}", bot.transcript()));
    assert_eq!(status.code(), Some(3), "{status:?}:\n{}", bot.transcript());
}

#[test]
fn kick_401_waits_for_pairing_with_the_page_on() {
    let env = [FAST_BACKOFF[0], FAST_BACKOFF[1], ("QR_TOKEN", "secret-abc")];
    let (wa, _home, mut bot) = linked_bot(&env);
    let port = http_port(&mut bot);
    let before = logins(&wa.state());
    wa.post("/kick?code=401", "");
    wait_state_word(&mut bot, port, "needs_pairing");
    std::thread::sleep(Duration::from_secs(1));
    assert_running(&mut bot);
    assert_eq!(state_word(port), "needs_pairing");
    assert_eq!(logins(&wa.state()), before, "it logged in again after 401");
}

// ---- 2. SIGTERM mid-traffic ----

#[test]
fn sigterm_mid_traffic_exits_cleanly_and_loses_nothing() {
    let env = [("SHUTDOWN_GRACE_MS", "5000")];
    let (wa, home, mut bot) = linked_bot(&env);
    let ids: Vec<String> = (0..20)
        .map(|i| {
            let sent = wa.post(&format!("/send?from=1555000{i:04}"), "hello");
            sent["id"].as_str().expect("message id").to_owned()
        })
        .collect();
    let signalled = Instant::now();
    bot.signal("TERM");
    let status = bot
        .wait_exit(Duration::from_millis(5000 + 2000))
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", bot.transcript()));
    let took = signalled.elapsed();
    assert!(
        status.success(),
        "exit {status:?} after {took:?}:\n{}",
        bot.transcript()
    );
    assert!(took < Duration::from_millis(5000), "exit took {took:?}");
    assert!(
        bot.saw(
            |_, l| l.contains("final snapshot written") || l.contains("Session backup completed")
        ),
        "no final snapshot line:\n{}",
        bot.transcript()
    );

    // Every message the server saw acked is in the store.
    let state = wa.state();
    let acked: Vec<String> = state["messages"]["list"]
        .as_array()
        .expect("message list")
        .iter()
        .filter(|m| m["acked"].as_bool() == Some(true))
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        state["messages"]["acked"].as_u64() <= state["messages"]["delivered"].as_u64(),
        "{state:#}"
    );
    let stored = inbox_ids(home.path());
    for id in &acked {
        assert!(stored.contains(id), "acked {id} is not stored: {stored:?}");
    }

    // The next start logs in without a QR and ends up with every message.
    let before = logins(&state);
    let mut again = start_blacksky(&wa, home.path(), &env);
    wa.wait_state(WAIT, "a login without a QR, every message acked", |s| {
        logins(s) > before
            && flag(s, "passive_active")
            && s["messages"]["list"].as_array().is_some_and(|list| {
                list.len() == ids.len() && list.iter().all(|m| m["acked"].as_bool() == Some(true))
            })
    });
    again.drain();
    assert!(
        !again.saw(|_, l| l.starts_with("qr: ")),
        "a restart must not ask for a QR:\n{}",
        again.transcript()
    );
    again.signal("TERM");
    let status = again
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", again.transcript()));
    assert!(status.success(), "{status:?}:\n{}", again.transcript());
    let stored = inbox_ids(home.path());
    for id in &ids {
        assert!(stored.contains(id), "message {id} was lost: {stored:?}");
    }
}

// ---- 3. the status routes follow the connection ----

fn metric(port: u16, name: &str) -> Option<String> {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
}

fn reconnections(port: u16) -> usize {
    get_json(port, "/stats")["reconnections"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn status_routes_follow_the_connection_down_and_up() {
    let (wa, _home, mut bot) = linked_bot(&FAST_BACKOFF);
    let port = http_port(&mut bot);
    assert_eq!(get(port, "/health").0, 200);
    poll(&mut bot, "/ready 200", || {
        let (status, body) = get(port, "/ready");
        (status == 200 && body.trim() == "online").then_some(())
    });
    assert_eq!(state_word(port), "online");
    assert_eq!(metric(port, "blacksky_online").as_deref(), Some("1"));
    assert_eq!(get_json(port, "/stats")["connection"]["online"], true);
    let events_before = reconnections(port);

    wa.post("/refuse-logins?code=503&count=1000", "");
    wa.post("/kick?code=503", "");
    wait_state_word(&mut bot, port, "backing_off");
    let (status, body) = get(port, "/ready");
    assert_eq!(status, 503, "{body}");
    assert_ne!(body.trim(), "online");
    assert_eq!(metric(port, "blacksky_online").as_deref(), Some("0"));
    assert_eq!(get_json(port, "/stats")["connection"]["online"], false);
    poll(&mut bot, "/stats reconnections grows", || {
        (reconnections(port) > events_before).then_some(())
    });

    // Let logins through again: back online everywhere.
    wa.post("/refuse-logins?code=503&count=0", "");
    poll(&mut bot, "/ready 200 again", || {
        (get(port, "/ready").0 == 200).then_some(())
    });
    assert_eq!(state_word(port), "online");
    assert_eq!(metric(port, "blacksky_online").as_deref(), Some("1"));
}

// ---- 4. the guarded QR page ----

/// On a public host the QR is shown on the guarded page only: not on
/// stdout, not in the log (its text carries the ADV secret).
#[test]
fn qr_page_refuses_a_wrong_token_and_shows_the_qr_with_the_right_one() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(
        &wa,
        home.path(),
        &[("QR_TOKEN", "secret-abc"), ("CLOUD_MODE", "true")],
    );
    let port = http_port(&mut bot);
    seen_or_wait(&mut bot, "QR ready line", |_, l| {
        l.contains("QR code ready: scan it on the /qr page")
    });

    let (status, body) = get(port, "/qr?token=wrong-token");
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("wa.me"), "a wrong token saw the QR: {body}");
    let (status, body) = get(port, "/qr");
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("wa.me"), "no token saw the QR: {body}");

    let body = poll(&mut bot, "the QR on /qr", || {
        let (status, body) = get(port, "/qr?token=secret-abc");
        assert_eq!(status, 200, "{body}");
        body.contains("wa.me").then_some(body)
    });
    assert!(body.contains("linked_devices"), "{body}");
    // The page's QR text, as its <details> shows it.
    let text = body
        .split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no QR text on the page: {body}"))
        .replace("&amp;", "&");
    // ref, noise key, identity key, ADV secret, platform.
    let parts: Vec<&str> = text.split(',').filter(|part| part.len() > 8).collect();
    assert!(parts.len() >= 4, "{text}");
    bot.drain();
    assert!(
        !bot.saw(|_, l| l.starts_with("qr: ") || parts.iter().any(|part| l.contains(part))),
        "a QR on stdout or in the log of a public host:\n{}",
        bot.transcript()
    );
}

/// PRINT_QR=true brings the terminal QR back on a public host (here
/// Heroku, known by the DYNO variable it sets).
#[test]
fn print_qr_puts_the_qr_on_stdout_even_on_a_public_host() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(&wa, home.path(), &[("DYNO", "web.1"), ("PRINT_QR", "true")]);
    seen_or_wait(&mut bot, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
}

// ---- 5. two processes on one session ----

/// An overlapping dyno on the same store (here one SQLite file, as two
/// processes on one host would share it): the new process logs in, the
/// old one is told 440, finds a newer process in the store's register
/// and stands by; it never takes the session back, and on its SIGTERM it
/// exits 0 while the new one stays online.
#[test]
fn a_second_process_on_the_same_store_takes_over_and_the_first_stands_by() {
    let (wa, home, mut old) = linked_bot(&FAST_BACKOFF);
    let old_port = http_port(&mut old);
    wait_state_word(&mut old, old_port, "online");
    let before = logins(&wa.state());
    let mut new = start_blacksky(&wa, home.path(), &FAST_BACKOFF);
    let new_port = http_port(&mut new);
    wait_state_word(&mut new, new_port, "online");
    wait_state_word(&mut old, old_port, "standing_by");
    // Well past many fast backoffs: one hand-over, no fight.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(logins(&wa.state()), before + 1, "{:#}", wa.state());
    assert_eq!(state_word(new_port), "online");
    assert!(
        !new.saw(|_, l| l.contains("session is this process")),
        "the new process saw no late login:\n{}",
        new.transcript()
    );
    old.signal("TERM");
    let status = old
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", old.transcript()));
    assert!(status.success(), "exit {status:?}:\n{}", old.transcript());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state_word(new_port), "online");
    assert_eq!(logins(&wa.state()), before + 1, "{:#}", wa.state());
    assert_running(&mut new);
}
