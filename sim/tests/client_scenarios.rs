//! The client's promises, scenario by scenario: the real
//! `blacksky_core::client::Client` against the fake server through the
//! in-memory `Pipe`, on a virtual clock stepped from deadline to deadline.
//! No sockets, no real time; every timing below is exact.
//!
//! Regression: the three QR tests and the late pairing code pin a bug the
//! suite found: the client armed its silence deadline on every byte but
//! pinged only after `<success>`, so pairing died 35 s in.

use std::time::{Duration, Instant};

use blacksky_core::client::pairing::{PairError, QR_URL_PREFIX};
use blacksky_core::client::{
    ClientConfig, DisconnectReason, Event, Ignored, IqPurpose, PairingMethod, Violation,
};
use blacksky_core::session::{Creds, Write};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::frame::FrameError;
use blacksky_core::wire::noise::TransportError;
use blacksky_sim::pipe::{InboxPolicy, Link, Pipe, stored_text};
use blacksky_sim::server::{
    ConnId, DEFAULT_PHONE, FakeServer, ServerConfig, ServerEvent, Tamper, Target,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn pipe(seed: u64) -> Pipe {
    pipe_at(seed, Instant::now())
}

fn pipe_at(seed: u64, t0: Instant) -> Pipe {
    Pipe::new(
        FakeServer::new(ServerConfig::new(WALL), seed),
        t0,
        WALL,
        seed + 100,
    )
}

fn fresh_creds(seed: u64) -> Creds {
    Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed + 1000))
}

/// A pipe with one device linked by QR and online (its first login).
fn online(seed: u64) -> (Pipe, ConnId) {
    let mut pipe = pipe(seed);
    let conn = pipe
        .pair_and_login(pipe.client_config(), fresh_creds(seed))
        .expect("pairs and logs in");
    (pipe, conn)
}

fn code_config(pipe: &Pipe) -> ClientConfig {
    ClientConfig {
        pairing: PairingMethod::Code {
            phone: DEFAULT_PHONE.into(),
        },
        ..pipe.client_config()
    }
}

/// A QR the client showed: when, which ref, for how long, the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShownQr {
    at: Instant,
    index: usize,
    valid_ms: u64,
    text: String,
}

fn shown_qrs(link: &Link) -> Vec<ShownQr> {
    link.timed_events()
        .filter_map(|(at, e)| match e {
            Event::Qr {
                text,
                index,
                valid_ms,
            } => Some(ShownQr {
                at,
                index: *index,
                valid_ms: *valid_ms,
                text: text.clone(),
            }),
            _ => None,
        })
        .collect()
}

fn count(link: &Link, pred: impl Fn(&Event) -> bool) -> usize {
    link.events.iter().filter(|e| pred(e)).count()
}

fn position(link: &Link, pred: impl Fn(&Event) -> bool) -> Option<usize> {
    link.events.iter().position(pred)
}

fn is_paired(e: &Event) -> bool {
    matches!(e, Event::Paired { .. })
}

fn is_qr(e: &Event) -> bool {
    matches!(e, Event::Qr { .. })
}

/// No store command of this link carried creds with `me` set.
fn never_stored_a_linked_identity(link: &Link) -> bool {
    link.stored_creds()
        .all(|c| c.me.is_none() && c.account.is_none())
}

fn pings_of(pipe: &Pipe, conn: ConnId) -> Option<u32> {
    pipe.server
        .state()
        .connections
        .iter()
        .find(|c| c.id == conn)
        .map(|c| c.pings)
}

/// Steps deadline by deadline for `limit` of virtual time (or until the
/// connection ends), returning when the server received each ping.
fn step_recording_pings(pipe: &mut Pipe, conn: ConnId, limit: Duration) -> Vec<Instant> {
    let end = pipe.now + limit;
    let mut pings = Vec::new();
    let mut seen = pings_of(pipe, conn).unwrap_or(0);
    while !pipe.link(conn).closed {
        match pipe.next_deadline() {
            Some(at) if at <= end => {
                pipe.step();
            }
            _ => break,
        }
        if let Some(now_seen) = pings_of(pipe, conn) {
            for _ in seen..now_seen {
                pings.push(pipe.now);
            }
            seen = now_seen;
        }
    }
    pings
}

// ---- 1. QR pairing ----

