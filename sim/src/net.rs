//! The tokio shell around [`FakeServer`]: WebSockets in, an HTTP control
//! API beside, one shared machine behind a mutex. What `fake-wa` runs, and
//! what tests can run in-process.
//!
//! Each WebSocket gets a task: binary messages go into
//! [`FakeServer::handle_bytes`]; the server's outputs are routed by
//! connection through a channel to the task owning that socket, which
//! writes them in order (and closes on [`ServerOutput::Close`]). A ticker
//! runs the server's timers.
//!
//! Control API (JSON answers; errors are 4xx with
//! `{"error": kind, "message": text}`):
//!
//! | route | does |
//! |---|---|
//! | `POST /scan` (body: QR text) | the phone scans a QR |
//! | `POST /code` (body: the code) | the user types the pairing code |
//! | `POST /kick?code=N[&conn=I]` | `<stream:error>` and close |
//! | `POST /failure?code=N[&conn=I]` | `<failure reason=N>` and close |
//! | `POST /drop[?conn=I]` | close without a word |
//! | `POST /refuse-logins?code=N&count=K` | refuse the next K logins |
//! | `POST /min-version?v=2.3000.N\|none` | logins below that app version get `<failure reason=405>` |
//! | `GET /sw.js` | a stand-in for WhatsApp Web's service worker whose `client_revision` is the demanded build (the bot's `WA_VERSION_URL`) |
//! | `POST /send?from=PHONE[&as=pn\|lid][&group=G][&len=N]` (body: UTF-8 text) | a contact's text, Signal-encrypted for each linked device (in group `G@g.us` if given; from the contact's LID with `as=lid`); `{"id": …}` |
//! | `POST /send-image?from=PHONE[&caption=C]` (body: the image, JPEG, PNG or WebP) | the contact sends an image in its 1:1 chat: stored encrypted on the media host, an `imageMessage` referencing it; `{"id": …}` |
//! | `POST /silent?conn=I&on=true\|false` | cut a connection off (or restore it) |
//! | `POST /ignore-iqs?xmlns=X` (no xmlns: answer all) | stop answering iqs of X |
//! | `POST /devices?phone=P&ids=3,5` | the contact's devices besides its phone (device 0) |
//! | `POST /retry?from=PHONE&id=ID` | the contact's devices that read message ID ask the bot for it again (retry receipts); `{"receipts": n}` |
//! | `GET /received?from=PHONE` | what the contact's devices read from the bot, in order: `[{id, text, device, …}]` (the account's own number: the phone's DSM copies) |
//! | `GET /violations` | what a real server or contact would refuse in the bot's messages: `[{id, owner, device, kind, …}]` |
//! | `GET /state` | the [`crate::server::ServerState`] |
//! | `POST /groups` (body: JSON [`crate::server::NewGroup`]) | a group with mock members (and the bot, if `bot` gives its rank); `{"id": …}` |
//! | `POST /groups/change?group=G&actor=PHONE` (body: JSON [`crate::server::GroupChange`]) | a member changes the group; the bot's devices get the `w:gp2` notification; `{"changed": [phones]}` |
//! | `GET /groups[?id=G]` | every group (or one) as [`crate::server::GroupState`] |
//! | `POST /poison?kind=K[&conn=I]`, `GET /poison` | stanzas a client cannot use (`server::poison`) |
//! | `POST /media/rotate-auth`, `POST /media/fail?count=N`, `GET /media/stats`, `GET /media/conn`, `GET /media/check?id=ID` | the media host (`media_host`) |
//!
//! The media host listens on its own port ([`FakeWa::media_url`]):
//! `POST /mms/<type>/<token>?auth&token` and `GET <direct path or url path>`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use blacksky_core::session::AppVersion;
use blacksky_core::time::UnixMillis;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::server::{
    ConnId, ControlError, FakeServer, ServerEvent, ServerOutput, TEXT_BYTES_MAX, Target,
};

/// The wall clock, as the core counts it.
#[must_use]
pub fn wall_now() -> UnixMillis {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    UnixMillis(millis)
}

/// What a connection's socket task is told to do.
#[derive(Debug)]
enum SocketCommand {
    Write(Vec<u8>),
    Close,
}

