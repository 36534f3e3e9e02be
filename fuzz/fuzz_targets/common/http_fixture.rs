//! The real HTTP app (io-tokio's router: every route, the pairing page's
//! access rules, the status board behind it) in process, fed one request
//! per fuzz input, and the checks every answer must pass.
//!
//! An input is a switches byte, then fields split at `\n` (a missing field
//! is empty). The switches pick what the request meets and carries:
//!
//! | bits | meaning |
//! |---|---|
//! | 0–1 | the page's access rule: 0 and 3 QR_TOKEN, 1 local only, 2 off (a public host) |
//! | 2 | the right token goes into the form body (or the query of `GET /qr`) |
//! | 3 | the peer is 127.0.0.1 (else 203.0.113.7) |
//! | 4 | the right cookie goes into the Cookie header |
//! | 5 | behind Heroku's router (the client is the last `X-Forwarded-For` hop) |
//! | 6–7 | the board: 0 a QR shown, 1 a pairing code shown, 2 linked and online, 3 starting |
//!
//! What each field means is the target's to say. Checks: never a server
//! error, never the token in an answer, and the QR text, the pairing code
//! and the cookie only for a visitor the rules let in ([`Input::may_see`],
//! an independent statement of those rules).
#![allow(dead_code)] // each target uses a different part

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{HeaderName, HeaderValue, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use blacksky_core::client::Event;
use blacksky_core::wire::binary::Jid;
use blacksky_io::host::clock::{Clock, SystemClock};
use blacksky_io::host::config::Secret;
use blacksky_io::host::http::{
    PairingPhone, QR_COOKIE_NAME, QrAccess, QrPageConfig, router_with_clock,
};
use blacksky_io::host::status::StatusBoard;
use tokio::sync::mpsc;
use tower::ServiceExt;

/// QR_TOKEN of the token rule.
pub const TOKEN: &str = "fuzz-token-4f1c9a7e2b";
/// What the board shows while pairing: none of it may reach a visitor the
/// rules keep out (the last parts are the keys and the ADV secret).
pub const QR_TEXT: &str =
    "https://wa.me/settings/linked_devices#2@fuzzref,FUZZNOISEKEY,FUZZIDENTITYKEY,FUZZADVSECRET,1";
pub const PAIRING_CODE: &str = "FZCD-7QX9";
/// The linked device: /status and the page show it masked only.
pub const DEVICE_JID: &str = "491556123456:7@s.whatsapp.net";
pub const DEVICE_PHONE: &str = "491556123456";
/// Answers are read up to this (the pages are a few KiB).
const REPLY_BYTES_MAX: usize = 1 << 20;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
});

/// The cookie a good token earns, as the server itself hands it out.
static RIGHT_COOKIE: LazyLock<String> = LazyLock::new(|| {
    let input = Input {
        access: Rule::Token,
        right_token: true,
        peer: remote(),
        right_cookie: false,
        behind_router: false,
        board: BoardState::Qr,
        fields: Vec::new(),
    };
    let mut server = Server::for_input(&input);
    let reply = server
        .send(
            Method::GET,
            &format!("/qr?token={TOKEN}"),
            &[],
            Vec::new(),
            remote(),
        )
        .expect("a plain request");
    let set = reply
        .header(SET_COOKIE.as_str())
        .expect("the right token earns a cookie");
    set.split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("name=value")
});

fn remote() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(203, 0, 113, 7), 40_000))
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 40_000))
}

/// The page's access rule under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Token,
    LocalOnly,
    Off,
}

/// What the status board shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardState {
    Qr,
    PairingCode,
    Online,
    Starting,
}

