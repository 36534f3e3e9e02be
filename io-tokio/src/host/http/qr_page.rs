//! /qr: the pairing page. Whoever can see the QR (or ask for a pairing
//! code) can link their own phone to the bot, so the page is guarded:
//!
//! - QR_TOKEN set: `/qr?token=…` (or the login form) must carry it; a good
//!   token leaves a cookie, and the page refreshes itself on `/qr` with no
//!   token in the URL (Heroku's router logs every path with its query).
//!   Ten wrong tokens in a minute lock out that client, not everyone
//!   ([`super::lockout`]).
//! - no QR_TOKEN on a public host (HEROKU, CLOUD_MODE, HEROKU_APP_URL): no
//!   page at all (404 that says why).
//! - no QR_TOKEN on a local machine: open, but to this machine only (the
//!   server listens on 0.0.0.0; the café Wi-Fi must not link the bot).
//!
//! Neither the token nor the QR text nor the code is ever logged.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::Extension;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderName,
    HeaderValue, LOCATION, ORIGIN, REFERRER_POLICY, SET_COOKIE, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::AppState;
use super::lockout::{Lockout, forwarded_client};
use super::token::{COOKIE_NAME, TokenCheck, cookie};
use crate::host::config::{Config, Secret};
use crate::host::redact::{LogId, mask_phone};
use crate::host::status::PairingView;

/// Seconds between refreshes while pairing: QR refs rotate every 20 s.
const REFRESH_WHILE_PAIRING_S: u64 = 5;

/// Who may open the pairing page.
#[derive(Debug, Clone)]
pub enum QrAccess {
    /// QR_TOKEN is set: the page asks for it.
    Token(Secret),
    /// No QR_TOKEN on a local machine: open to loopback peers only.
    LocalOnly,
    /// No QR_TOKEN on a public host: no page.
    Off,
}

/// A phone number for code pairing: digits only, 7 to 15 of them, the
/// country code first. `Debug` shows the last three digits only.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingPhone(String);

impl std::fmt::Debug for PairingPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PairingPhone({})", mask_phone(&self.0))
    }
}

/// Why a phone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a phone number in international form: 7 to 15 digits with the country code, e.g. 15550001234"
)]
pub struct PhoneError;