/// Where the shell reads the wall clock: the OS clock for `fake-wa`, the
/// simulation's for the chaos harness.
pub type WallSource = Arc<dyn Fn() -> UnixMillis + Send + Sync>;

/// Sees every [`ServerEvent`] as the shell routes it (traces, invariants),
/// with the peer address of every socket still open at the shell.
pub type EventObserver = Arc<dyn Fn(&ServerEvent, &Peers) + Send + Sync>;

/// Each open connection's client address (`ip:port`).
pub type Peers = HashMap<ConnId, String>;

struct Shared {
    server: FakeServer,
    /// Unbounded on purpose: the producer is `pump`, which runs under this
    /// lock in synchronous code and cannot wait; what it queues per socket
    /// is what one client frame, timer or control call makes the fake
    /// server say (a few frames, or one injected burst), and the socket
    /// task writes it out at once. A bound would have to drop frames or cut
    /// the connection, which a scenario would then see as a fault.
    sockets: HashMap<ConnId, mpsc::UnboundedSender<SocketCommand>>,
    peers: Peers,
    observer: Option<EventObserver>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("server", &self.server)
            .field("sockets", &self.sockets.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Routes everything the server has to say.
    fn pump(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                ServerOutput::Transmit { conn, bytes } => {
                    if let Some(socket) = self.sockets.get(&conn) {
                        let _ = socket.send(SocketCommand::Write(bytes));
                    }
                }
                ServerOutput::Close { conn } => {
                    if let Some(socket) = self.sockets.remove(&conn) {
                        let _ = socket.send(SocketCommand::Close);
                    }
                }
                ServerOutput::Event(event) => {
                    if let Some(observer) = &self.observer {
                        observer(&event, &self.peers);
                    }
                    let line = serde_json::to_string(&event).unwrap_or_default();
                    tracing::info!(target: "fake_wa", "{line}");
                }
            }
        }
    }
}

/// How long a socket the server closed waits for the client's Close.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// Locks the machine; a poisoned lock (a panic elsewhere) is taken over,
/// since the machine itself never panics on input.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The machine behind a mutex with the per-connection socket logic,
/// generic over the stream: tokio's sockets for `fake-wa`, turmoil's in
/// the simulation. One shell, many sockets.
#[derive(Clone)]
pub struct ServerShell {
    shared: Arc<Mutex<Shared>>,
    wall: WallSource,
}

impl std::fmt::Debug for ServerShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerShell").finish_non_exhaustive()
    }
}

impl ServerShell {
    /// A shell on the OS wall clock.
    #[must_use]
    pub fn new(server: FakeServer) -> ServerShell {
        ServerShell::with_wall(server, Arc::new(wall_now))
    }

    /// A shell reading the wall clock from `wall`.
    #[must_use]
    pub fn with_wall(server: FakeServer, wall: WallSource) -> ServerShell {
        ServerShell {
            shared: Arc::new(Mutex::new(Shared {
                server,
                sockets: HashMap::new(),
                peers: HashMap::new(),
                observer: None,
            })),
            wall,
        }
    }

    /// Every event from now on also goes to `observer`.
    pub fn set_observer(&self, observer: EventObserver) {
        lock(&self.shared).observer = Some(observer);
    }

    /// Runs a closure on the machine, then routes its outputs.
    pub fn with_server<T>(&self, f: impl FnOnce(&mut FakeServer) -> T) -> T {
        let mut shared = lock(&self.shared);
        shared.server.set_wall((self.wall)());
        let result = f(&mut shared.server);
        shared.pump();
        result
    }

