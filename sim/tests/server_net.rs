//! The tokio shell and the `fake-wa` binary, over real sockets: the real
//! client over a WebSocket, the control API over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use blacksky_core::client::{Client, DisconnectReason, Event, Input, Output};
use blacksky_core::session::{Committed, Creds, Write as StoreWrite};
use blacksky_sim::net::{FakeWa, wall_now};
use blacksky_sim::server::{DEFAULT_PHONE, FakeServer, ServerConfig, ServerState};
use futures_util::{SinkExt, StreamExt};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tokio_tungstenite::tungstenite::Message;

/// A blocking HTTP/1.1 request; returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("control port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: fake-wa\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn state(addr: SocketAddr) -> ServerState {
    let (status, body) = http(addr, "GET", "/state", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("state JSON")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One real client on one real socket.
struct Session {
    client: Client,
    ws: Ws,
    events: Vec<Event>,
    stored: Option<Creds>,
}

impl Session {
    async fn open(fake: &FakeWa, creds: Creds, seed: u8) -> Session {
        let (ws, _) = tokio_tungstenite::connect_async(fake.ws_url())
            .await
            .expect("dial");
        let config = blacksky_core::client::ClientConfig {
            root_public_key: fake.root_public_key,
            ..Default::default()
        };
        let mut client = Client::new(
            config,
            blacksky_core::session::Session::new(creds),
            [seed; 32],
        );
        client
            .handle_input(
                tokio::time::Instant::now().into_std(),
                Input::Connected { wall: wall_now() },
            )
            .expect("fresh");
        Session {
            client,
            ws,
            events: Vec::new(),
            stored: None,
        }
    }

    /// Runs until `done` holds for the events so far (or the connection ends).
    async fn until(&mut self, done: impl Fn(&[Event]) -> bool) {
        loop {
            while let Some(output) = self.client.poll_output() {
                match output {
                    Output::Transmit(bytes) => {
                        self.ws
                            .send(Message::Binary(bytes.into()))
                            .await
                            .expect("send");
                    }
                    Output::Store(op, writes) => {
                        if let Some(creds) = writes.iter().rev().find_map(StoreWrite::creds) {
                            self.stored = Some(creds.clone());
                        }
                        let now = tokio::time::Instant::now().into_std();
                        self.client
                            .handle_input(
                                now,
                                Input::StoreDone {
                                    op,
                                    result: Ok(Committed::default()),
                                },
                            )
                            .expect("known op");
                    }
                    Output::ReadBack(op) => {
                        let now = tokio::time::Instant::now().into_std();
                        self.client
                            .handle_input(now, Input::ReadBack { op, stored: None })
                            .expect("known op");
                    }
                    Output::Event(event) => self.events.push(event),
                }
            }
            if done(&self.events) || self.client.is_closed() {
                return;
            }
            let next = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("the server answers within 10 s");
            let now = tokio::time::Instant::now().into_std();
            let input = match &next {
                Some(Ok(Message::Binary(bytes))) => Input::Received {
                    bytes,
                    wall: wall_now(),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => Input::Closed,
            };
            self.client.handle_input(now, input).expect("input");
        }
    }

    fn reason(&self) -> Option<&DisconnectReason> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnected { reason } => Some(reason),
            _ => None,
        })
    }
}

