//! A linked device's sessions: login checks, the offline queue and acks,
//! one connection per device, and the server's misbehaviour controls.

use std::time::{Duration, Instant};

use blacksky_core::client::{DisconnectReason, Event, IqPurpose};
use blacksky_core::crypto::KeyPair;
use blacksky_core::session::Creds;
use blacksky_core::time::UnixMillis;
use blacksky_sim::pipe::{InboxPolicy, Pipe};
use blacksky_sim::server::{
    ConnId, ControlError, FakeServer, ServerConfig, ServerEvent, ServerOutput, Target,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";

fn pipe_with(config: ServerConfig, seed: u64) -> Pipe {
    Pipe::new(
        FakeServer::new(config, seed),
        Instant::now(),
        WALL,
        seed + 100,
    )
}

fn online(seed: u64) -> (Pipe, ConnId) {
    Pipe::online(seed, WALL)
}

fn offline_counts(pipe: &Pipe, conn: ConnId) -> Vec<u32> {
    pipe.link(conn)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OfflineDelivered { count } => Some(*count),
            _ => None,
        })
        .collect()
}

#[test]
fn login_with_an_unknown_noise_key_gets_401() {
    let (mut pipe, conn) = online(1);
    pipe.close(conn);
    let mut creds = pipe.link(conn).stored.clone().expect("stored");
    creds.noise_key = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(5));
    let config = pipe.client_config();
    let other = pipe.connect(config, creds);
    pipe.run();
    assert_eq!(
        pipe.link(other).disconnect_reason(),
        Some(&DisconnectReason::LoggedOut)
    );
    assert!(pipe.server_events.contains(&ServerEvent::LoginRefused {
        conn: other,
        code: 401
    }));
    assert!(!pipe.server.state().devices[0].logged_in);
}

#[test]
fn a_login_for_another_device_id_gets_401() {
    let (mut pipe, conn) = online(2);
    pipe.close(conn);
    let mut creds = pipe.link(conn).stored.clone().expect("stored");
    if let Some(me) = &mut creds.me {
        me.jid = blacksky_core::wire::binary::Jid::ad("491556123456", 0, 9);
    }
    let config = pipe.client_config();
    let other = pipe.connect(config, creds);
    pipe.run();
    assert_eq!(
        pipe.link(other).disconnect_reason(),
        Some(&DisconnectReason::LoggedOut)
    );
}

#[test]
fn a_message_to_an_online_device_is_delivered_and_acked() {
    let (mut pipe, conn) = online(3);
    let id = pipe
        .server
        .send_text(CONTACT, "ciphertext")
        .expect("a device");
    assert_eq!(id.len(), 22);
    assert!(id.starts_with("3EB0"));
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(link.inbox.len(), 1);
    assert_eq!(link.inbox[0].id, id);
    assert_eq!(link.inbox[0].from, format!("{CONTACT}@s.whatsapp.net"));
    let messages = pipe.server.state().messages;
    assert_eq!(
        (messages.queued, messages.delivered, messages.acked),
        (0, 1, 1)
    );
    assert!(
        pipe.server_events
            .contains(&ServerEvent::MessageAcked { conn, id })
    );
}

#[test]
fn an_unacked_message_is_redelivered_after_reconnect() {
    let (mut pipe, conn) = online(4);
    pipe.link_mut(conn).inbox_policy = InboxPolicy::Hold;
    let id = pipe.server.send_text(CONTACT, "x").expect("a device");
    pipe.run();
    let messages = pipe.server.state().messages;
    assert_eq!(
        (messages.queued, messages.delivered, messages.acked),
        (1, 1, 0)
    );

    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.link_mut(again).inbox_policy = InboxPolicy::Commit;
    pipe.run();
    assert_eq!(offline_counts(&pipe, again), vec![1]);
    assert_eq!(pipe.link(again).inbox.len(), 1);
    assert_eq!(pipe.link(again).inbox[0].id, id);
    let messages = pipe.server.state().messages;
    assert_eq!(
        (messages.queued, messages.delivered, messages.acked),
        (0, 2, 1)
    );
}