impl PairingPhone {
    /// Accepts what people type (`+49 155 612-3456`) and keeps the digits;
    /// anything but digits and `+ - ( )` and spaces is refused.
    pub fn parse(raw: &str) -> Result<PairingPhone, PhoneError> {
        let raw = raw.trim();
        let allowed = |c: char| c.is_ascii_digit() || " +-()".contains(c);
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if !raw.chars().all(allowed) || !(7..=15).contains(&digits.len()) || digits.starts_with('0')
        {
            return Err(PhoneError);
        }
        Ok(PairingPhone(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    pub fn into_digits(self) -> String {
        self.0
    }
}

/// The pairing page's settings, and how it asks the runner for a code.
#[derive(Debug)]
pub struct QrPageConfig {
    access: Access,
    /// Code pairing: the runner receives the number and starts it; `None`
    /// hides the form.
    request_code: Option<mpsc::Sender<PairingPhone>>,
    /// Heroku's router is the peer of every request: the client is the
    /// hop it appends to `X-Forwarded-For`.
    behind_heroku_router: bool,
}

#[derive(Debug)]
enum Access {
    Token(TokenCheck, Lockout),
    LocalOnly,
    Off,
}

impl QrPageConfig {
    pub fn new(access: QrAccess, request_code: Option<mpsc::Sender<PairingPhone>>) -> QrPageConfig {
        let access = match access {
            QrAccess::Token(token) => Access::Token(TokenCheck::new(&token), Lockout::default()),
            QrAccess::LocalOnly => Access::LocalOnly,
            QrAccess::Off => Access::Off,
        };
        QrPageConfig {
            access,
            request_code,
            behind_heroku_router: false,
        }
    }

    /// Reads the client's address from the hop Heroku's router appends to
    /// `X-Forwarded-For` (on Heroku, the TCP peer is always the router).
    pub fn behind_heroku_router(mut self, yes: bool) -> QrPageConfig {
        self.behind_heroku_router = yes;
        self
    }

    /// The rule: QR_TOKEN guards the page; without it, the page is off on
    /// a public host and open to this machine otherwise.
    pub fn from_config(
        config: &Config,
        request_code: Option<mpsc::Sender<PairingPhone>>,
    ) -> QrPageConfig {
        let access = match (&config.qr_token, config.is_public_host()) {
            (Some(token), _) => {
                if token.expose().chars().count() < 16 {
                    tracing::warn!(
                        "QR_TOKEN is shorter than 16 characters: whoever guesses it can link their phone to the bot"
                    );
                }
                QrAccess::Token(token.clone())
            }
            (None, true) => QrAccess::Off,
            (None, false) => QrAccess::LocalOnly,
        };
        QrPageConfig::new(access, request_code).behind_heroku_router(config.heroku)
    }

    /// For the start-up log line: `token`, `local_only` or `off`.
    pub fn access_kind(&self) -> &'static str {
        match self.access {
            Access::Token(..) => "token",
            Access::LocalOnly => "local_only",
            Access::Off => "off",
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    pub(super) token: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    phone: String,
    token: Option<String>,
}

/// Headers every answer of this page carries: no caching of a QR, no
/// Referer (with a token in it) to other sites, no framing (clickjacking),
/// no scripts. `same-origin`, not `no-referrer`: under `no-referrer`
/// browsers send `Origin: null` with our own form posts, which the
/// cross-site check must refuse.
pub(super) fn guarded(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let set = [
        (CONTENT_TYPE, "text/html; charset=utf-8"),
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "same-origin"),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

pub(super) fn with_header(mut response: Response, name: HeaderName, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(name, value);
    }
    response
}

fn see_other(location: &'static str) -> Response {
    let mut response = guarded(StatusCode::SEE_OTHER, String::new());
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(location));
    response
}

pub(super) enum Verdict {
    /// Show the page; `set_cookie` after a good token.
    Granted {
        set_cookie: bool,
    },
    Denied(Response),
}

/// Whom a wrong token is counted against: the TCP peer, or behind
/// Heroku's router the hop it appended.
fn client_address(
    qr: &QrPageConfig,
    headers: &HeaderMap,
    peer: Option<&Extension<ConnectInfo<SocketAddr>>>,
) -> IpAddr {
    let forwarded = qr
        .behind_heroku_router
        .then(|| {
            forwarded_client(
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            )
        })
        .flatten();
    forwarded
        .or_else(|| peer.map(|Extension(ConnectInfo(addr))| addr.ip()))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn is_loopback(peer: Option<&Extension<ConnectInfo<SocketAddr>>>) -> bool {
    peer.is_some_and(|Extension(ConnectInfo(addr))| addr.ip().is_loopback())
}

/// True when the `Host` header names this machine. A loopback peer is not
/// enough: a web page can point its own domain at 127.0.0.1 (DNS
/// rebinding) and read the answers; the Host header then shows its name.
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A form post from another site is refused: browsers send `Origin` with
/// every POST, and it must name this host.
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_none() || origin_host != host
}

fn refuse_cross_site() -> Response {
    guarded(
        StatusCode::FORBIDDEN,
        message_page("Refused", "This form was sent from another site.", false),
    )
}

pub(super) fn authorize(
    qr: &QrPageConfig,
    headers: &HeaderMap,
    peer: Option<&Extension<ConnectInfo<SocketAddr>>>,
    offered_token: Option<&str>,
    now: Instant,
) -> Verdict {
    match &qr.access {
        Access::Off => Verdict::Denied(guarded(
            StatusCode::NOT_FOUND,
            message_page(
                "Pairing page off",
                "This bot runs on a public host and QR_TOKEN is not set, so the pairing page is off: \
                 anyone who saw it could link their own phone to the bot. Set QR_TOKEN to a long random \
                 value and open /qr?token=&lt;QR_TOKEN&gt;, or link by code with PAIRING_NUMBER.",
                false,
            ),
        )),
        Access::LocalOnly if is_loopback(peer) && host_is_loopback(headers) => {
            Verdict::Granted { set_cookie: false }
        }
        Access::LocalOnly => Verdict::Denied(guarded(
            StatusCode::FORBIDDEN,
            message_page(
                "Pairing page: this machine only",
                "Without QR_TOKEN the pairing page opens only on the machine the bot runs on, \
                 at http://127.0.0.1:&lt;PORT&gt;/qr or http://localhost:&lt;PORT&gt;/qr. \
                 Set QR_TOKEN to open it from elsewhere (a container's port mapping counts as elsewhere).",
                false,
            ),
        )),
        Access::Token(check, lockout) => {
            // A good cookie first: someone guessing tokens must not lock
            // out the person who already holds the page.
            let cookie_ok = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .filter_map(|header| cookie(header, COOKIE_NAME))
                .any(|value| check.matches_cookie(value));
            if cookie_ok {
                return Verdict::Granted { set_cookie: false };
            }
            let client = client_address(qr, headers, peer);
            if lockout.locked_out(client, now) {
                return Verdict::Denied(guarded(
                    StatusCode::TOO_MANY_REQUESTS,
                    message_page(
                        "Too many wrong tokens",
                        "Too many wrong tokens from here in the last minute. Wait a minute and try again.",
                        false,
                    ),
                ));
            }
            if let Some(token) = offered_token {
                if check.matches_token(token) {
                    return Verdict::Granted { set_cookie: true };
                }
                lockout.record_failure(client, now);
                tracing::warn!("pairing page: wrong token");
                return Verdict::Denied(guarded(
                    StatusCode::FORBIDDEN,
                    login_page("That token is wrong."),
                ));
            }
            let page = guarded(
                StatusCode::UNAUTHORIZED,
                login_page("This page needs the QR_TOKEN."),
            );
            Verdict::Denied(with_header(
                page,
                WWW_AUTHENTICATE,
                "Bearer realm=\"blacksky pairing page\"",
            ))
        }
    }
}

/// The cookie that stands for the token: scoped to the pages it opens
/// (the pairing page and the dashboard at `/`), invisible to
/// scripts, never sent with another site's form post (Lax: a link from a
/// chat app to /qr still carries it), HTTPS-only behind TLS.
pub(super) fn set_cookie_header(qr: &QrPageConfig, headers: &HeaderMap) -> Option<String> {
    let Access::Token(check, _) = &qr.access else {
        return None;
    };
    let behind_tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    Some(format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax{}",
        check.cookie_value(),
        if behind_tls { "; Secure" } else { "" }
    ))
}

/// GET /qr
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let now = state.clock.now();
    match authorize(
        &state.qr,
        &headers,
        peer.as_ref(),
        query.token.as_deref(),
        now,
    ) {
        Verdict::Denied(response) => response,
        Verdict::Granted { set_cookie } => {
            let view = state.board.pairing(state.clock.wall());
            let body = pairing_page(&view, state.qr.request_code.is_some(), None);
            let response = guarded(StatusCode::OK, body);
            match set_cookie
                .then(|| set_cookie_header(&state.qr, &headers))
                .flatten()
            {
                Some(cookie) => with_header(response, SET_COOKIE, &cookie),
                None => response,
            }
        }
    }
}

/// POST /qr/login: the token in a form body, so it never sits in a URL.
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let now = state.clock.now();
    match authorize(
        &state.qr,
        &headers,
        peer.as_ref(),
        Some(form.token.as_str()),
        now,
    ) {
        Verdict::Denied(response) => response,
        Verdict::Granted { .. } => match set_cookie_header(&state.qr, &headers) {
            Some(cookie) => with_header(see_other("/qr"), SET_COOKIE, &cookie),
            None => see_other("/qr"),
        },
    }
}

