//! Promise: the harness can fail. With a deliberately broken policy planted
//! (ack a message before it is stored, behind a test-only flag), a store
//! outage followed by a crash loses acked messages, and the invariants
//! catch it for every seed of a small sweep, printing the seed. The same
//! chaos with the real policy loses nothing.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test broken_policy` starts the
//! sweep at that seed.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{World, WorldConfig, seed_from_env};

const SEEDS: u64 = 5;
const MESSAGES: usize = 4;

/// Link, take the store down, let messages arrive, crash the bot while the
/// writes are still queued in its memory, bring the store back, and return
/// the invariant violations.
fn outage_then_crash(seed: u64, broken: bool) -> Vec<String> {
    let config = WorldConfig {
        broken_ack_before_store: broken,
        ..WorldConfig::new(seed)
    };
    let mut world = World::new(&config);
    world.link_by_qr(Duration::from_secs(60));
    world.db.set_failing(true);
    world.send_messages("4915550004444", MESSAGES);
    world.run_for(Duration::from_secs(10));
    world.bounce_bot();
    world.db.set_failing(false);
    world.run_until("online again", Duration::from_secs(60), World::bot_online);
    world.run_for(Duration::from_secs(20));
    world.violations()
}

#[test]
fn acking_before_the_store_commits_is_caught_for_every_seed() {
    let first = seed_from_env(DEFAULT_SEED);
    for seed in first..first + SEEDS {
        let violations = outage_then_crash(seed, true);
        assert!(
            violations.iter().any(|v| v.starts_with("message lost")),
            "seed {seed}: the broken policy went unnoticed; violations: {violations:?}"
        );
        eprintln!(
            "seed {seed}: the broken policy is caught: {}",
            violations.join("; ")
        );
    }
}

#[test]
fn the_real_policy_survives_the_same_chaos() {
    let first = seed_from_env(DEFAULT_SEED);
    for seed in first..first + SEEDS {
        let violations = outage_then_crash(seed, false);
        assert!(violations.is_empty(), "seed {seed}: {violations:?}");
    }
}
