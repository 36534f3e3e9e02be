//! GET /metrics: any query, headers and body, from any peer, over any
//! board state. 200 Prometheus text: every sample line is `name value`
//! (labels allowed), every name documented by HELP and TYPE first, and
//! `blacksky_online` says whether the session is open.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use http_fixture::{BoardState, Probe, read_route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((input, reply)) = read_route(data, "/metrics", Probe::Other) else {
        return;
    };
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.body.ends_with('\n'), "{reply:?}");
    let mut typed = BTreeSet::new();
    let mut online = None;
    for line in reply.body.lines() {
        if let Some(comment) = line.strip_prefix("# TYPE ") {
            typed.insert(comment.split(' ').next().unwrap_or_default().to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name_and_labels, value) = line.rsplit_once(' ').expect("name value");
        let name = name_and_labels.split('{').next().unwrap_or_default();
        assert!(typed.contains(name), "a sample before its TYPE: {line}");
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "{line}"
        );
        if name == "blacksky_online" {
            online = Some(value.to_owned());
        }
    }
    let expected = if input.board == BoardState::Online {
        "1"
    } else {
        "0"
    };
    assert_eq!(online.as_deref(), Some(expected), "{}", reply.body);
});
