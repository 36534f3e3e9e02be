//! Figures for the README and the issue notes, not pass/fail tests (timing
//! targets belong in benchmarks): run them on a quiet machine with
//! `cargo test --release -p blacksky-tests --test measure -- --ignored --nocapture --test-threads 1`.
//! `MEASURE_RUNS` (default 20) and `IDLE_SECS` (default 60) tune them.

use std::time::{Duration, Instant};

use blacksky_tests::{FakeWa, Stream, start_blacksky};

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
