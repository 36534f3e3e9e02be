//! `blacksky session …`: the session store from the command line, against
//! the store the configuration selects (DATABASE_URL or DATA_DIR) and the
//! session SESSION_ID names.
//!
//! - `export [--compact]`: print the session as one string for SESSION_DATA
//! - `import <string|file> [--force]`: load a session string into the store
//! - `verify`: open the live session and every snapshot generation, print a table
//! - `list`: every session in the database
//! - `wipe --yes`: delete everything of this session

use std::io::Write as _;

use crate::host::config::Config;
use crate::host::redact::mask_jid;
use crate::store::backup::{self, PrepareError, Sealer};
use crate::store::{AnyStore, Store};
use blacksky_core::session::snapshot::KDF_ITERATIONS_DEFAULT;

pub const USAGE: &str = "usage: blacksky session <command>
  export [--compact]            print the session as one string for SESSION_DATA
                                (--compact leaves out the one-time pre-keys)
  import <string|file> [--force] load a session string (or a file holding one)
  verify                        check the live session and every snapshot generation
  list                          list the sessions in the database
  wipe --yes                    delete everything of this session (a new link follows)";

/// Heroku refuses config vars past 32 KB in total.
const HEROKU_CONFIG_BYTES_MAX: usize = 32 * 1024;

/// Runs a session command; returns the exit code.
pub fn main(config: &Config, args: &[String]) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("blacksky: cannot start the runtime: {err}");
            return 1;
        }
    };
    runtime.block_on(run(config, args))
}

fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter().any(|a| a == flag)
}

async fn open(config: &Config) -> Option<AnyStore> {
    match AnyStore::open(config).await {
        Ok(store) => Some(store),
        Err(err) => {
            eprintln!(
                "blacksky: cannot open the store ({}): {err}",
                AnyStore::describe(config)
            );
            None
        }
    }
}

async fn run(config: &Config, args: &[String]) -> i32 {
    let Some(command) = args.first().map(String::as_str) else {
        eprintln!("{USAGE}");
        return 2;
    };
    let rest = &args[1..];
    match command {
        "export" | "import" | "verify" | "list" | "wipe" => {}
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return 0;
        }
        other => {
            eprintln!("blacksky: unknown session command {other:?}\n{USAGE}");
            return 2;
        }
    }
    if command == "wipe" && !has_flag(rest, "--yes") {
        eprintln!(
            "blacksky: `session wipe` deletes session {:?} from {}: its credentials, keys, inbox \
             and every snapshot. The phone will have to link a new device. Run \
             `blacksky session wipe --yes` to do it.",
            config.session_id,
            AnyStore::describe(config)
        );
        return 2;
    }
    if command == "import" && rest.iter().all(|a| a.starts_with("--")) {
        eprintln!("blacksky: `session import` needs a session string or a file\n{USAGE}");
        return 2;
    }
    let Some(mut store) = open(config).await else {
        return 1;
    };
    let mut keys = backup::keyring(config.session_secret.as_ref());
    backup::learn_row_key(&mut keys, &store);
    match command {
        "export" => export(config, &mut store, &mut keys, has_flag(rest, "--compact")).await,
        "import" => import(&mut store, &mut keys, rest).await,
        "verify" => verify(config, &mut store, &mut keys).await,
        "list" => list(&mut store).await,
        _ => wipe(&mut store).await,
    }
}

async fn export(
    config: &Config,
    store: &mut AnyStore,
    keys: &mut blacksky_core::session::snapshot::Keyring,
    compact: bool,
) -> i32 {
    backup::announce_encryption(config.session_secret.as_ref());
    let mut sealer = Sealer::for_store(
        &*store,
        config.session_secret.as_ref(),
        KDF_ITERATIONS_DEFAULT,
    );
    match backup::export(store, keys, &mut sealer, compact).await {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
            if text.len() > HEROKU_CONFIG_BYTES_MAX {
                eprintln!(
                    "note: this string is {} KB; Heroku allows 32 KB of config vars in all. \
                     `blacksky session export --compact` leaves out the one-time pre-keys \
                     (most of the size).",
                    text.len() / 1024
                );
            }
            0
        }
        Err(err) => {
            eprintln!("blacksky: export failed: {err}");
            1
        }
    }
}

