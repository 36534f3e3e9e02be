//! Helpers for the end-to-end tests: run the real `blacksky` and `fake-wa`
//! binaries as processes on 127.0.0.1, read their output lines, drive the
//! fake server's control API, send signals.
//!
//! The binaries are the ones cargo built for this test run: cargo builds a
//! package's binaries whenever that package has integration tests, and
//! `cargo test --workspace` selects them all.

use blacksky_core::message::Content;
use blacksky_core::session::InboxContent;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A binary from this build's target directory (`target/<profile>/NAME`).
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace` (or build it with `cargo build --bins`)",
        path.display()
    );
    path
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A running process whose output lines are collected as they come.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Receiver<(Stream, String)>,
    /// Every line so far, for assertions and failure messages.
    pub seen: Arc<Mutex<Vec<(Stream, String)>>>,
}

fn pump(
    stream: impl Read + Send + 'static,
    which: Stream,
    tx: std::sync::mpsc::Sender<(Stream, String)>,
) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send((which, line)).is_err() {
                break;
            }
        }
    });
}

impl Proc {
    /// Starts `command` with piped output.
    pub fn spawn(name: &str, mut command: Command) -> Proc {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        let (tx, rx) = channel();
        pump(
            child.stdout.take().expect("piped stdout"),
            Stream::Stdout,
            tx.clone(),
        );
        pump(
            child.stderr.take().expect("piped stderr"),
            Stream::Stderr,
            tx,
        );
        Proc {
            name: name.to_owned(),
            child,
            lines: rx,
            seen: Arc::default(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line matching `pred`; returns it, or `None` on timeout
    /// or when the process ended.
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(Stream, &str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    self.seen
                        .lock()
                        .expect("lines lock")
                        .push((stream, line.clone()));
                    if pred(stream, &line) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Like `wait_for_line`, but a miss fails the test with the output so far.
    pub fn expect_line(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(Stream, &str) -> bool,
    ) -> String {
        match self.wait_for_line(timeout, pred) {
            Some(line) => line,
            None => panic!(
                "{}: no {what} within {timeout:?}; output so far:\n{}",
                self.name,
                self.transcript()
            ),
        }
    }

    /// Collects whatever output arrived until now (without waiting long).
    pub fn drain(&mut self) {
        while let Ok((stream, line)) = self.lines.recv_timeout(Duration::from_millis(50)) {
            self.seen.lock().expect("lines lock").push((stream, line));
        }
    }

    /// All lines so far, one per line, prefixed by stream.
    pub fn transcript(&self) -> String {
        let seen = self.seen.lock().expect("lines lock");
        seen.iter()
            .map(|(s, l)| format!("{}| {l}", if *s == Stream::Stdout { "out" } else { "err" }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// True if any line seen so far satisfies `pred`.
    pub fn saw(&self, pred: impl Fn(Stream, &str) -> bool) -> bool {
        self.seen
            .lock()
            .expect("lines lock")
            .iter()
            .any(|(s, l)| pred(*s, l))
    }

    /// Sends a signal by name (`TERM`, `KILL`, `INT`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits for exit; `None` on timeout (the process keeps running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain();
                return Some(status);
            }
            // Keep reading so a chatty child never blocks on a full pipe.
            if let Ok((stream, line)) = self.lines.recv_timeout(Duration::from_millis(20)) {
                self.seen.lock().expect("lines lock").push((stream, line));
            }
        }
        None
    }

    /// SIGTERM, then an exit with status 0 within `timeout`; panics with
    /// the transcript otherwise.
    pub fn stop_cleanly(&mut self, timeout: Duration) {
        self.signal("TERM");
        let status = self
            .wait_exit(timeout)
            .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", self.transcript()));
        assert!(status.success(), "{status:?}:\n{}", self.transcript());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `fake-wa` with its addresses and root key.
#[derive(Debug)]
pub struct FakeWa {
    pub proc: Proc,
    pub ws_url: String,
    pub control_url: String,
    /// The media host (what the bot's `WA_MEDIA_URL` points at).
    pub media_url: String,
    pub root_pubkey: String,
}

fn field(line: &str, prefix: &str) -> Option<String> {
    line.strip_prefix(prefix).map(|rest| rest.trim().to_owned())
}

impl FakeWa {
    /// Starts fake-wa on free ports and reads its announcements.
    pub fn start() -> FakeWa {
        let mut command = Command::new(target_bin("fake-wa"));
        command.args(["--port", "0", "--control-port", "0"]);
        let mut proc = Proc::spawn("fake-wa", command);
        let (mut ws_url, mut control_url, mut media_url, mut root_pubkey) =
            (None, None, None, None);
        while ws_url.is_none()
            || control_url.is_none()
            || media_url.is_none()
            || root_pubkey.is_none()
        {
            let line = proc.expect_line(Duration::from_secs(20), "startup announcement", |s, _| {
                s == Stream::Stdout
            });
            ws_url = ws_url.or_else(|| field(&line, "listening:"));
            control_url = control_url.or_else(|| field(&line, "control:"));
            media_url = media_url.or_else(|| field(&line, "media:"));
            root_pubkey = root_pubkey.or_else(|| field(&line, "root-pubkey:"));
        }
        FakeWa {
            proc,
            ws_url: ws_url.unwrap_or_default(),
            control_url: control_url.unwrap_or_default(),
            media_url: media_url.unwrap_or_default(),
            root_pubkey: root_pubkey.unwrap_or_default(),
        }
    }

    /// POSTs to a control route; panics with the server's answer on error.
    pub fn post(&self, route: &str, body: &str) -> serde_json::Value {
        let url = format!("{}{route}", self.control_url);
        let mut response = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .send(body)
            .unwrap_or_else(|err| panic!("POST {url}: {err}"));
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert!(status.is_success(), "POST {url} → {status}: {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// Waits for fake-wa's next event of `kind` (`bot_message`, …) in its
    /// log; returns the line, or `None` on timeout. Lines read while
    /// waiting are kept in `proc.seen`.
    pub fn wait_event(&mut self, timeout: Duration, kind: &str) -> Option<String> {
        let tag = format!("\"event\":\"{kind}\"");
        self.proc.wait_for_line(timeout, |_, l| l.contains(&tag))
    }

    /// The server's state as JSON.
    pub fn state(&self) -> serde_json::Value {
        self.get("/state")
    }

    /// GETs a control route's JSON answer.
    pub fn get(&self, route: &str) -> serde_json::Value {
        let url = format!("{}{route}", self.control_url);
        let text = ureq::get(&url)
            .call()
            .unwrap_or_else(|err| panic!("GET {url}: {err}"))
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|err| panic!("GET {url}: {err}"));
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("GET {url}: {err}: {text}"))
    }

    /// Polls the state until `pred` holds; fails with the last state.
    pub fn wait_state(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state();
            if pred(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "fake-wa: {what} not reached within {timeout:?}; state: {state:#}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `blacksky` against `wa` with its data in `data_dir`.
pub fn start_blacksky(wa: &FakeWa, data_dir: &Path, extra_env: &[(&str, &str)]) -> Proc {
    let mut command = Command::new(target_bin("blacksky"));
    command
        .current_dir(data_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WA_WS_URL", &wa.ws_url)
        .env("WA_ROOT_PUBKEY", &wa.root_pubkey)
        // Media goes to fake-wa's media host, as the socket goes to fake-wa.
        .env("WA_MEDIA_URL", &wa.media_url)
        .env("DATA_DIR", data_dir.join("data"))
        .env("RUST_LOG", "info")
        // Any free port: tests run bots side by side.
        .env("PORT", "0");
    for (key, value) in extra_env {
        command.env(key, value);
    }
    Proc::spawn("blacksky", command)
}

/// Runs `blacksky ARGS…` (a command such as `session export`) with the data
/// of `home` (as [`start_blacksky`] lays it out) and waits for it.
pub fn blacksky_command(
    home: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new(target_bin("blacksky"));
    command
        .args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", home.join("data"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    command
        .output()
        .unwrap_or_else(|err| panic!("cannot run blacksky {args:?}: {err}"))
}

/// The session name the bot uses when SESSION_ID is not set.
pub const DEFAULT_SESSION: &str = "BLACKSKY-MD";

/// Runs `f` on a current-thread runtime with the bot's SQLite file path.
fn with_db_file<T>(home: &Path, f: impl AsyncFnOnce(std::path::PathBuf) -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f(home.join("data").join(blacksky_io::store::SQLITE_FILE)))
}

fn with_store<T>(home: &Path, f: impl AsyncFnOnce(blacksky_io::store::SqliteStore) -> T) -> T {
    with_db_file(home, async |path| {
        let store = blacksky_io::store::SqliteStore::open(&path, DEFAULT_SESSION)
            .await
            .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
        f(store).await
    })
}

/// The message ids in the bot's SQLite inbox, in arrival order.
pub fn inbox_ids(home: &Path) -> Vec<String> {
    with_store(home, async |mut store| {
        blacksky_io::store::Store::inbox(&mut store)
            .await
            .expect("read the inbox")
            .into_iter()
            .map(|entry| entry.id)
            .collect()
    })
}

/// The client version the bot's SQLite store keeps from a 405.
pub fn stored_client_version(home: &Path) -> Option<String> {
    with_store(home, async |mut store| {
        blacksky_io::store::Store::client_version(&mut store)
            .await
            .expect("read the client version")
            .map(|version| version.to_string())
    })
}

/// The inbox as (id, text): the text of each decrypted message, or
/// `unreadable: <why>` for one that could not be read.
pub fn inbox_texts(home: &Path) -> Vec<(String, String)> {
    with_store(home, async |mut store| {
        blacksky_io::store::Store::inbox(&mut store)
            .await
            .expect("read the inbox")
            .into_iter()
            .map(|entry| {
                let text = match &entry.content {
                    InboxContent::Message(message) => Content::decode(message)
                        .ok()
                        .and_then(|content| content.text().map(str::to_owned))
                        .unwrap_or_else(|| "<no text>".into()),
                    InboxContent::Unreadable(why) => format!("unreadable: {why}"),
                    InboxContent::GroupNotice => "<group notice>".into(),
                };
                (entry.id, text)
            })
            .collect()
    })
}

/// Runs raw SQL on the bot's SQLite database (to spoil it or take a
/// table away).
pub fn sqlite_exec(home: &Path, sql: &str) {
    // The file as it is, sealed rows or not: no store opens it.
    with_db_file(home, async |path| {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
        sqlx::query(sql)
            .execute(&pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        pool.close().await;
    });
}

/// The noise public key (base64) a QR text carries.
pub fn qr_noise_key(qr_text: &str) -> String {
    qr_text
        .split_once('#')
        .and_then(|(_, fields)| fields.split(',').nth(1))
        .unwrap_or_default()
        .to_owned()
}

// ---- a linked bot, its HTTP server, the fake server's view of it ----

/// How long the helpers below wait for a line or a state.
pub const LINE_WAIT: Duration = Duration::from_secs(15);

/// The fake server's first device, if any.
pub fn device(state: &serde_json::Value) -> Option<&serde_json::Value> {
    state["devices"].as_array()?.first()
}

/// A yes/no field of the first device (`paired`, `passive_active`, …).
pub fn flag(state: &serde_json::Value, key: &str) -> bool {
    device(state).is_some_and(|d| d[key].as_bool() == Some(true))
}

/// How often the first device logged in.
pub fn logins(state: &serde_json::Value) -> u64 {
    device(state)
        .and_then(|d| d["logins"].as_u64())
        .unwrap_or_default()
}

/// The line without terminal colour escapes.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A line seen already, or the next one that matches.
pub fn seen_or_wait(
    bot: &mut Proc,
    what: &str,
    pred: impl Fn(Stream, &str) -> bool + Copy,
) -> String {
    let earlier = bot
        .seen
        .lock()
        .expect("lines lock")
        .iter()
        .find(|(s, l)| pred(*s, l))
        .map(|(_, l)| l.clone());
    earlier.unwrap_or_else(|| bot.expect_line(LINE_WAIT, what, pred))
}

/// The port from the "HTTP server listening … port=N" log line.
pub fn http_port(bot: &mut Proc) -> u16 {
    let line = seen_or_wait(bot, "HTTP server listening line", |_, l| {
        l.contains("HTTP server listening")
    });
    let clean = strip_ansi(&line);
    // JSON logs (a public host: HEROKU, CLOUD_MODE) or pretty ones.
    let from_json = serde_json::from_str::<serde_json::Value>(&clean)
        .ok()
        .and_then(|json| json["fields"]["port"].as_u64())
        .and_then(|port| u16::try_from(port).ok());
    from_json
        .or_else(|| {
            clean
                .split_whitespace()
                .find_map(|word| word.strip_prefix("port="))
                .and_then(|n| n.trim_matches('"').parse().ok())
        })
        .unwrap_or_else(|| panic!("no port in {clean:?}"))
}

/// GET on the bot's HTTP server: status and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut response = ureq::get(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

/// GET on the bot's HTTP server, a 200 with JSON.
pub fn http_get_json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http_get(port, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {path}: {err}: {body}"))
}

/// A bot started in `home` against `wa` and linked by QR; returned once
/// fake-wa sees it paired, logged in and active (each step within `wait`).
pub fn link_in(wa: &FakeWa, home: &Path, extra_env: &[(&str, &str)], wait: Duration) -> Proc {
    let mut bot = start_blacksky(wa, home, extra_env);
    let qr = bot.expect_line(wait, "qr: line", |s, l| {
        s == Stream::Stdout && l.starts_with("qr: ")
    });
    wa.post("/scan", qr.trim_start_matches("qr: "));
    wa.wait_state(wait, "paired, logged in and active", |s| {
        flag(s, "paired") && flag(s, "logged_in") && flag(s, "passive_active")
    });
    bot
}

/// fake-wa, a temp home and a bot linked by QR and online.
pub fn linked_bot(extra_env: &[(&str, &str)]) -> (FakeWa, tempfile::TempDir, Proc) {
    let wa = FakeWa::start();
    let home = tempfile::tempdir().expect("temp dir");
    let bot = link_in(&wa, home.path(), extra_env, LINE_WAIT);
    (wa, home, bot)
}

// ---- the auto-reply round trip: a contact's `ping n`, the bot's `pong n` ----

/// The `auto-replies.toml` that answers `ping n` with `pong n`.
pub const PING_PONG_RULES: &str = "[[reply]]\nmatch = '^ping (\\d+)$'\ntext = 'pong $1'\n";

/// fake-wa and a bot linked in `home`, which holds `auto-replies.toml`
/// with [`PING_PONG_RULES`].
pub fn linked_ping_pong(home: &Path, extra_env: &[(&str, &str)]) -> (FakeWa, Proc) {
    std::fs::write(home.join("auto-replies.toml"), PING_PONG_RULES).expect("write the rules");
    let wa = FakeWa::start();
    let bot = link_in(&wa, home, extra_env, PONG_WAIT);
    (wa, bot)
}

/// The contact `phone` sends `ping n`, from its number or (`lid`) from its
/// LID.
pub fn ping(wa: &FakeWa, phone: &str, lid: bool, n: u64) {
    let addressing = if lid { "lid" } else { "pn" };
    wa.post(
        &format!("/send?from={phone}&as={addressing}"),
        &format!("ping {n}"),
    );
}

/// What the contact's phone (device 0) read from the bot in their 1:1
/// chat: text → the distinct message ids it came with.
pub fn read_by(wa: &FakeWa, phone: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut read: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for message in wa
        .get(&format!("/received?from={phone}"))
        .as_array()
        .expect("a list")
    {
        // Group messages are `group_read_by`'s.
        if message["device"].as_u64() != Some(0) || !message["group"].is_null() {
            continue;
        }
        let text = message["text"].as_str().expect("text").to_owned();
        let id = message["id"].as_str().expect("id").to_owned();
        read.entry(text).or_default().insert(id);
    }
    read
}

/// `pong n` for each n of `range`.
pub fn pongs(range: std::ops::RangeInclusive<u64>) -> BTreeSet<String> {
    range.map(|n| format!("pong {n}")).collect()
}

/// How long [`wait_for_pongs`] waits.
pub const PONG_WAIT: Duration = Duration::from_secs(60);

/// Waits until `phone` has read every text of `expected`; then each came
/// with one id only (never two answers to one ping), and nothing else.
pub fn wait_for_pongs(wa: &FakeWa, bot: &Proc, phone: &str, expected: &BTreeSet<String>) {
    let deadline = Instant::now() + PONG_WAIT;
    loop {
        let read = read_by(wa, phone);
        let texts: BTreeSet<String> = read.keys().cloned().collect();
        if expected.is_subset(&texts) {
            assert_eq!(&texts, expected, "only the pongs asked for");
            for (text, ids) in &read {
                assert_eq!(
                    ids.len(),
                    1,
                    "{text:?} answered as {} messages: {ids:?}",
                    ids.len()
                );
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pongs missing: {:?}\n{}",
            expected.difference(&texts).collect::<Vec<_>>(),
            bot.transcript()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes a group in fake-wa (`POST /groups`, the JSON of
/// `blacksky_sim::server::NewGroup`: `{subject, creator, admins?,
/// members?, bot?: "member"|"admin"|"superadmin", addressing?: "pn"|"lid",
/// id?}`); returns its JID user part.
pub fn create_group(wa: &FakeWa, spec: &serde_json::Value) -> String {
    wa.post("/groups", &spec.to_string())["id"]
        .as_str()
        .expect("a group id")
        .to_owned()
}

/// A member (`actor`) changes the group (`POST /groups/change`, the JSON
/// of `blacksky_sim::server::GroupChange`, e.g. `{"kind": "remove",
/// "phones": [..]}`); the bot's devices get the `w:gp2` notification.
/// Returns the numbers the change took effect for.
pub fn change_group(
    wa: &FakeWa,
    group: &str,
    actor: &str,
    change: &serde_json::Value,
) -> Vec<String> {
    wa.post(
        &format!("/groups/change?group={group}&actor={actor}"),
        &change.to_string(),
    )["changed"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// The group as fake-wa keeps it (`GET /groups?id=G`): subject, members
/// by number with their rank, settings, invite code, held keys.
pub fn group_state(wa: &FakeWa, group: &str) -> serde_json::Value {
    wa.get(&format!("/groups?id={group}"))
}

/// What the contact's devices read from the bot in `group`: text → the
/// devices that read it.
pub fn group_read_by(wa: &FakeWa, phone: &str, group: &str) -> BTreeMap<String, BTreeSet<u64>> {
    let mut read: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for message in wa
        .get(&format!("/received?from={phone}"))
        .as_array()
        .expect("a list")
    {
        if message["group"].as_str() != Some(group) {
            continue;
        }
        let text = message["text"].as_str().expect("text").to_owned();
        let device = message["device"].as_u64().expect("a device");
        read.entry(text).or_default().insert(device);
    }
    read
}

/// Nothing the bot sent was refused by fake-wa's checks.
pub fn assert_no_violations(wa: &FakeWa) {
    let violations = wa.get("/violations");
    assert_eq!(
        violations.as_array().map(Vec::len),
        Some(0),
        "what a real server or contact would refuse: {violations:#}"
    );
}

/// xorshift64*: the moments of a randomized run (kills, sends), replayable
/// from its seed.
#[derive(Debug, Clone)]
pub struct Moments(pub u64);

impl Moments {
    /// `SEED` when set (a replay), else one from the clock; printed with
    /// `what` so a failing run can be replayed.
    #[must_use]
    pub fn from_env(what: &str) -> Moments {
        let seed = std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64 | 1)
            });
        eprintln!("{what}: SEED={seed}");
        Moments(seed)
    }

    /// The seed the run started from.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.0
    }

    pub fn next_ms(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % below.max(1)
    }
}
