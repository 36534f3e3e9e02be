//! Shared by the http_* tests: a real server on 127.0.0.1:0 over a board
//! the test drives, a small client, and a Prometheus text-format checker.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use blacksky_io::host::clock::{Clock, SystemClock};
use blacksky_io::host::http::{self, QrPageConfig};
use blacksky_io::host::status::StatusBoard;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Server {
    pub addr: SocketAddr,
    pub board: StatusBoard,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(qr: QrPageConfig) -> Server {
        let board = StatusBoard::new(Instant::now(), SystemClock.wall());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(http::serve(listener, board.clone(), qr, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            board,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, None).await
    }

    pub async fn post_form(&self, path: &str, form: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, Some(form.to_owned()))
            .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        let response = client.request(request).await.expect("server answers");
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Stops the server and checks it ended cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let ended = tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("graceful shutdown in time")
                .expect("server task");
            ended.expect("server ended without error");
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// Checks `body` against the Prometheus text format (0.0.4) and returns
/// the label-less samples by name. Panics with the offending line.
pub fn parse_prometheus(body: &str) -> BTreeMap<String, f64> {
    assert!(body.ends_with('\n'), "the body ends with a newline");
    let mut help: BTreeMap<String, ()> = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in body.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), Some(_text)) => {
                    assert!(valid_name(name), "HELP name: {line}");
                    assert!(
                        help.insert(name.to_owned(), ()).is_none(),
                        "second HELP: {line}"
                    );
                    assert!(!types.contains_key(name), "HELP after TYPE: {line}");
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(valid_name(name), "TYPE name: {line}");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "TYPE kind: {line}"
                    );
                    assert!(
                        !samples.keys().any(|s: &String| s == name),
                        "TYPE after samples: {line}"
                    );
                    if kind == "counter" {
                        assert!(name.ends_with("_total"), "counter without _total: {line}");
                    }
                    assert!(
                        types.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "second TYPE: {line}"
                    );
                }
                _ => {} // other comments are allowed
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "blank line inside the exposition");
        let (name_and_labels, value) = line.rsplit_once(' ').expect("name value");
        let (name, labels) = match name_and_labels.split_once('{') {
            Some((name, rest)) => {
                let labels = rest.strip_suffix('}').expect("labels close");
                (name, Some(labels))
            }
            None => (name_and_labels, None),
        };
        assert!(valid_name(name), "sample name: {line}");
        if let Some(labels) = labels {
            check_labels(labels, line);
        }
        assert!(
            types.contains_key(name),
            "sample before its TYPE line: {line}"
        );
        assert!(help.contains_key(name), "sample without HELP: {line}");
        let value: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            number => number.parse().unwrap_or_else(|_| panic!("value: {line}")),
        };
        if labels.is_none() {
            samples.insert(name.to_owned(), value);
        } else {
            samples.entry(format!("{name}{{…}}")).or_insert(value);
        }
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn check_labels(labels: &str, line: &str) {
    let mut rest = labels;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label: {line}"));
        assert!(
            valid_name(key) && !key.starts_with("__"),
            "label name: {line}"
        );
        // Find the closing quote, skipping escapes.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, '\\' | '"' | 'n') => escaped = false,
                (true, _) => panic!("bad escape: {line}"),
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, '\n') => panic!("raw newline in label: {line}"),
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("unclosed label value: {line}"));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}