/// One fuzz input, decoded.
#[derive(Debug)]
pub struct Input<'a> {
    pub access: Rule,
    pub right_token: bool,
    pub peer: SocketAddr,
    right_cookie: bool,
    pub behind_router: bool,
    pub board: BoardState,
    fields: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (&switches, rest) = data.split_first()?;
        Some(Input {
            access: match switches & 0b11 {
                1 => Rule::LocalOnly,
                2 => Rule::Off,
                _ => Rule::Token,
            },
            right_token: switches & 0b100 != 0,
            peer: if switches & 0b1000 != 0 {
                loopback()
            } else {
                remote()
            },
            right_cookie: switches & 0b1_0000 != 0,
            behind_router: switches & 0b10_0000 != 0,
            board: match switches >> 6 {
                0 => BoardState::Qr,
                1 => BoardState::PairingCode,
                2 => BoardState::Online,
                _ => BoardState::Starting,
            },
            fields: rest.split(|b| *b == b'\n').collect(),
        })
    }

    /// Field `n`, empty when the input has fewer.
    pub fn bytes(&self, n: usize) -> &'a [u8] {
        self.fields.get(n).copied().unwrap_or_default()
    }

    /// The Cookie header: field `n`, after the right cookie when the
    /// switch says so.
    pub fn cookie(&self, n: usize) -> String {
        let fuzzed = String::from_utf8_lossy(self.bytes(n)).into_owned();
        if self.right_cookie {
            format!("{QR_COOKIE_NAME}={}; {fuzzed}", RIGHT_COOKIE.as_str())
        } else {
            fuzzed
        }
    }

    /// Whether the rules let this visitor see the page: `offered` is the
    /// form body or the query (where a `token` field counts), `cookie` the
    /// Cookie header sent. Stated apart from the server's code on purpose;
    /// it may let in more than the server does (a post from another site,
    /// a field twice), never less.
    pub fn may_see(&self, offered: &str, cookie: &str) -> bool {
        match self.access {
            Rule::Off => false,
            Rule::LocalOnly => self.peer.ip().is_loopback() && names_this_machine(self.bytes(2)),
            Rule::Token => {
                let right_cookie = cookie.split(';').any(|pair| {
                    pair.trim().split_once('=').is_some_and(|(name, value)| {
                        name == QR_COOKIE_NAME && value.trim_matches('"') == RIGHT_COOKIE.as_str()
                    })
                });
                let right_token = form_urlencoded::parse(offered.as_bytes())
                    .any(|(name, value)| name == "token" && value == TOKEN);
                right_cookie || right_token
            }
        }
    }
}

