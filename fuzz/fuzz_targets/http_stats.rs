//! GET /stats: any query, headers and body, from any peer, over any board
//! state. 200 JSON whose counts are the board's (one message received
//! once online), whatever the request carries.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::StatusCode;
use http_fixture::{BoardState, Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((input, reply)) = read_route(data, "/stats", Probe::Other) else {
        return;
    };
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let stats: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
    let online = input.board == BoardState::Online;
    assert_eq!(stats["connection"]["online"], online, "{stats}");
    assert_eq!(
        stats["messages"]["received"]["total"],
        u64::from(online),
        "{stats}"
    );
});
