//! The HTTP server: liveness, readiness, status, stats, Prometheus
//! metrics and the pairing page, all read from the [`StatusBoard`]. It
//! listens on 0.0.0.0:$PORT (Heroku's router, a container's port mapping)
//! when ENABLE_HEALTH_CHECK is on; the caller decides that and binds.
//!
//! | route        | answers                                                  |
//! |--------------|----------------------------------------------------------|
//! | `GET /`        | the dashboard (behind `/qr`'s access rule), else the index |
//! | `GET /health`  | 200 `ok` while the process serves requests             |
//! | `GET /ready`   | 200 `online` while the session is open, else 503 + state |
//! | `GET /status`  | JSON [`StatusView`](crate::host::status::StatusView)   |
//! | `GET /stats`   | JSON [`StatsView`](crate::host::status::StatsView)     |
//! | `GET /metrics` | Prometheus text format                                 |
//! | `GET /qr`, `POST /qr/login`, `POST /qr/code` | the guarded pairing page |

mod dashboard;
mod lockout;
mod metrics;
mod qr_page;
mod token;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use lockout::{CLIENTS_TRACKED_MAX, FAILURES_PER_WINDOW_MAX, forwarded_client};
pub use metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
pub use qr_page::{PairingPhone, PhoneError, QrAccess, QrPageConfig};
pub use token::{COOKIE_NAME as QR_COOKIE_NAME, cookie};

use crate::host::clock::{Clock, SystemClock};
use crate::host::status::{StatusBoard, VERSION};

/// The pairing forms carry a phone number or a token; nothing bigger.
const FORM_BYTES_MAX: usize = 4 * 1024;

#[derive(Clone)]
struct AppState {
    board: StatusBoard,
    qr: Arc<QrPageConfig>,
    clock: Arc<dyn Clock>,
}

/// Binds the server's socket on every IPv4 interface (Heroku routes to
/// the dyno's interface, not to loopback). Port 0 picks a free port.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await
}

/// The routes, on the real clocks.
pub fn router(board: StatusBoard, qr: QrPageConfig) -> Router {
    router_with_clock(board, qr, Arc::new(SystemClock))
}

/// The routes, reading time from `clock` (tests, the simulation).
pub fn router_with_clock(board: StatusBoard, qr: QrPageConfig, clock: Arc<dyn Clock>) -> Router {
    let state = AppState {
        board,
        qr: Arc::new(qr),
        clock,
    };
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/qr", get(qr_page::page))
        .route("/qr/login", post(qr_page::login))
        .route("/qr/code", post(qr_page::request_code))
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .fallback(not_found)
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops taking connections and
/// lets the ones in flight finish (bound that wait from outside if it
/// matters: a client may hold a connection open).
pub async fn serve(
    listener: TcpListener,
    board: StatusBoard,
    qr: QrPageConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(board, qr);
    // The peer address lets the tokenless pairing page serve this machine only.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn no_store(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

/// `/`: the dashboard for a visitor `/qr`'s rule lets in (a good token
/// in the query or the cookie, or this machine without QR_TOKEN); the
/// plain index of routes for anyone else.
async fn index(
    State(state): State<AppState>,
    query: Result<Query<qr_page::PageQuery>, QueryRejection>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let now = state.clock.now();
    // A query that does not parse offers no token; the index still answers.
    let token = query.ok().and_then(|Query(q)| q.token);
    match qr_page::authorize(&state.qr, &headers, peer.as_ref(), token.as_deref(), now) {
        qr_page::Verdict::Granted { set_cookie } => {
            let view = state.board.dashboard(now, state.clock.wall());
            let response = qr_page::guarded(StatusCode::OK, dashboard::page(&view));
            match set_cookie
                .then(|| qr_page::set_cookie_header(&state.qr, &headers))
                .flatten()
            {
                Some(cookie) => qr_page::with_header(response, SET_COOKIE, &cookie),
                None => response,
            }
        }
        qr_page::Verdict::Denied(_) => no_store(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            format!(
                "blacksky {VERSION}\n/health /ready /status /stats /metrics /qr\n\
                 the dashboard is here for whoever may open /qr (QR_TOKEN)\n"
            ),
        ),
    }
}

/// Liveness: answering at all is the proof.
async fn health() -> Response {
    no_store(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "ok\n".to_owned(),
    )
}

/// Readiness: only an open session is ready.
async fn ready(State(state): State<AppState>) -> Response {
    let word = state.board.state_word();
    let status = if state.board.is_online() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store(status, "text/plain; charset=utf-8", format!("{word}\n"))
}

async fn status(State(state): State<AppState>) -> Response {
    let view = state.board.status(state.clock.now(), state.clock.wall());
    ([(CACHE_CONTROL, "no-store")], Json(view)).into_response()
}

async fn stats(State(state): State<AppState>) -> Response {
    let view = state.board.stats(state.clock.now(), state.clock.wall());
    ([(CACHE_CONTROL, "no-store")], Json(view)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = metrics::render(&state.board.metrics(state.clock.now()));
    no_store(StatusCode::OK, metrics::CONTENT_TYPE, body)
}

async fn not_found() -> Response {
    no_store(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n".to_owned(),
    )
}