#[test]
fn an_acked_message_is_not_redelivered() {
    let (mut pipe, conn) = online(5);
    pipe.server.send_text(CONTACT, "x").expect("a device");
    pipe.run();
    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(pipe.link(again).is_online());
    assert_eq!(offline_counts(&pipe, again), vec![0]);
    assert!(pipe.link(again).inbox.is_empty());
    assert_eq!(pipe.server.state().messages.delivered, 1);
}

#[test]
fn messages_sent_while_offline_arrive_at_the_next_login_in_order() {
    let (mut pipe, conn) = online(6);
    pipe.close(conn);
    let first = pipe.server.send_text(CONTACT, "1").expect("a device");
    let second = pipe
        .server
        .send_text("4915199999999", "2")
        .expect("a device");
    pipe.run();
    assert_eq!(pipe.server.state().messages.delivered, 0);
    let again = pipe.reconnect(conn);
    pipe.run();
    let ids: Vec<&str> = pipe
        .link(again)
        .inbox
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert_eq!(offline_counts(&pipe, again), vec![2]);
}

#[test]
fn a_second_login_kicks_the_first_with_a_conflict() {
    let (mut pipe, first) = online(7);
    let second = pipe.reconnect(first);
    pipe.run();
    assert_eq!(
        pipe.link(first).disconnect_reason(),
        Some(&DisconnectReason::Replaced)
    );
    assert!(pipe.link(second).is_online());
    assert!(pipe.server_events.contains(&ServerEvent::Replaced {
        old: first,
        new: second
    }));
    let state = pipe.server.state();
    assert_eq!(state.replaced_connections, 1);
    assert_eq!(state.max_live_connections_per_device, 2);
    assert_eq!(state.devices[0].conn, Some(second));
    assert_eq!(state.devices[0].logins, 2);
}

#[test]
fn a_silent_old_connection_does_not_count_as_live() {
    let (mut pipe, first) = online(8);
    pipe.server.set_silent(first, true).expect("open");
    let second = pipe.reconnect(first);
    pipe.run();
    assert!(pipe.link(second).is_online());
    // The silent one heard nothing, not even the conflict.
    assert_eq!(pipe.link(first).disconnect_reason(), None);
    assert_eq!(pipe.server.state().max_live_connections_per_device, 1);
}

#[test]
fn refused_logins_get_the_code_then_logins_work_again() {
    let (mut pipe, conn) = online(9);
    pipe.close(conn);
    pipe.server.refuse_logins(503, 2);
    let a = pipe.reconnect(conn);
    pipe.run();
    let b = pipe.reconnect(conn);
    pipe.run();
    let c = pipe.reconnect(conn);
    pipe.run();
    for refused in [a, b] {
        assert_eq!(
            pipe.link(refused).disconnect_reason(),
            Some(&DisconnectReason::Unavailable)
        );
    }
    assert!(pipe.link(c).is_online());
    assert_eq!(pipe.server.state().refused_logins, None);
}

#[test]
fn kicks_carry_their_code() {
    let cases = [
        (515, DisconnectReason::RestartRequired),
        (440, DisconnectReason::Replaced),
        (503, DisconnectReason::Unavailable),
    ];
    for (seed, (code, reason)) in (10..).zip(cases) {
        let (mut pipe, conn) = online(seed);
        assert_eq!(pipe.server.kick(Target::AllLive, code), 1);
        pipe.run();
        assert_eq!(pipe.link(conn).disconnect_reason(), Some(&reason));
        assert!(!pipe.server.state().devices[0].logged_in);
    }
    let (mut pipe, conn) = online(20);
    assert_eq!(pipe.server.kick_failure(Target::Conn(conn), 401), 1);
    pipe.run();
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::LoggedOut)
    );
    let (mut pipe, conn) = online(21);
    assert_eq!(pipe.server.drop_connections(Target::AllLive), 1);
    pipe.run();
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::ConnectionClosed)
    );
    assert_eq!(pipe.server.kick(Target::Conn(conn), 500), 0);
}

#[test]
fn ignored_iqs_make_the_client_time_out() {
    let (mut pipe, conn) = online(22);
    pipe.close(conn);
    pipe.server.set_ignore_iqs(Some("passive"));
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(!pipe.link(again).is_online());
    pipe.advance(Duration::from_secs(21));
    let link = pipe.link(again);
    assert!(link.events.contains(&Event::IqTimedOut {
        purpose: IqPurpose::SetActive
    }));
    assert_eq!(link.disconnect_reason(), Some(&DisconnectReason::TimedOut));
}

