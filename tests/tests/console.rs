//! The operator's console end to end: the real `blacksky` against the real
//! `fake-wa`.
//!
//! - The dashboard at `/` opened in headless Chromium: the message plot is
//!   drawn from the messages `fake-wa` sent (its path carries their count
//!   and rises off the baseline), and a screenshot is kept at
//!   `target/artifacts/dashboard.png`. Without Chromium the test says
//!   `skipped: chromium not found`; under `CI=true` it fails instead.
//! - Alerts to a local webhook receiver (a tiny HTTP server in the test):
//!   reconnect attempts run out (logins refused), the process exits 5, the
//!   host starts it again, it comes online: the receiver gets the incident
//!   once and its recovery once; also when the receiver was down while the
//!   first process lived (the alert waits in the store and the next
//!   process delivers it). The webhook's token never shows in the output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use blacksky_tests::{FakeWa, Proc, flag, http_port, linked_bot, seen_or_wait, start_blacksky};

const WAIT: Duration = Duration::from_secs(20);
const CONTACT: &str = "4915550006666";
/// The token a real incoming webhook carries in its path.
const HOOK_TOKEN: &str = "hook-token-5b2e91c4";

// ---- helpers ----

fn wait_online(wa: &FakeWa) {
    wa.wait_state(WAIT, "logged in and active", |s| {
        flag(s, "logged_in") && flag(s, "passive_active")
    });
}

fn get(port: u16, path: &str) -> String {
    let url = format!("http://127.0.0.1:{port}{path}");
    ureq::get(&url)
        .call()
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
}

fn poll<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// `target/` of this build (the test runs from target/<profile>/deps).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

/// Runs headless Chromium with `args` on `url`, bounded; its stdout.
fn run_chromium(browser: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", browser.display()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap_or_default()
}

/// The `d` of the path with `class`, and its `data-sum`.
fn plot_path(dom: &str, class: &str) -> Option<(u64, Vec<(f64, f64)>)> {
    let start = dom.find(&format!("<path class=\"{class}\""))?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let attr = |name: &str| {
        let from = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(&tag[from..from + tag[from..].find('"')?])
    };
    let sum = attr("data-sum")?.parse().ok()?;
    let points = attr("d")?
        .split(['M', 'L'])
        .filter_map(|pair| {
            let mut numbers = pair.split_whitespace().map(str::parse::<f64>);
            Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
        })
        .collect();
    Some((sum, points))
}

// ---- the dashboard in a real browser ----

#[test]
fn the_dashboard_draws_real_samples_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "chromium not found, and CI=true: .ci/run installs it (apt-get install -y chromium)"
        );
        eprintln!("skipped: chromium not found");
        return;
    };
    let (wa, _home, mut bot) = linked_bot(&[]);
    let port = http_port(&mut bot);
    const SENT: u64 = 6;
    for i in 0..SENT {
        wa.post(&format!("/send?from={CONTACT}"), &format!("dashboard {i}"));
    }
    poll("the messages stored", WAIT, || {
        let stats: serde_json::Value =
            serde_json::from_str(&get(port, "/stats")).expect("stats json");
        (stats["messages"]["received"]["total"].as_u64() >= Some(SENT)).then_some(())
    });
    // A memory sample is taken every 10 s.
    poll("a memory sample", Duration::from_secs(25), || {
        let stats: serde_json::Value =
            serde_json::from_str(&get(port, "/stats")).expect("stats json");
        stats["memory"]["rss_bytes"].as_u64()
    });
    let url = format!("http://127.0.0.1:{port}/");
    let profile = tempfile::tempdir().expect("chromium profile");
    let dom = run_chromium(&browser, profile.path(), &["--dump-dom"], &url);
    assert!(
        dom.contains("id=\"plot-messages\""),
        "no message plot in:\n{dom}"
    );
    let (sum, points) = plot_path(&dom, "in").unwrap_or_else(|| panic!("no in-path:\n{dom}"));
    assert_eq!(sum, SENT, "the plot's samples are the messages sent");
    assert!(!points.is_empty());
    // The baseline is y = 118 (height 140, bottom margin 22): a point above
    // it is a minute with messages.
    assert!(
        points.iter().any(|(_, y)| *y < 117.0),
        "the in-path stays on the baseline: {points:?}"
    );
    let (_, memory) = plot_path(
        &dom.replace(
            "class=\"mem\" data-points",
            "class=\"mem\" data-sum=\"0\" data-points",
        ),
        "mem",
    )
    .unwrap_or_else(|| panic!("no memory path:\n{dom}"));
    assert!(!memory.is_empty(), "no memory point");
    assert!(dom.contains("id=\"state\">online<"), "state online:\n{dom}");
    assert!(!dom.contains("<script"), "no script");

    let artifacts = target_dir().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("target/artifacts");
    let shot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &browser,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,1250",
        ],
        &url,
    );
    let png = std::fs::read(&shot).unwrap_or_else(|err| panic!("{}: {err}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "a screenshot of {} bytes", png.len());
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());
}

