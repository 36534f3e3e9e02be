//! The planned restart hour: the keeper cycles itself once, inside the
//! drawn window, after the backlog drained (or the wait for it ran out),
//! through the same graceful shutdown as the memory restart (exit 75);
//! never while standing by for a newer process; the spread is the seed's.

use std::time::{Duration, Instant};

use blacksky_core::keeper::{
    ConnState, DailyRestart, Input, Keeper, KeeperConfig, Output, ShutdownStep, exit,
};
use blacksky_core::time::UnixMillis;

/// 2025-01-01T00:00:00Z.
const DAY0: u64 = 1_735_689_600_000;
const MIN: u64 = 60_000;

fn drain(keeper: &mut Keeper) -> Vec<Output> {
    std::iter::from_fn(|| keeper.poll_output()).collect()
}

fn config(spread_minutes: u32) -> KeeperConfig {
    KeeperConfig {
        backup_interval_ms: 0,
        daily_restart: Some(DailyRestart {
            minute_of_day: 4 * 60,
            spread_minutes,
        }),
        ..KeeperConfig::default()
    }
}

/// A keeper started at 01:00 UTC, online.
fn online(config: KeeperConfig, seed: u8) -> (Keeper, Instant) {
    let t0 = Instant::now();
    let mut keeper = Keeper::new(config, t0, [seed; 32]);
    keeper.handle_input(t0, Input::Start);
    keeper.handle_input(t0, Input::WallClock(UnixMillis(DAY0 + 60 * MIN)));
    keeper.handle_input(t0, Input::Online);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
    (keeper, t0)
}

/// Steps the keeper's timers minute by minute up to `until`; returns the
/// first outputs that came and when.
fn run_until(keeper: &mut Keeper, t0: Instant, until: Duration) -> Option<(Duration, Vec<Output>)> {
    let mut at = Duration::ZERO;
    while at <= until {
        keeper.handle_timeout(t0 + at);
        let out = drain(keeper);
        if !out.is_empty() {
            return Some((at, out));
        }
        at += Duration::from_secs(1);
    }
    None
}

#[test]
fn the_restart_falls_in_the_window_and_is_the_graceful_cycle() {
    for seed in 0..20 {
        let (mut keeper, t0) = online(config(30), seed);
        let due = keeper.daily_restart_at().expect("scheduled");
        let after = due - t0;
        assert!(
            after >= Duration::from_secs(3 * 3600)
                && after <= Duration::from_secs(3 * 3600 + 30 * 60),
            "seed {seed}: due {after:?} after 01:00"
        );
        let (at, out) = run_until(&mut keeper, t0, Duration::from_secs(4 * 3600)).expect("fired");
        // Stepped by the second: at the first step at or past the due time.
        assert!(
            at >= after && at < after + Duration::from_secs(1),
            "seed {seed}: fired at {at:?}, due {after:?} (the backlog is empty)"
        );
        assert!(
            matches!(
                out[..],
                [
                    Output::DailyRestart { waited_ms },
                    Output::Shutdown(ShutdownStep::Drain)
                ] if waited_ms < 1000
            ),
            "seed {seed}: {out:?}"
        );
        assert_eq!(keeper.health().state, ConnState::ShuttingDown);
        for step in [ShutdownStep::Drain, ShutdownStep::FinalSnapshot] {
            keeper.handle_input(t0 + at, Input::ShutdownStepDone(step));
        }
        keeper.handle_input(t0 + at, Input::ShutdownStepDone(ShutdownStep::Close));
        assert_eq!(
            drain(&mut keeper),
            vec![
                Output::Shutdown(ShutdownStep::FinalSnapshot),
                Output::Shutdown(ShutdownStep::Close),
                Output::Exit(exit::PLANNED_RESTART)
            ]
        );
    }
}

#[test]
fn the_spread_comes_from_the_seed() {
    let due = |seed| {
        let (keeper, t0) = online(config(120), seed);
        keeper.daily_restart_at().expect("scheduled") - t0
    };
    assert_eq!(due(7), due(7), "the same seed, the same time");
    let distinct: std::collections::BTreeSet<Duration> = (0..20).map(due).collect();
    assert!(distinct.len() > 10, "the spread spreads: {distinct:?}");
}

#[test]
fn a_busy_backlog_delays_it_until_quiet_or_the_wait_runs_out() {
    let (mut keeper, t0) = online(config(0), 1);
    let due = keeper.daily_restart_at().expect("scheduled") - t0;
    keeper.handle_input(
        t0,
        Input::Backlog {
            store_writes: 3,
            inbox_waiting: true,
        },
    );
    keeper.handle_timeout(t0 + due);
    assert!(drain(&mut keeper).is_empty(), "waits for the backlog");
    let later = due + Duration::from_secs(40);
    keeper.handle_input(
        t0 + later,
        Input::Backlog {
            store_writes: 0,
            inbox_waiting: false,
        },
    );
    assert_eq!(
        drain(&mut keeper),
        vec![
            Output::DailyRestart { waited_ms: 40_000 },
            Output::Shutdown(ShutdownStep::Drain)
        ]
    );

    // Never quiet: it goes once the wait ran out.
    let (mut keeper, t0) = online(config(0), 2);
    let due = keeper.daily_restart_at().expect("scheduled") - t0;
    keeper.handle_input(
        t0,
        Input::Backlog {
            store_writes: 1,
            inbox_waiting: false,
        },
    );
    let wait = Duration::from_millis(KeeperConfig::default().restart_quiet_wait_ms);
    keeper.handle_timeout(t0 + due + wait - Duration::from_secs(1));
    assert!(drain(&mut keeper).is_empty());
    assert_eq!(keeper.poll_timeout(), Some(t0 + due + wait));
    keeper.handle_timeout(t0 + due + wait);
    assert!(matches!(
        drain(&mut keeper)[..],
        [
            Output::DailyRestart { .. },
            Output::Shutdown(ShutdownStep::Drain)
        ]
    ));
}

#[test]
fn standing_by_for_a_newer_process_skips_it() {
    let (mut keeper, t0) = online(config(0), 3);
    let due = keeper.daily_restart_at().expect("scheduled") - t0;
    keeper.handle_input(
        t0,
        Input::Disconnected(blacksky_core::client::DisconnectReason::Replaced),
    );
    keeper.handle_input(
        t0,
        Input::Peers {
            newer_alive: true,
            newer_ran: true,
            older_recent: false,
        },
    );
    drain(&mut keeper);
    assert_eq!(keeper.health().state, ConnState::StandingBy);
    keeper.handle_timeout(t0 + due);
    assert!(drain(&mut keeper).is_empty());
    assert_eq!(keeper.daily_restart_at(), None, "spent for this process");
}

#[test]
fn off_without_restart_at() {
    let (mut keeper, t0) = online(
        KeeperConfig {
            backup_interval_ms: 0,
            ..KeeperConfig::default()
        },
        4,
    );
    assert_eq!(keeper.daily_restart_at(), None);
    keeper.handle_timeout(t0 + Duration::from_secs(2 * 24 * 3600));
    assert!(drain(&mut keeper).is_empty());
}