    /// Runs the server's timers, every 250 ms, forever.
    pub async fn run_timers(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let now = tokio::time::Instant::now().into_std();
            self.with_server(|server| {
                if server.poll_timeout().is_some_and(|t| t <= now) {
                    server.handle_timeout(now);
                }
            });
        }
    }

    /// Serves one accepted stream as a WebSocket until either side closes.
    pub async fn serve_socket<S>(self, stream: S, peer: impl std::fmt::Display)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let socket = match tokio_tungstenite::accept_async(stream).await {
            Ok(socket) => socket,
            Err(err) => {
                tracing::warn!("{peer}: not a WebSocket: {err}");
                return;
            }
        };
        let (mut sink, mut source) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn = {
            let mut shared = lock(&self.shared);
            shared.server.set_wall((self.wall)());
            let conn = shared
                .server
                .connect(tokio::time::Instant::now().into_std());
            shared.sockets.insert(conn, tx);
            shared.peers.insert(conn, peer.to_string());
            shared.pump();
            conn
        };
        tracing::info!("{peer}: {conn} open");
        loop {
            // `biased`: replayable in the simulation.
            tokio::select! {
                biased;
                command = rx.recv() => match command {
                    Some(SocketCommand::Write(bytes)) => {
                        if sink.send(Message::Binary(bytes.into())).await.is_err() {
                            self.closed(conn);
                            break;
                        }
                    }
                    Some(SocketCommand::Close) | None => {
                        let _ = sink.close().await;
                        // As a WebSocket server does (RFC 6455, 7.1.1): wait
                        // for the client's Close before dropping the TCP
                        // stream. Dropping it at once would answer a frame
                        // the client sent meanwhile with a reset, and a reset
                        // loses the last words (`<stream:error>`) it has not
                        // read yet.
                        let linger = tokio::time::sleep(CLOSE_LINGER);
                        tokio::pin!(linger);
                        loop {
                            tokio::select! {
                                biased;
                                message = source.next() => match message {
                                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                                    Some(Ok(_)) => {}
                                },
                                () = &mut linger => break,
                            }
                        }
                        break;
                    }
                },
                message = source.next() => match message {
                    Some(Ok(Message::Binary(bytes))) => {
                        let now = tokio::time::Instant::now().into_std();
                        let wall = (self.wall)();
                        self.with_server(|server| server.handle_bytes(conn, now, wall, &bytes));
                    }
                    Some(Ok(Message::Text(_))) => {
                        tracing::warn!("{conn}: text message; WhatsApp speaks binary only");
                        self.closed(conn);
                        let _ = sink.close().await;
                        break;
                    }
                    // Pings are answered by tungstenite; pongs and raw frames mean nothing here.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        self.closed(conn);
                        break;
                    }
                },
            }
        }
        lock(&self.shared).peers.remove(&conn);
        tracing::info!("{peer}: {conn} closed");
    }

    /// The client's side of `conn` is gone.
    fn closed(&self, conn: ConnId) {
        let mut shared = lock(&self.shared);
        shared.sockets.remove(&conn);
        shared.server.handle_closed(conn);
        shared.pump();
    }
}

/// A fake-wa bound to its three ports, ready to serve.
#[derive(Debug, Clone)]
pub struct FakeWa {
    shell: ServerShell,
    /// Where the WebSocket listens.
    pub ws_addr: SocketAddr,
    /// Where the control API listens.
    pub control_addr: SocketAddr,
    /// Where the media host listens (uploads and downloads).
    pub media_addr: SocketAddr,
    pub root_public_key: [u8; 32],
}

/// The bound sockets [`FakeWa::serve`] accepts on.
#[derive(Debug)]
pub struct Listeners {
    pub ws: TcpListener,
    pub control: TcpListener,
    pub media: TcpListener,
}

impl FakeWa {
    /// Binds the three listeners (port 0 picks a free port; read the
    /// actual ones from `ws_addr` / `control_addr` / `media_addr`).
    pub async fn bind(
        mut server: FakeServer,
        ws_addr: SocketAddr,
        control_addr: SocketAddr,
        media_addr: SocketAddr,
    ) -> std::io::Result<(FakeWa, Listeners)> {
        let ws = TcpListener::bind(ws_addr).await?;
        let control = TcpListener::bind(control_addr).await?;
        let media = TcpListener::bind(media_addr).await?;
        let media_addr = media.local_addr()?;
        server.set_media_url_base(&format!("http://{media_addr}"));
        let fake = FakeWa {
            root_public_key: server.root_public_key(),
            shell: ServerShell::new(server),
            ws_addr: ws.local_addr()?,
            control_addr: control.local_addr()?,
            media_addr,
        };
        Ok((fake, Listeners { ws, control, media }))
    }

    /// Binds (the media host on a free port beside the control API), then
    /// serves in background tasks until the runtime ends.
    pub async fn start(
        server: FakeServer,
        ws_addr: SocketAddr,
        control_addr: SocketAddr,
    ) -> std::io::Result<FakeWa> {
        let media_addr = SocketAddr::new(control_addr.ip(), 0);
        let (fake, listeners) = Self::bind(server, ws_addr, control_addr, media_addr).await?;
        tokio::spawn(fake.clone().serve(listeners));
        Ok(fake)
    }

