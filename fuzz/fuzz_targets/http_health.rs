//! GET /health: any query, headers and body, from any peer, over any
//! board state. Liveness does not depend on any of it: 200 `ok`.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((_, reply)) = read_route(data, "/health", Probe::Other) {
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "ok\n")
        );
    }
});
