//! Promise: a network partition between the bot and WhatsApp is noticed
//! within a bound (a keepalive timeout, or an earlier request timing out
//! when one was in flight: seed 1 times out a pending iq with 408 first), and once the network is repaired the bot is online
//! again within a stated bound, with nothing lost or handled twice and
//! never two live connections at the server.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test partition_recovery` replays a run.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

const PARTITION: Duration = Duration::from_secs(120);
/// From repair to online: the longest backoff (30 s) plus a dial timeout
/// (20 s) plus a login, rounded up.
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
/// From the cut to the bot noticing: the keepalive interval (25 s) plus
/// its grace, rounded up.
const DETECTION_BOUND: Duration = Duration::from_secs(40);
const CONTACT: &str = "4915550002222";

#[test]
fn partition_recovery() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "partition_recovery",
    };
    let started = std::time::Instant::now();
    let config = WorldConfig::new(seed);
    let mut world = World::new(&config);
    world.link_by_qr(Duration::from_secs(60));
    let ids = world.send_messages(CONTACT, 3);
    world.run_until("the first messages acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked as usize == ids.len()
    });

    world.partition_bot();
    let cut = world.elapsed();
    // Sent while the bot cannot hear: the server keeps them for it.
    let late = world.send_messages(CONTACT, 3);
    // Later dial failures overwrite the last disconnect: remember it.
    let mut reasons = Vec::new();
    world.run_until("offline after a keepalive timeout", PARTITION, |w| {
        let reason = w.bot_last_disconnect();
        if reasons.last() != Some(&reason) {
            reasons.push(reason);
        }
        !w.bot_online() && reasons.iter().flatten().any(|r| dead_link(r))
    });
    let detected = world.elapsed() - cut;
    eprintln!("seed {seed}: offline {detected:?} into the partition: {reasons:?}");
    assert!(
        detected <= DETECTION_BOUND,
        "seed {seed}: the dead link went unnoticed for {detected:?}"
    );
    let remaining = PARTITION.saturating_sub(world.elapsed() - cut);
    world.run_for(remaining);
    assert!(
        !world.bot_online(),
        "seed {seed}: online through a partition"
    );
    world.assert_invariants();

    world.repair_bot();
    let took = world.run_until("online after the repair", RECOVERY_BOUND, World::bot_online);
    eprintln!("seed {seed}: online {took:?} after the repair");
    let total = ids.len() + late.len();
    world.run_until("the late messages acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked as usize == total
    });
    world.run_until("every message handled", Duration::from_secs(30), |w| {
        w.handled().len() >= total
    });
    world.run_for(Duration::from_secs(5));
    world.assert_invariants();
    assert_eq!(world.handled().len(), total, "seed {seed}");
    assert_eq!(world.bot_starts(), 1, "seed {seed}: the bot restarted");
    eprintln!(
        "seed {seed}: {:?} simulated in {:?}",
        world.elapsed(),
        started.elapsed()
    );
}

/// A disconnect that means "the link is dead": the keepalive went
/// unanswered, or a request in flight timed out first.
fn dead_link(reason: &str) -> bool {
    reason.contains("keepalive") || reason.starts_with("408")
}