    /// The WebSocket URL clients dial.
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.ws_addr)
    }

    /// The control API's base URL.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    /// The media host's base URL (what the bot's `WA_MEDIA_URL` is set to).
    #[must_use]
    pub fn media_url(&self) -> String {
        format!("http://{}", self.media_addr)
    }

    /// Runs a closure on the machine, then routes its outputs.
    pub fn with_server<T>(&self, f: impl FnOnce(&mut FakeServer) -> T) -> T {
        self.shell.with_server(f)
    }

    /// Accepts WebSockets, control and media requests, and runs the timers.
    pub async fn serve(self, listeners: Listeners) -> std::io::Result<()> {
        let Listeners { ws, control, media } = listeners;
        tokio::spawn(self.shell.clone().run_timers());
        let app = control_router(self.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(control, app).await {
                tracing::error!("control API stopped: {err}");
            }
        });
        let media_app = crate::media_host::router(self.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(media, media_app).await {
                tracing::error!("media host stopped: {err}");
            }
        });
        loop {
            let (stream, peer) = ws.accept().await?;
            // Each frame goes out when written: with Nagle, a frame written
            // behind small unacked ones waits for the client's delayed ACK
            // (≈ 40 ms on Linux), which the round-trip figures would count.
            if let Err(err) = stream.set_nodelay(true) {
                tracing::warn!("{peer}: TCP_NODELAY: {err}");
            }
            tokio::spawn(self.shell.clone().serve_socket::<TcpStream>(stream, peer));
        }
    }
}

// ---- the control API ----

/// An error answer: status and `{"error": kind, "message": text}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_request",
            message,
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        let status = match &err {
            ControlError::BadQr
            | ControlError::BadCode { .. }
            | ControlError::BadPhone
            | ControlError::BadGroup
            | ControlError::TextTooLong { .. }
            | ControlError::BadSubject { .. }
            | ControlError::BadDescription { .. }
            | ControlError::BadImage { .. }
            | ControlError::NoMembers => StatusCode::BAD_REQUEST,
            ControlError::UnknownRef { .. }
            | ControlError::UnknownMessage { .. }
            | ControlError::UnknownConn { .. }
            | ControlError::NoCodeRequest
            | ControlError::UnknownGroup { .. } => StatusCode::NOT_FOUND,
            ControlError::NotAMember { .. } | ControlError::NotAdmin { .. } => {
                StatusCode::FORBIDDEN
            }
            ControlError::NoiseKeyMismatch { .. } | ControlError::IdentityKeyMismatch { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ControlError::AlreadyGranted { .. }
            | ControlError::NoPairedDevice
            | ControlError::NoFreeDeviceId
            | ControlError::NoSession { .. }
            | ControlError::DeviceOffline { .. }
            | ControlError::TooManyRetries { .. }
            | ControlError::GroupExists { .. } => StatusCode::CONFLICT,
            ControlError::TooManyContacts { .. }
            | ControlError::TooManyGroups { .. }
            | ControlError::TooManyDevices { .. }
            | ControlError::MailboxFull { .. }
            | ControlError::TooManyGroupsKept { .. }
            | ControlError::TooManyMembers { .. }
            | ControlError::TooManyHeldKeys { .. } => StatusCode::INSUFFICIENT_STORAGE,
            ControlError::DeviceKeys(_) | ControlError::Signal(_) | ControlError::SenderKey(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError {
            status,
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.kind, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<axum::Json<serde_json::Value>, ApiError>;

fn param<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("query parameter {name}={text:?} is not valid"))
        }),
    }
}

fn required<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<T, ApiError> {
    param(params, name)?
        .ok_or_else(|| ApiError::bad_request(format!("query parameter {name} is required")))
}

fn target(params: &HashMap<String, String>) -> Result<Target, ApiError> {
    Ok(match param::<u64>(params, "conn")? {
        Some(id) => Target::Conn(ConnId(id)),
        None => Target::AllLive,
    })
}

