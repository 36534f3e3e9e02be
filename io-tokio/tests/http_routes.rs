//! The status routes over a real socket, driven through the board the
//! runner writes: /health, /ready, /status, /stats, /metrics.

mod http_support;

use blacksky_core::client::{DisconnectReason, Event};
use blacksky_core::keeper::{ConnState, Health};
use blacksky_core::wire::binary::Jid;
use blacksky_io::host::clock::{Clock, SystemClock};
use blacksky_io::host::http::{METRICS_CONTENT_TYPE, QrAccess, QrPageConfig};
use hyper::StatusCode;

use http_support::{Server, parse_prometheus};

async fn server() -> Server {
    Server::start(QrPageConfig::new(QrAccess::Off, None)).await
}

#[tokio::test]
async fn health_answers_ok_whatever_the_session_does() {
    let server = server().await;
    let reply = server.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ok\n");
    server
        .board
        .record_disconnect(&DisconnectReason::Unavailable, SystemClock.wall());
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
    assert_eq!(server.get("/nope").await.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn ready_follows_the_session_online_then_disconnected() {
    let server = server().await;
    let before = server.get("/ready").await;
    assert_eq!(before.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(before.body, "starting\n");

    server.board.on_event(&Event::Online, SystemClock.wall());
    let online = server.get("/ready").await;
    assert_eq!(online.status, StatusCode::OK);
    assert_eq!(online.body, "online\n");

    server.board.on_event(
        &Event::Disconnected {
            reason: DisconnectReason::KeepaliveTimeout,
        },
        SystemClock.wall(),
    );
    let after = server.get("/ready").await;
    assert_eq!(after.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(after.body, "disconnected\n");

    // The keeper's next word takes over.
    server.board.on_keeper_health(&Health {
        state: ConnState::BackingOff { attempt: 1 },
        since: SystemClock.now(),
        last_disconnect: Some(DisconnectReason::KeepaliveTimeout),
        reconnects: 0,
        store_up: true,
        rss_bytes: None,
    });
    assert_eq!(server.get("/ready").await.body, "backing_off\n");
    server.stop().await;
}

#[tokio::test]
async fn status_json_changes_as_events_arrive() {
    let server = server().await;
    let first = server.get("/status").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let json = first.json();
    assert_eq!(json["state"], "starting");
    assert_eq!(json["jid"], serde_json::Value::Null);
    assert_eq!(json["last_disconnect"], serde_json::Value::Null);
    assert_eq!(json["reconnects"], 0);
    assert_eq!(json["store"]["up"], true);
    assert_eq!(json["store"]["queue"], 0);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_s"].is_u64() && json["since"].is_u64());

    let jid = Jid::parse("491556123456:7@s.whatsapp.net").expect("jid");
    server
        .board
        .on_event(&Event::LoggedIn { jid }, SystemClock.wall());
    server.board.on_event(&Event::Online, SystemClock.wall());
    server.board.set_store(false, 17);
    let json = server.get("/status").await.json();
    assert_eq!(json["state"], "online");
    assert_eq!(json["jid"], "…456:7@s.whatsapp.net", "the number is masked");
    assert_eq!(json["store"]["up"], false);
    assert_eq!(json["store"]["queue"], 17);

    let wall = SystemClock.wall();
    server.board.on_event(
        &Event::Disconnected {
            reason: DisconnectReason::Replaced,
        },
        wall,
    );
    server.board.on_keeper_health(&Health {
        state: ConnState::StandingBy,
        since: SystemClock.now(),
        last_disconnect: Some(DisconnectReason::Replaced),
        reconnects: 4,
        store_up: true,
        rss_bytes: None,
    });
    let json = server.get("/status").await.json();
    assert_eq!(json["state"], "standing_by");
    assert_eq!(json["reconnects"], 4);
    assert_eq!(json["last_disconnect"]["code"], 440);
    assert_eq!(json["last_disconnect"]["at"], wall.as_millis());
    assert!(
        json["last_disconnect"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("440 ")),
        "{json}"
    );
    server.stop().await;
}

#[tokio::test]
async fn stats_json_counts_messages_memory_and_reconnections() {
    let server = server().await;
    let json = server.get("/stats").await.json();
    assert_eq!(json["messages"]["received"]["total"], 0);
    assert_eq!(json["connection"]["online"], false);
    assert_eq!(json["memory"]["rss_bytes"], serde_json::Value::Null);
    assert_eq!(
        json["messages"]["received"]["per_minute"]
            .as_array()
            .map(Vec::len),
        Some(60)
    );

    let wall = SystemClock.wall();
    server.board.on_event(&Event::Online, wall);
    for i in 0..3 {
        server.board.on_event(
            &Event::MessageStored {
                id: format!("m{i}"),
                from: "x@s.whatsapp.net".into(),
            },
            wall,
        );
    }
    server.board.on_messages_sent(2, wall);
    server.board.on_memory(20_000_000, wall);
    server
        .board
        .on_memory(21_000_000, wall.saturating_add_millis(1));
    server.board.set_memory_limit(Some(512 << 20));
    server
        .board
        .record_disconnect(&DisconnectReason::ConnectionClosed, wall);
    server
        .board
        .on_event(&Event::Online, wall.saturating_add_millis(5));

    let json = server.get("/stats").await.json();
    let received = &json["messages"]["received"];
    assert_eq!(received["total"], 3);
    assert_eq!(received["this_minute"].as_u64().map(|n| n <= 3), Some(true));
    assert_eq!(json["messages"]["sent"]["total"], 2);
    assert_eq!(json["connection"]["online"], true);
    assert!(json["connection"]["online_since"].is_u64());
    assert_eq!(json["memory"]["rss_bytes"], 21_000_000);
    assert_eq!(json["memory"]["limit_bytes"], 512 << 20);
    assert_eq!(json["memory"]["trend"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["memory"]["trend"][0]["rss_bytes"], 20_000_000);
    let reconnections = json["reconnections"].as_array().expect("list");
    assert_eq!(reconnections.len(), 1);
    assert_eq!(reconnections[0]["code"], 428);
    assert_eq!(reconnections[0]["at"], wall.as_millis());
    assert_eq!(json["disconnects_total"], 1);
    server.stop().await;
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_follow_the_board() {
    let server = server().await;
    let reply = server.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some(METRICS_CONTENT_TYPE));
    let before = parse_prometheus(&reply.body);
    for name in [
        "blacksky_up",
        "blacksky_online",
        "blacksky_reconnects_total",
        "blacksky_messages_received_total",
        "blacksky_messages_sent_total",
        "blacksky_store_up",
        "blacksky_store_write_queue_length",
        "blacksky_uptime_seconds",
    ] {
        assert!(before.contains_key(name), "{name} missing:\n{}", reply.body);
    }
    assert_eq!(before["blacksky_up"], 1.0);
    assert_eq!(before["blacksky_online"], 0.0);
    assert!(
        !before.contains_key("blacksky_resident_memory_bytes"),
        "no sample before the first measurement"
    );
    assert!(reply.body.contains("blacksky_build_info{version=\""));

    let wall = SystemClock.wall();
    server.board.on_event(&Event::Online, wall);
    server.board.on_event(
        &Event::MessageStored {
            id: "m1".into(),
            from: "x@s.whatsapp.net".into(),
        },
        wall,
    );
    server.board.on_messages_sent(5, wall);
    server.board.on_memory(33_554_432, wall);
    server.board.set_store(false, 9);
    server.board.on_keeper_health(&Health {
        state: ConnState::Online,
        since: SystemClock.now(),
        last_disconnect: None,
        reconnects: 2,
        store_up: false,
        rss_bytes: Some(33_554_432),
    });
    let after = parse_prometheus(&server.get("/metrics").await.body);
    assert_eq!(after["blacksky_online"], 1.0);
    assert_eq!(after["blacksky_reconnects_total"], 2.0);
    assert_eq!(after["blacksky_messages_received_total"], 1.0);
    assert_eq!(after["blacksky_messages_sent_total"], 5.0);
    assert_eq!(after["blacksky_store_up"], 0.0);
    assert_eq!(after["blacksky_store_write_queue_length"], 9.0);
    assert_eq!(after["blacksky_resident_memory_bytes"], 33_554_432.0);
    assert!(after["blacksky_uptime_seconds"] >= before["blacksky_uptime_seconds"]);
    server.stop().await;
}

#[test]
fn the_format_checker_catches_what_prometheus_would_reject() {
    let bad = [
        "blacksky_x 1\n",                                          // no TYPE
        "# HELP a_total h\n# TYPE a_total counter\na_total one\n", // bad value
        "# HELP a h\n# TYPE a counter\na 1\n",                     // counter without _total
        "# HELP a h\n# TYPE a gauge\na{b=\"c} 1\n",                // unclosed label
        "# HELP a h\n# TYPE a gauge\na 1",                         // no final newline
        "# HELP a h\n# TYPE a gauge\na 1\n# TYPE a gauge\n",       // second TYPE
    ];
    for body in bad {
        let caught = std::panic::catch_unwind(|| parse_prometheus(body)).is_err();
        assert!(caught, "accepted: {body:?}");
    }
    let good = "# HELP a h\n# TYPE a gauge\na{b=\"x\\\"y\"} 1\na 2.5\n";
    assert_eq!(parse_prometheus(good)["a"], 2.5);
}