/// POST /qr/code: ask the runner to link by pairing code for this number.
pub(super) async fn request_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<CodeForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let now = state.clock.now();
    if let Verdict::Denied(response) = authorize(
        &state.qr,
        &headers,
        peer.as_ref(),
        form.token.as_deref(),
        now,
    ) {
        return response;
    }
    let Some(sender) = &state.qr.request_code else {
        return guarded(
            StatusCode::NOT_FOUND,
            message_page(
                "No code pairing",
                "This bot does not offer pairing by code here.",
                true,
            ),
        );
    };
    let view = state.board.pairing(state.clock.wall());
    if view.linked {
        return guarded(
            StatusCode::CONFLICT,
            message_page(
                "Already linked",
                "This bot is already linked to a phone. Remove it under Linked devices first.",
                true,
            ),
        );
    }
    let phone = match PairingPhone::parse(&form.phone) {
        Ok(phone) => phone,
        Err(err) => {
            return guarded(
                StatusCode::BAD_REQUEST,
                pairing_page(&view, true, Some(&err.to_string())),
            );
        }
    };
    let shown = LogId(phone.digits().to_owned());
    match sender.try_send(phone) {
        Ok(()) => {
            tracing::info!(phone = %shown, "pairing page: pairing code requested");
            see_other("/qr")
        }
        Err(mpsc::error::TrySendError::Full(_)) => guarded(
            StatusCode::TOO_MANY_REQUESTS,
            pairing_page(
                &view,
                true,
                Some("A code request is already on its way; wait for the code."),
            ),
        ),
        Err(mpsc::error::TrySendError::Closed(_)) => guarded(
            StatusCode::SERVICE_UNAVAILABLE,
            message_page(
                "Not now",
                "The bot is not taking pairing requests right now.",
                true,
            ),
        ),
    }
}

