//! GET /status: any query, headers and body, from any peer, over any board
//! state. 200 JSON with the state; the device's JID masked to its last
//! three digits; whether a QR or a code is shown, never the QR text or the
//! code (the page is not guarded).
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{BoardState, PAIRING_CODE, Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((input, reply)) = read_route(data, "/status", Probe::Other) else {
        return;
    };
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    for secret in ["FUZZADVSECRET", "fuzzref", PAIRING_CODE] {
        assert!(
            !reply.body.contains(secret),
            "{secret} on /status: {reply:?}"
        );
    }
    let status: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
    match input.board {
        BoardState::Online => {
            assert_eq!(status["state"], "online", "{status}");
            assert_eq!(status["jid"], "…456:7@s.whatsapp.net", "{status}");
        }
        BoardState::Qr => assert_eq!(status["pairing"]["qr_shown"], true, "{status}"),
        BoardState::PairingCode => assert_eq!(status["pairing"]["code_shown"], true, "{status}"),
        BoardState::Starting => assert!(status["jid"].is_null(), "{status}"),
    }
});
