//! Promise: what the host does to the process costs nothing.
//!
//! - The bot's wall clock jumps (NTP off, a VM resumed) by two days either
//!   way: the link stays up, messages flow, nothing is lost.
//! - Memory stays over `MEMORY_LIMIT_MB` past the grace: caches are shed,
//!   then a planned restart (exit 75); the next process is online with the
//!   same device and nothing is lost.
//! - The database server crashes while writes are in flight, on a slow
//!   commit path: the writes it had not committed are lost, the bot never
//!   acked them, retries them, and every message ends up stored once.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test host_faults` replays.

use std::time::Duration;

use blacksky_sim::chaos::World;
use blacksky_sim::chaos::world::MEMORY_LIMIT_MB;

const CONTACT: &str = "4915550008888";

#[test]
fn clock_jumps_both_ways() {
    let (mut world, _guard) = World::linked("host_faults");
    let mut ids = world.send_messages(CONTACT, 3);
    for offset_ms in [48 * 3_600_000, -48 * 3_600_000, 0] {
        world.jump_bot_clock(offset_ms);
        world.run_for(Duration::from_secs(120));
        assert!(world.bot_online(), "offline after a {offset_ms} ms jump");
        ids.extend(world.send_messages(CONTACT, 3));
    }
    // And through a reconnect with the clock off.
    world.jump_bot_clock(-48 * 3_600_000);
    world.drop_connections();
    world.run_until("online again", Duration::from_secs(60), World::bot_online);
    ids.extend(world.send_messages(CONTACT, 3));
    world.assert_all_kept(&ids);
    assert_eq!(world.server_state().devices[0].logins, 2, "one reconnect");
}

#[test]
fn memory_over_the_limit_ends_in_a_planned_restart() {
    let (mut world, _guard) = World::linked("host_faults");
    let identity = *world.stored_creds().expect("stored").identity_key.public();
    let mut ids = world.send_messages(CONTACT, 3);
    world.set_bot_rss((MEMORY_LIMIT_MB + 50) * 1024 * 1024);
    ids.extend(world.send_messages(CONTACT, 3));
    // Sampled every 10 s, a 60 s grace after shedding caches.
    world.run_until("the planned restart", Duration::from_secs(120), |w| {
        !w.bot_running()
    });
    assert_eq!(world.bot_exits().last().map(|e| e.1), Some(75), "exit code");
    world.set_bot_rss(12 * 1024 * 1024);
    assert!(world.restart_if_exited());
    world.run_until(
        "online after the restart",
        Duration::from_secs(30),
        World::bot_online,
    );
    let creds = world.stored_creds().expect("stored");
    assert_eq!(*creds.identity_key.public(), identity, "identity");
    world.assert_all_kept(&ids);
}

#[test]
fn a_database_crash_loses_only_what_was_never_acked() {
    let (mut world, _guard) = World::linked("host_faults");
    // Slow commits: a crash finds writes in flight.
    world.set_db_latency_ms(800);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.extend(world.send_messages(CONTACT, 4));
        world.run_for(Duration::from_millis(1_200));
        world.crash_db();
        world.run_for(Duration::from_secs(3));
    }
    world.set_db_latency_ms(2);
    world.assert_all_kept(&ids);
    let lost = world.db_link.lost_or_in_flight();
    eprintln!("requests the crashes lost: {lost}");
    assert!(
        lost > 0,
        "no crash caught a write in flight: the test tests nothing"
    );
    assert!(world.bot_online(), "the link survived the database crashes");
}
