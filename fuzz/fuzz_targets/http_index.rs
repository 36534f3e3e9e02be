//! GET /: any query, headers and body, from any peer, over any board
//! state. Never a server error, the token or a phone number; GET answers
//! 200: the dashboard (HTML, no script) only where `/qr`'s rules can let a
//! visitor in (never with the page off, never to another machine without
//! QR_TOKEN), the plain index with the version and the routes otherwise;
//! other methods 405.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{Probe, Rule, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((input, reply)) = read_route(data, "/", Probe::Other) {
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        if reply.body.starts_with("<!doctype html>") {
            let may = match input.access {
                Rule::Off => false,
                Rule::LocalOnly => input.peer.ip().is_loopback(),
                // A token can only come in the fuzzed query or headers.
                Rule::Token => true,
            };
            assert!(may, "the dashboard for a visitor the rules keep out: {reply:?}");
            assert!(!reply.body.contains("<script"), "{reply:?}");
        } else {
            assert!(reply.body.starts_with("blacksky "), "{reply:?}");
        }
    }
});
