//! The pairing page's promise: nobody without QR_TOKEN (or, without a
//! token, nobody off this machine, and nobody at all on a public host)
//! sees the QR or gets to ask for a pairing code.

mod http_support;

use std::collections::HashMap;

use blacksky_core::client::Event;
use blacksky_core::wire::binary::Jid;
use blacksky_io::host::clock::{Clock, SystemClock};
use blacksky_io::host::config::{Config, Secret};
use blacksky_io::host::http::{
    FAILURES_PER_WINDOW_MAX, PairingPhone, QR_COOKIE_NAME, QrAccess, QrPageConfig,
};
use hyper::StatusCode;
use tokio::sync::mpsc;

use http_support::{Reply, Server};

const TOKEN: &str = "tok-0123456789abcdef";
const QR_TEXT: &str = "2@Q1w2e3r4t5y6-ref,noise-pub-key,identity-key,adv-secret";

fn show_qr(server: &Server) {
    server.board.on_event(
        &Event::Qr {
            text: QR_TEXT.into(),
            index: 0,
            valid_ms: 60_000,
        },
        SystemClock.wall(),
    );
}

async fn token_server(request_code: Option<mpsc::Sender<PairingPhone>>) -> Server {
    let server = Server::start(QrPageConfig::new(
        QrAccess::Token(Secret::new(TOKEN)),
        request_code,
    ))
    .await;
    show_qr(&server);
    server
}

fn assert_no_secrets(reply: &Reply) {
    assert!(
        !reply.body.contains(QR_TEXT),
        "QR text leaked: {}",
        reply.body
    );
    assert!(!reply.body.contains("<svg"), "QR image leaked");
    assert!(!reply.body.contains(TOKEN), "token echoed");
}

/// The cookie a good token leaves, as a `Cookie:` header value.
fn session_cookie(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("a cookie is set");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains(TOKEN), "the cookie is not the token: {set}");
    set.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn a_missing_or_wrong_token_sees_no_qr() {
    let server = token_server(None).await;
    let missing = server.get("/qr").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.header("www-authenticate").is_some());
    assert_no_secrets(&missing);

    let wrong = server.get("/qr?token=tok-0123456789abcdeX").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_no_secrets(&wrong);
    assert!(wrong.header("set-cookie").is_none());

    let forged = server
        .get_with("/qr", &[("cookie", &format!("{QR_COOKIE_NAME}={TOKEN}"))])
        .await;
    assert_eq!(
        forged.status,
        StatusCode::UNAUTHORIZED,
        "the token is not a cookie"
    );
    assert_no_secrets(&forged);
    server.stop().await;
}