#[test]
fn a_silent_partition_ends_in_a_keepalive_timeout() {
    let (mut pipe, conn) = online(23);
    pipe.server.set_silent(conn, true).expect("open");
    for _ in 0..8 {
        pipe.advance(Duration::from_secs(5));
    }
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::KeepaliveTimeout)
    );
    assert!(!pipe.server.state().devices[0].logged_in);
    assert_eq!(
        pipe.server.set_silent(conn, false),
        Err(ControlError::UnknownConn { conn })
    );
}

#[test]
fn pings_are_answered_and_keep_the_session_up() {
    let (mut pipe, conn) = online(24);
    for _ in 0..20 {
        pipe.advance(Duration::from_secs(10));
    }
    assert!(pipe.link(conn).is_online());
}

#[test]
fn the_second_login_finds_its_pre_keys_and_uploads_none() {
    let (mut pipe, conn) = online(25);
    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(pipe.link(again).is_online());
    assert!(
        !pipe
            .link(again)
            .events
            .iter()
            .any(|e| matches!(e, Event::PreKeysUploaded { .. }))
    );
    assert_eq!(pipe.server.state().devices[0].pre_keys, 812);
}

#[test]
fn routing_info_is_sent_and_comes_back_in_the_intro() {
    let mut config = ServerConfig::new(WALL);
    config.routing_info = Some(vec![8, 1, 8, 2]);
    let mut pipe = pipe_with(config, 26);
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(26));
    let conn = pipe
        .pair_and_login(pipe.client_config(), creds)
        .expect("online");
    assert_eq!(
        pipe.link(conn)
            .stored
            .as_ref()
            .and_then(|c| c.routing_info.clone()),
        Some(vec![8, 1, 8, 2])
    );
    pipe.close(conn);
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(pipe.link(again).is_online());
}

#[test]
fn an_outdated_client_gets_405() {
    let mut config = ServerConfig::new(WALL);
    config.min_app_version = Some([9, 0, 0]);
    let mut pipe = pipe_with(config, 27);
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(27));
    let conn = pipe.connect(pipe.client_config(), creds);
    pipe.run();
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::ClientOutdated)
    );
}

#[test]
fn a_message_needs_a_linked_device() {
    let mut server = FakeServer::new(ServerConfig::new(WALL), 28);
    assert_eq!(
        server.send_text(CONTACT, "x"),
        Err(ControlError::NoPairedDevice)
    );
}

#[test]
fn an_unfinished_handshake_is_closed_at_the_deadline() {
    let t0 = Instant::now();
    let mut server = FakeServer::new(ServerConfig::new(WALL), 29);
    let conn = server.connect(t0);
    while server.poll_output().is_some() {}
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    server.handle_timeout(t0 + Duration::from_secs(19));
    assert!(server.is_open(conn));
    server.handle_timeout(t0 + Duration::from_secs(20));
    let outputs: Vec<ServerOutput> = std::iter::from_fn(|| server.poll_output()).collect();
    assert!(outputs.contains(&ServerOutput::Close { conn }));
    assert!(!server.is_open(conn));
    assert_eq!(server.poll_timeout(), None);
}

/// Runs a whole script (pair, login, a message, a kick) and returns every
/// byte the server wrote.
fn transcript(seed: u64, t0: Instant) -> Vec<(ConnId, Vec<u8>)> {
    let mut pipe = Pipe::new(
        FakeServer::new(ServerConfig::new(WALL), seed),
        t0,
        WALL,
        seed,
    );
    pipe.transcript = Some(Vec::new());
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let conn = pipe
        .pair_and_login(pipe.client_config(), creds)
        .expect("online");
    pipe.server.send_text(CONTACT, "hello").expect("device");
    pipe.run();
    pipe.advance(Duration::from_secs(30));
    pipe.server.kick(Target::Conn(conn), 515);
    pipe.run();
    pipe.transcript.take().unwrap_or_default()
}

#[test]
fn same_seed_same_inputs_same_bytes() {
    let t0 = Instant::now();
    let a = transcript(40, t0);
    assert!(a.len() > 10, "{}", a.len());
    assert_eq!(a, transcript(40, t0));
    assert_ne!(a, transcript(41, t0));
}
