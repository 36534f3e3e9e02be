//! Figures for the README and the issue notes, not pass/fail tests (timing
//! targets belong in benchmarks): run them on a quiet machine with
//! `cargo test --release -p blacksky-tests --test measure -- --ignored --nocapture --test-threads 1`.
//! `MEASURE_RUNS` (default 20 restarts, 200 round trips), `IDLE_SECS`
//! (default 60), `PONG_CONTACTS` (default 20) and `PONG_PINGS` (pings per
//! contact, default 50) tune them.

use std::time::{Duration, Instant};

use blacksky_tests::{
    FakeWa, Proc, Stream, assert_no_violations, linked_ping_pong, ping, pongs, read_by,
    start_blacksky, wait_for_pongs,
};

const WAIT: Duration = Duration::from_secs(60);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn linked_home(wa: &FakeWa) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp dir");
    let mut bot = start_blacksky(wa, home.path(), &[]);
    let qr = bot.expect_line(WAIT, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    wa.post("/scan", qr.trim_start_matches("qr: "));
    bot.expect_line(WAIT, "online", |_, l| l.contains("online"));
    bot.signal("TERM");
    bot.wait_exit(WAIT).expect("exit after SIGTERM");
    home
}

fn median_max(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

/// Median, p99 (nearest rank) and max.
fn median_p99_max(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let p99 = samples[(samples.len() * 99).div_ceil(100).max(1) - 1];
    let (median, max) = median_max(samples);
    (median, p99, max)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

#[test]
#[ignore = "a measurement; run it on purpose"]
fn restart_to_online_and_sigterm_to_exit() {
    let runs = env_number("MEASURE_RUNS", 20) as usize;
    let wa = FakeWa::start();
    let home = linked_home(&wa);
    let (mut to_online, mut to_exit) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let mut bot = start_blacksky(&wa, home.path(), &[]);
        bot.expect_line(WAIT, "online", |_, l| l.contains("online"));
        to_online.push(started.elapsed());
        let signalled = Instant::now();
        bot.signal("TERM");
        let status = bot.wait_exit(WAIT).expect("exit after SIGTERM");
        to_exit.push(signalled.elapsed());
        assert!(status.success(), "{}", bot.transcript());
    }
    let (online_median, online_max) = median_max(to_online);
    let (exit_median, exit_max) = median_max(to_exit);
    println!("restart to online over {runs} runs: median {online_median:?}, max {online_max:?}");
    println!("SIGTERM to exit over {runs} runs: median {exit_median:?}, max {exit_max:?}");
}

#[test]
#[ignore = "a measurement; run it on purpose"]
fn idle_rss() {
    let idle = Duration::from_secs(env_number("IDLE_SECS", 60));
    let wa = FakeWa::start();
    let home = linked_home(&wa);
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    bot.expect_line(WAIT, "online", |_, l| l.contains("online"));
    let pid = bot.pid();
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < idle {
        std::thread::sleep(Duration::from_secs(1).min(idle));
        bot.drain();
        samples.push(rss_kib(pid).expect("VmRSS"));
    }
    let max = samples.iter().max().copied().unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    println!("idle RSS after {idle:?} online: {last} KiB now, {max} KiB max");
    assert!(
        !bot.saw(|_, l| l.contains("disconnected")),
        "stayed online:\n{}",
        bot.transcript()
    );
}

/// Answers without a rate limit: these runs send far more than 30 pings a
/// minute per contact.
const NO_RATE_LIMIT: [(&str, &str); 1] = [("RATE_LIMIT_PER_MIN", "0")];
const WARM_UP: u64 = 10;
/// fake-wa keeps this many texts per contact (`RECEIVED_TEXTS_PER_CONTACT_MAX`).
const RECEIVED_PER_CONTACT_MAX: u64 = 1_000;

fn addressing(lid: bool) -> &'static str {
    if lid { "by LID" } else { "by number" }
}

/// One ping's round trip: from just before the contact's `POST /send` to
/// fake-wa's `bot_message` event for the message that carried `pong n`
/// (logged once the contact's devices opened it). No polling: the event
/// line comes through fake-wa's log pipe; `/received` confirms it, untimed.
fn round_trip(wa: &mut FakeWa, bot: &Proc, phone: &str, lid: bool, n: u64) -> Duration {
    let pong = format!("pong {n}");
    let deadline = Instant::now() + WAIT;
    let started = Instant::now();
    ping(wa, phone, lid, n);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if wa.wait_event(left, "bot_message").is_none() {
            panic!("no {pong:?} within {WAIT:?}:\n{}", bot.transcript());
        }
        let took = started.elapsed();
        if read_by(wa, phone).contains_key(&pong) {
            return took;
        }
    }
}

