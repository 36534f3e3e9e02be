//! GET /qr: a query string (and maybe the token in it), with the Cookie,
//! Host, X-Forwarded-For and X-Forwarded-Proto headers, from any peer,
//! against each access rule. It must never panic or fail with a server
//! error, never echo the token, and show the QR, the pairing code or a
//! cookie only to a visitor allowed to see the page.
//!
//! Fields, split at `\n` after the switches byte (see http_fixture): the
//! query, the Cookie header, Host, X-Forwarded-For, X-Forwarded-Proto.
#![no_main]
#[path = "common/http_fixture.rs"]
mod http_fixture;

use axum::http::Method;
use http_fixture::{Input, Server, TOKEN, check, query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let mut offered = query(input.bytes(0));
    if input.right_token {
        offered.push_str(&format!("&token={TOKEN}"));
    }
    let cookie = input.cookie(1);
    let headers = [
        ("cookie", cookie.as_bytes()),
        ("host", input.bytes(2)),
        ("x-forwarded-for", input.bytes(3)),
        ("x-forwarded-proto", input.bytes(4)),
    ];
    let allowed = input.may_see(&offered, &cookie);
    let mut server = Server::for_input(&input);
    let target = format!("/qr?{offered}");
    if let Some(reply) = server.send(Method::GET, &target, &headers, Vec::new(), input.peer) {
        check(&reply, allowed);
    }
});
