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