/// Shows every QR until the refs run out and checks each against the
/// refs the server issued: index i at its time, 60 s then 20 s each.
fn assert_qr_rotation(pipe: &mut Pipe, conn: ConnId) {
    let t0 = pipe.now;
    pipe.run();
    let refs = pipe.server.state().pending_pairings[0].refs.clone();
    assert_eq!(refs.len(), 6);
    pipe.run_until(secs(300), |p| p.link(conn).closed);
    let qrs = shown_qrs(pipe.link(conn));
    let expected_at = [0, 60, 80, 100, 120, 140].map(|s| t0 + secs(s));
    assert_eq!(
        qrs.iter().map(|q| q.at).collect::<Vec<_>>(),
        expected_at,
        "{:?}",
        pipe.link(conn).timed_events().collect::<Vec<_>>()
    );
    for (i, qr) in qrs.iter().enumerate() {
        assert_eq!(qr.index, i);
        assert_eq!(qr.valid_ms, if i == 0 { 60_000 } else { 20_000 });
        let reference = qr
            .text
            .strip_prefix(QR_URL_PREFIX)
            .and_then(|rest| rest.split(',').next())
            .expect("a QR text");
        assert_eq!(reference, refs[i], "QR {i} carries ref {i}");
    }
}

#[test]

fn qr_codes_arrive_one_per_ref_at_0_60_80_100_120_140_seconds() {
    let mut pipe = pipe(1);
    let conn = pipe.connect(pipe.client_config(), fresh_creds(1));
    assert_qr_rotation(&mut pipe, conn);
}

/// Waits for the k-th QR (0-based), scans it, and checks the device links.
fn assert_kth_qr_links(seed: u64, k: usize, config: impl Fn(&Pipe) -> ClientConfig) {
    let mut pipe = pipe(seed);
    let conn = pipe.connect(config(&pipe), fresh_creds(seed));
    pipe.run();
    let shown = pipe.run_until(secs(200), |p| shown_qrs(p.link(conn)).len() > k);
    assert!(
        shown,
        "QR {k} never shown: {:?}",
        pipe.link(conn).timed_events().collect::<Vec<_>>()
    );
    let qr = shown_qrs(pipe.link(conn))[k].text.clone();
    pipe.server.scan_qr(&qr).expect("the phone scans QR k");
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(count(link, is_paired), 1, "QR {k}: {:?}", link.events);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    assert!(link.stored.as_ref().is_some_and(|c| c.me.is_some()));
}

#[test]

fn scanning_any_of_the_six_qr_codes_links_the_device() {
    for k in 0..6 {
        assert_kth_qr_links(10 + k as u64, k, Pipe::client_config);
    }
}

#[test]
fn scanning_the_first_qr_links_then_the_restart_logs_in_without_a_qr() {
    let mut pipe = pipe(3);
    let conn = pipe.connect(pipe.client_config(), fresh_creds(3));
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    pipe.advance(secs(30));
    pipe.server.scan_qr(&qr).expect("scans");
    pipe.run();
    let link = pipe.link(conn);
    let paired = position(link, is_paired).expect("Paired");
    let restart = position(link, |e| matches!(e, Event::Disconnected { .. })).expect("ended");
    assert!(paired < restart, "{:?}", link.events);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    assert_eq!(
        link.disconnect_reason().map(DisconnectReason::code),
        Some(515)
    );
    assert!(
        pipe.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Paired { conn: c, .. } if *c == conn))
    );

    let again = pipe.reconnect(conn);
    pipe.run();
    let link = pipe.link(again);
    assert!(link.is_online(), "{:?}", link.events);
    assert_eq!(count(link, is_qr), 0);
    let logged_in = position(link, |e| matches!(e, Event::LoggedIn { .. })).expect("LoggedIn");
    let online = position(link, |e| *e == Event::Online).expect("Online");
    assert!(logged_in < online);
    assert_eq!(link.disconnect_reason(), None);
}

// ---- 2. pairing by code ----

fn assert_code_links(seed: u64, typed: impl Fn(&str) -> String) {
    let mut pipe = pipe(seed);
    let conn = pipe.connect(code_config(&pipe), fresh_creds(seed));
    pipe.run();
    let code = pipe.link(conn).pairing_code().expect("a code");
    pipe.server.enter_code(&typed(&code)).expect("typed");
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(count(link, is_paired), 1, "{:?}", link.events);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    let again = pipe.reconnect(conn);
    pipe.run();
    let link = pipe.link(again);
    assert!(link.is_online(), "{:?}", link.events);
    assert_eq!(count(link, is_qr), 0);
    assert_eq!(link.pairing_code(), None);
}

#[test]
fn the_pairing_code_reads_xxxx_dash_xxxx() {
    let mut pipe = pipe(30);
    let conn = pipe.connect(code_config(&pipe), fresh_creds(30));
    pipe.run();
    let code = pipe.link(conn).pairing_code().expect("a code");
    let (a, b) = code.split_once('-').expect("a dash");
    for half in [a, b] {
        assert_eq!(half.len(), 4, "{code}");
        assert!(
            half.chars()
                .all(|c| "123456789ABCDEFGHJKLMNPQRSTVWXYZ".contains(c)),
            "{code}"
        );
    }
    assert_eq!(
        count(pipe.link(conn), |e| matches!(e, Event::PairingCode { .. })),
        1
    );
}

