//! GET /ready: any query, headers and body, from any peer, over any board
//! state. 200 `online` exactly while the session is open, else 503 with
//! the state word; nothing the request carries changes that.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{BoardState, Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((input, reply)) = read_route(data, "/ready", Probe::Readiness) {
        if input.board == BoardState::Online {
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (StatusCode::OK, "online\n")
            );
        } else {
            assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
            assert_ne!(reply.body, "online\n");
        }
    }
});