// ---- HTML ----

pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The QR as inline SVG (no image request, nothing for a cache to keep).
fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(264, 264)
        .build();
    // Inline SVG in HTML takes no XML declaration.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_owned())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#111}\
h1{font-size:1.4rem}.qr svg{width:100%;max-width:22rem;height:auto;border:1px solid #ddd}\
.code{font:700 2.2rem ui-monospace,monospace;letter-spacing:.2rem}.ok{color:#070}.warn{color:#a40}\
details{margin-top:1rem;word-break:break-all}form{margin-top:1.5rem}input{font-size:1rem;padding:.3rem}";

fn document(title: &str, refresh_s: Option<u64>, body: &str) -> String {
    let refresh = refresh_s
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s};url=/qr\">"))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{refresh}<title>{title} · blacksky</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title),
    )
}

fn message_page(title: &str, html_text: &str, back_link: bool) -> String {
    let back = if back_link {
        "<p><a href=\"/qr\">Back</a></p>"
    } else {
        ""
    };
    document(title, None, &format!("<p>{html_text}</p>{back}"))
}

fn login_page(problem: &str) -> String {
    document(
        "Pairing page",
        None,
        &format!(
            "<p class=\"warn\">{}</p>\
             <form method=\"post\" action=\"/qr/login\"><label>QR_TOKEN \
             <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label> \
             <button>Open</button></form>",
            escape_html(problem)
        ),
    )
}

fn code_form() -> &'static str {
    "<form method=\"post\" action=\"/qr/code\"><p>No camera at hand? Link with a code instead: \
     enter the bot's phone number with its country code.</p>\
     <label>Phone <input name=\"phone\" inputmode=\"tel\" autocomplete=\"off\" \
     placeholder=\"15550001234\" required></label> <button>Get a pairing code</button></form>"
}