#[tokio::test]
async fn the_right_token_shows_the_qr_and_leaves_a_cookie() {
    let server = token_server(None).await;
    let reply = server.get(&format!("/qr?token={TOKEN}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains(QR_TEXT), "QR text on the page");
    assert!(reply.body.contains("<svg"), "QR drawn inline");
    assert!(!reply.body.contains(TOKEN), "the token is not echoed");
    assert!(
        reply.body.contains("content=\"5;url=/qr\""),
        "refreshes without the token"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("referrer-policy"), Some("same-origin"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));

    let cookie = session_cookie(&reply);
    let again = server.get_with("/qr", &[("cookie", &cookie)]).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains(QR_TEXT));
    assert!(again.header("set-cookie").is_none());
    server.stop().await;
}

#[tokio::test]
async fn the_login_form_takes_the_token_out_of_the_url() {
    let server = token_server(None).await;
    let wrong = server.post_form("/qr/login", "token=nope", &[]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_no_secrets(&wrong);

    let good = server
        .post_form("/qr/login", &format!("token={TOKEN}"), &[])
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    assert_eq!(good.header("location"), Some("/qr"));
    let cookie = session_cookie(&good);
    assert!(
        server
            .get_with("/qr", &[("cookie", &cookie)])
            .await
            .body
            .contains(QR_TEXT)
    );

    // Behind Heroku's TLS-terminating router the cookie is HTTPS-only.
    let behind_tls = server
        .post_form(
            "/qr/login",
            &format!("token={TOKEN}"),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(
        behind_tls
            .header("set-cookie")
            .is_some_and(|c| c.contains("Secure"))
    );
    server.stop().await;
}

#[tokio::test]
async fn guessing_is_cut_off_after_a_few_wrong_tokens() {
    let server = token_server(None).await;
    for i in 0..FAILURES_PER_WINDOW_MAX {
        let reply = server.get(&format!("/qr?token=guess{i}")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    let locked = server.get(&format!("/qr?token={TOKEN}")).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_no_secrets(&locked);
    server.stop().await;
}

#[tokio::test]
async fn on_heroku_a_guesser_locks_out_only_itself() {
    let server = Server::start(
        QrPageConfig::new(QrAccess::Token(Secret::new(TOKEN)), None).behind_heroku_router(true),
    )
    .await;
    show_qr(&server);
    // The router appends the address it saw; a guesser varying the first
    // hop it writes itself stays the same client.
    for i in 0..FAILURES_PER_WINDOW_MAX {
        let forwarded = format!("10.9.9.{i}, 203.0.113.9");
        let reply = server
            .get_with(
                &format!("/qr?token=guess{i}"),
                &[("x-forwarded-for", &forwarded)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    let guesser = server
        .get_with(
            &format!("/qr?token={TOKEN}"),
            &[("x-forwarded-for", "10.9.9.200, 203.0.113.9")],
        )
        .await;
    assert_eq!(guesser.status, StatusCode::TOO_MANY_REQUESTS);
    assert_no_secrets(&guesser);
    let owner = server
        .get_with(
            &format!("/qr?token={TOKEN}"),
            &[("x-forwarded-for", "198.51.100.7")],
        )
        .await;
    assert_eq!(
        owner.status,
        StatusCode::OK,
        "another client is not locked out"
    );
    assert!(owner.body.contains(QR_TEXT));
    server.stop().await;
}

#[tokio::test]
async fn off_heroku_a_forwarded_header_does_not_escape_the_lockout() {
    let server = token_server(None).await;
    for i in 0..FAILURES_PER_WINDOW_MAX {
        let forwarded = format!("192.0.2.{i}");
        server
            .get_with(
                &format!("/qr?token=guess{i}"),
                &[("x-forwarded-for", &forwarded)],
            )
            .await;
    }
    let locked = server
        .get_with(
            &format!("/qr?token={TOKEN}"),
            &[("x-forwarded-for", "192.0.2.250")],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer is the client here, whatever the header says"
    );
    server.stop().await;
}

#[tokio::test]
async fn guessing_does_not_lock_out_who_already_holds_the_page() {
    let server = token_server(None).await;
    let cookie = session_cookie(&server.get(&format!("/qr?token={TOKEN}")).await);
    for i in 0..FAILURES_PER_WINDOW_MAX + 2 {
        server.get(&format!("/qr?token=guess{i}")).await;
    }
    let holder = server.get_with("/qr", &[("cookie", &cookie)]).await;
    assert_eq!(holder.status, StatusCode::OK);
    assert!(holder.body.contains(QR_TEXT));
    server.stop().await;
}

fn config(vars: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_env(&env).expect("valid config")
}

#[tokio::test]
async fn a_public_host_without_a_token_has_no_pairing_page() {
    for public in [
        &[("HEROKU", "true")][..],
        &[("CLOUD_MODE", "true")][..],
        &[("HEROKU_APP_URL", "https://my-bot.herokuapp.com")][..],
    ] {
        let qr = QrPageConfig::from_config(&config(public), None);
        assert_eq!(qr.access_kind(), "off");
        let server = Server::start(qr).await;
        show_qr(&server);
        for path in ["/qr", "/qr?token=anything", "/qr?token="] {
            let reply = server.get(path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(reply.body.contains("QR_TOKEN"), "says why: {}", reply.body);
            assert_no_secrets(&reply);
        }
        let code = server.post_form("/qr/code", "phone=15550001234", &[]).await;
        assert_eq!(code.status, StatusCode::NOT_FOUND);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_public_host_with_a_token_asks_for_it() {
    let qr = QrPageConfig::from_config(&config(&[("HEROKU", "true"), ("QR_TOKEN", TOKEN)]), None);
    assert_eq!(qr.access_kind(), "token");
    let server = Server::start(qr).await;
    show_qr(&server);
    assert_eq!(server.get("/qr").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.get(&format!("/qr?token={TOKEN}")).await.status,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn a_local_machine_without_a_token_serves_this_machine_only() {
    let qr = QrPageConfig::from_config(&config(&[]), None);
    assert_eq!(qr.access_kind(), "local_only");
    let server = Server::start(qr).await;
    show_qr(&server);
    let local = server.get("/qr").await;
    assert_eq!(local.status, StatusCode::OK);
    assert!(local.body.contains(QR_TEXT));
    assert!(local.header("set-cookie").is_none());

    // A page on another domain that resolves to 127.0.0.1 (DNS rebinding).
    let rebound = server.get_with("/qr", &[("host", "evil.example")]).await;
    assert_eq!(rebound.status, StatusCode::FORBIDDEN);
    assert_no_secrets(&rebound);
    server.stop().await;
}

#[tokio::test]
async fn the_code_form_sends_a_valid_number_to_the_runner() {
    let (tx, mut rx) = mpsc::channel(1);
    let server = token_server(Some(tx)).await;
    let page = server.get(&format!("/qr?token={TOKEN}")).await;
    assert!(
        page.body.contains("action=\"/qr/code\""),
        "the form is offered"
    );
    let cookie = session_cookie(&page);
    let auth = [("cookie", cookie.as_str())];

    for bad in [
        "12ab5556667",
        "123456",
        "1234567890123456",
        "0155612345",
        "",
    ] {
        let reply = server
            .post_form("/qr/code", &format!("phone={bad}"), &auth)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert!(rx.try_recv().is_err(), "nothing sent for bad numbers");

    let unauthorised = server.post_form("/qr/code", "phone=15550001234", &[]).await;
    assert_eq!(unauthorised.status, StatusCode::UNAUTHORIZED);
    let cross_site = server
        .post_form(
            "/qr/code",
            "phone=15550001234",
            &[
                ("cookie", cookie.as_str()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(rx.try_recv().is_err(), "nothing sent without rights");

    let sent = server
        .post_form("/qr/code", "phone=%2B49+155+612-3456", &auth)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(sent.header("location"), Some("/qr"));
    let busy = server
        .post_form("/qr/code", "phone=15550001234", &auth)
        .await;
    assert_eq!(
        busy.status,
        StatusCode::TOO_MANY_REQUESTS,
        "one request at a time"
    );
    let phone = rx.try_recv().expect("the runner got the number");
    assert_eq!(phone.digits(), "491556123456");

    // A token in the form works as well as the cookie.
    let with_token = server
        .post_form("/qr/code", &format!("phone=15550001234&token={TOKEN}"), &[])
        .await;
    assert_eq!(with_token.status, StatusCode::SEE_OTHER);
    assert_eq!(rx.try_recv().expect("sent").digits(), "15550001234");

    // The code shows to the page, not to /status.
    server.board.on_event(
        &Event::PairingCode {
            code: "WXYZ-2345".into(),
        },
        SystemClock.wall(),
    );
    let page = server.get_with("/qr", &auth).await;
    assert!(page.body.contains("WXYZ-2345"));
    assert!(!page.body.contains(QR_TEXT), "a code replaces the QR");
    assert!(!server.get("/status").await.body.contains("WXYZ-2345"));
    server.stop().await;
}

#[tokio::test]
async fn a_linked_bot_shows_linked_and_refuses_new_codes() {
    let (tx, mut rx) = mpsc::channel(1);
    let server = token_server(Some(tx)).await;
    let auth_reply = server.get(&format!("/qr?token={TOKEN}")).await;
    let cookie = session_cookie(&auth_reply);
    let auth = [("cookie", cookie.as_str())];

    let jid = Jid::parse("15550001234:3@s.whatsapp.net").expect("jid");
    server.board.on_event(
        &Event::Paired {
            jid,
            platform: None,
        },
        SystemClock.wall(),
    );
    server.board.on_event(&Event::Online, SystemClock.wall());
    let page = server.get_with("/qr", &auth).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Linked") && page.body.contains("online"));
    assert!(!page.body.contains(QR_TEXT) && !page.body.contains("<svg"));
    assert!(
        !page.body.contains("http-equiv=\"refresh\""),
        "no refresh once done"
    );
    assert!(!page.body.contains("action=\"/qr/code\""));

    let refused = server
        .post_form("/qr/code", "phone=15550001234", &auth)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(rx.try_recv().is_err());
    server.stop().await;
}

#[tokio::test]
async fn an_expired_qr_is_not_shown() {
    let server = Server::start(QrPageConfig::new(QrAccess::Token(Secret::new(TOKEN)), None)).await;
    let long_ago = blacksky_core::time::UnixMillis(SystemClock.wall().as_millis() - 120_000);
    server.board.on_event(
        &Event::Qr {
            text: QR_TEXT.into(),
            index: 0,
            valid_ms: 60_000,
        },
        long_ago,
    );
    let page = server.get(&format!("/qr?token={TOKEN}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(QR_TEXT));
    assert!(page.body.contains("Waiting for WhatsApp"));
    server.stop().await;
}
