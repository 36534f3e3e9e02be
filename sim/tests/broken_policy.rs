//! Promise: the harness can fail. With a deliberately broken policy planted
//! (ack a message before it is stored, behind a test-only flag), a store
//! outage followed by a crash loses acked messages, and the invariants
//! catch it for every seed of a small sweep, printing the seed. The same
//! chaos with the real policy loses nothing.
//!
//! Likewise, a store that forgets the bot's Signal sessions makes the next
//! message undecryptable, and the end-to-end promise catches it.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test broken_policy` starts the
//! sweep at that seed.

use std::time::Duration;

use blacksky_core::session::Write;
use blacksky_io::store::Store;
use blacksky_sim::chaos::world::{DEFAULT_SEED, SESSION};
use blacksky_sim::chaos::{World, WorldConfig, seed_from_env};
use futures_util::FutureExt;

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

/// Link, let a contact write twice (stored and acked), then make the store
/// forget the bot's Signal sessions, as a store that lost writes would,
/// restart the bot and let the contact write again.
fn signal_state_lost(seed: u64) -> Vec<String> {
    let mut world = World::new(&WorldConfig::new(seed));
    world.link_by_qr(Duration::from_secs(60));
    // Once the one-time pre-keys are up, the contact's session uses one:
    // without the bot's record it cannot be built again.
    world.run_for(Duration::from_secs(5));
    world.send_messages("4915550005555", 2);
    world.run_for(Duration::from_secs(10));
    let mut store = world.db.store(SESSION);
    let session = store
        .load_session()
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("readable")
        .expect("linked");
    assert!(
        !session.sessions.is_empty(),
        "seed {seed}: a session was stored"
    );
    let forget: Vec<Write> = session
        .sessions
        .keys()
        .map(|address| Write::RemoveSignalSession {
            address: address.clone(),
        })
        .collect();
    store
        .commit(&forget)
        .now_or_never()
        .expect("at once")
        .expect("commits");
    world.bounce_bot();
    world.run_until("online again", Duration::from_secs(60), World::bot_online);
    world.send_messages("4915550005555", 1);
    world.run_for(Duration::from_secs(20));
    world.violations()
}

#[test]
fn lost_signal_state_is_caught() {
    let seed = seed_from_env(DEFAULT_SEED);
    let violations = signal_state_lost(seed);
    assert!(
        violations.iter().any(|v| v.contains("decryption failed")),
        "seed {seed}: the lost sessions went unnoticed; violations: {violations:?}"
    );
}