#[test]
fn a_pairing_code_typed_as_shown_links_the_device() {
    assert_code_links(31, str::to_owned);
}

#[test]
fn a_pairing_code_typed_in_lowercase_links_the_device() {
    assert_code_links(32, str::to_lowercase);
}

#[test]

fn a_pairing_code_typed_after_40_seconds_still_links_the_device() {
    let mut pipe = pipe(33);
    let conn = pipe.connect(code_config(&pipe), fresh_creds(33));
    pipe.run();
    let code = pipe.link(conn).pairing_code().expect("a code");
    pipe.run_until(secs(40), |_| false);
    assert_eq!(pipe.link(conn).disconnect_reason(), None);
    pipe.server.enter_code(&code).expect("typed");
    pipe.run();
    assert_eq!(count(pipe.link(conn), is_paired), 1);
}

#[test]
fn a_wrong_pairing_code_never_links_and_the_client_stays_unpaired() {
    let mut pipe = pipe(34);
    let conn = pipe.connect(code_config(&pipe), fresh_creds(34));
    pipe.run();
    let code = pipe.link(conn).pairing_code().expect("a code");
    let wrong = if code.starts_with('Z') {
        code.replacen('Z', "Y", 1)
    } else {
        format!("Z{}", &code[1..])
    };
    pipe.server
        .enter_code(&wrong)
        .expect("typing is not checked");
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(count(link, is_paired), 0);
    assert!(matches!(
        link.disconnect_reason(),
        Some(DisconnectReason::ProtocolViolation(_))
    ));
    assert!(never_stored_a_linked_identity(link));
    assert!(link.client.creds().me.is_none());
    assert!(pipe.server.state().devices.is_empty());
}

// ---- 3. login with stored creds ----

#[test]
fn stored_creds_log_in_without_a_qr_then_go_online() {
    let (mut pipe, conn) = online(40);
    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.run();
    let link = pipe.link(again);
    assert_eq!(count(link, is_qr), 0);
    let kinds: Vec<&Event> = link
        .events
        .iter()
        .filter(|e| matches!(e, Event::LoggedIn { .. } | Event::Online))
        .collect();
    assert!(
        matches!(kinds.as_slice(), [Event::LoggedIn { jid }, Event::Online]
            if jid.to_string() == format!("{DEFAULT_PHONE}:1@s.whatsapp.net")),
        "{:?}",
        link.events
    );
    assert!(link.is_online());
}

/// The pre-key uploads the server saw: (first id, count).
fn uploads_seen(pipe: &Pipe) -> Vec<(u32, u32)> {
    pipe.server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::PreKeysUploaded {
                first_id, count, ..
            } => Some((*first_id, *count)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_upload_uses_the_ids_the_store_claimed() {
    let (mut pipe, first) = online(43);
    pipe.close(first);
    let second = pipe.reconnect(first);
    // Meanwhile another process on the store claimed ids up to 4999, and
    // contacts used up the keys on the server.
    let mut stored = pipe.link(first).stored.clone().expect("stored");
    stored.next_pre_key_id = 5000;
    pipe.link_mut(second).stored = Some(stored);
    pipe.server.use_pre_keys(0);
    pipe.run();
    assert!(pipe.link(second).is_online());
    assert_eq!(uploads_seen(&pipe), [(1, 812), (5000, 812)]);
    // The client counts from the claimed ids too.
    let last_creds = pipe
        .link(second)
        .stores
        .iter()
        .flatten()
        .rev()
        .find_map(|write| write.creds().cloned())
        .expect("creds written after the upload");
    assert_eq!(last_creds.next_pre_key_id, 5812);
    assert_eq!(last_creds.first_unuploaded_pre_key_id, 5812);
    assert!(
        !pipe
            .server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::PreKeyIdsReused { .. }))
    );
}

#[test]
fn the_server_reports_ids_uploaded_again_with_other_keys() {
    // What the sweep watches for: a store that let the counter go back.
    let (mut pipe, first) = online(44);
    pipe.close(first);
    pipe.link_mut(first)
        .stored
        .as_mut()
        .expect("stored")
        .next_pre_key_id = 1;
    let second = pipe.reconnect(first);
    pipe.server.use_pre_keys(0);
    pipe.run();
    assert!(pipe.link(second).is_online());
    assert_eq!(uploads_seen(&pipe), [(1, 812), (1, 812)]);
    assert!(pipe.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::PreKeyIdsReused {
            count: 812,
            first: 1,
            last: 812,
            ..
        }
    )));
}

