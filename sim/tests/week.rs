//! Promise: a week on a dyno — a cycle every 24 h and random faults all
//! day (partitions, database outages, slow commits and crashes, bot
//! crashes, overlapping dynos, stream errors, refused logins, clock jumps,
//! memory pressure) with contacts writing all day — ends with
//! every message acked, stored once and handled, and no invariant broken.
//! It prints the downtime of each daily cycle (SIGTERM to online again)
//! and the total time offline.
//!
//! `SEED=<n> cargo test --release -p blacksky-sim --test week` replays a
//! week (about two minutes in release mode; a debug build lives one day
//! unless `SIM_DAYS=7`). `SIM_LOG=warn` prints the bot's logs stamped
//! with the simulated time; `SIM_TRACE=1` prints the whole trace when
//! the week fails.

use std::time::{Duration, Instant};

use blacksky_sim::chaos::plan::{Plan, Runner};
use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, WorldConfig, seed_from_env};

const DAY: Duration = Duration::from_secs(24 * 3600);
const FAULTS_PER_DAY: usize = 8;
/// A burst of 1–5 messages every 1–15 minutes (about 1,000 a day).
const TRAFFIC_GAP_S: (u64, u64) = (60, 900);
/// A daily cycle: SIGTERM to online in the next dyno.
const CYCLE_BOUND: Duration = Duration::from_secs(60);

#[test]
fn a_week_on_a_dyno() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "week",
    };
    blacksky_sim::chaos::logs::from_env();
    // Contacts write in the chaos groups too, and the bot answers there.
    blacksky_sim::chaos::world::answer_in_groups(true);
    let started = Instant::now();
    let mut config = WorldConfig::new(seed);
    // Keepalives and backoffs are whole seconds: 100 ms resolves them.
    config.tick = Duration::from_millis(100);
    let mut runner = Runner::linked(&config);
    let mut cycles = Vec::new();
    // A debug build is ten times slower: it lives one day unless told.
    let days = std::env::var("SIM_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 1 } else { 7 });
    for day in 0..days {
        let day_start = runner.world.elapsed();
        let plan = Plan::random_with_traffic(
            seed.wrapping_add(day),
            DAY - Duration::from_secs(600),
            FAULTS_PER_DAY,
            TRAFFIC_GAP_S,
        )
        .without_takeovers();
        runner.run_plan(&plan);
        runner.run_for(day_start + DAY - runner.world.elapsed());
        // Heroku's daily cycle.
        let term = runner.world.elapsed();
        runner.dyno_cycle();
        let Some(_) = runner.run_until(CYCLE_BOUND, |w| w.bot_online()) else {
            panic!(
                "seed {seed} day {day}: not online {CYCLE_BOUND:?} after the cycle\n  chaos:\n    {}",
                runner.chaos_trace().join("\n    ")
            );
        };
        let down = runner.world.elapsed() - term;
        eprintln!("seed {seed} day {day}: cycle downtime {down:?}");
        cycles.push(down);
        let found = runner.world.violations.list();
        if !found.is_empty() {
            dump_trace(&runner);
        }
        assert!(
            found.is_empty(),
            "seed {seed} day {day}: {}\n  chaos:\n    {}",
            found.join("\n  "),
            runner.chaos_trace().join("\n    ")
        );
    }
    if let Err(broken) = runner.settle(Duration::from_secs(120)) {
        dump_trace(&runner);
        panic!(
            "seed {seed}: {broken}\n  chaos:\n    {}",
            runner.chaos_trace().join("\n    ")
        );
    }
    cycles.sort();
    eprintln!(
        "seed {seed}: {days} days ({:?} simulated) in {:?}: {} messages, {} restarts; cycle downtime median {:?}, max {:?}; offline {:?} in total",
        runner.world.elapsed(),
        started.elapsed(),
        runner.sent.len(),
        runner.restarts,
        cycles[cycles.len() / 2],
        cycles[cycles.len() - 1],
        runner.offline
    );
}

/// With `SIM_TRACE` set (as for a sweep seed), a failing week prints its
/// whole trace.
fn dump_trace(runner: &Runner) {
    if std::env::var("SIM_TRACE").is_ok() {
        eprintln!("{}", runner.world.trace_tail(usize::MAX).join("\n"));
    }
}
