//! Promise: a seed is a replay. The same seed gives the same trace (every
//! server event, bot state change, handled message and chaos action, with
//! its simulated time), through linking, traffic, a partition and a crash;
//! another seed gives another trace.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test determinism` checks one seed.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

/// Two simulations stepping in parallel threads of one process can part by
/// a few milliseconds: tokio seeds each runtime's random source from a
/// process-wide counter unless built with `--cfg tokio_unstable` (then
/// turmoil seeds it from the simulation). Our own `select!`s are `biased`,
/// so something in a dependency still draws from it. Until that is found,
/// the two tests here take turns; a seed replayed alone is exact.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One scripted run; returns its trace as text.
fn run(seed: u64) -> Vec<String> {
    let mut world = World::new(&WorldConfig::new(seed));
    world.link_by_qr(Duration::from_secs(60));
    world.send_messages("4915550001111", 5);
    world.run_until("five acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked == 5
    });
    world.partition_bot();
    world.run_for(Duration::from_secs(60));
    world.repair_bot();
    world.run_until(
        "online after the partition",
        Duration::from_secs(120),
        World::bot_online,
    );
    world.bounce_bot();
    world.run_until(
        "online after the crash",
        Duration::from_secs(60),
        World::bot_online,
    );
    world.assert_invariants();
    world
        .trace
        .lines()
        .iter()
        .map(|line| format!("{line:?}"))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let _turn = ONE_AT_A_TIME.lock();
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "determinism",
    };
    let first = run(seed);
    let second = run(seed);
    assert!(
        first.len() > 10,
        "seed {seed}: the trace records the run: {first:#?}"
    );
    if let Some(at) = first.iter().zip(&second).position(|(a, b)| a != b) {
        let from = at.saturating_sub(12);
        panic!(
            "seed {seed}: traces part at line {at}:\n  {}\n  {}\nfirst:\n  {}\nsecond:\n  {}",
            first[at],
            second[at],
            first[from..(at + 4).min(first.len())].join("\n  "),
            second[from..(at + 4).min(second.len())].join("\n  ")
        );
    }
    assert_eq!(
        first.len(),
        second.len(),
        "seed {seed}: one trace is longer"
    );
    assert_ne!(
        first,
        run(seed.wrapping_add(1)),
        "another seed, another run"
    );
}

/// The same for a random chaos plan (every kind of fault the sweep draws,
/// the `db` host and overlapping dynos included).
#[test]
fn the_same_sweep_seed_gives_the_same_trace() {
    use blacksky_sim::chaos::plan::{Plan, Runner, SWEEP_FAULTS, SWEEP_WINDOW};
    let _turn = ONE_AT_A_TIME.lock();
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "determinism",
    };
    let run = |seed: u64| {
        let mut config = WorldConfig::new(seed);
        config.tick = Duration::from_millis(10);
        let mut runner = Runner::linked(&config);
        runner.run_plan(&Plan::random(seed, SWEEP_WINDOW, SWEEP_FAULTS * 2));
        runner
            .world
            .trace
            .lines()
            .iter()
            .map(|line| format!("{line:?}"))
            .collect::<Vec<_>>()
    };
    let first = run(seed);
    let second = run(seed);
    assert!(first.len() > 100, "seed {seed}: a short trace: {first:#?}");
    if let Some(at) = first.iter().zip(&second).position(|(a, b)| a != b) {
        panic!(
            "seed {seed}: traces part at line {at}:\n  {}\n  {}",
            first[at], second[at]
        );
    }
    assert_eq!(
        first.len(),
        second.len(),
        "seed {seed}: one trace is longer"
    );
}