#[test]
fn pre_keys_are_uploaded_at_the_first_login_only() {
    let uploads = |pipe: &Pipe| {
        pipe.server_events
            .iter()
            .filter(|e| matches!(e, ServerEvent::PreKeysUploaded { .. }))
            .count()
    };
    let (mut pipe, first) = online(41);
    assert_eq!(uploads(&pipe), 1);
    assert_eq!(pipe.server.state().devices[0].pre_keys, 812);
    let link = pipe.link(first);
    assert_eq!(
        count(link, |e| *e == Event::PreKeysUploaded { count: 812 }),
        1
    );
    let stored = link.stored.as_ref().expect("stored");
    assert_eq!(stored.next_pre_key_id, 813);
    assert_eq!(stored.first_unuploaded_pre_key_id, 813);

    pipe.close(first);
    let second = pipe.reconnect(first);
    pipe.run();
    let link = pipe.link(second);
    assert!(link.is_online());
    assert_eq!(
        count(link, |e| matches!(e, Event::PreKeysUploaded { .. })),
        0
    );
    assert!(
        !link
            .stores
            .iter()
            .flatten()
            .any(|write| matches!(write, Write::FreshPreKeys(_)))
    );
    assert_eq!(uploads(&pipe), 1);
    assert_eq!(pipe.server.state().devices[0].pre_keys, 812);
}

// ---- 4. refs exhausted ----

fn assert_refs_exhausted_at_160_seconds(pipe: &mut Pipe, conn: ConnId) {
    let t0 = pipe.now;
    pipe.run();
    pipe.run_until(secs(300), |p| p.link(conn).closed);
    let link = pipe.link(conn);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::TimedOut),
        "{:?}",
        link.timed_events().collect::<Vec<_>>()
    );
    assert_eq!(
        link.disconnect_reason().map(DisconnectReason::code),
        Some(408)
    );
    assert_eq!(link.disconnected_at(), Some(t0 + secs(60 + 5 * 20)));
    assert_eq!(shown_qrs(link).len(), 6);
    assert!(link.stores.is_empty(), "{:?}", link.stores);
    assert!(link.stored.is_none());
    let state = pipe.server.state();
    assert!(state.devices.is_empty());
    assert!(state.pending_pairings.is_empty());
}

#[test]

fn qr_refs_exhausted_ends_with_408_after_160_seconds() {
    let mut pipe = pipe(50);
    let conn = pipe.connect(pipe.client_config(), fresh_creds(50));
    assert_refs_exhausted_at_160_seconds(&mut pipe, conn);
}

// ---- 5. stream errors and failures ----

const STREAM_ERROR_CODES: [u16; 11] = [401, 403, 405, 408, 411, 428, 440, 500, 503, 515, 499];

#[test]
fn every_stream_error_code_is_reported_as_its_disconnect_reason() {
    let (mut pipe, mut conn) = online(60);
    for code in STREAM_ERROR_CODES {
        // 440 goes out as `<stream:error><conflict type="replaced"/>`,
        // the form the real server uses; the others as `code=N`.
        assert_eq!(pipe.server.kick(Target::Conn(conn), code), 1);
        let kicked_at = pipe.now;
        pipe.run();
        let link = pipe.link(conn);
        let reason = link.disconnect_reason().cloned();
        assert_eq!(
            reason,
            Some(DisconnectReason::from_code(code)),
            "code {code}"
        );
        assert_eq!(reason.map(|r| r.code()), Some(code));
        assert_eq!(link.disconnected_at(), Some(kicked_at));
        assert_eq!(count(link, |e| matches!(e, Event::Disconnected { .. })), 1);
        conn = pipe.reconnect(conn);
        pipe.run();
        assert!(pipe.link(conn).is_online(), "after {code}");
    }
}

#[test]
fn a_login_failure_401_403_or_405_is_reported_as_its_disconnect_reason() {
    let (mut pipe, mut conn) = online(61);
    pipe.close(conn);
    for code in [401, 403, 405] {
        pipe.server.refuse_logins(code, 1);
        conn = pipe.reconnect(conn);
        pipe.run();
        let link = pipe.link(conn);
        let reason = link.disconnect_reason().cloned();
        assert_eq!(
            reason,
            Some(DisconnectReason::from_code(code)),
            "code {code}"
        );
        assert_eq!(reason.map(|r| r.code()), Some(code));
        assert_eq!(count(link, |e| matches!(e, Event::LoggedIn { .. })), 0);
        assert!(
            pipe.server_events
                .contains(&ServerEvent::LoginRefused { conn, code })
        );
    }
}

#[test]
fn a_plain_socket_close_is_reported_as_connection_closed_428() {
    let (mut pipe, conn) = online(62);
    assert_eq!(pipe.server.drop_connections(Target::Conn(conn)), 1);
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::ConnectionClosed)
    );
    assert_eq!(
        link.disconnect_reason().map(DisconnectReason::code),
        Some(428)
    );
}

