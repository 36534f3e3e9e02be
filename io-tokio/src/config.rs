//! Configuration: every variable blacksky reads, in one typed struct, read
//! from the environment (and a `.env` file, loaded by the binary before
//! this runs) and validated at start. A bad value stops the start with a
//! message that names the variable and the form it accepts.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// WhatsApp's WebSocket endpoint.
pub const WHATSAPP_WS_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// A variable that failed validation. The value is shown only for
/// variables that hold no secret.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{var}: {problem} (expected {expected})")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
    pub expected: &'static str,
}

/// Where variables come from: the process environment in production, a
/// map in tests.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// How a new device links when it has no stored session.
#[derive(Clone, PartialEq, Eq)]
pub enum Pairing {
    /// Show QR codes (terminal, `qr:` lines, web page).
    Qr,
    /// Ask for an 8-character code to type on the phone.
    Code { phone: String },
}

impl fmt::Debug for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Qr => f.write_str("Qr"),
            Self::Code { phone } => write!(f, "Code {{ phone: {} }}", mask_phone(phone)),
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `WA_WS_URL`: the WhatsApp WebSocket (a local fake-wa in tests).
    pub ws_url: String,
    /// `WA_ROOT_PUBKEY`: the key the server's certificate chain must chain to.
    pub root_pubkey: [u8; 32],
    /// `PAIRING_NUMBER` set → pairing by code, else by QR.
    pub pairing: Pairing,
    /// `DATA_DIR`: where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// `SESSION_ID`: the session's name; every stored row is keyed by it.
    pub session_id: String,
    /// `FRAME_BYTES_MAX`: the largest frame accepted from the server.
    pub frame_bytes_max: usize,
    /// `NODE_ENV` / `BLACKSKY_ENV` = production, or `HEROKU` set → JSON logs.
    pub json_logs: bool,
}

impl Config {
    /// Reads and validates every variable.
    pub fn from_env(env: &impl EnvSource) -> Result<Self, ConfigError> {
        let ws_url = env
            .get("WA_WS_URL")
            .unwrap_or_else(|| WHATSAPP_WS_URL.to_owned());
        if !(ws_url.starts_with("ws://") || ws_url.starts_with("wss://")) || ws_url.len() < 8 {
            return Err(ConfigError {
                var: "WA_WS_URL",
                problem: format!("{ws_url:?} is not a WebSocket URL"),
                expected: "ws://host:port/path or wss://host/path",
            });
        }
        let root_pubkey = match env.get("WA_ROOT_PUBKEY") {
            None => blacksky_core::wire::noise::WA_ROOT_PUBLIC_KEY,
            Some(text) => parse_hex32(&text).ok_or_else(|| ConfigError {
                var: "WA_ROOT_PUBKEY",
                problem: format!("{text:?} is not 32 bytes of hex"),
                expected: "64 hex characters",
            })?,
        };
        let pairing = match env.get("PAIRING_NUMBER").filter(|v| !v.trim().is_empty()) {
            None => Pairing::Qr,
            Some(raw) => Pairing::Code {
                phone: parse_phone(&raw)?,
            },
        };
        let data_dir = PathBuf::from(env.get("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let session_id = env
            .get("SESSION_ID")
            .unwrap_or_else(|| "blacksky".to_owned());
        if session_id.is_empty()
            || session_id.len() > 64
            || !session_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ConfigError {
                var: "SESSION_ID",
                problem: format!("{session_id:?} is not a usable session name"),
                expected: "1 to 64 characters of A-Z a-z 0-9 - _ .",
            });
        }
        let frame_bytes_max = match env.get("FRAME_BYTES_MAX") {
            None => blacksky_core::wire::frame::FRAME_BYTES_MAX_DEFAULT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1024..=blacksky_core::wire::frame::FRAME_BYTES_MAX_WIRE).contains(n))
                .ok_or_else(|| ConfigError {
                    var: "FRAME_BYTES_MAX",
                    problem: format!("{text:?} is out of range"),
                    expected: "a byte count from 1024 to 16777215",
                })?,
        };
        let production = ["NODE_ENV", "BLACKSKY_ENV"].iter().any(|var| {
            env.get(var)
                .is_some_and(|v| v.eq_ignore_ascii_case("production"))
        });
        let json_logs = production
            || env
                .get("HEROKU")
                .is_some_and(|v| parse_bool(&v) == Some(true));
        Ok(Self {
            ws_url,
            root_pubkey,
            pairing,
            data_dir,
            session_id,
            frame_bytes_max,
            json_logs,
        })
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// Accepts `+49 155 612-3456` and the like; keeps the digits.
fn parse_phone(raw: &str) -> Result<String, ConfigError> {
    let allowed = |c: char| c.is_ascii_digit() || " +-()".contains(c);
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !raw.chars().all(allowed) || !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(ConfigError {
            var: "PAIRING_NUMBER",
            problem: format!(
                "{} is not a phone number in international form",
                mask_phone(raw)
            ),
            expected: "country code and number, 7 to 15 digits, e.g. 15550001234",
        });
    }
    Ok(digits)
}

/// Phone numbers are personal data: logs show only the last three digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(3)).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_point_at_whatsapp_with_qr_pairing() {
        let config = Config::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!(config.ws_url, WHATSAPP_WS_URL);
        assert_eq!(
            config.root_pubkey,
            blacksky_core::wire::noise::WA_ROOT_PUBLIC_KEY
        );
        assert_eq!(config.pairing, Pairing::Qr);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert!(!config.json_logs);
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (var, value) in [
            ("WA_WS_URL", "http://example.com"),
            ("WA_ROOT_PUBKEY", "abcd"),
            ("PAIRING_NUMBER", "call me"),
            ("SESSION_ID", "a b"),
            ("FRAME_BYTES_MAX", "12"),
        ] {
            let err = Config::from_env(&env(&[(var, value)])).expect_err(var);
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn pairing_number_keeps_digits_and_never_shows_in_errors_or_debug() {
        let config =
            Config::from_env(&env(&[("PAIRING_NUMBER", "+49 155 612-3456")])).expect("valid");
        assert_eq!(
            config.pairing,
            Pairing::Code {
                phone: "491556123456".into()
            }
        );
        assert!(!format!("{config:?}").contains("1556123"));
        let err =
            Config::from_env(&env(&[("PAIRING_NUMBER", "+49 155 612-3456 ext")])).expect_err("bad");
        assert!(!err.to_string().contains("1556123"), "{err}");
    }

    #[test]
    fn production_env_selects_json_logs() {
        assert!(
            Config::from_env(&env(&[("NODE_ENV", "production")]))
                .expect("valid")
                .json_logs
        );
        assert!(
            Config::from_env(&env(&[("HEROKU", "true")]))
                .expect("valid")
                .json_logs
        );
    }
}