fn control_router(fake: FakeWa) -> Router {
    Router::new()
        .route("/scan", post(scan))
        .route("/code", post(code))
        .route("/kick", post(kick))
        .route("/failure", post(failure))
        .route("/drop", post(drop_conns))
        .route("/refuse-logins", post(refuse_logins))
        .route("/min-version", post(min_version))
        .route("/sw.js", get(service_worker))
        .route("/send", post(send))
        .route("/send-image", post(send_image))
        .route("/silent", post(silent))
        .route("/ignore-iqs", post(ignore_iqs))
        .route("/devices", post(devices))
        .route("/retry", post(retry))
        .route("/received", get(received))
        .route("/violations", get(violations))
        .route("/state", get(state))
        .route("/groups", get(groups).post(create_group))
        .route("/groups/change", post(change_group))
        .merge(crate::server::poison::routes())
        .merge(crate::media_host::control_routes())
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                kind: "no_such_route",
                message: "see the routes in fake-wa --help".into(),
            }
        })
        .with_state(fake)
}

async fn scan(State(fake): State<FakeWa>, body: String) -> ApiResult {
    fake.with_server(|s| s.scan_qr(body.trim()))?;
    Ok(axum::Json(json!({ "ok": true })))
}

async fn code(State(fake): State<FakeWa>, body: String) -> ApiResult {
    fake.with_server(|s| s.enter_code(body.trim()))?;
    Ok(axum::Json(json!({ "ok": true })))
}

async fn kick(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let code = required::<u16>(&params, "code")?;
    let target = target(&params)?;
    let closed = fake.with_server(|s| s.kick(target, code));
    Ok(axum::Json(json!({ "closed": closed })))
}

async fn failure(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let code = required::<u16>(&params, "code")?;
    let target = target(&params)?;
    let closed = fake.with_server(|s| s.kick_failure(target, code));
    Ok(axum::Json(json!({ "closed": closed })))
}

async fn drop_conns(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let target = target(&params)?;
    let closed = fake.with_server(|s| s.drop_connections(target));
    Ok(axum::Json(json!({ "closed": closed })))
}

async fn refuse_logins(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let code = required::<u16>(&params, "code")?;
    let count = required::<u32>(&params, "count")?;
    fake.with_server(|s| s.refuse_logins(code, count));
    Ok(axum::Json(json!({ "ok": true })))
}

/// `v=2.3000.N` (or `v=none`): the app version logins need from now on.
async fn min_version(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let text: String = required(&params, "v")?;
    let min = match text.as_str() {
        "none" => None,
        _ => Some(
            text.parse::<AppVersion>()
                .map_err(|err| ApiError::bad_request(err.to_string()))?
                .0,
        ),
    };
    fake.with_server(|s| s.demand_app_version(min));
    Ok(axum::Json(json!({ "min_app_version": min })))
}

/// A stand-in for WhatsApp Web's service worker (the bot's
/// `WA_VERSION_URL`): its `client_revision` is the build of the version
/// the server demands (the built-in one's when it demands none), quoted
/// as the real script quotes it, inside a JSON string.
async fn service_worker(State(fake): State<FakeWa>) -> Response {
    let [_, _, build] = fake
        .with_server(|s| s.config().min_app_version)
        .unwrap_or(AppVersion::BUILT_IN.0);
    let script = format!(
        r#"/* fake-wa */
self.__swData=JSON.parse(/*BTDS*/"{{\"dynamic_data\":{{\"SiteData\":{{\"server_revision\":{build},\"client_revision\":{build}}}}}}}");
"#
    );
    (
        [(axum::http::header::CONTENT_TYPE, "text/javascript")],
        script,
    )
        .into_response()
}

async fn send(
    State(fake): State<FakeWa>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> ApiResult {
    let from: String = required(&params, "from")?;
    if from.is_empty() || !from.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "from is not a phone number (digits)".to_owned(),
        ));
    }
    let group = params.get("group").cloned();
    let text = match param::<usize>(&params, "len")? {
        Some(len) if len > TEXT_BYTES_MAX => {
            return Err(ApiError::bad_request(format!(
                "len={len} is over {TEXT_BYTES_MAX} bytes"
            )));
        }
        // ASCII letters, so any length is whole characters.
        Some(len) => (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect(),
        None if body.is_empty() => "fake-wa message".to_owned(),
        None => String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::bad_request("the body is not UTF-8 text".to_owned()))?,
    };
    let from_lid = match params.get("as").map(String::as_str) {
        None | Some("pn") => false,
        Some("lid") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "as={other:?}: expected pn or lid"
            )));
        }
    };
    let id = fake.with_server(|s| match &group {
        Some(group) => s.send_group_text(group, &from, &text),
        None if from_lid => s.send_text_from_lid(&from, &text),
        None => s.send_text(&from, &text),
    })?;
    Ok(axum::Json(json!({ "id": id })))
}