async fn import(
    store: &mut AnyStore,
    keys: &mut blacksky_core::session::snapshot::Keyring,
    rest: &[String],
) -> i32 {
    let force = has_flag(rest, "--force");
    let Some(arg) = rest.iter().find(|a| !a.starts_with("--")) else {
        return 2;
    };
    let path = std::path::Path::new(arg);
    let input = if !arg.contains(";;;") && path.is_file() {
        match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("blacksky: cannot read {}: {err}", path.display());
                return 1;
            }
        }
    } else {
        arg.as_bytes().to_vec()
    };
    match backup::import(store, &input, keys, force).await {
        Ok(session) => {
            println!(
                "imported into session {:?}: {}, {} pre-keys, {} Signal sessions",
                store.session_name(),
                session.creds.me.as_ref().map_or_else(
                    || "not linked yet".to_owned(),
                    |me| mask_jid(&me.jid.to_string())
                ),
                session.pre_keys.len(),
                session.sessions.len()
            );
            0
        }
        Err(PrepareError::Refused(refusal)) => {
            eprintln!("{refusal}");
            1
        }
        Err(err) => {
            eprintln!("blacksky: import failed: {err}");
            1
        }
    }
}

async fn verify(
    config: &Config,
    store: &mut AnyStore,
    keys: &mut blacksky_core::session::snapshot::Keyring,
) -> i32 {
    let report = match backup::verify(store, keys).await {
        Ok(report) => report,
        Err(err) => {
            eprintln!("blacksky: verify failed: {err}");
            return 1;
        }
    };
    println!(
        "session {:?} in {}",
        config.session_id,
        AnyStore::describe(config)
    );
    match &report.live {
        Ok(None) => println!("live        none"),
        Ok(Some(device)) => println!("live        ok          {}", device_text(device.as_deref())),
        Err(err) => println!("live        CORRUPT     {err}"),
    }
    println!(
        "{:<11} {:<20} {:>9}  {:<9}  status",
        "generation", "created (UTC)", "bytes", "encrypted"
    );
    for g in &report.generations {
        let encrypted = match &g.header {
            Some(h) if h.encrypted => "yes",
            Some(_) => "no",
            None => "?",
        };
        let status = match &g.verdict {
            Ok(device) => format!("ok ({})", device_text(device.as_deref())),
            Err(err) => format!("BAD: {err}"),
        };
        println!(
            "{:<11} {:<20} {:>9}  {:<9}  {status}",
            g.generation,
            utc(g.created_at.as_millis()),
            g.bytes,
            encrypted
        );
    }
    if report.generations.is_empty() {
        println!("(no snapshots yet)");
    }
    if report.all_ok() { 0 } else { 1 }
}

async fn list(store: &mut AnyStore) -> i32 {
    let sessions = match store.sessions().await {
        Ok(sessions) => sessions,
        Err(err) => {
            eprintln!("blacksky: list failed: {err}");
            return 1;
        }
    };
    println!(
        "{:<24} {:<28} {:>8} {:>7} {:>16} {:>9}  newest snapshot (UTC)",
        "session", "device", "pre-keys", "signal", "inbox (pending)", "snapshots"
    );
    for s in &sessions {
        let device = match &s.device {
            Ok(device) => device_text(device.as_deref()),
            Err(_) => "CORRUPT creds".to_owned(),
        };
        println!(
            "{:<24} {:<28} {:>8} {:>7} {:>16} {:>9}  {}",
            s.name,
            device,
            s.pre_keys,
            s.signal_sessions,
            format!("{} ({})", s.inbox, s.inbox_unhandled),
            s.snapshots,
            s.newest_snapshot_at
                .map_or_else(|| "-".to_owned(), |t| utc(t.as_millis()))
        );
    }
    if sessions.is_empty() {
        println!("(no sessions)");
    }
    0
}

async fn wipe(store: &mut AnyStore) -> i32 {
    match store.wipe().await {
        Ok(()) => {
            println!(
                "wiped session {:?}; the next start links a new device",
                store.session_name()
            );
            0
        }
        Err(err) => {
            eprintln!("blacksky: wipe failed: {err}");
            1
        }
    }
}

fn device_text(device: Option<&str>) -> String {
    device.map_or_else(|| "not linked".to_owned(), mask_jid)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC): the alerts' ISO 8601
/// form, read by people.
pub fn utc(millis: u64) -> String {
    let iso = crate::alerts::body::iso8601(blacksky_core::time::UnixMillis(millis));
    iso.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
    }
}
