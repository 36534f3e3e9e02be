//! Sessions that move and sessions that break, with the real binaries:
//! `blacksky session export` on one host, SESSION_DATA on a host with an
//! empty disk; a store whose every copy is spoiled refuses to start (no
//! QR, no new identity) until a session string is imported.

use std::time::Duration;

use blacksky_tests::{FakeWa, Proc, Stream, blacksky_command, sqlite_exec, start_blacksky};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: (&str, &str) = ("SESSION_SECRET", "e2e secret, not a real one");

fn device(state: &serde_json::Value) -> Option<&serde_json::Value> {
    state["devices"].as_array()?.first()
}

fn logins(wa: &FakeWa) -> u64 {
    device(&wa.state())
        .and_then(|d| d["logins"].as_u64())
        .unwrap_or_default()
}

fn stop(mut bot: Proc) {
    bot.signal("TERM");
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", bot.transcript()));
    assert!(status.success(), "{status:?}:\n{}", bot.transcript());
}

fn link(wa: &FakeWa, home: &std::path::Path) -> (String, String) {
    let mut bot = start_blacksky(wa, home, &[SECRET]);
    let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    wa.post("/scan", qr.trim_start_matches("qr: "));
    bot.expect_line(WAIT, "online", |_, l| l.contains("online"));
    // The final snapshot is taken at shutdown.
    stop(bot);
    let state = wa.state();
    let d = device(&state).expect("a device");
    (
        d["jid"].as_str().unwrap_or_default().to_owned(),
        d["noise_public"].as_str().unwrap_or_default().to_owned(),
    )
}

fn logs_in_without_a_qr(wa: &FakeWa, home: &std::path::Path, env: &[(&str, &str)]) -> Proc {
    let before = logins(wa);
    let mut bot = start_blacksky(wa, home, env);
    wa.wait_state(WAIT, "another login", |s| {
        device(s)
            .and_then(|d| d["logins"].as_u64())
            .unwrap_or_default()
            > before
    });
    bot.expect_line(WAIT, "online", |_, l| l.contains("online"));
    bot.drain();
    assert!(
        !bot.saw(|_, l| l.starts_with("qr: ")),
        "no QR with a stored session:\n{}",
        bot.transcript()
    );
    bot
}

#[test]
fn an_exported_string_logs_in_on_an_empty_disk_as_the_same_device() {
    let wa = FakeWa::start();
    let first = tempfile::tempdir().expect("temp dir");
    let (jid, noise) = link(&wa, first.path());

    let out = blacksky_command(first.path(), &["session", "export"], &[SECRET]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(text.starts_with("BLACKSKY-MD;;;"), "{text}");
    assert_eq!(text.lines().count(), 1, "one copy-pasteable line");
    // The secret never shows, in any output.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(SECRET.1), "{stderr}");

    let second = tempfile::tempdir().expect("empty disk");
    let bot = logs_in_without_a_qr(
        &wa,
        second.path(),
        &[("SESSION_DATA", text.as_str()), SECRET],
    );
    assert!(
        bot.saw(|_, l| l.contains("importing the session from SESSION_DATA")),
        "{}",
        bot.transcript()
    );
    assert!(
        !bot.saw(|_, l| l.contains(&text[20..60])),
        "the string is not logged"
    );
    stop(bot);
    let state = wa.state();
    assert_eq!(
        state["devices"].as_array().map(Vec::len),
        Some(1),
        "{state:#}"
    );
    assert_eq!(
        device(&state).and_then(|d| d["jid"].as_str()),
        Some(jid.as_str())
    );
    assert_eq!(
        device(&state).and_then(|d| d["noise_public"].as_str()),
        Some(noise.as_str())
    );
    let verify = blacksky_command(second.path(), &["session", "verify"], &[SECRET]);
    let table = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{table}\n{verify:?}");
    assert!(table.contains("generation"), "{table}");
}

#[test]
fn a_store_with_nothing_readable_refuses_to_start_until_a_string_is_imported() {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let (jid, _) = link(&wa, home.path());
    let out = blacksky_command(home.path(), &["session", "export"], &[SECRET]);
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    // Every copy spoiled: the live creds and each snapshot generation.
    sqlite_exec(home.path(), "UPDATE creds SET record = x'ffff01'");
    sqlite_exec(
        home.path(),
        "UPDATE snapshots SET bytes = substr(bytes, 1, 100)",
    );

    let mut bot = start_blacksky(&wa, home.path(), &[SECRET]);
    let status = bot
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("still running:\n{}", bot.transcript()));
    assert_eq!(status.code(), Some(4), "{}", bot.transcript());
    let log = bot.transcript();
    for needle in [
        "refusing to start",
        "live creds: creds of session",
        "snapshot generation 1: truncated",
        "blacksky session import",
        "blacksky session wipe --yes",
    ] {
        assert!(log.contains(needle), "{needle:?} missing from:\n{log}");
    }
    assert!(
        !bot.saw(|_, l| l.starts_with("qr: ")),
        "no new identity:\n{log}"
    );

    let verify = blacksky_command(home.path(), &["session", "verify"], &[SECRET]);
    assert_eq!(verify.status.code(), Some(1), "{verify:?}");

    let import = blacksky_command(home.path(), &["session", "import", &text], &[SECRET]);
    assert!(import.status.success(), "{import:?}");
    let bot = logs_in_without_a_qr(&wa, home.path(), &[SECRET]);
    stop(bot);
    assert_eq!(
        device(&wa.state()).and_then(|d| d["jid"].as_str()),
        Some(jid.as_str())
    );
}