// ---- 6. keepalive ----

#[test]
fn a_silent_partition_is_reported_as_keepalive_timeout_at_last_received_plus_35_seconds() {
    let (mut pipe, conn) = online(70);
    let t0 = pipe.now;
    let config = pipe.link(conn).config.clone();
    let interval = Duration::from_millis(config.keepalive_interval_ms);
    let grace = Duration::from_millis(config.keepalive_grace_ms);
    // One ping answered, then the network goes quiet mid-interval.
    pipe.run_until(secs(30), |_| false);
    let last = pipe.link(conn).last_received.expect("a pong");
    assert_eq!(last, t0 + interval);
    pipe.server.set_silent(conn, true).expect("open");

    let pings = step_recording_pings(&mut pipe, conn, secs(120));
    // The client keeps pinging on schedule into the silence...
    assert_eq!(pings, vec![t0 + 2 * interval]);
    let link = pipe.link(conn);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::KeepaliveTimeout)
    );
    assert_eq!(
        link.disconnect_reason().map(DisconnectReason::code),
        Some(428)
    );
    // ... and gives up exactly one interval and the grace after the last
    // byte it heard: 25 s + 10 s.
    assert_eq!(link.disconnected_at(), Some(last + interval + grace));
    assert_eq!(link.disconnected_at(), Some(t0 + secs(60)));
}

#[test]
fn answered_pings_keep_a_session_online_for_10_virtual_minutes() {
    let (mut pipe, conn) = online(71);
    let t0 = pipe.now;
    let pings = step_recording_pings(&mut pipe, conn, secs(600));
    assert!(pipe.now >= t0 + secs(575), "stepped to {:?}", pipe.now - t0);
    let expected: Vec<Instant> = (1..=24).map(|k| t0 + k * secs(25)).collect();
    assert_eq!(pings, expected);
    let link = pipe.link(conn);
    assert!(link.is_online());
    assert_eq!(link.disconnect_reason(), None);
    assert_eq!(count(link, |e| matches!(e, Event::IqTimedOut { .. })), 0);
}

// ---- 7. a request timing out ----

/// Logs in again with iqs of `xmlns` ignored; returns the connection.
fn assert_unanswered_iq_times_out(seed: u64, xmlns: &str, purpose: IqPurpose) -> (Pipe, ConnId) {
    let (mut pipe, conn) = online(seed);
    pipe.close(conn);
    pipe.server.set_ignore_iqs(Some(xmlns));
    let again = pipe.reconnect(conn);
    pipe.run();
    // `<success>` sends the pre-key count and the set-active requests.
    let asked = pipe
        .link(again)
        .time_of(|e| matches!(e, Event::LoggedIn { .. }))
        .expect("logged in");
    pipe.run_until(secs(120), |p| p.link(again).closed);
    let link = pipe.link(again);
    let timeout = Duration::from_millis(link.config.iq_timeout_ms);
    let timed_out = Event::IqTimedOut {
        purpose: purpose.clone(),
    };
    assert_eq!(link.time_of(|e| *e == timed_out), Some(asked + timeout));
    assert_eq!(link.disconnect_reason(), Some(&DisconnectReason::TimedOut));
    assert_eq!(
        link.disconnect_reason().map(DisconnectReason::code),
        Some(408)
    );
    assert_eq!(link.disconnected_at(), Some(asked + timeout));
    let n = link.events.len();
    assert_eq!(link.events[n - 2], timed_out, "{:?}", link.events);
    assert_eq!(count(link, |e| matches!(e, Event::IqTimedOut { .. })), 1);
    (pipe, again)
}

#[test]
fn an_unanswered_set_active_times_out_then_disconnects_20_seconds_after_the_request() {
    let (pipe, conn) = assert_unanswered_iq_times_out(80, "passive", IqPurpose::SetActive);
    assert_eq!(count(pipe.link(conn), |e| *e == Event::Online), 0);
}

#[test]
fn an_unanswered_pre_key_count_times_out_then_disconnects_20_seconds_after_the_request() {
    let (pipe, conn) = assert_unanswered_iq_times_out(81, "encrypt", IqPurpose::PreKeyCount);
    // Set-active was answered: the session opened, then the lost count ended it.
    assert_eq!(count(pipe.link(conn), |e| *e == Event::Online), 1);
}

// ---- 8. a tampered pair-success ----

