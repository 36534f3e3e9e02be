//! Promise: a dyno cycle loses nothing and needs no QR. SIGTERM arrives
//! mid-traffic; the process exits with code 0 inside the grace
//! (`SHUTDOWN_GRACE_MS`, 25 s by default); its local disk is wiped (the
//! host is bounced); a new process starts and comes back online as the
//! same device without a pairing. Every message is acked, stored once and
//! handled once, and the server never sees two live connections.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test dyno_cycle` replays a run.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

/// SIGTERM to exit: the default `SHUTDOWN_GRACE_MS`.
const GRACE: Duration = Duration::from_secs(25);
/// From the new process's start to online, in simulated time.
const RESTART_BOUND: Duration = Duration::from_secs(30);
/// Sent before SIGTERM; SIGTERM comes once the first is acked.
const BEFORE: usize = 10;
/// Sent while the old process shuts down.
const DURING: usize = 3;
const CONTACT: &str = "4915550004444";

#[test]
fn dyno_cycle() {
    run("dyno_cycle", 1);
}

#[test]
fn dyno_cycle_three_times() {
    run("dyno_cycle_three_times", 3);
}

fn run(scenario: &'static str, cycles: u32) {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard { seed, scenario };
    let started = std::time::Instant::now();
    let mut world = World::new(&WorldConfig::new(seed));
    world.link_by_qr(Duration::from_secs(60));
    let creds = world.stored_creds().expect("creds are stored");
    let me = creds.me.clone().expect("the stored creds are linked");
    let identity = *creds.identity_key.public();
    let mut ids = Vec::new();

    for cycle in 1..=cycles {
        let acked_before = world.server_state().messages.acked as usize;
        let logins_before = world.server_state().devices[0].logins;
        ids.extend(world.send_messages(CONTACT, BEFORE));
        // Mid-traffic: the first new message acked, more on the way.
        world.run_until(
            "the first new message acked",
            Duration::from_secs(30),
            |w| w.server_state().messages.acked as usize > acked_before,
        );
        let in_flight = ids.len() - world.server_state().messages.acked as usize;
        assert!(world.sigterm_bot(), "seed {seed}: no bot to SIGTERM");
        let term = world.elapsed();
        ids.extend(world.send_messages(CONTACT, DURING));
        let exits_before = cycle as usize - 1;
        world.run_until("the old process exited", GRACE, |w| {
            w.bot_exits().len() > exits_before
        });
        let (exited_at, code) = world.bot_exits()[exits_before];
        let took = exited_at - term;
        eprintln!(
            "seed {seed} cycle {cycle}: exit {code} {took:?} after SIGTERM ({in_flight} messages unacked at SIGTERM)"
        );
        assert_eq!(code, 0, "seed {seed} cycle {cycle}: exit code");
        assert!(
            took <= GRACE,
            "seed {seed} cycle {cycle}: exited after {took:?}"
        );
        world.assert_invariants();
        // Nothing runs in the old dyno any more.
        world.run_for(Duration::from_secs(1));
        assert_eq!(
            world.bot_starts(),
            cycle,
            "seed {seed} cycle {cycle}: started again before the bounce"
        );

        // The new dyno: a fresh host, the same store.
        world.bounce_bot();
        let mut qr = false;
        let took = world.run_until("online in the new dyno", RESTART_BOUND, |w| {
            qr |= w.bot_qr().is_some();
            w.bot_online()
        });
        eprintln!("seed {seed} cycle {cycle}: online {took:?} after the new start");
        assert!(!qr, "seed {seed} cycle {cycle}: a QR was shown");
        assert_eq!(world.bot_starts(), cycle + 1, "seed {seed} cycle {cycle}");
        let state = world.server_state();
        assert_eq!(
            state.devices.len(),
            1,
            "seed {seed}: a new device was linked"
        );
        assert!(
            state.pending_pairings.is_empty(),
            "seed {seed} cycle {cycle}: a pairing started"
        );
        assert!(state.devices[0].logins > logins_before, "seed {seed}");
        let creds = world.stored_creds().expect("creds are still stored");
        assert_eq!(
            *creds.identity_key.public(),
            identity,
            "seed {seed} cycle {cycle}: new identity"
        );
        assert_eq!(
            creds.me.map(|m| m.jid),
            Some(me.jid.clone()),
            "seed {seed} cycle {cycle}: new device"
        );

        let total = ids.len();
        world.run_until("every message acked", Duration::from_secs(30), |w| {
            w.server_state().messages.acked as usize == total
        });
        world.run_until("every message handled", Duration::from_secs(30), |w| {
            w.handled().len() >= total
        });
        world.run_for(Duration::from_secs(5));
        world.assert_invariants();
        let stored: Vec<String> = world.stored_inbox().into_iter().map(|e| e.id).collect();
        for id in &ids {
            let times = stored.iter().filter(|s| *s == id).count();
            assert_eq!(
                times, 1,
                "seed {seed} cycle {cycle}: {id} stored {times} times"
            );
        }
        assert_eq!(stored.len(), total, "seed {seed} cycle {cycle}");
        let mut handled = world.handled();
        handled.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(handled, expected, "seed {seed} cycle {cycle}: handled");
    }
    assert_eq!(world.bot_exits().len(), cycles as usize, "seed {seed}");
    eprintln!(
        "seed {seed}: {cycles} cycles, {:?} simulated in {:?}",
        world.elapsed(),
        started.elapsed()
    );
}