/// The page for a granted visitor.
pub(super) fn pairing_page(
    view: &PairingView,
    can_request_code: bool,
    notice: Option<&str>,
) -> String {
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&format!("<p class=\"warn\">{}</p>", escape_html(notice)));
    }
    if view.linked {
        let who = view
            .jid
            .as_deref()
            .map(|jid| format!(" as <code>{}</code>", escape_html(jid)))
            .unwrap_or_default();
        let word = if view.state == "online" {
            "online"
        } else {
            view.state
        };
        body.push_str(&format!(
            "<p class=\"ok\">Linked{who}. The bot is {}.</p><p>Nothing to do here.</p>",
            escape_html(word)
        ));
        return document("Linked", None, &body);
    }
    if view.needs_pairing {
        body.push_str(
            "<p class=\"warn\">This device was logged out from the phone: link it again.</p>",
        );
    }
    if let Some(code) = &view.pairing_code {
        body.push_str(&format!(
            "<p>On the phone: WhatsApp → Settings → Linked devices → Link a device → \
             <em>Link with phone number instead</em>, and type:</p><p class=\"code\">{}</p>",
            escape_html(code)
        ));
    } else if let Some(text) = &view.qr_text {
        let image = qr_svg(text)
            .unwrap_or_else(|| "<p class=\"warn\">This QR does not fit an image.</p>".to_owned());
        let valid_s = view.qr_expires_in_ms.unwrap_or(0) / 1000;
        body.push_str(&format!(
            "<p>On the phone: WhatsApp → Settings → Linked devices → Link a device, and scan:</p>\
             <div class=\"qr\">{image}</div><p>Valid for {valid_s} s more; the page follows the next one.</p>\
             <details><summary>QR text</summary><code>{}</code></details>",
            escape_html(text)
        ));
    } else {
        body.push_str(&format!(
            "<p>Waiting for WhatsApp to hand out a QR code (state: {}).</p>",
            escape_html(view.state)
        ));
    }
    if can_request_code && view.pairing_code.is_none() {
        body.push_str(code_form());
    }
    document("Link blacksky", Some(REFRESH_WHILE_PAIRING_S), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_validated() {
        let ok = PairingPhone::parse(" +49 155 612-3456 ").expect("valid");
        assert_eq!(ok.digits(), "491556123456");
        assert_eq!(format!("{ok:?}"), "PairingPhone(…456)");
        for bad in [
            "",
            "123456",
            "1234567890123456",
            "0155612345",
            "49abc1556123",
            "49155;6123456",
        ] {
            assert_eq!(PairingPhone::parse(bad), Err(PhoneError), "{bad:?}");
        }
        assert!(PairingPhone::parse("1234567").is_ok());
        assert!(PairingPhone::parse("123456789012345").is_ok());
    }

    #[test]
    fn only_loopback_host_names_count_as_this_machine() {
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_str(host).expect("header"));
            host_is_loopback(&headers)
        };
        for local in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.2",
        ] {
            assert!(with_host(local), "{local}");
        }
        for other in ["evil.example:8080", "192.168.1.5:8080", "[fe80::1]:80", ""] {
            assert!(!with_host(other), "{other}");
        }
        assert!(!host_is_loopback(&HeaderMap::new()));
    }

    #[test]
    fn posts_from_another_site_are_spotted() {
        let headers = |origin: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_static("bot.example"));
            if let Some(origin) = origin {
                headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("header"));
            }
            headers
        };
        assert!(!cross_site(&headers(None)));
        assert!(!cross_site(&headers(Some("https://bot.example"))));
        assert!(cross_site(&headers(Some("https://evil.example"))));
        assert!(cross_site(&headers(Some("null"))));
    }

    #[test]
    fn the_page_settings_show_no_token_in_debug() {
        let page = QrPageConfig::new(QrAccess::Token(Secret::new("tok-123456")), None);
        let access = QrAccess::Token(Secret::new("tok-123456"));
        let shown = format!("{page:?}{page:#?}{access:?}");
        assert!(!shown.contains("tok-123456"), "{shown}");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_svg_is_inline_ready() {
        let svg = qr_svg("2@abc,def,ghi,1").expect("fits");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
