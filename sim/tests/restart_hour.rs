//! Promise: the planned restart hour (`RESTART_AT=01:30`,
//! `RESTART_SPREAD_MINUTES=20`, the simulated day starting at 00:00 UTC)
//! cycles the bot exactly once, inside its window, with messages arriving
//! all through it: the keeper drains (the writes in flight land, their acks
//! go out), exits 75, the host starts a new process, and it comes back as
//! the same device with no QR. Every message is stored once and handled;
//! the run's invariants hold (nothing acked before it was stored, never two
//! live connections). The new process schedules its own cycle a day later.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test restart_hour` replays a run.

use std::time::Duration;

use blacksky_core::keeper::{DailyRestart, exit};
use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

const CONTACT: &str = "4915550007777";
/// 01:30 UTC.
const AT_MINUTE: u32 = 90;
const SPREAD_MINUTES: u32 = 20;
/// How long the run lasts: past the window, with time to spare.
const RUN: Duration = Duration::from_secs(150 * 60);
/// The drain and the restart take seconds; this bounds how late the exit
/// may come after the window closes (the keeper waits for a quiet moment
/// at most five minutes, then drains within the shutdown grace).
const LATE_BOUND: Duration = Duration::from_secs(6 * 60);

#[test]
fn restart_hour() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "restart_hour",
    };
    let started = std::time::Instant::now();
    let mut world = World::new(&WorldConfig {
        daily_restart: Some(DailyRestart {
            minute_of_day: AT_MINUTE,
            spread_minutes: SPREAD_MINUTES,
        }),
        ..WorldConfig::new(seed)
    });
    world.link_by_qr(Duration::from_secs(60));
    let identity = *world.stored_creds().expect("stored").identity_key.public();
    let window = (
        Duration::from_secs(u64::from(AT_MINUTE) * 60),
        Duration::from_secs(u64::from(AT_MINUTE + SPREAD_MINUTES) * 60),
    );
    let mut ids = Vec::new();
    let mut qr_after_restart = false;
    while world.elapsed() < RUN {
        // A message a minute; around the window one every 10 s, so the
        // restart finds some on their way.
        let busy = world.elapsed() + Duration::from_secs(300) >= window.0
            && world.elapsed() <= window.1 + Duration::from_secs(300);
        ids.extend(world.send_messages(CONTACT, 1));
        let step = if busy { 10 } else { 60 };
        for _ in 0..step {
            world.run_for(Duration::from_secs(1));
            // The host starts an exited process again (Heroku's worker).
            if world.restart_if_exited() {
                continue;
            }
            qr_after_restart |= world.bot_starts() > 1 && world.bot_qr().is_some();
        }
    }
    let exits = world.bot_exits();
    eprintln!("seed {seed}: exits {exits:?}, {} messages", ids.len());
    assert_eq!(exits.len(), 1, "seed {seed}: one cycle: {exits:?}");
    let (at, code) = exits[0];
    assert_eq!(code, exit::PLANNED_RESTART, "seed {seed}: exit code");
    assert!(
        at >= window.0 && at <= window.1 + LATE_BOUND,
        "seed {seed}: the cycle at {at:?}, outside {window:?}"
    );
    assert_eq!(world.bot_starts(), 2, "seed {seed}: started again once");
    assert!(!qr_after_restart, "seed {seed}: a QR after the restart");
    world.run_until("online", Duration::from_secs(60), World::bot_online);
    let creds = world.stored_creds().expect("stored");
    assert_eq!(
        *creds.identity_key.public(),
        identity,
        "seed {seed}: identity"
    );
    assert_eq!(
        world.server_state().devices.len(),
        1,
        "seed {seed}: one device"
    );
    world.assert_all_kept(&ids);
    eprintln!(
        "seed {seed}: {:?} simulated in {:?}",
        world.elapsed(),
        started.elapsed()
    );
}