fn assert_tampered_pair_success_is_refused(seed: u64, tamper: Tamper, fault: &PairError) {
    let mut pipe = pipe(seed);
    let conn = pipe.connect(pipe.client_config(), fresh_creds(seed));
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    pipe.server.tamper_next_pair_success(tamper);
    pipe.server.scan_qr(&qr).expect("the phone scans");
    pipe.run();

    let link = pipe.link(conn);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::ProtocolViolation(Violation::Pairing(
            fault.clone()
        ))),
        "{:?}",
        link.events
    );
    assert_eq!(count(link, is_paired), 0);
    // Nothing half-written: no store command at all, and the client's own
    // creds are still those of an unlinked device.
    assert!(link.stores.is_empty(), "{:?}", link.stores);
    assert!(never_stored_a_linked_identity(link));
    assert!(link.client.creds().me.is_none());
    assert!(link.client.creds().account.is_none());

    // The phone heard the refusal (an iq error), and linked nothing.
    let error = pipe.server.state().last_client_error.expect("recorded");
    assert!(
        error.contains("refused pair-success: 401 not-authorized"),
        "{error}"
    );
    assert!(
        pipe.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::ClientError { conn: c, .. } if *c == conn))
    );
    assert!(
        !pipe
            .server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Paired { .. }))
    );
    let state = pipe.server.state();
    assert!(state.devices.is_empty());
    assert_eq!(state.tamper_pair_success, None, "one pair-success only");
}

#[test]
fn a_pair_success_with_a_wrong_hmac_is_refused_and_stores_nothing() {
    assert_tampered_pair_success_is_refused(90, Tamper::Hmac, &PairError::HmacMismatch);
}

#[test]
fn a_pair_success_with_a_wrong_account_signature_is_refused_and_stores_nothing() {
    assert_tampered_pair_success_is_refused(
        91,
        Tamper::AccountSignature,
        &PairError::AccountSignatureInvalid,
    );
}

