//! A Node.js script in `interop/` run as a peer of the tests: JSON lines
//! on its stdin and stdout (one request, one answer), as `interop/peer.mjs`
//! speaks them. Shared by every interop test (1:1 sessions, sender keys):
//! include it with `#[path = "support/node_peer.rs"] mod node_peer;`.
//!
//! The npm packages come from `interop/package-lock.json`, installed with
//! `npm ci` into `interop/node_modules` (git-ignored) when missing. Without
//! `node` or `npm` on PATH, [`NodePeer::start`] prints
//! `skipped: node not found` and returns `None`; under `CI=true` it panics
//! instead, so CI can never pass without having run the interop.
#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

/// How long one answer may take before the peer is declared stuck.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// `npm ci` runs at most once per test process, whichever test gets there first.
static INSTALL: Mutex<()> = Mutex::new(());

/// The peer answered a request with an error (its message as thrown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRefused {
    pub op: String,
    /// The JavaScript error class, e.g. `SessionError`.
    pub name: String,
    pub message: String,
    /// What the peer logged while failing (libsignal logs the reason its
    /// `SessionError` does not name).
    pub log: String,
}

impl std::fmt::Display for PeerRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "peer refused {}: {}: {}",
            self.op, self.name, self.message
        )
    }
}

/// A running `node interop/<script>`; killed when dropped.
pub struct NodePeer {
    script: String,
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl NodePeer {
    /// Starts `node interop/<script>` (installing the locked packages first
    /// if needed), or returns `None` after saying why the test is skipped.
    pub fn start(script: &str) -> Option<NodePeer> {
        for tool in ["node", "npm"] {
            if !runs(tool) {
                return missing(tool);
            }
        }
        install_packages();
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting node interop/{script}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, answers) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Some(NodePeer {
            script: script.to_owned(),
            child,
            stdin,
            answers,
        })
    }

    /// Sends `request` (an object with an `op`) and returns the peer's
    /// `ok` answer, or what it refused with.
    pub fn call(&mut self, request: Value) -> Result<Value, PeerRefused> {
        let op = request["op"].as_str().unwrap_or("?").to_owned();
        let script = &self.script;
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("interop/{script} closed its input ({op}): {e}"));
        let line = match self.answers.recv_timeout(ANSWER_WAIT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("interop/{script} gave no answer to {op} in {ANSWER_WAIT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("interop/{script} exited before answering {op}")
            }
        };
        let mut answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("interop/{script} answered {op} with non-JSON: {e}"));
        if let Some(ok) = answer.get_mut("ok") {
            return Ok(ok.take());
        }
        let error = &answer["error"];
        Err(PeerRefused {
            op,
            name: error["name"].as_str().unwrap_or("?").to_owned(),
            message: error["message"].as_str().unwrap_or("?").to_owned(),
            log: error["log"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// [`NodePeer::call`] for a request that must succeed.
    pub fn ok(&mut self, request: Value) -> Value {
        self.call(request)
            .unwrap_or_else(|refused| panic!("{refused}"))
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn missing(tool: &str) -> Option<NodePeer> {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "{tool} not found: the interop tests need Node.js and npm on PATH \
             (CI=true makes their absence a failure, not a skip)"
        );
    }
    eprintln!("skipped: {tool} not found (the interop tests need Node.js and npm)");
    None
}

/// `npm ci` from the committed lock file, unless the packages are there.
fn install_packages() {
    let _once = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = interop_dir();
    if dir.join("node_modules/.package-lock.json").is_file()
        && dir.join("node_modules/libsignal/package.json").is_file()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--legacy-peer-deps", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running npm ci in interop/: {e}"));
    assert!(
        status.success(),
        "npm ci in interop/ failed ({status}): the interop tests need the packages of interop/package-lock.json"
    );
}

/// The base64 field `field` of a peer's answer, as bytes.
pub fn bytes(value: &Value, field: &str) -> Vec<u8> {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {value}"));
    B64.decode(text)
        .unwrap_or_else(|e| panic!("{field} is not base64: {e}"))
}