// ---- alerts to a local receiver ----

/// A webhook receiver on 127.0.0.1: keeps every body POSTed to it and
/// answers 200. `stop` closes the port (the receiver is down); `start`
/// on the same port brings it back with what it got so far.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    running: Option<(Arc<AtomicBool>, thread::JoinHandle<()>)>,
}

impl Receiver {
    fn start_on(port: u16, bodies: Arc<Mutex<Vec<serde_json::Value>>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let (stopped, kept) = (stop.clone(), bodies.clone());
        let handle = thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &kept),
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver {
            port,
            bodies,
            running: Some((stop, handle)),
        }
    }

    fn start() -> Receiver {
        Receiver::start_on(0, Arc::default())
    }

    fn stop(&mut self) {
        if let Some((stop, handle)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }

    fn restart(&mut self) {
        self.stop();
        *self = Receiver::start_on(self.port, self.bodies.clone());
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/{HOOK_TOKEN}", self.port)
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("bodies").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP/1.1 request: headers, then Content-Length bytes of body.
fn serve(stream: TcpStream, bodies: &Mutex<Vec<serde_json::Value>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if let Ok(json) = serde_json::from_slice(&body) {
        bodies.lock().expect("bodies").push(json);
    }
    let mut stream = reader.into_inner();
    let _ =
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
}

/// Runs out of reconnect attempts: logins refused 3 times, 2 attempts
/// allowed; the bot must exit 5.
fn exhaust_reconnects(wa: &FakeWa, bot: &mut Proc) {
    wa.post("/refuse-logins?code=503&count=3", "");
    wa.post("/kick?code=503", "");
    let status = bot
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no exit after the attempts ran out:\n{}", bot.transcript()));
    assert_eq!(status.code(), Some(5), "exit code:\n{}", bot.transcript());
}

fn alert_env(receiver: &Receiver, format: &str) -> Vec<(String, String)> {
    vec![
        ("ALERT_WEBHOOK_URL".into(), receiver.url()),
        ("ALERT_FORMAT".into(), format.into()),
        ("MAX_RECONNECT_ATTEMPTS".into(), "2".into()),
        ("RECONNECT_BASE_MS".into(), "50".into()),
        ("RECONNECT_MAX_MS".into(), "100".into()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The (kind, phase) of each body, in the format's own words.
fn phases(bodies: &[serde_json::Value], format: &str) -> Vec<String> {
    bodies
        .iter()
        .map(|b| match format {
            "json" => format!(
                "{} {}",
                b["kind"].as_str().unwrap_or("?"),
                b["phase"].as_str().unwrap_or("?")
            ),
            _ => {
                let text = b["text"].as_str().unwrap_or("?");
                if text.contains("recovered") {
                    "reconnects_exhausted recovered".to_owned()
                } else if text.contains("reconnect attempts exhausted") {
                    "reconnects_exhausted opened".to_owned()
                } else {
                    text.to_owned()
                }
            }
        })
        .collect()
}

fn assert_no_token(bot: &Proc) {
    let transcript = bot.transcript();
    assert!(
        !transcript.contains(HOOK_TOKEN),
        "the webhook token in the output:\n{transcript}"
    );
}

#[test]
fn an_incident_and_its_recovery_arrive_once() {
    let receiver = Receiver::start();
    let env = alert_env(&receiver, "json");
    let (wa, home, mut bot) = linked_bot(&pairs(&env));
    exhaust_reconnects(&wa, &mut bot);
    assert_no_token(&bot);
    // Delivered before the exit.
    let bodies = receiver.bodies();
    assert_eq!(
        phases(&bodies, "json"),
        ["reconnects_exhausted opened"],
        "{bodies:#?}"
    );
    let incident = bodies[0]["incident"].clone();

    // The host starts it again; logins work again: recovered, once.
    let mut bot = start_blacksky(&wa, home.path(), &pairs(&env));
    wait_online(&wa);
    poll("the recovery delivered", WAIT, || {
        (receiver.bodies().len() >= 2).then_some(())
    });
    // Reconnects after the recovery are no new incident.
    wa.post("/kick?code=503", "");
    wait_online(&wa);
    thread::sleep(Duration::from_secs(3));
    let bodies = receiver.bodies();
    assert_eq!(
        phases(&bodies, "json"),
        [
            "reconnects_exhausted opened",
            "reconnects_exhausted recovered"
        ],
        "{bodies:#?}"
    );
    assert_eq!(
        bodies[1]["incident"], incident,
        "the recovery names the incident"
    );
    bot.signal("TERM");
    assert_eq!(bot.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
    assert_no_token(&bot);
}

#[test]
fn an_alert_raised_while_the_receiver_is_down_arrives_after_a_restart() {
    let mut receiver = Receiver::start();
    receiver.stop();
    let env = alert_env(&receiver, "slack");
    let (wa, home, mut bot) = linked_bot(&pairs(&env));
    exhaust_reconnects(&wa, &mut bot);
    seen_or_wait(&mut bot, "a failed delivery", |_, l| {
        l.contains("alert not delivered")
    });
    assert_no_token(&bot);
    assert!(receiver.bodies().is_empty());

    // The receiver is back, the process too: the stored alert goes out,
    // then the recovery, each once.
    receiver.restart();
    let mut bot = start_blacksky(&wa, home.path(), &pairs(&env));
    wait_online(&wa);
    poll("both alerts delivered", Duration::from_secs(30), || {
        (receiver.bodies().len() >= 2).then_some(())
    });
    thread::sleep(Duration::from_secs(3));
    let bodies = receiver.bodies();
    assert_eq!(
        phases(&bodies, "slack"),
        [
            "reconnects_exhausted opened",
            "reconnects_exhausted recovered"
        ],
        "{bodies:#?}"
    );
    bot.signal("TERM");
    assert_eq!(bot.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
    assert_no_token(&bot);
}

#[test]
fn the_owner_is_told_on_whatsapp_when_the_bot_is_back() {
    const OWNER: &str = "4915100000001";
    let env = [
        ("ALERT_OWNER", "true"),
        ("OWNER_NUMBER", OWNER),
        ("MAX_RECONNECT_ATTEMPTS", "2"),
        ("RECONNECT_BASE_MS", "50"),
        ("RECONNECT_MAX_MS", "100"),
    ];
    let (wa, home, mut bot) = linked_bot(&env);
    exhaust_reconnects(&wa, &mut bot);
    // Nothing while it is away (it could not send anyway).
    let told = |wa: &FakeWa| -> Vec<String> {
        wa.get(&format!("/received?from={OWNER}"))
            .as_array()
            .expect("a list")
            .iter()
            .filter(|m| m["device"].as_u64() == Some(0))
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(told(&wa).is_empty());
    let mut bot = start_blacksky(&wa, home.path(), &env);
    wait_online(&wa);
    let texts = poll("the owner's message", WAIT, || {
        let texts = told(&wa);
        (!texts.is_empty()).then_some(texts)
    });
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("blacksky is back online. It was away")
            && texts[0].contains("reconnect"),
        "{texts:?}"
    );
    bot.signal("TERM");
    assert_eq!(bot.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
}