#[test]
fn after_a_refused_pair_success_the_same_device_pairs_cleanly() {
    let mut pipe = pipe(92);
    let conn = pipe.connect(pipe.client_config(), fresh_creds(92));
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    pipe.server.tamper_next_pair_success(Tamper::Hmac);
    pipe.server.scan_qr(&qr).expect("scans");
    pipe.run();
    assert!(pipe.link(conn).closed);

    let retry = pipe.reconnect(conn);
    pipe.run();
    let qr = pipe.link(retry).last_qr().expect("a new QR");
    pipe.server.scan_qr(&qr).expect("scans");
    pipe.run();
    assert_eq!(
        pipe.link(retry).disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    let online = pipe.reconnect(retry);
    pipe.run();
    assert!(pipe.link(online).is_online());
    assert_eq!(pipe.server.state().devices.len(), 1);
}

// ---- 9. garbage from the server ----

fn assert_violation(pipe: &Pipe, conn: ConnId, expected: fn(&Violation) -> bool) {
    let link = pipe.link(conn);
    match link.disconnect_reason() {
        Some(DisconnectReason::ProtocolViolation(what)) => {
            assert!(expected(what), "{what:?}");
        }
        other => panic!("expected a protocol violation, got {other:?}"),
    }
    assert!(link.closed);
    assert!(!pipe.server.is_open(conn), "the socket is closed");
}

#[test]
fn a_frame_that_fails_to_decrypt_ends_the_session_with_a_protocol_violation() {
    let (mut pipe, conn) = online(100);
    let mut frame = vec![0, 0, 40];
    frame.extend([0xA5; 40]);
    pipe.inject(conn, &frame);
    assert_violation(&pipe, conn, |v| {
        matches!(
            v,
            Violation::Transport(TransportError::DecryptFailed { .. })
        )
    });
}

#[test]
fn a_replayed_server_frame_ends_the_session_with_a_protocol_violation() {
    let (mut pipe, conn) = online(101);
    pipe.transcript = Some(Vec::new());
    pipe.server.send_text(CONTACT, "once").expect("a device");
    pipe.run();
    let frame = pipe
        .transcript
        .take()
        .unwrap_or_default()
        .into_iter()
        .find(|(c, _)| *c == conn)
        .map(|(_, bytes)| bytes)
        .expect("the message went out");
    pipe.inject(conn, &frame);
    assert_violation(&pipe, conn, |v| {
        matches!(
            v,
            Violation::Transport(TransportError::DecryptFailed { .. })
        )
    });
    assert_eq!(pipe.link(conn).inbox.len(), 1, "stored once, not twice");
}

/// Each frame decodes on its own, so one that is no stanza is skipped
/// (and reported): closing would only bring it back at the next login.
#[test]
fn an_encrypted_frame_that_is_no_stanza_is_skipped_and_the_session_stays() {
    let (mut pipe, conn) = online(102);
    assert_eq!(pipe.server.send_garbage(conn, &[0xFF; 7]), Ok(true));
    pipe.run();
    pipe.server
        .send_text(CONTACT, "after the garbage")
        .expect("a device");
    pipe.run();
    let link = pipe.link(conn);
    assert!(link.is_online(), "{:?}", link.events);
    assert_eq!(
        count(link, |e| matches!(
            e,
            Event::StanzaIgnored {
                what: Ignored::UndecodableStanza(_)
            }
        )),
        1
    );
    assert_eq!(link.inbox.len(), 1, "the next message is stored");
}

#[test]
fn an_oversized_frame_header_ends_the_session_with_a_protocol_violation() {
    let (mut pipe, conn) = online(103);
    pipe.inject(conn, &[0xFF, 0xFF, 0xFF]);
    assert_violation(&pipe, conn, |v| {
        matches!(v, Violation::Frame(FrameError::TooLarge { .. }))
    });
}

#[test]
fn random_bytes_from_the_server_never_panic_and_end_only_in_a_protocol_violation() {
    let (mut pipe, mut conn) = online(104);
    let mut rng = ChaCha20Rng::seed_from_u64(104);
    for case in 0..48u32 {
        let len = (rng.next_u32() % 120) as usize;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        match case % 3 {
            // Raw: whatever the first three bytes declare.
            0 => pipe.inject(conn, &bytes),
            // A well-formed frame of noise (fails to decrypt).
            1 => {
                let mut frame = vec![0, 0, u8::try_from(len).unwrap_or(0)];
                frame.extend(&bytes);
                pipe.inject(conn, &frame);
            }
            // Noise sealed with the right key (fails to decode).
            _ => {
                let _ = pipe.server.send_garbage(conn, &bytes);
                pipe.run();
            }
        }
        let link = pipe.link(conn);
        match link.disconnect_reason() {
            None => assert!(link.is_online(), "case {case}: {:?}", link.events),
            Some(DisconnectReason::ProtocolViolation(_)) => {}
            Some(other) => panic!("case {case}: {other:?}"),
        }
        if !link.closed {
            pipe.close(conn);
        }
        conn = pipe.reconnect(conn);
        pipe.run();
        assert!(pipe.link(conn).is_online(), "case {case}: relogin");
    }
}

// ---- 10. durability ----

#[test]
fn a_message_whose_inbox_write_fails_is_not_acked_and_is_redelivered_at_the_next_login() {
    let (mut pipe, conn) = online(110);
    pipe.link_mut(conn).inbox_policy = InboxPolicy::Fail;
    let id = pipe.server.send_text(CONTACT, "fragile").expect("a device");
    pipe.run();
    pipe.run_until(secs(60), |_| false);
    let link = pipe.link(conn);
    assert!(link.inbox.is_empty());
    assert_eq!(count(link, |e| matches!(e, Event::StoreFailed { .. })), 1);
    assert_eq!(count(link, |e| matches!(e, Event::MessageStored { .. })), 0);
    // The message's keys moved on in this connection but not in the store:
    // reading on would store later messages with keys that no longer open
    // this one, so the connection ends and the next starts from the store.
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::StoreRefused)
    );
    let messages = pipe.server.state().messages;
    assert_eq!((messages.delivered, messages.acked), (1, 0));

    let again = pipe.reconnect(conn);
    pipe.link_mut(again).inbox_policy = InboxPolicy::Commit;
    pipe.run();
    let link = pipe.link(again);
    assert_eq!(link.inbox.len(), 1);
    assert_eq!(link.inbox[0].id, id);
    assert_eq!(
        stored_text(&link.inbox[0]).as_deref(),
        Some("fragile"),
        "it decrypts after all"
    );
    assert!(
        pipe.server_events
            .contains(&ServerEvent::MessageAcked { conn: again, id })
    );
    let messages = pipe.server.state().messages;
    assert_eq!((messages.delivered, messages.acked), (2, 1));
}

#[test]
fn a_message_whose_inbox_write_is_held_is_acked_only_when_the_write_completes() {
    let (mut pipe, conn) = online(111);
    pipe.link_mut(conn).inbox_policy = InboxPolicy::Hold;
    let id = pipe.server.send_text(CONTACT, "slow").expect("a device");
    pipe.run();
    // A minute of a slow disk, keepalive running: still no ack.
    pipe.run_until(secs(60), |_| false);
    let acked = |pipe: &Pipe| {
        pipe.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::MessageAcked { .. }))
    };
    assert!(!acked(&pipe));
    assert_eq!(pipe.link(conn).held.len(), 1);
    assert!(pipe.link(conn).is_online());
    assert_eq!(pipe.server.state().messages.acked, 0);

    assert_eq!(pipe.complete_held(conn, Ok(())), 1);
    assert!(pipe.server_events.contains(&ServerEvent::MessageAcked {
        conn,
        id: id.clone()
    }));
    let link = pipe.link(conn);
    assert_eq!(link.inbox.len(), 1);
    assert_eq!(
        count(
            link,
            |e| matches!(e, Event::MessageStored { id: i, .. } if *i == id)
        ),
        1
    );
    assert_eq!(pipe.server.state().messages.acked, 1);
}

