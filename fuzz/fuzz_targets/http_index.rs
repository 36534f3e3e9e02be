//! GET /: any query, headers and body, from any peer, over any board
//! state. Never a server error, the token or a phone number; GET answers
//! 200 with the version and the routes, other methods 405.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((_, reply)) = read_route(data, "/", Probe::Other) {
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert!(reply.body.starts_with("blacksky "), "{reply:?}");
    }
});
