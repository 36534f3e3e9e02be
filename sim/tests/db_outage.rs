//! Promise: a database outage during traffic does not cost the link or a
//! message. While the store fails (two simulated minutes) the connection
//! stays up (same server connection, keepalive pings keep coming), no
//! message is acked before it is stored (the server's acked count does not
//! grow during the outage), and once the store is back every message is
//! acked, stored once and handled once.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test db_outage` replays a run.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

const OUTAGE: Duration = Duration::from_secs(120);
/// From the store's recovery to every message acked: the store worker's
/// retry backoff plus the redelivery, rounded up.
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
const BEFORE: usize = 3;
const DURING: usize = 5;
const CONTACT: &str = "4915550003333";

#[test]
fn db_outage() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "db_outage",
    };
    let started = std::time::Instant::now();
    let mut world = World::new(&WorldConfig::new(seed));
    world.link_by_qr(Duration::from_secs(60));
    let mut ids = world.send_messages(CONTACT, BEFORE);
    world.run_until("the first messages acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked as usize == BEFORE
    });
    world.assert_invariants();

    let state = world.server_state();
    assert_eq!(state.connections.len(), 1, "seed {seed}: {state:?}");
    let conn = state.connections[0].id;
    let pings_before = state.connections[0].pings;

    world.trace.record("chaos: store failing".to_owned());
    world.db.set_failing(true);
    let cut = world.elapsed();
    ids.extend(world.send_messages(CONTACT, DURING));
    while world.elapsed() - cut < OUTAGE {
        world.step();
        let state = world.server_state();
        assert_eq!(
            state.messages.acked as usize,
            BEFORE,
            "seed {seed}: a message was acked while the store was down (at {:?})",
            world.elapsed()
        );
        assert!(
            state.connections.iter().any(|c| c.id == conn),
            "seed {seed}: the connection dropped during the outage (at {:?}): {:?}; last disconnect {:?}",
            world.elapsed(),
            state.connections,
            world.bot_last_disconnect()
        );
        assert!(
            world.bot_online(),
            "seed {seed}: the bot left online during the outage (at {:?}): {}",
            world.elapsed(),
            world.bot_state()
        );
    }
    let state = world.server_state();
    let pings_during = state
        .connections
        .iter()
        .find(|c| c.id == conn)
        .map_or(0, |c| c.pings)
        - pings_before;
    eprintln!("seed {seed}: {pings_during} pings during the outage");
    // Keepalive every 25 s: at least 3 in two minutes.
    assert!(
        pings_during >= 3,
        "seed {seed}: only {pings_during} pings in {OUTAGE:?}"
    );
    assert_eq!(state.connections.len(), 1, "seed {seed}: {state:?}");
    assert_eq!(world.server_state().devices[0].logins, 1, "seed {seed}");

    world.trace.record("chaos: store back".to_owned());
    world.db.set_failing(false);
    let total = BEFORE + DURING;
    let took = world.run_until(
        "every message acked after the outage",
        RECOVERY_BOUND,
        |w| w.server_state().messages.acked as usize == total,
    );
    eprintln!("seed {seed}: every message acked {took:?} after the store came back");
    world.run_until("every message handled", Duration::from_secs(30), |w| {
        w.handled().len() >= total
    });
    world.run_for(Duration::from_secs(5));
    world.assert_invariants();

    let stored: Vec<String> = world.stored_inbox().into_iter().map(|e| e.id).collect();
    for id in &ids {
        let times = stored.iter().filter(|s| *s == id).count();
        assert_eq!(times, 1, "seed {seed}: {id} stored {times} times");
    }
    assert_eq!(stored.len(), total, "seed {seed}: {stored:?}");
    let mut handled = world.handled();
    handled.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(handled, expected, "seed {seed}: handled");
    assert!(
        world
            .server_state()
            .connections
            .iter()
            .any(|c| c.id == conn),
        "seed {seed}: the connection dropped after the outage"
    );
    assert_eq!(world.bot_starts(), 1, "seed {seed}: the bot restarted");
    eprintln!(
        "seed {seed}: {:?} simulated in {:?}",
        world.elapsed(),
        started.elapsed()
    );
}