// ---- 11. determinism ----

/// Everything observable of one run: bytes both ways, every client's
/// events, every stored record, every server event.
#[derive(Debug, PartialEq)]
struct Run {
    server_bytes: Vec<(ConnId, Vec<u8>)>,
    client_bytes: Vec<(ConnId, Vec<u8>)>,
    events: Vec<Vec<Event>>,
    stored: Vec<Vec<u8>>,
    server_events: Vec<ServerEvent>,
}

/// Pair by QR, restart, log in, receive a message, one keepalive round.
fn full_run(seed: u64, t0: Instant) -> Run {
    let mut pipe = pipe_at(seed, t0);
    pipe.transcript = Some(Vec::new());
    pipe.client_transcript = Some(Vec::new());
    let conn = pipe
        .pair_and_login(pipe.client_config(), fresh_creds(seed))
        .expect("online");
    pipe.server.send_text(CONTACT, "hello").expect("a device");
    pipe.run();
    pipe.run_until(secs(30), |_| false);
    // The pairing connection is the first one; `conn` is the login.
    let conns = [ConnId(1), conn];
    Run {
        server_bytes: pipe.transcript.take().unwrap_or_default(),
        client_bytes: pipe.client_transcript.take().unwrap_or_default(),
        events: conns.iter().map(|c| pipe.link(*c).events.clone()).collect(),
        stored: conns
            .iter()
            .flat_map(|c| {
                pipe.link(*c)
                    .stored_creds()
                    .map(Creds::encode)
                    .collect::<Vec<_>>()
            })
            .collect(),
        server_events: pipe.server_events.clone(),
    }
}

#[test]
fn the_same_seeds_give_byte_identical_transcripts_both_ways() {
    let t0 = Instant::now();
    let a = full_run(120, t0);
    assert!(a.client_bytes.len() > 10 && a.server_bytes.len() > 10);
    assert_eq!(
        a.events[1]
            .iter()
            .filter(|e| matches!(e, Event::MessageStored { .. }))
            .count(),
        1
    );
    // A different start instant changes nothing: only durations matter.
    assert!(a == full_run(120, t0 + secs(3600)));
    let b = full_run(121, t0);
    assert_ne!(a.client_bytes, b.client_bytes);
    assert_ne!(a.server_bytes, b.server_bytes);
}

// ---- 10. the login confirmed, and a link that never completed ----

fn login_confirmations(link: &Link) -> usize {
    link.stores
        .iter()
        .flatten()
        .filter(|write| matches!(write, Write::LoginConfirmed))
        .count()
}

#[test]
fn the_first_login_confirms_the_link_in_the_store_and_later_ones_do_not_write_it_again() {
    let (mut pipe, conn) = online(130);
    assert_eq!(login_confirmations(pipe.link(conn)), 1);
    assert!(pipe.link(conn).login_confirmed);
    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(pipe.link(again).is_online());
    assert_eq!(login_confirmations(pipe.link(again)), 0);
}

#[test]
fn a_401_for_a_link_that_never_completed_links_again_with_the_same_keys() {
    let (pipe, conn) = online(131);
    // What a crash right after storing the pair-success leaves: linked
    // creds, never confirmed, for a device the server never knew (a fresh
    // server here).
    let linked = pipe.link(conn).stored.clone().expect("stored creds");
    assert!(linked.is_registered());
    let mut pipe = pipe_at(132, Instant::now());
    let first = pipe.connect_with(pipe.client_config(), linked.clone(), false);
    pipe.run();
    let link = pipe.link(first);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::LinkUnfinished)
    );
    let resume = link
        .client
        .resume_creds()
        .expect("resumes from its own creds");
    assert!(!resume.is_registered());
    assert_eq!(
        resume.identity_key.public(),
        linked.identity_key.public(),
        "the same keys, never a new identity"
    );
    assert!(
        link.stored_creds()
            .last()
            .is_some_and(|c| !c.is_registered()),
        "the unlinked creds were handed to the store"
    );
    let again = pipe.reconnect(first);
    pipe.run();
    let qr = pipe.link(again).last_qr().expect("links again by QR");
    pipe.server.scan_qr(&qr).expect("the phone scans");
    pipe.run();
    assert!(
        pipe.link(again)
            .stored
            .as_ref()
            .is_some_and(Creds::is_registered)
    );
}

#[test]
fn a_401_after_a_confirmed_login_is_a_logout_that_keeps_the_creds() {
    let (mut pipe, conn) = online(133);
    pipe.server.kick_failure(Target::AllLive, 401);
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(link.disconnect_reason(), Some(&DisconnectReason::LoggedOut));
    assert!(link.client.resume_creds().is_none());
    assert!(link.stored_creds().all(Creds::is_registered));
}