#[test]
#[ignore = "a measurement; run it on purpose"]
fn round_trip_latency() {
    let runs = env_number("MEASURE_RUNS", 200);
    assert!(
        WARM_UP + runs <= RECEIVED_PER_CONTACT_MAX,
        "fake-wa keeps {RECEIVED_PER_CONTACT_MAX} texts per contact: MEASURE_RUNS ≤ {}",
        RECEIVED_PER_CONTACT_MAX - WARM_UP
    );
    let home = tempfile::tempdir().expect("temp dir");
    let (mut wa, bot) = linked_ping_pong(home.path(), &NO_RATE_LIMIT);
    for (phone, lid) in [("4915112345678", false), ("4915187654321", true)] {
        let mut samples = Vec::new();
        for n in 1..=WARM_UP + runs {
            let took = round_trip(&mut wa, &bot, phone, lid, n);
            if n > WARM_UP {
                samples.push(took);
            }
        }
        // Every pong read once, by one message each, and nothing else.
        wait_for_pongs(&wa, &bot, phone, &pongs(1..=WARM_UP + runs));
        let (median, p99, max) = median_p99_max(samples);
        println!(
            "ping → pong round trip, one contact {}, {runs} sequential pings after {WARM_UP} \
             of warm-up: median {median:?}, p99 {p99:?}, max {max:?} (from POST /send to \
             fake-wa's bot_message event line: no polling, resolution ≈ the log pipe's µs)",
            addressing(lid)
        );
    }
    assert_no_violations(&wa);
}

/// `contacts` contacts send `per_contact` pings each, round-robin, as fast
/// as the control API takes them; timed from the first ping to the event
/// of the last pong.
fn burst(contacts: u64, per_contact: u64, lid: bool) {
    let home = tempfile::tempdir().expect("temp dir");
    let (mut wa, bot) = linked_ping_pong(home.path(), &NO_RATE_LIMIT);
    let phones: Vec<String> = (0..contacts).map(|i| format!("491510{i:07}")).collect();
    let total = contacts * per_contact;
    let deadline = Instant::now() + WAIT * 5;
    let started = Instant::now();
    for n in 1..=per_contact {
        for phone in &phones {
            ping(&wa, phone, lid, n);
        }
    }
    let sent_in = started.elapsed();
    let all_read = |wa: &FakeWa| {
        phones
            .iter()
            .all(|phone| read_by(wa, phone).len() as u64 >= per_contact)
    };
    let mut messages = 0;
    let took = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if wa.wait_event(left, "bot_message").is_none() {
            panic!(
                "{messages} of {total} pongs within {:?}:\n{}",
                WAIT * 5,
                bot.transcript()
            );
        }
        let at = started.elapsed();
        messages += 1;
        if messages >= total && all_read(&wa) {
            break at;
        }
    };
    let rss = rss_kib(bot.pid()).expect("VmRSS");
    // Every pong read once, by one message each, and nothing else.
    for phone in &phones {
        wait_for_pongs(&wa, &bot, phone, &pongs(1..=per_contact));
    }
    assert_no_violations(&wa);
    println!(
        "{contacts} contacts {} × {per_contact} pings ({total}; sent in {sent_in:?}): last pong \
         read after {took:?}: {:.0} pongs/s; bot RSS at the end {rss} KiB",
        addressing(lid),
        total as f64 / took.as_secs_f64()
    );
}

#[test]
#[ignore = "a measurement; run it on purpose"]
fn pongs_per_second() {
    let contacts = env_number("PONG_CONTACTS", 20);
    let per_contact = env_number("PONG_PINGS", 50);
    assert!(
        (1..=RECEIVED_PER_CONTACT_MAX).contains(&per_contact) && contacts > 0,
        "PONG_CONTACTS > 0, PONG_PINGS in 1..={RECEIVED_PER_CONTACT_MAX}"
    );
    burst(contacts, per_contact, false);
    burst(contacts, per_contact, true);
}
