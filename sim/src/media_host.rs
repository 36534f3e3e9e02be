//! The media host over HTTP: the routes a WhatsApp client uploads to and
//! downloads from, on their own port (as WhatsApp's `mmg` hosts are apart
//! from the chat socket), and the control routes that steer them. The
//! logic is the machine's (`server::media`); this only moves bytes.
//!
//! | route | does |
//! |---|---|
//! | `POST /mms/<type>/<token>?auth=A&token=T` (body: the blob) | stores it; `{"url", "direct_path"}` |
//! | `GET <direct path>` or the path of a `url` | the blob |
//!
//! On the control port: `POST /media/rotate-auth` (uploads with the old
//! auth get 401), `POST /media/fail?count=N` (the next N media requests
//! get 503), `GET /media/stats`, `GET /media/conn` (what `media_conn`
//! answers now), `GET /media/check?id=ID` (what the check of the bot's
//! message ID found).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::net::FakeWa;
use crate::server::{MEDIA_BLOB_BYTES_MAX, MediaHostError};

type Params = Query<HashMap<String, String>>;

fn error_answer(err: &MediaHostError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({ "error": err.kind(), "message": err.to_string() });
    (status, axum::Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    let body = json!({ "error": "bad_request", "message": message });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// The media port's routes.
pub fn router(fake: FakeWa) -> Router {
    Router::new()
        .route("/mms/{mms_type}/{token}", post(upload))
        .fallback(get(download))
        // The blob is the body; axum's default cap (2 MB) is below a video.
        .layer(DefaultBodyLimit::max(MEDIA_BLOB_BYTES_MAX + 1))
        .with_state(fake)
}

async fn upload(
    State(fake): State<FakeWa>,
    Path((mms_type, token)): Path<(String, String)>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let (Some(auth), Some(query_token)) = (params.get("auth"), params.get("token")) else {
        return bad_request("an upload needs auth= and token= in its query");
    };
    let answer =
        fake.with_server(|s| s.media_upload(&mms_type, &token, auth, query_token, body.to_vec()));
    match answer {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(err) => error_answer(&err),
    }
}

async fn download(State(fake): State<FakeWa>, uri: Uri) -> Response {
    match fake.with_server(|s| s.media_download(uri.path())) {
        Ok(blob) => (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            blob,
        )
            .into_response(),
        Err(err) => error_answer(&err),
    }
}

// ---- control routes ----

/// The media routes of the control API.
pub fn control_routes() -> Router<FakeWa> {
    Router::new()
        .route("/media/rotate-auth", post(rotate_auth))
        .route("/media/fail", post(fail))
        .route("/media/stats", get(stats))
        .route("/media/conn", get(conn))
        .route("/media/check", get(check))
}

async fn rotate_auth(State(fake): State<FakeWa>) -> Response {
    fake.with_server(crate::server::FakeServer::rotate_media_auth);
    axum::Json(json!({ "ok": true })).into_response()
}

async fn fail(State(fake): State<FakeWa>, Query(params): Params) -> Response {
    let Some(Ok(count)) = params.get("count").map(|c| c.parse::<u32>()) else {
        return bad_request("count= is required (a number of requests)");
    };
    fake.with_server(|s| s.fail_media_requests(count));
    axum::Json(json!({ "ok": true })).into_response()
}

/// What `media_conn` answers now, for tests that upload without a
/// session (the auth is the fake's own, no secret).
async fn conn(State(fake): State<FakeWa>) -> Response {
    let (auth, hosts, ttl) = fake.with_server(|s| {
        (
            s.media_auth(),
            s.config().media_hosts.clone(),
            s.config().media_conn_ttl_secs,
        )
    });
    axum::Json(json!({ "auth": auth, "hosts": hosts, "ttl": ttl })).into_response()
}

async fn stats(State(fake): State<FakeWa>) -> Response {
    axum::Json(fake.with_server(|s| s.media_stats())).into_response()
}

async fn check(State(fake): State<FakeWa>, Query(params): Params) -> Response {
    let Some(id) = params.get("id") else {
        return bad_request("id= is required (the bot's message id)");
    };
    match fake.with_server(|s| s.media_check(id)) {
        None => {
            let body =
                json!({ "error": "not_checked", "message": "no media check for this message id" });
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
        Some(Ok(media)) => axum::Json(json!({ "ok": true, "media": media })).into_response(),
        Some(Err((check, what))) => {
            axum::Json(json!({ "ok": false, "check": check, "what": what })).into_response()
        }
    }
}
