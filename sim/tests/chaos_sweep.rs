//! Promise: whatever the hosts do, nothing is lost. Each seed draws a
//! random plan of faults over a 10-minute window — partitions of bot↔wa
//! and bot↔db, database outages, slow commits and crashes, bot crashes,
//! dyno cycles, overlapping dynos, stream errors (515, 503, 500, 440,
//! 405), dropped sockets, refused logins, wall-clock jumps, memory
//! pressure and pre-keys used up — with contacts sending all along. After the chaos the bot is
//! online within `SWEEP_ONLINE_BOUND` (120 s), every message is acked, stored once
//! and handled (every 1:1 text's pong read once by its
//! contact's phone and the outbox empty), and no invariant broke (see `blacksky_sim::chaos::invariants`).
//!
//! Every 4th seed (`SIM_SQLITE_EVERY`) runs the store on a real SQLite
//! file behind the simulated database host instead of the memory store.
//!
//! `SIM_SEEDS=<n>` sets how many seeds (200 by default in release, the CI
//! figure; 20 in a debug build);
//! `SIM_SEED_BASE=<n>` where they start. A failure prints the seed and
//! the chaos trace; `SEED=<n> cargo test -p blacksky-sim --test chaos_sweep`
//! replays exactly that seed (add `SIM_TRACE=1 -- --nocapture` for every
//! line of its trace, `SIM_LOG=<filter>` for the bot's logs).

use std::time::{Duration, Instant};

use blacksky_sim::chaos::plan::{sweep_seed as run_seed, sweep_seed_traced};
use blacksky_sim::chaos::seed_from_env;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn chaos_sweep() {
    if std::env::var("SEED").is_ok() {
        blacksky_sim::chaos::logs::from_env();
        let seed = seed_from_env(0);
        let (outcome, trace) = sweep_seed_traced(seed);
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!("{}", trace.join("\n"));
        }
        match outcome {
            Ok(online) => eprintln!("seed {seed}: ok, online {online:?} after the chaos"),
            Err(report) => panic!(
                "{report}\nreplay: SEED={seed} cargo test -p blacksky-sim --test chaos_sweep"
            ),
        }
        return;
    }
    // 200 seeds take about a minute in release; a debug build is ten
    // times slower, so it runs a sample unless told otherwise.
    let seeds = env_u64("SIM_SEEDS", if cfg!(debug_assertions) { 20 } else { 200 });
    let base = env_u64("SIM_SEED_BASE", 1);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let started = Instant::now();
    let results: Vec<(u64, Result<Duration, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                scope.spawn(move || {
                    (base + worker..base + seeds)
                        .step_by(workers as usize)
                        .map(|seed| (seed, run_seed(seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut online: Vec<(Duration, u64)> = results
        .iter()
        .filter_map(|(seed, r)| r.clone().ok().map(|d| (d, *seed)))
        .collect();
    online.sort();
    let failures: Vec<&String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    let failed_seeds: Vec<u64> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(seed, _)| *seed)
        .collect();
    eprintln!(
        "chaos sweep: {} seeds from {base}, {} failed, in {:?}; online after the chaos: median {:?}, max {:?} (seed {:?})",
        results.len(),
        failures.len(),
        started.elapsed(),
        online.get(online.len() / 2).map(|o| o.0),
        online.last().map(|o| o.0),
        online.last().map(|o| o.1),
    );
    assert_eq!(results.len() as u64, seeds, "every seed ran");
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed (seeds {failed_seeds:?}); the first:\n{}\nreplay one: SEED=<seed> cargo test -p blacksky-sim --test chaos_sweep",
        failures.len(),
        failures
            .iter()
            .take(5)
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
