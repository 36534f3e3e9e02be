//! POST /qr/code: a phone number (and maybe the token) in a form body, with
//! the Cookie, Host and Origin headers, from any peer, against each access
//! rule. It must never panic or fail with a server error, never echo the
//! token, and hand the runner a number only for a visitor allowed to see
//! the page, and only 7 to 15 digits that do not start with 0.
//!
//! Fields, split at `\n` after the switches byte (see http_fixture): the
//! body, the Cookie header, Host, Origin, Content-Type (form-encoded when
//! empty).
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::Method;
use http_fixture::{Input, Server, TOKEN, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let mut body = input.bytes(0).to_vec();
    if input.right_token {
        body.extend_from_slice(format!("&token={TOKEN}").as_bytes());
    }
    let cookie = input.cookie(1);
    let content_type: &[u8] = match input.bytes(4) {
        [] => b"application/x-www-form-urlencoded",
        other => other,
    };
    let headers = [
        ("cookie", cookie.as_bytes()),
        ("host", input.bytes(2)),
        ("origin", input.bytes(3)),
        ("content-type", content_type),
    ];
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let allowed = input.may_see(&body_text, &cookie);
    let mut server = Server::for_input(&input);
    if let Some(reply) = server.send(Method::POST, "/qr/code", &headers, body, input.peer) {
        check(&reply, allowed);
    }
    if let Ok(phone) = server.code_requests.try_recv() {
        assert!(allowed, "a code request from a visitor without the token");
        let digits = phone.digits();
        assert!(
            (7..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0'),
            "a phone the runner must not get: {digits:?}"
        );
    }
});
