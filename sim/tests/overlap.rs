//! Promise: two dynos at once never fight and never lose or repeat a
//! message. A new dyno starts while the old one runs (Heroku overlaps
//! them on deploys and restarts): the new one takes the session over with
//! one hand-over (the old one is told 440 and stands by), contacts keep
//! sending through it, the old one exits 0 on its SIGTERM, and every
//! message is stored once and handed to exactly one handler.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test overlap` replays a run.

use std::time::Duration;

use blacksky_sim::chaos::World;

const CONTACT: &str = "4915550006666";

#[test]
fn the_new_dyno_takes_over_and_the_old_one_stands_by() {
    let (mut world, guard) = World::linked("overlap");
    let seed = guard.seed;
    let mut ids = world.send_messages(CONTACT, 5);
    let old = world.start_overlapping_bot();
    ids.extend(world.send_messages(CONTACT, 5));
    world.run_until(
        "the new dyno online",
        Duration::from_secs(30),
        World::bot_online,
    );
    world.run_for(Duration::from_secs(20));
    assert_eq!(
        world.server_state().replaced_connections,
        1,
        "seed {seed}: one hand-over, no fight"
    );
    assert!(
        world.host_running(&old),
        "seed {seed}: the old dyno still runs"
    );
    ids.extend(world.send_messages(CONTACT, 5));
    assert!(world.sigterm_host_named(&old), "seed {seed}");
    world.run_until("the old dyno exited", Duration::from_secs(30), |w| {
        !w.host_running(&old)
    });
    assert_eq!(
        world.bot_exits().last().map(|e| e.1),
        Some(0),
        "seed {seed}"
    );
    assert!(world.bot_online(), "seed {seed}: the new dyno stays online");
    world.assert_all_kept(&ids);
    assert_eq!(
        world.server_state().replaced_connections,
        1,
        "seed {seed}: the old dyno never came back"
    );
}

/// SIGTERM to the old dyno: it exits, and the new one stays online.
fn stop_the_old_dyno(world: &mut World, old: &str, seed: u64) {
    world.sigterm_host_named(old);
    world.run_for(Duration::from_secs(30));
    assert!(!world.host_running(old), "seed {seed}: the old dyno exited");
    assert!(world.bot_online(), "seed {seed}: still online");
}

/// The old dyno loses its socket right as the new one starts: it must not
/// reconnect and take the session back (sweep seed 54).
#[test]
fn an_old_dyno_whose_socket_dropped_does_not_come_back() {
    let (mut world, guard) = World::linked("overlap");
    let seed = guard.seed;
    let mut ids = world.send_messages(CONTACT, 3);
    world.run_for(Duration::from_secs(5));
    // The old dyno is cut off from WhatsApp as the new one starts: the
    // new login's 440 never reaches it.
    world.partition_bot();
    let old = world.start_overlapping_bot();
    world.run_until(
        "the new dyno online",
        Duration::from_secs(30),
        World::bot_online,
    );
    // The old dyno's network comes back; its keepalive finds its socket
    // dead and it wants to reconnect.
    world.repair_wa_of(&old);
    world.run_for(Duration::from_secs(120));
    assert!(world.bot_online(), "seed {seed}: the new dyno is online");
    assert_eq!(
        world.server_state().replaced_connections,
        1,
        "seed {seed}: the old dyno took the session back"
    );
    ids.extend(world.send_messages(CONTACT, 3));
    stop_the_old_dyno(&mut world, &old, seed);
    world.assert_all_kept(&ids);
}

/// The old dyno's login is under way (it passed its "no newer process"
/// check) but stalls on the network while the new dyno starts and logs
/// in; then it arrives and takes the session (sweep seed 2366). No check
/// before a login can stop that: the new dyno, the newest process with an
/// older one alive, takes the session back at once, and the old one,
/// told 440 in turn, stands by.
#[test]
fn a_late_login_of_the_old_dyno_is_answered_by_taking_the_session_back() {
    let (mut world, guard) = World::linked("overlap");
    let seed = guard.seed;
    let mut ids = world.send_messages(CONTACT, 3);
    world.run_for(Duration::from_secs(5));
    let old = world.bot_host();
    // The old dyno loses its socket and reconnects; its packets stall.
    world.drop_connections();
    world.run_until("the old dyno offline", Duration::from_secs(5), |w| {
        !w.bot_online()
    });
    world.hold_wa_of(&old);
    world.run_for(Duration::from_secs(3));
    assert_eq!(
        world.bot_state(),
        "connecting",
        "seed {seed}: the old dyno's reconnect is under way"
    );
    world.start_overlapping_bot();
    world.run_until(
        "the new dyno online",
        Duration::from_secs(30),
        World::bot_online,
    );
    let replaced_before = world.server_state().replaced_connections;
    // The stalled login arrives late and takes the session.
    world.release_wa_of(&old);
    world.run_until("the old dyno's late login", Duration::from_secs(30), |w| {
        w.server_state().replaced_connections > replaced_before
    });
    world.run_until(
        "the new dyno online again",
        Duration::from_secs(10),
        World::bot_online,
    );
    world.run_for(Duration::from_secs(60));
    assert!(world.bot_online(), "seed {seed}: the new dyno keeps it");
    assert_eq!(
        world.server_state().replaced_connections,
        replaced_before + 2,
        "seed {seed}: one late login, one take-back, no fight"
    );
    assert_eq!(
        world.bot_last_disconnect().as_deref(),
        Some("440 replaced by another client"),
        "seed {seed}"
    );
    ids.extend(world.send_messages(CONTACT, 3));
    stop_the_old_dyno(&mut world, &old, seed);
    world.assert_all_kept(&ids);
}
