//! The keeper's promises: every row of the policy table, backoff bounds
//! and resets, the attempt cap, memory shedding, and shutdown ordering.

use std::time::{Duration, Instant};

use blacksky_core::client::DisconnectReason;
use blacksky_core::keeper::{
    Alert, ConnState, Input, Keeper, KeeperConfig, Output, ShutdownStep, exit,
};
use proptest::prelude::*;

fn drain(keeper: &mut Keeper) -> Vec<Output> {
    std::iter::from_fn(|| keeper.poll_output()).collect()
}

fn started(config: KeeperConfig, seed: u8) -> (Keeper, Instant) {
    let t0 = Instant::now();
    let mut keeper = Keeper::new(config, t0, [seed; 32]);
    keeper.handle_input(t0, Input::Start);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
    (keeper, t0)
}

fn no_backups() -> KeeperConfig {
    KeeperConfig {
        backup_interval_ms: 0,
        ..KeeperConfig::default()
    }
}

/// Disconnects with `code`, returns what the keeper said.
fn lose(keeper: &mut Keeper, now: Instant, code: u16) -> Vec<Output> {
    keeper.handle_input(now, Input::Disconnected(DisconnectReason::from_code(code)));
    drain(keeper)
}

#[test]
fn restart_required_reconnects_at_once() {
    let (mut keeper, t0) = started(no_backups(), 1);
    assert_eq!(lose(&mut keeper, t0, 515), vec![Output::Connect]);
    assert_eq!(keeper.health().reconnects, 1);
}

#[test]
fn logged_out_stops_keeps_data_and_exits_with_its_own_code() {
    for code in [401, 403] {
        let (mut keeper, t0) = started(no_backups(), 1);
        let out = lose(&mut keeper, t0, code);
        assert!(
            matches!(out[0], Output::Alert(Alert::NeedsPairing { .. })),
            "{out:?}"
        );
        assert_eq!(out[1], Output::Exit(exit::LOGGED_OUT));
        assert_eq!(keeper.health().state, ConnState::NeedsPairing);
        assert_eq!(keeper.poll_timeout(), None, "no reconnect is scheduled");
    }
}

