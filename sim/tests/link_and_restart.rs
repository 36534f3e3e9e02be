//! Promise: a bot linked by QR keeps its identity through a crash. After
//! `bounce("bot")` (a dyno killed without SIGTERM; its local disk gone, the
//! store intact) it comes back online as the same device without a new
//! pairing, every message it acked is in its durable store, and the server
//! never sees two live connections for it.
//!
//! The production start and loop (`blacksky_io::session::runner::run_with`) over turmoil.
//! `SEED=<n> cargo test -p blacksky-sim --test link_and_restart` replays a run.

use std::time::Duration;

use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

/// From a QR on screen to online, in simulated time.
const LINK_BOUND: Duration = Duration::from_secs(60);
/// From a crash to online again, in simulated time.
const RESTART_BOUND: Duration = Duration::from_secs(30);
const MESSAGES: usize = 10;
const CONTACT: &str = "4915550001111";

#[test]
fn link_and_restart() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "link_and_restart",
    };
    let started = std::time::Instant::now();
    let mut world = World::new(&WorldConfig::new(seed));

    world.run_until("showing a QR", Duration::from_secs(30), |w| {
        w.bot_qr().is_some()
    });
    let qr = world.bot_qr().expect("a QR is shown");
    world
        .server
        .with_server(|s| s.scan_qr(&qr))
        .expect("the phone accepts the QR");
    let took = world.run_until("online after linking", LINK_BOUND, World::bot_online);
    eprintln!("seed {seed}: linked and online {took:?} after the scan");
    let creds = world.stored_creds().expect("creds are stored");
    let me = creds.me.clone().expect("the stored creds are linked");
    let identity = *creds.identity_key.public();
    world.assert_invariants();

    let ids: Vec<String> = (0..MESSAGES)
        .map(|i| {
            world
                .server
                .with_server(|s| s.send_text(CONTACT, &format!("hello {i}")))
                .expect("the contact can send")
        })
        .collect();
    world.run_until("every message acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked as usize == MESSAGES
    });
    world.assert_invariants();
    let stored: Vec<String> = world.stored_inbox().into_iter().map(|e| e.id).collect();
    for id in &ids {
        assert!(
            stored.contains(id),
            "seed {seed}: {id} acked but not stored"
        );
    }
    world.run_until("every message handled", Duration::from_secs(30), |w| {
        w.handled().len() >= MESSAGES
    });
    let logins_before = world.server_state().devices[0].logins;

    world.bounce_bot();
    let mut qr_after_crash = false;
    let took = world.run_until("online again after the crash", RESTART_BOUND, |w| {
        qr_after_crash |= w.bot_qr().is_some();
        w.bot_online()
    });
    eprintln!("seed {seed}: online {took:?} after the crash");
    assert!(
        !qr_after_crash,
        "seed {seed}: a QR was shown after the crash"
    );
    assert_eq!(world.bot_starts(), 2, "seed {seed}");

    let state = world.server_state();
    assert_eq!(
        state.devices.len(),
        1,
        "seed {seed}: a new device was linked"
    );
    assert!(
        state.pending_pairings.is_empty(),
        "seed {seed}: a pairing started after the crash"
    );
    assert!(state.devices[0].logins > logins_before, "seed {seed}");
    let creds = world.stored_creds().expect("creds are still stored");
    assert_eq!(
        *creds.identity_key.public(),
        identity,
        "seed {seed}: new identity"
    );
    assert_eq!(
        creds.me.map(|m| m.jid),
        Some(me.jid),
        "seed {seed}: new device"
    );

    // Settle, then check everything again: nothing handled twice after the
    // restart, nothing lost.
    world.run_for(Duration::from_secs(5));
    world.assert_invariants();
    assert_eq!(
        world.handled().len(),
        MESSAGES,
        "seed {seed}: handled again"
    );
    eprintln!(
        "seed {seed}: {:?} simulated in {:?}",
        world.elapsed(),
        started.elapsed()
    );
}
