//! The binary refuses a bad configuration before doing anything, with a
//! message that names the variable and the form it accepts.

use std::process::Command;

fn run_with(var: &str, value: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .current_dir(dir.path())
        .env_clear()
        .env(var, value)
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .expect("run blacksky");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_variable_stops_the_start_naming_it() {
    for (var, value) in [
        ("WA_WS_URL", "http://nope"),
        ("WA_ROOT_PUBKEY", "xyz"),
        ("PAIRING_NUMBER", "+0 12"),
        ("SESSION_ID", "has space"),
        ("FRAME_BYTES_MAX", "7"),
    ] {
        let (code, stderr) = run_with(var, value);
        assert_eq!(code, 2, "{var}: exit code; stderr: {stderr}");
        assert!(
            stderr.contains(&format!("configuration error: {var}:")),
            "{var}: {stderr}"
        );
        assert!(
            stderr.contains("expected"),
            "{var}: says what is accepted: {stderr}"
        );
    }
}

#[test]
fn the_data_dir_is_not_touched_when_the_config_is_bad() {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .current_dir(dir.path())
        .env_clear()
        .env("WA_WS_URL", "ftp://x")
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .expect("run blacksky");
    assert_eq!(status.status.code(), Some(2));
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_bad_log_filter_stops_the_start_naming_it() {
    let (code, stderr) = run_with("RUST_LOG", "blacksky=loud");
    assert_eq!(code, 2, "stderr: {stderr}");
    assert!(
        stderr.contains("configuration error: RUST_LOG:"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_env_file_stops_the_start_naming_the_line_not_the_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(".env"),
        "PORT=0\nSESSION_SECRET='hunter2-secret\n",
    )
    .expect("write .env");
    let output = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .current_dir(dir.path())
        .env_clear()
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .expect("run blacksky");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(".env: line 2 (SESSION_SECRET) is malformed"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the value leaked: {stderr}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn the_env_file_is_read_and_a_set_variable_wins() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(".env"),
        "# the bot\nSESSION_ID=from-dotenv\nPORT=1234\n",
    )
    .expect("write .env");
    let output = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .arg("config")
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", "4321")
        .output()
        .expect("run blacksky config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("SESSION_ID=from-dotenv\n"), "{stdout}");
    assert!(stdout.contains("PORT=4321\n"), "{stdout}");
}

#[test]
fn cloud_mode_logs_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A WebSocket nobody listens on: the bot logs its start and retries.
    let mut child = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .current_dir(dir.path())
        .env_clear()
        .env("CLOUD_MODE", "true")
        .env("ENABLE_HEALTH_CHECK", "false")
        .env("WA_WS_URL", "ws://127.0.0.1:9/ws/chat")
        .env("DATA_DIR", dir.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run blacksky");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&first);
    assert!(
        parsed
            .as_ref()
            .is_ok_and(|line| line.get("level").is_some()),
        "not a JSON log line: {first:?}"
    );
}

/// `blacksky config` shows where each URL points and none of the
/// credentials in it: a password in the userinfo or in `?password=`, a
/// token as the whole userinfo; phone numbers cut to three digits.
#[test]
fn config_masks_every_credential_in_urls_and_every_phone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_blacksky"))
        .arg("config")
        .current_dir(dir.path())
        .env_clear()
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.example:5432/bot?sslmode=require&password=query-pass",
        )
        .env(
            "HEROKU_APP_URL",
            "https://basic:app-pass@my-bot.herokuapp.com",
        )
        .env("WA_WS_URL", "wss://ws-token@web.example/ws/chat")
        .env("OWNER_NUMBER", "+1 555 987 6543")
        .env("PAIRING_NUMBER", "+49 155 612-3456")
        .output()
        .expect("run blacksky config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for secret in [
        "hunter2",
        "query-pass",
        "app-pass",
        "ws-token",
        "5559876",
        "1556123",
    ] {
        assert!(!stdout.contains(secret), "{secret} shown: {stdout}");
    }
    for shown in [
        "DATABASE_URL=postgres://app:***@db.example:5432/bot?sslmode=require&password=***\n",
        "HEROKU_APP_URL=https://basic:***@my-bot.herokuapp.com\n",
        "WA_WS_URL=wss://***@web.example/ws/chat\n",
        "OWNER_NUMBER=…543\n",
        "PRINT_QR=false\n",
        "LOG_FULL_JIDS=false\n",
        "INBOX_RETENTION_DAYS=7\n",
    ] {
        assert!(stdout.contains(shown), "{shown:?} missing: {stdout}");
    }
}