/// A Host header that names this machine: `localhost` or a loopback
/// address, with or without a port.
fn names_this_machine(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((name, _)) => name,
            None => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The app for one input: a fresh board and page (no lockout carried
/// over from earlier inputs) and the runner's end of the code requests.
pub struct Server {
    router: Router,
    pub board: StatusBoard,
    pub code_requests: mpsc::Receiver<PairingPhone>,
}

impl Server {
    pub fn for_input(input: &Input<'_>) -> Server {
        let clock = SystemClock;
        let board = StatusBoard::new(Instant::now(), clock.wall());
        match input.board {
            BoardState::Qr => board.on_event(
                &Event::Qr {
                    text: QR_TEXT.to_owned(),
                    index: 0,
                    valid_ms: 60_000,
                },
                clock.wall(),
            ),
            BoardState::PairingCode => board.on_event(
                &Event::PairingCode {
                    code: PAIRING_CODE.to_owned(),
                },
                clock.wall(),
            ),
            BoardState::Online => {
                let jid = Jid::parse(DEVICE_JID).expect("a JID");
                board.on_event(&Event::LoggedIn { jid }, clock.wall());
                board.on_event(&Event::Online, clock.wall());
                board.on_event(
                    &Event::MessageStored {
                        id: "3EB0FUZZ".to_owned(),
                        from: "15550001111@s.whatsapp.net".to_owned(),
                    },
                    clock.wall(),
                );
            }
            BoardState::Starting => {}
        }
        let (tx, code_requests) = mpsc::channel(1);
        let access = match input.access {
            Rule::Token => QrAccess::Token(Secret::new(TOKEN)),
            Rule::LocalOnly => QrAccess::LocalOnly,
            Rule::Off => QrAccess::Off,
        };
        let page = QrPageConfig::new(access, Some(tx)).behind_heroku_router(input.behind_router);
        Server {
            router: router_with_clock(board.clone(), page, Arc::new(clock)),
            board,
            code_requests,
        }
    }

    /// One request from `peer`. `None` when it is not one an HTTP/1
    /// server would parse (a header name or value, or the target, that
    /// is not valid).
    pub fn send(
        &mut self,
        method: Method,
        target: &str,
        headers: &[(&str, &[u8])],
        body: Vec<u8>,
        peer: SocketAddr,
    ) -> Option<Reply> {
        let mut request = Request::builder().method(method).uri(target);
        for (name, value) in headers {
            if value.is_empty() {
                continue;
            }
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(value).ok()?;
            request = request.header(name, value);
        }
        let mut request = request.body(Body::from(body)).ok()?;
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = self.router.clone();
        RUNTIME.block_on(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), REPLY_BYTES_MAX)
                .await
                .expect("an answer within the size bound");
            Some(Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        })
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every header value and the body, for "is it anywhere?" checks.
    pub fn everything(&self) -> String {
        let mut all = self.body.clone();
        for value in self.headers.values() {
            all.push('\n');
            all.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        all
    }
}

/// What every answer of the pairing page must be: no server error, no
/// token echoed; for a visitor the rules keep out, no QR (text or image),
/// no pairing code, no cookie and no way in (200 or a redirect to the
/// page).
pub fn check(reply: &Reply, allowed: bool) {
    check_common(reply, Probe::Other);
    if !allowed {
        let all = reply.everything();
        for secret in [
            "FUZZADVSECRET",
            "FUZZIDENTITYKEY",
            "fuzzref",
            PAIRING_CODE,
            "<svg",
        ] {
            assert!(
                !all.contains(secret),
                "{secret} shown to a visitor the rules keep out: {reply:?}"
            );
        }
        assert!(
            reply.header(SET_COOKIE.as_str()).is_none(),
            "a cookie for a visitor the rules keep out: {reply:?}"
        );
        assert!(
            reply.status != StatusCode::OK && reply.status != StatusCode::SEE_OTHER,
            "let in a visitor the rules keep out: {reply:?}"
        );
    }
}

/// Whether 503 is an answer the route gives by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/ready`: 503 while the session is not open.
    Readiness,
    Other,
}

/// What every answer of every route must be: no server error (but the
/// readiness probe's 503), no token, no unmasked phone number.
pub fn check_common(reply: &Reply, probe: Probe) {
    let by_design = probe == Probe::Readiness && reply.status == StatusCode::SERVICE_UNAVAILABLE;
    assert!(
        !reply.status.is_server_error() || by_design,
        "a server error: {reply:?}"
    );
    let all = reply.everything();
    assert!(!all.contains(TOKEN), "the token echoed: {reply:?}");
    assert!(
        !all.contains(DEVICE_PHONE) && !all.contains("15550001111"),
        "a phone number unmasked: {reply:?}"
    );
}

/// Fuzzed bytes as a query string: what a browser would send for them
/// (bytes a URL cannot hold percent-encoded, `&` and `=` kept).
pub fn query(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (b'!'..=b'~').contains(&b) && b != b'#' && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A method from one fuzzed byte: mostly GET, sometimes others.
pub fn method(byte: u8) -> Method {
    match byte % 8 {
        0 => Method::POST,
        1 => Method::HEAD,
        2 => Method::PUT,
        3 => Method::DELETE,
        4 => Method::OPTIONS,
        _ => Method::GET,
    }
}

/// A read-only route fuzzed: the method (field 0's first byte), the query
/// (field 1), arbitrary headers (`name: value` lines in field 2, split at
/// `\r`), the body (field 3), from either peer over any board. Returns the
/// answer to GET (`None` when the request would not parse, or for another
/// method, which must get 405) for the route's own checks, after the
/// common ones.
pub fn read_route<'a>(data: &'a [u8], path: &str, probe: Probe) -> Option<(Input<'a>, Reply)> {
    let input = Input::parse(data)?;
    let method = method(input.bytes(0).first().copied().unwrap_or(0xff));
    let query = query(input.bytes(1));
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let lines: Vec<(String, Vec<u8>)> = input
        .bytes(2)
        .split(|b| *b == b'\r')
        .filter_map(|line| {
            let at = line.iter().position(|b| *b == b':')?;
            let name = String::from_utf8_lossy(&line[..at]).trim().to_owned();
            Some((name, line[at + 1..].trim_ascii().to_vec()))
        })
        .collect();
    let headers: Vec<(&str, &[u8])> = lines
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let body = input.bytes(3).to_vec();
    let peer = input.peer;
    let mut server = Server::for_input(&input);
    let reply = server.send(method.clone(), &target, &headers, body, peer)?;
    check_common(&reply, probe);
    match method {
        Method::GET => Some((input, reply)),
        Method::HEAD => {
            assert!(reply.body.is_empty(), "HEAD {target} has a body: {reply:?}");
            None
        }
        // The read-only routes answer GET (and HEAD) only.
        _ => {
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {target}: {reply:?}"
            );
            None
        }
    }
}