async fn send_image(
    State(fake): State<FakeWa>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> ApiResult {
    let from = phone_param(&params, "from")?;
    let caption = params.get("caption").cloned().unwrap_or_default();
    let id = fake.with_server(|s| s.send_image(&from, &body, &caption))?;
    Ok(axum::Json(json!({ "id": id })))
}

async fn silent(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let conn = ConnId(required::<u64>(&params, "conn")?);
    let on = param::<bool>(&params, "on")?.unwrap_or(true);
    fake.with_server(|s| s.set_silent(conn, on))?;
    Ok(axum::Json(json!({ "ok": true })))
}

async fn ignore_iqs(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let xmlns = params.get("xmlns").filter(|x| !x.is_empty()).cloned();
    fake.with_server(|s| s.set_ignore_iqs(xmlns.as_deref()));
    Ok(axum::Json(json!({ "ok": true })))
}

/// `from` or `phone`: digits, or a 400 naming the parameter.
fn phone_param(params: &HashMap<String, String>, name: &str) -> Result<String, ApiError> {
    let phone: String = required(params, name)?;
    if phone.is_empty() || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "{name} is not a phone number (digits)"
        )));
    }
    Ok(phone)
}

async fn devices(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let phone = phone_param(&params, "phone")?;
    let ids = params
        .get("ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<u8>().map_err(|_| {
                ApiError::bad_request(format!("ids: {id:?} is not a device id (0 to 255)"))
            })
        })
        .collect::<Result<Vec<u8>, ApiError>>()?;
    fake.with_server(|s| s.set_contact_devices(&phone, &ids))?;
    Ok(axum::Json(json!({ "ok": true })))
}

async fn retry(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let phone = phone_param(&params, "from")?;
    let id: String = required(&params, "id")?;
    let receipts = fake.with_server(|s| s.request_retry(&phone, &id))?;
    Ok(axum::Json(json!({ "receipts": receipts })))
}

async fn received(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    let phone = phone_param(&params, "from")?;
    to_json(&fake.with_server(|s| s.received_texts(&phone)))
}

async fn violations(State(fake): State<FakeWa>) -> ApiResult {
    to_json(&fake.with_server(|s| s.violations()))
}

/// A value as the JSON answer.
fn to_json(value: &impl serde::Serialize) -> ApiResult {
    serde_json::to_value(value)
        .map(axum::Json)
        .map_err(|err| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: err.to_string(),
        })
}

async fn state(State(fake): State<FakeWa>) -> ApiResult {
    to_json(&fake.with_server(|s| s.state()))
}

/// The body as JSON of `T`, or a 400 naming what is wrong.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("the body is not the JSON expected: {err}")))
}

async fn create_group(State(fake): State<FakeWa>, body: axum::body::Bytes) -> ApiResult {
    let spec: crate::server::NewGroup = json_body(&body)?;
    let id = fake.with_server(|s| s.create_group(&spec))?;
    Ok(axum::Json(json!({ "id": id })))
}

async fn change_group(
    State(fake): State<FakeWa>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> ApiResult {
    let group: String = required(&params, "group")?;
    let actor = phone_param(&params, "actor")?;
    let change: crate::server::GroupChange = json_body(&body)?;
    let changed = fake.with_server(|s| s.change_group(&group, &actor, &change))?;
    Ok(axum::Json(json!({ "changed": changed })))
}

async fn groups(State(fake): State<FakeWa>, Query(params): Params) -> ApiResult {
    match params.get("id") {
        Some(id) => match fake.with_server(|s| s.group_state(id)) {
            Some(group) => to_json(&group),
            None => Err(ControlError::UnknownGroup { group: id.clone() }.into()),
        },
        None => to_json(&fake.with_server(|s| s.group_states())),
    }
}