fn has_qr(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Qr { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_client_pairs_logs_in_and_gets_a_message_over_sockets() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server = FakeServer::new(ServerConfig::new(wall_now()), 5);
    let fake = FakeWa::start(server, any, any).await.expect("bind");
    let control = fake.control_addr;
    let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(5));

    let mut first = Session::open(&fake, creds, 1).await;
    first.until(has_qr).await;
    let qr = first
        .events
        .iter()
        .find_map(|e| match e {
            Event::Qr { text, .. } => Some(text.clone()),
            _ => None,
        })
        .expect("a QR");
    let scan = tokio::task::spawn_blocking(move || http(control, "POST", "/scan", &qr));
    let (status, body) = scan.await.expect("joined");
    assert_eq!(status, 200, "{body}");
    first.until(|_| false).await;
    assert_eq!(first.reason(), Some(&DisconnectReason::RestartRequired));

    let stored = first.stored.clone().expect("creds");
    let mut second = Session::open(&fake, stored, 2).await;
    second.until(|e| e.contains(&Event::Online)).await;
    assert!(second.client.is_online(), "{:?}", second.events);

    let (status, body) = tokio::task::spawn_blocking(move || {
        http(control, "POST", "/send?from=4915112345678", "ciphertext")
    })
    .await
    .expect("joined");
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    second
        .until(|e| e.iter().any(|e| matches!(e, Event::MessageStored { .. })))
        .await;
    // The ack is on the wire; wait for the server to read it.
    let mut snapshot = None;
    for _ in 0..100 {
        let now = tokio::task::spawn_blocking(move || state(control))
            .await
            .expect("joined");
        if now.messages.acked == 1 {
            snapshot = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snapshot = snapshot.expect("acked within 5 s");
    assert_eq!(snapshot.messages.list[0].id, id);
    assert!(snapshot.messages.list[0].acked);
    assert_eq!(
        fake.with_server(|s| s.sent_text(&id).map(str::to_owned)),
        Some("ciphertext".to_owned())
    );

    // A group text: the same route with `group`.
    let (status, body) = tokio::task::spawn_blocking(move || {
        http(
            control,
            "POST",
            "/send?from=4915112345678&group=120363000000000001",
            "to the group",
        )
    })
    .await
    .expect("joined");
    assert_eq!(status, 200, "{body}");
    let group_id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    second
        .until(|e| {
            e.iter()
                .any(|e| matches!(e, Event::MessageStored { id, .. } if *id == group_id))
        })
        .await;
    assert_eq!(
        fake.with_server(|s| s.sent_text(&group_id).map(str::to_owned)),
        Some("to the group".to_owned())
    );
    assert!(snapshot.devices[0].logged_in && snapshot.devices[0].passive_active);

    let (status, _) =
        tokio::task::spawn_blocking(move || http(control, "POST", "/kick?code=440", ""))
            .await
            .expect("joined");
    assert_eq!(status, 200);
    second.until(|_| false).await;
    assert_eq!(second.reason(), Some(&DisconnectReason::Replaced));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_errors_are_json_4xx() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server = FakeServer::new(ServerConfig::new(wall_now()), 6);
    let fake = FakeWa::start(server, any, any).await.expect("bind");
    let control = fake.control_addr;
    let cases = tokio::task::spawn_blocking(move || {
        [
            http(control, "POST", "/scan", "not a qr"),
            http(control, "POST", "/code", "ABCD-EFGH"),
            http(control, "POST", "/kick", ""),
            http(control, "POST", "/send?from=49x", ""),
            http(control, "POST", "/send?from=491", ""),
            http(control, "POST", "/send?from=491&group=not+a+group", ""),
            http(control, "POST", "/send?from=491&len=70000", ""),
            http(control, "POST", "/silent?conn=9", ""),
            http(control, "GET", "/nowhere", ""),
        ]
    })
    .await
    .expect("joined");
    let expected = [
        (400, "bad_qr"),
        (404, "no_code_request"),
        (400, "bad_request"),
        (400, "bad_request"),
        (409, "no_paired_device"),
        (400, "bad_group"),
        (400, "bad_request"),
        (404, "unknown_conn"),
        (404, "no_such_route"),
    ];
    for ((status, body), (want_status, want_kind)) in cases.iter().zip(expected) {
        assert_eq!(*status, want_status, "{body}");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(json["error"], want_kind, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_routes_make_change_and_show_groups() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server = FakeServer::new(ServerConfig::new(wall_now()), 7);
    let fake = FakeWa::start(server, any, any).await.expect("bind");
    let control = fake.control_addr;
    let answers = tokio::task::spawn_blocking(move || {
        let spec = r#"{"subject":"fans","creator":"491001","admins":["491002"],"members":["491003"],"bot":"admin","addressing":"lid"}"#;
        let made = http(control, "POST", "/groups", spec);
        let id = serde_json::from_str::<serde_json::Value>(&made.1).expect("JSON")["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let add = r#"{"kind":"add","phones":["491004","491003"]}"#;
        [
            made,
            http(control, "POST", &format!("/groups/change?group={id}&actor=491002"), add),
            http(control, "POST", &format!("/groups/change?group={id}&actor=491003"), add),
            http(control, "POST", "/groups/change?group=120363000000000999&actor=491002", add),
            http(control, "POST", &format!("/groups/change?group={id}&actor=491002"), "{"),
            http(control, "GET", &format!("/groups?id={id}"), ""),
            http(control, "GET", "/groups", ""),
        ]
    })
    .await
    .expect("joined");
    let json =
        |i: usize| -> serde_json::Value { serde_json::from_str(&answers[i].1).expect("JSON body") };
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [200, 200, 403, 404, 400, 200, 200], "{answers:?}");
    assert_eq!(
        json(1)["changed"],
        serde_json::json!(["491004"]),
        "Carol was in"
    );
    assert_eq!(json(2)["error"], "not_admin");
    assert_eq!(json(3)["error"], "unknown_group");
    assert_eq!(json(4)["error"], "bad_request");
    let group = json(5);
    assert_eq!(group["addressing"], "lid");
    assert_eq!(group["members"]["491001"], "superadmin");
    assert_eq!(group["members"]["491004"], "member");
    assert_eq!(group["members"][DEFAULT_PHONE], "admin");
    assert_eq!(json(6).as_array().map(Vec::len), Some(1));
}

#[test]
fn the_binary_prints_its_keys_and_ports_and_serves_state() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-wa"))
        .args([
            "--port",
            "0",
            "--control-port",
            "0",
            "--phone",
            "15550001111",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fake-wa starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut next = || lines.next().and_then(Result::ok).unwrap_or_default();
    let (root, ws, control) = (next(), next(), next());
    let checked = std::panic::catch_unwind(|| {
        let key = root.strip_prefix("root-pubkey: ").expect("root line");
        assert_eq!(
            key,
            hex::encode(ServerConfig::new(wall_now()).root_public_key())
        );
        let ws = ws
            .strip_prefix("listening: ws://127.0.0.1:")
            .expect("ws line");
        let port: u16 = ws
            .strip_suffix("/ws/chat")
            .expect("path")
            .parse()
            .expect("port");
        assert_ne!(port, 0);
        let control: SocketAddr = control
            .strip_prefix("control: http://")
            .expect("control line")
            .parse()
            .expect("an address");
        assert_ne!(control.port(), 0);
        state(control)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        checked.expect("three lines and a state").phone,
        "15550001111"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_fake-wa"))
        .args(["--port", "0", "--colour", "red"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--colour"), "{stderr}");
    assert!(stderr.contains("usage"), "{stderr}");
}