#[test]
fn logged_out_with_the_pairing_page_on_waits_for_a_person() {
    let (mut keeper, t0) = started(
        KeeperConfig {
            exit_on_logout: false,
            ..no_backups()
        },
        1,
    );
    let out = lose(&mut keeper, t0, 401);
    assert_eq!(out.len(), 1, "alert only, no exit: {out:?}");
    keeper.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(drain(&mut keeper).is_empty());
    keeper.handle_input(t0, Input::ConnectRequested);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn a_link_asked_for_after_a_logout_links_a_new_device() {
    let (mut keeper, t0) = started(
        KeeperConfig {
            exit_on_logout: false,
            ..no_backups()
        },
        1,
    );
    lose(&mut keeper, t0, 401);
    keeper.handle_input(t0, Input::LinkRequested);
    assert_eq!(
        drain(&mut keeper),
        vec![Output::NewIdentity, Output::Connect],
        "fresh keys for the new device, then connect"
    );
}

#[test]
fn a_link_asked_for_while_showing_qr_codes_restarts_the_connection_once_closed() {
    let (mut keeper, t0) = started(no_backups(), 1);
    keeper.handle_input(t0, Input::LinkRequested);
    assert_eq!(drain(&mut keeper), vec![Output::CloseConnection]);
    assert_eq!(keeper.health().state.as_str(), "connecting");
    keeper.handle_input(t0, Input::ConnectionClosed);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
    // A connection closed for another reason (shutdown's own close) is
    // not a reason to connect.
    keeper.handle_input(t0, Input::ConnectionClosed);
    assert!(drain(&mut keeper).is_empty());
}

#[test]
fn an_unfinished_link_links_again_at_once() {
    let (mut keeper, t0) = started(no_backups(), 1);
    keeper.handle_input(t0, Input::Disconnected(DisconnectReason::LinkUnfinished));
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn replaced_stands_by_and_never_fights() {
    let (mut keeper, t0) = started(no_backups(), 1);
    assert_eq!(
        lose(&mut keeper, t0, 440),
        vec![Output::Alert(Alert::Replaced)]
    );
    assert_eq!(keeper.health().state, ConnState::StandingBy);
    for hours in 1..48 {
        keeper.handle_timeout(t0 + Duration::from_secs(3600 * hours));
        assert!(drain(&mut keeper).is_empty());
    }
}

const OLDER_RECENT: Input = Input::Peers {
    newer_alive: false,
    newer_ran: false,
    older_recent: true,
};
const NEWER_ALIVE: Input = Input::Peers {
    newer_alive: true,
    newer_ran: true,
    older_recent: false,
};
const NEWER_GONE: Input = Input::Peers {
    newer_alive: false,
    newer_ran: true,
    older_recent: false,
};
const ALONE: Input = Input::Peers {
    newer_alive: false,
    newer_ran: false,
    older_recent: false,
};

#[test]
fn a_late_login_of_an_older_process_is_answered_by_taking_the_session_back() {
    let (mut keeper, t0) = started(no_backups(), 1);
    keeper.handle_input(t0, Input::Online);
    let _ = lose(&mut keeper, t0, 440);
    keeper.handle_input(t0, OLDER_RECENT);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
    assert_eq!(keeper.health().state, ConnState::Connecting);
    assert_eq!(
        keeper.health().last_disconnect,
        Some(DisconnectReason::Replaced)
    );
}

#[test]
fn a_440_from_outside_the_store_stands_by_whatever_is_asked_later() {
    let (mut keeper, t0) = started(no_backups(), 1);
    let _ = lose(&mut keeper, t0, 440);
    for n in 1..10 {
        keeper.handle_input(t0 + Duration::from_secs(10 * n), ALONE);
        assert!(drain(&mut keeper).is_empty());
    }
    assert_eq!(keeper.health().state, ConnState::StandingBy);
}

#[test]
fn taking_the_session_back_is_bounded_per_window() {
    let config = KeeperConfig {
        takebacks_max: 2,
        takeback_window_ms: 600_000,
        ..no_backups()
    };
    let (mut keeper, t0) = started(config, 1);
    let minute = Duration::from_secs(60);
    for n in 1..=2 {
        let _ = lose(&mut keeper, t0 + minute * n, 440);
        keeper.handle_input(t0 + minute * n, OLDER_RECENT);
        assert_eq!(drain(&mut keeper), vec![Output::Connect], "take-back {n}");
    }
    // A third within the window: something keeps taking it; stand by.
    assert_eq!(
        lose(&mut keeper, t0 + minute * 3, 440),
        vec![Output::Alert(Alert::Replaced)]
    );
    keeper.handle_input(t0 + minute * 3, OLDER_RECENT);
    assert!(drain(&mut keeper).is_empty());
    assert_eq!(keeper.health().state, ConnState::StandingBy);
    // Once the first has left the window, standing by can end again.
    keeper.handle_input(t0 + minute * 11, OLDER_RECENT);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn a_newer_process_is_left_the_session_until_it_is_gone() {
    let (mut keeper, t0) = started(no_backups(), 1);
    // The check before the first connect finds a newer process.
    keeper.handle_input(t0, NEWER_ALIVE);
    assert_eq!(drain(&mut keeper), vec![Output::Alert(Alert::Replaced)]);
    assert_eq!(keeper.health().state, ConnState::StandingBy);
    let s = |n| t0 + Duration::from_secs(n);
    keeper.handle_input(s(10), NEWER_ALIVE);
    // Gone once: maybe only its heartbeat is late (a database just back).
    keeper.handle_input(s(20), NEWER_GONE);
    keeper.handle_input(s(30), NEWER_ALIVE);
    keeper.handle_input(s(40), NEWER_GONE);
    keeper.handle_input(s(50), NEWER_GONE);
    assert!(drain(&mut keeper).is_empty(), "10 s is under the grace");
    keeper.handle_input(s(60), NEWER_GONE);
    assert_eq!(drain(&mut keeper), vec![Output::Connect], "gone for 20 s");
}

#[test]
fn a_440_explained_by_a_newer_process_waits_for_it_too() {
    let (mut keeper, t0) = started(no_backups(), 1);
    keeper.handle_input(t0, Input::Online);
    let _ = lose(&mut keeper, t0, 440);
    keeper.handle_input(t0, NEWER_ALIVE);
    keeper.handle_input(t0 + Duration::from_secs(10), NEWER_GONE);
    keeper.handle_input(t0 + Duration::from_secs(30), NEWER_GONE);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn a_440_the_store_explains_late_is_taken_back_if_ours_took_it() {
    // The store could not answer at the 440; when it does, the newer
    // process that took the session has stopped already.
    let (mut keeper, t0) = started(no_backups(), 1);
    let _ = lose(&mut keeper, t0, 440);
    keeper.handle_input(t0 + Duration::from_secs(60), NEWER_GONE);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn a_process_backing_off_or_online_ignores_the_register() {
    let (mut keeper, t0) = started(no_backups(), 1);
    keeper.handle_input(t0, Input::Online);
    keeper.handle_input(t0, NEWER_ALIVE);
    keeper.handle_input(t0, OLDER_RECENT);
    assert!(drain(&mut keeper).is_empty());
    let _ = lose(&mut keeper, t0, 503);
    keeper.handle_input(t0, OLDER_RECENT);
    keeper.handle_input(t0, NEWER_ALIVE);
    assert!(drain(&mut keeper).is_empty());
    assert!(matches!(
        keeper.health().state,
        ConnState::BackingOff { .. }
    ));
}

#[test]
fn outdated_client_refreshes_its_version_then_reconnects() {
    let (mut keeper, t0) = started(no_backups(), 1);
    assert_eq!(lose(&mut keeper, t0, 405), vec![Output::RefreshVersion]);
    keeper.handle_input(t0, Input::VersionRefreshed);
    assert_eq!(drain(&mut keeper), vec![Output::Connect]);
}

#[test]
fn an_outdated_client_with_no_newer_version_backs_off_instead_of_looping() {
    let (mut keeper, t0) = started(no_backups(), 1);
    assert_eq!(lose(&mut keeper, t0, 405), vec![Output::RefreshVersion]);
    keeper.handle_input(t0, Input::VersionRefreshFailed);
    let out = drain(&mut keeper);
    assert!(
        matches!(
            out[0],
            Output::ReconnectIn {
                attempt: 1,
                after: DisconnectReason::ClientOutdated,
                ..
            }
        ),
        "{out:?}"
    );
}

#[test]
fn transient_codes_back_off_then_reconnect() {
    for code in [408, 428, 500, 503] {
        let (mut keeper, t0) = started(no_backups(), 2);
        let out = lose(&mut keeper, t0, code);
        let Output::ReconnectIn {
            delay_ms,
            attempt: 1,
            ..
        } = out[0]
        else {
            panic!("{code}: {out:?}")
        };
        assert!(delay_ms <= 1_000, "first delay within base: {delay_ms}");
        let at = keeper.poll_timeout().expect("a reconnect is scheduled");
        assert_eq!(at, t0 + Duration::from_millis(delay_ms));
        keeper.handle_timeout(at);
        assert_eq!(drain(&mut keeper), vec![Output::Connect]);
    }
}

#[test]
fn keepalive_death_and_dial_failures_back_off() {
    let (mut keeper, t0) = started(no_backups(), 3);
    keeper.handle_input(t0, Input::Disconnected(DisconnectReason::KeepaliveTimeout));
    assert!(matches!(
        drain(&mut keeper)[0],
        Output::ReconnectIn { attempt: 1, .. }
    ));
    keeper.handle_input(t0, Input::DialFailed);
    assert!(matches!(
        drain(&mut keeper)[0],
        Output::ReconnectIn { attempt: 2, .. }
    ));
}

#[test]
fn attempts_cap_stops_with_an_alert() {
    let config = KeeperConfig {
        max_reconnect_attempts: 3,
        ..no_backups()
    };
    let (mut keeper, t0) = started(config, 4);
    for attempt in 1..=3 {
        let out = lose(&mut keeper, t0, 503);
        assert!(
            matches!(out[0], Output::ReconnectIn { attempt: a, .. } if a == attempt),
            "{out:?}"
        );
    }
    let out = lose(&mut keeper, t0, 503);
    assert_eq!(
        out,
        vec![
            Output::Alert(Alert::GaveUp { attempts: 3 }),
            Output::Exit(exit::GAVE_UP)
        ]
    );
    assert_eq!(keeper.health().state, ConnState::GaveUp);
}

#[test]
fn a_stable_connection_resets_the_backoff() {
    let (mut keeper, t0) = started(no_backups(), 5);
    for _ in 0..5 {
        lose(&mut keeper, t0, 503);
    }
    keeper.handle_input(t0, Input::Online);
    // Dropped before it was stable: the count goes on.
    let out = lose(&mut keeper, t0 + Duration::from_secs(10), 503);
    assert!(
        matches!(out[0], Output::ReconnectIn { attempt: 6, .. }),
        "{out:?}"
    );
    keeper.handle_input(t0, Input::Online);
    let stable = t0 + Duration::from_millis(KeeperConfig::default().stable_after_ms);
    keeper.handle_timeout(stable);
    drain(&mut keeper);
    let out = lose(&mut keeper, stable, 503);
    assert!(
        matches!(out[0], Output::ReconnectIn { attempt: 1, .. }),
        "{out:?}"
    );
}

proptest! {
    /// Full jitter stays within [0, min(max, base·2^(n-1))] for any seed,
    /// and a seed gives the same schedule every time.
    #[test]
    fn jitter_stays_within_bounds(seed in any::<u8>(), base in 1u64..5_000, max in 1u64..120_000, losses in 1usize..40) {
        let config = KeeperConfig { reconnect_base_ms: base, reconnect_max_ms: max, ..no_backups() };
        let schedule = |config: KeeperConfig| {
            let (mut keeper, t0) = started(config, seed);
            (1..=losses).map(|_| match lose(&mut keeper, t0, 428)[0] {
                Output::ReconnectIn { delay_ms, attempt, .. } => (attempt, delay_ms),
                ref other => panic!("{other:?}"),
            }).collect::<Vec<_>>()
        };
        let first = schedule(config.clone());
        for &(attempt, delay) in &first {
            let ceiling = base.saturating_mul(1 << (attempt - 1).min(32)).min(max);
            prop_assert!(delay <= ceiling, "attempt {attempt}: {delay} > {ceiling}");
        }
        prop_assert_eq!(first, schedule(config));
    }
}

#[test]
fn shutdown_runs_its_steps_in_order_then_exits_zero() {
    let (mut keeper, t0) = started(no_backups(), 6);
    keeper.handle_input(t0, Input::Online);
    keeper.handle_input(t0, Input::ShutdownRequested);
    assert_eq!(
        drain(&mut keeper),
        vec![Output::Shutdown(ShutdownStep::Drain)]
    );
    // Out-of-order or repeated reports do not skip a step.
    keeper.handle_input(t0, Input::ShutdownStepDone(ShutdownStep::Close));
    keeper.handle_input(t0, Input::ShutdownRequested);
    assert!(drain(&mut keeper).is_empty());
    keeper.handle_input(t0, Input::ShutdownStepDone(ShutdownStep::Drain));
    assert_eq!(
        drain(&mut keeper),
        vec![Output::Shutdown(ShutdownStep::FinalSnapshot)]
    );
    // A disconnect during shutdown does not start a reconnect.
    keeper.handle_input(t0, Input::Disconnected(DisconnectReason::RestartRequired));
    assert!(drain(&mut keeper).is_empty());
    keeper.handle_input(t0, Input::ShutdownStepDone(ShutdownStep::FinalSnapshot));
    assert_eq!(
        drain(&mut keeper),
        vec![Output::Shutdown(ShutdownStep::Close)]
    );
    keeper.handle_input(t0, Input::ShutdownStepDone(ShutdownStep::Close));
    assert_eq!(drain(&mut keeper), vec![Output::Exit(exit::CLEAN)]);
}

#[test]
fn the_owners_restart_is_a_graceful_cycle_ending_in_a_planned_restart() {
    let (mut keeper, t0) = started(no_backups(), 8);
    keeper.handle_input(t0, Input::Online);
    drain(&mut keeper);
    keeper.handle_input(t0, Input::RestartRequested);
    assert_eq!(
        drain(&mut keeper),
        vec![Output::Shutdown(ShutdownStep::Drain)]
    );
    for step in [
        ShutdownStep::Drain,
        ShutdownStep::FinalSnapshot,
        ShutdownStep::Close,
    ] {
        keeper.handle_input(t0, Input::ShutdownStepDone(step));
    }
    assert_eq!(
        drain(&mut keeper).last(),
        Some(&Output::Exit(exit::PLANNED_RESTART))
    );
}

#[test]
fn a_stuck_shutdown_step_is_cut_off_at_the_grace_deadline() {
    let (mut keeper, t0) = started(no_backups(), 7);
    keeper.handle_input(t0, Input::ShutdownRequested);
    drain(&mut keeper);
    keeper.handle_input(t0, Input::ShutdownStepDone(ShutdownStep::Drain));
    drain(&mut keeper);
    let deadline = keeper.poll_timeout().expect("grace deadline");
    assert_eq!(deadline, t0 + Duration::from_millis(25_000));
    keeper.handle_timeout(deadline - Duration::from_millis(1));
    assert!(drain(&mut keeper).is_empty());
    keeper.handle_timeout(deadline);
    assert_eq!(
        drain(&mut keeper),
        vec![
            Output::Alert(Alert::ShutdownAbandoned {
                step: ShutdownStep::FinalSnapshot
            }),
            Output::Exit(exit::CLEAN)
        ]
    );
}

#[test]
fn memory_over_the_limit_sheds_then_restarts_with_a_final_snapshot() {
    let config = KeeperConfig {
        memory_limit_bytes: Some(100),
        memory_grace_ms: 1_000,
        ..no_backups()
    };
    let (mut keeper, t0) = started(config, 8);
    keeper.handle_input(t0, Input::MemorySample { rss_bytes: 50 });
    assert!(drain(&mut keeper).is_empty());
    keeper.handle_input(t0, Input::MemorySample { rss_bytes: 150 });
    assert_eq!(
        drain(&mut keeper),
        vec![
            Output::Alert(Alert::MemoryOverLimit {
                rss_bytes: 150,
                limit_bytes: 100
            }),
            Output::ShedCaches
        ]
    );
    // Back under: the grace resets.
    keeper.handle_input(
        t0 + Duration::from_millis(500),
        Input::MemorySample { rss_bytes: 90 },
    );
    keeper.handle_input(
        t0 + Duration::from_millis(600),
        Input::MemorySample { rss_bytes: 150 },
    );
    assert_eq!(drain(&mut keeper).len(), 2, "shed again");
    keeper.handle_input(
        t0 + Duration::from_millis(1_000),
        Input::MemorySample { rss_bytes: 150 },
    );
    assert!(drain(&mut keeper).is_empty(), "still within the grace");
    keeper.handle_input(
        t0 + Duration::from_millis(1_600),
        Input::MemorySample { rss_bytes: 150 },
    );
    assert_eq!(
        drain(&mut keeper),
        vec![
            Output::Alert(Alert::PlannedRestart { rss_bytes: 150 }),
            Output::Shutdown(ShutdownStep::Drain)
        ]
    );
    for step in [
        ShutdownStep::Drain,
        ShutdownStep::FinalSnapshot,
        ShutdownStep::Close,
    ] {
        keeper.handle_input(t0, Input::ShutdownStepDone(step));
    }
    assert_eq!(
        drain(&mut keeper).last(),
        Some(&Output::Exit(exit::PLANNED_RESTART))
    );
}

#[test]
fn periodic_snapshots_follow_the_interval() {
    let config = KeeperConfig {
        backup_interval_ms: 1_000,
        ..KeeperConfig::default()
    };
    let (mut keeper, t0) = started(config, 9);
    assert_eq!(keeper.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    keeper.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(drain(&mut keeper), vec![Output::Snapshot]);
    assert_eq!(keeper.poll_timeout(), Some(t0 + Duration::from_secs(2)));
}
