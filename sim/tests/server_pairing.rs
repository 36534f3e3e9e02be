//! Linking a new device: by QR and by code, through the real client.

use std::time::Instant;

use blacksky_core::client::{ClientConfig, DisconnectReason, Event, PairingMethod};
use blacksky_core::session::Creds;
use blacksky_core::time::UnixMillis;
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{ControlError, FakeServer, ServerConfig, ServerEvent};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);

fn pipe(seed: u64) -> Pipe {
    let server = FakeServer::new(ServerConfig::new(WALL), seed);
    Pipe::new(server, Instant::now(), WALL, seed + 100)
}

fn creds(seed: u64) -> Creds {
    Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

#[test]
fn qr_pairing_then_login_goes_online() {
    let mut pipe = pipe(1);
    let conn = pipe.connect(pipe.client_config(), creds(7));
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("the client shows a QR");
    let state = pipe.server.state();
    assert_eq!(state.pending_pairings.len(), 1);
    assert_eq!(state.pending_pairings[0].refs.len(), 6);
    assert!(state.pending_pairings[0].refs_acked);

    pipe.server.scan_qr(&qr).expect("the phone scans");
    pipe.run();
    let link = pipe.link(conn);
    assert_eq!(
        link.disconnect_reason(),
        Some(&DisconnectReason::RestartRequired)
    );
    assert!(
        link.events
            .iter()
            .any(|e| matches!(e, Event::Paired { .. })),
        "{:?}",
        link.events
    );
    let stored = link.stored.clone().expect("creds stored at pair-success");
    let me = stored.me.clone().expect("me set");
    assert_eq!(me.jid.to_string(), "491556123456:1@s.whatsapp.net");
    let state = pipe.server.state();
    assert!(state.devices[0].paired);
    assert!(!state.devices[0].logged_in);
    assert!(state.pending_pairings.is_empty());

    let again = pipe.reconnect(conn);
    pipe.run();
    let link = pipe.link(again);
    assert!(link.is_online(), "{:?}", link.events);
    assert!(link.events.contains(&Event::PreKeysUploaded { count: 812 }));
    let state = pipe.server.state();
    let device = &state.devices[0];
    assert!(device.paired && device.logged_in && device.passive_active);
    assert_eq!(device.logins, 1);
    assert_eq!(device.pre_keys, 812);
    assert_eq!(state.max_live_connections_per_device, 1);
    assert_eq!(state.last_client_error, None);
}

#[test]
fn a_qr_with_someone_elses_keys_is_refused() {
    let mut pipe = pipe(2);
    let conn = pipe.connect(pipe.client_config(), creds(8));
    pipe.run();
    let qr = pipe.link(conn).last_qr().expect("a QR");
    let (reference, _) = qr
        .trim_start_matches(blacksky_core::client::pairing::QR_URL_PREFIX)
        .split_once(',')
        .expect("fields");
    let forged = blacksky_core::client::pairing::qr_text(reference, &creds(9), 1);
    assert_eq!(
        pipe.server.scan_qr(&forged),
        Err(ControlError::NoiseKeyMismatch { conn })
    );
    assert_eq!(pipe.server.scan_qr("hello"), Err(ControlError::BadQr));
    assert!(matches!(
        pipe.server.scan_qr(&qr.replace("2@", "3@")),
        Err(ControlError::UnknownRef { .. })
    ));
    assert!(pipe.server.state().devices.is_empty());
}

fn code_config(pipe: &Pipe) -> ClientConfig {
    ClientConfig {
        pairing: PairingMethod::Code {
            phone: "491556123456".into(),
        },
        ..pipe.client_config()
    }
}

#[test]
fn code_pairing_then_login_goes_online() {
    let mut pipe = pipe(3);
    let conn = pipe.connect(code_config(&pipe), creds(10));
    pipe.run();
    let code = pipe
        .link(conn)
        .pairing_code()
        .expect("the client shows a code");
    assert!(
        pipe.server_events
            .contains(&ServerEvent::CodeRequested { conn })
    );
    pipe.server.enter_code(&code).expect("typed");
    pipe.run();
    assert_eq!(
        pipe.link(conn).disconnect_reason(),
        Some(&DisconnectReason::RestartRequired),
        "{:?} / {:?}",
        pipe.link(conn).events,
        pipe.server.state().last_client_error
    );
    let again = pipe.reconnect(conn);
    pipe.run();
    assert!(pipe.link(again).is_online());
    assert!(pipe.server.state().devices[0].passive_active);
}

#[test]
fn a_wrong_code_is_reported_and_links_nothing() {
    let mut pipe = pipe(4);
    let conn = pipe.connect(code_config(&pipe), creds(11));
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
    let state = pipe.server.state();
    assert!(state.devices.is_empty());
    let error = state.last_client_error.expect("reported");
    assert!(error.contains("code pairing"), "{error}");
    assert!(matches!(
        pipe.link(conn).disconnect_reason(),
        Some(DisconnectReason::ProtocolViolation(_))
    ));
    assert_eq!(
        pipe.server.enter_code("ABCD"),
        Err(ControlError::BadCode {
            code: "ABCD".into()
        })
    );
}
