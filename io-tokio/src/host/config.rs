//! Configuration: every variable blacksky reads, in one typed struct, read
//! from the environment (and a `.env` file, loaded by the binary before
//! this runs) and validated at start. A bad value stops the start with a
//! message that names the variable and the form it accepts. Names are the
//! ones BLACKSKY-MD documents; where two names mean one thing, the second
//! is an alias.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

use blacksky_bot::commands::role::OWNERS_MAX;
use blacksky_bot::commands::{Language, Prefixes};
use blacksky_core::keeper::{DailyRestart, SPREAD_MINUTES_MAX};
use blacksky_core::session::AppVersion;

use crate::alerts::AlertFormat;
use crate::host::redact::{mask_phone, mask_url, mask_webhook_url};
use crate::media::{CdnTemplate, MediaBaseUrl};

/// WhatsApp's WebSocket endpoint.
pub const WHATSAPP_WS_URL: &str = "wss://web.whatsapp.com/ws/chat";
/// The web client's service worker, whose `client_revision` is the current
/// WhatsApp Web build (what the Node.js bots read after a 405).
pub const WHATSAPP_VERSION_URL: &str = "https://web.whatsapp.com/sw.js";

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

/// A value that must never be printed: `Debug` and `Display` show only
/// whether it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A URL from the configuration. It may carry credentials (a userinfo, a
/// `?password=`), so `Debug` and `Display` show it masked
/// ([`mask_url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct UrlSetting(String);

impl UrlSetting {
    pub fn new(url: impl Into<String>) -> UrlSetting {
        UrlSetting(url.into())
    }

    /// The URL itself, for the one place that connects to it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UrlSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_url(&self.0))
    }
}

impl fmt::Display for UrlSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_url(&self.0))
    }
}

/// A phone number in international form, digits only. Personal data:
/// `Debug` shows the last three digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", mask_phone(&self.0))
    }
}

/// Where QR texts and pairing codes are shown besides the /qr page. Both
/// let whoever reads them link a phone to the bot: a public host's stdout
/// ends up in log drains and add-ons, so there they stay on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDisplay {
    /// On stdout too: a person watches this terminal (a local machine, or
    /// `PRINT_QR=true`).
    Terminal,
    /// Only on the /qr page: a public host (`HEROKU`, `DYNO`, `CLOUD_MODE`,
    /// production, `HEROKU_APP_URL`), or `PRINT_QR=false`.
    PageOnly,
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
    // --- connection ---
    /// `WA_WS_URL`: the WhatsApp WebSocket (a local fake-wa in tests).
    pub ws_url: UrlSetting,
    /// `WA_ROOT_PUBKEY`: the key the server's certificate chain must chain to.
    pub root_pubkey: [u8; 32],
    /// `PAIRING_NUMBER` set → pairing by code, else by QR.
    pub pairing: Pairing,
    /// `FRAME_BYTES_MAX`: the largest frame accepted from the server.
    pub frame_bytes_max: usize,
    /// `WA_VERSION`: the client version to log in with, whatever was
    /// learnt after a 405; unset → the learnt one, else the built-in one.
    pub wa_version: Option<AppVersion>,
    /// `WA_VERSION_URL`: where the current version is looked up after a
    /// 405 (the web client's sw.js; a fake-wa in tests).
    pub wa_version_url: UrlSetting,
    // --- session and storage ---
    /// `SESSION_ID`: the session's name (rows are keyed by it; exported
    /// session strings start with it).
    pub session_id: String,
    /// `DATABASE_URL`: PostgreSQL; unset → the embedded SQLite store.
    pub database_url: Option<Secret>,
    /// `DATA_DIR`: where the embedded store keeps its files.
    pub data_dir: PathBuf,
    /// `SESSION_DATA` (alias `WA_SESSION_DATA`): a session string to
    /// import when the store is empty.
    pub session_data: Option<Secret>,
    /// `SESSION_SECRET`: encrypts snapshots at rest.
    pub session_secret: Option<Secret>,
    /// `ENABLE_SESSION_BACKUP`: periodic snapshots on (default) or off.
    pub session_backup: bool,
    /// `BACKUP_INTERVAL` (alias `SESSION_BACKUP_INTERVAL`), minutes.
    pub backup_interval_min: u64,
    /// `SESSION_BACKUP_KEEP`: snapshot generations kept.
    pub backup_keep: u32,
    /// `INBOX_RETENTION_DAYS`: handled inbox rows and sent outbox rows
    /// older than this are deleted; 0 keeps them forever.
    pub inbox_retention_days: u32,
    // --- keeper ---
    /// `RECONNECT_BASE_MS`, `RECONNECT_MAX_MS`: backoff bounds.
    pub reconnect_base_ms: u64,
    pub reconnect_max_ms: u64,
    /// `MAX_RECONNECT_ATTEMPTS`: 0 = unlimited.
    pub max_reconnect_attempts: u32,
    /// `SHUTDOWN_GRACE_MS`: SIGTERM to exit, at most.
    pub shutdown_grace_ms: u64,
    /// `MEMORY_LIMIT_MB` (alias `MAX_MEMORY_MB`).
    pub memory_limit_mb: Option<u64>,
    /// `ENABLE_MEMORY_OPTIMIZATION`: shed caches and restart when over the limit.
    pub memory_optimization: bool,
    // --- HTTP ---
    /// `ENABLE_HEALTH_CHECK`: the HTTP server (health, status, QR page).
    pub health_check: bool,
    /// `PORT` (alias `HEALTH_CHECK_PORT`).
    pub port: u16,
    /// `QR_TOKEN`: protects the /qr pairing page.
    pub qr_token: Option<Secret>,
    /// `HEROKU_APP_URL`: pinged every `ANTI_IDLE_MINUTES` when set.
    pub heroku_app_url: Option<UrlSetting>,
    pub anti_idle_min: u64,
    // --- environment ---
    /// `HEROKU`, or `DYNO` (which Heroku sets on every dyno) when `HEROKU`
    /// is unset: running on Heroku (JSON logs, public-host rules).
    pub heroku: bool,
    /// `CLOUD_MODE`: a public host without a terminal (same rules as Heroku).
    pub cloud_mode: bool,
    /// `NODE_ENV` / `BLACKSKY_ENV` = production.
    pub production: bool,
    /// `PRINT_QR` and the host: where QR texts and pairing codes show.
    pub code_display: CodeDisplay,
    /// `LOG_FULL_JIDS`: logs show JIDs and phone numbers whole (masked to
    /// the last three digits by default).
    pub log_full_jids: bool,
    /// `NODE_ENV` / `BLACKSKY_ENV` = production, `HEROKU` or `CLOUD_MODE`
    /// → JSON logs.
    pub json_logs: bool,
    /// `RUST_LOG`: the log filter (checked at start: a filter that does not
    /// parse stops the start instead of logging at some other level).
    pub log_filter: String,
    /// `OWNER_NUMBER`: the owners' phones (digits), a comma list; the
    /// first one is the one `ALERT_OWNER` writes to.
    pub owner_numbers: Vec<PhoneNumber>,
    // --- media ---
    /// `USE_CDN_MEDIA` with `REACTION_CDN_URL`: where reaction clips come
    /// from.
    pub reaction_clips: ReactionClips,
    /// `MEDIA_CACHE_MB`: the disk cache of clips fetched from the CDN
    /// (in `DATA_DIR/media-cache`), in megabytes.
    pub media_cache_mb: u64,
    /// `WA_MEDIA_URL`: uploads and downloads go to this base instead of
    /// the hosts `media_conn` names (a local fake-wa in tests).
    pub media_url: Option<MediaBaseUrl>,
    // --- the operator's console ---
    /// `ALERT_WEBHOOK_URL`: where alerts are POSTed. A secret: incoming
    /// webhooks carry their token in the path.
    pub alert_webhook_url: Option<Secret>,
    /// `ALERT_FORMAT`: the body's shape (json, slack, discord).
    pub alert_format: AlertFormat,
    /// `ALERT_OFFLINE_MINUTES`: offline (or the store down) this long is an
    /// incident.
    pub alert_offline_min: u64,
    /// `ALERT_OWNER`: also tell the owner (`OWNER_NUMBER`) on WhatsApp
    /// when the bot is back.
    pub alert_owner: bool,
    /// `RESTART_AT` (HH:MM, UTC) and `RESTART_SPREAD_MINUTES`: the keeper's
    /// own graceful cycle once a day.
    pub daily_restart: Option<DailyRestart>,
    /// `AUTO_REPLY_FILE`: the auto-reply rules.
    pub auto_replies: AutoReplySource,
    /// `RATE_LIMIT_PER_MIN`: answers per sender and minute, 0 for no limit.
    pub rate_limit_per_min: u32,
    /// `SEND_READ_RECEIPTS`: mark what contacts write as read once stored.
    pub send_read_receipts: bool,
    /// `SEND_TYPING`: show "typing…" while an answer is sealed.
    pub send_typing: bool,
    // --- bot commands ---
    /// `COMMANDS`: answer `.menu`, `.ping`, … (`on`, the default; `off`).
    pub commands: bool,
    /// `PREFIX`: the signs a command starts with (a `.setprefix` stored
    /// later wins).
    pub prefixes: Prefixes,
    /// `LANGUAGE`: the bot's language (a `.lang` stored later wins).
    pub language: Language,
}

/// Where reaction clips come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactionClips {
    /// The clips built into the binary (`USE_CDN_MEDIA=false`).
    Shipped,
    /// `USE_CDN_MEDIA=true`: from `REACTION_CDN_URL` first (cached on
    /// disk), the shipped clip whenever the CDN fails.
    CdnFirst(CdnTemplate),
}

/// Where the auto-reply rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReplySource {
    /// `./auto-replies.toml`, used when it exists.
    Default(PathBuf),
    /// The file `AUTO_REPLY_FILE` names: it must exist.
    Named(PathBuf),
}

/// The auto-reply file looked for when `AUTO_REPLY_FILE` is not set.
pub const AUTO_REPLY_FILE_DEFAULT: &str = "./auto-replies.toml";

/// Reads variables by their names (primary first, then aliases).
struct Reader<'a, E: EnvSource> {
    env: &'a E,
}

impl<E: EnvSource> Reader<'_, E> {
    /// The first non-empty value among `names`, with the name it came from.
    fn raw(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|name| {
            self.env
                .get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v.trim().to_owned()))
        })
    }

    fn string(&self, names: &[&'static str], default: &str) -> String {
        self.raw(names)
            .map_or_else(|| default.to_owned(), |(_, v)| v)
    }

    fn secret(&self, names: &[&'static str]) -> Option<Secret> {
        self.raw(names).map(|(_, v)| Secret(v))
    }

    fn bool(&self, names: &[&'static str], default: bool) -> Result<bool, ConfigError> {
        match self.raw(names) {
            None => Ok(default),
            Some((var, text)) => parse_bool(&text).ok_or_else(|| ConfigError {
                var,
                problem: format!("{text:?} is not a yes/no value"),
                expected: "true or false (also 1/0, yes/no, on/off)",
            }),
        }
    }

    fn number<T>(
        &self,
        names: &[&'static str],
        default: T,
        range: (T, T),
        expected: &'static str,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Copy,
    {
        match self.raw(names) {
            None => Ok(default),
            Some((var, text)) => text
                .parse::<T>()
                .ok()
                .filter(|n| *n >= range.0 && *n <= range.1)
                .ok_or_else(|| ConfigError {
                    var,
                    problem: format!("{text:?} is out of range"),
                    expected,
                }),
        }
    }

    fn optional_number(
        &self,
        names: &[&'static str],
        range: (u64, u64),
        expected: &'static str,
    ) -> Result<Option<u64>, ConfigError> {
        match self.raw(names) {
            None => Ok(None),
            Some(_) => self.number(names, 0, range, expected).map(Some),
        }
    }
}

impl Config {
    /// Reads and validates every variable.
    pub fn from_env(env: &impl EnvSource) -> Result<Self, ConfigError> {
        let r = Reader { env };
        let ws_url = r.string(&["WA_WS_URL"], WHATSAPP_WS_URL);
        if !(ws_url.starts_with("ws://") || ws_url.starts_with("wss://")) || ws_url.len() < 8 {
            return Err(ConfigError {
                var: "WA_WS_URL",
                problem: format!("{:?} is not a WebSocket URL", mask_url(&ws_url)),
                expected: "ws://host:port/path or wss://host/path",
            });
        }
        let ws_url = UrlSetting(ws_url);
        let root_pubkey = match r.raw(&["WA_ROOT_PUBKEY"]) {
            None => blacksky_core::wire::noise::WA_ROOT_PUBLIC_KEY,
            Some((var, text)) => parse_hex32(&text).ok_or_else(|| ConfigError {
                var,
                problem: format!("{text:?} is not 32 bytes of hex"),
                expected: "64 hex characters",
            })?,
        };
        let wa_version = match r.raw(&["WA_VERSION"]) {
            None => None,
            Some((var, text)) => Some(text.parse::<AppVersion>().map_err(|err| ConfigError {
                var,
                problem: err.to_string(),
                expected: "primary.secondary.build, like 2.3000.1015901307",
            })?),
        };
        let wa_version_url = r.string(&["WA_VERSION_URL"], WHATSAPP_VERSION_URL);
        if !http_url(&wa_version_url) {
            return Err(ConfigError {
                var: "WA_VERSION_URL",
                problem: format!("{:?} is not an http(s) URL", mask_url(&wa_version_url)),
                expected: "https://web.whatsapp.com/sw.js or a test server's http(s) URL",
            });
        }
        let wa_version_url = UrlSetting(wa_version_url);
        let pairing = match r.raw(&["PAIRING_NUMBER"]) {
            None => Pairing::Qr,
            Some((var, raw)) => Pairing::Code {
                phone: parse_phone(var, &raw)?,
            },
        };
        let session_id = r.string(&["SESSION_ID"], "BLACKSKY-MD");
        if session_id.len() > 64
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
        let database_url = r.secret(&["DATABASE_URL"]);
        if let Some(url) = &database_url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            return Err(ConfigError {
                var: "DATABASE_URL",
                problem: format!("{} is not a PostgreSQL URL", mask_url(url.expose())),
                expected: "postgres://user:password@host:port/database",
            });
        }
        // Heroku sets DYNO on every dyno; an explicit HEROKU wins.
        let heroku = r.bool(&["HEROKU"], r.raw(&["DYNO"]).is_some())?;
        let production = ["NODE_ENV", "BLACKSKY_ENV"].iter().any(|var| {
            env.get(var)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("production"))
        });
        let heroku_app_url = r.raw(&["HEROKU_APP_URL"]).map(|(var, url)| {
            if url.starts_with("http://") || url.starts_with("https://") {
                Ok(UrlSetting(url.trim_end_matches('/').to_owned()))
            } else {
                Err(ConfigError {
                    var,
                    problem: format!("{:?} is not an http(s) URL", mask_url(&url)),
                    expected: "https://your-app.herokuapp.com",
                })
            }
        });
        let log_filter = r.string(&["RUST_LOG"], "info");
        if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(&log_filter) {
            return Err(ConfigError {
                var: "RUST_LOG",
                problem: format!("{log_filter:?} is not a log filter: {err}"),
                expected: "a level (error, warn, info, debug, trace) or target=level pairs, e.g. info,blacksky_io=debug",
            });
        }
        let cloud_mode = r.bool(&["CLOUD_MODE"], false)?;
        let owner_numbers = match r.raw(&["OWNER_NUMBER"]) {
            None => Vec::new(),
            Some((var, raw)) => parse_phones(var, &raw)?,
        };
        let prefixes = match r.raw(&["PREFIX"]) {
            None => Prefixes::default(),
            Some((var, raw)) => Prefixes::new(&raw).map_err(|err| ConfigError {
                var,
                problem: err.to_string(),
                expected: "1 to 8 signs that are no letter, digit or space, e.g. . or .!",
            })?,
        };
        let language = match r.raw(&["LANGUAGE"]) {
            None => Language::default(),
            Some((var, raw)) => raw.parse::<Language>().map_err(|err| ConfigError {
                var,
                problem: err.to_string(),
                expected: "en or de",
            })?,
        };
        let heroku_app_url = heroku_app_url.transpose()?;
        let alert_webhook_url = match r.raw(&["ALERT_WEBHOOK_URL"]) {
            None => None,
            Some((var, url)) => {
                if !http_url(&url) {
                    return Err(ConfigError {
                        var,
                        problem: format!("{:?} is not an http(s) URL", mask_webhook_url(&url)),
                        expected: "https://hooks.slack.com/services/… or any http(s) URL that takes a POST",
                    });
                }
                Some(Secret(url))
            }
        };
        let alert_format = match r.raw(&["ALERT_FORMAT"]) {
            None => AlertFormat::Json,
            Some((var, text)) => AlertFormat::parse(&text).ok_or_else(|| ConfigError {
                var,
                problem: format!("{text:?} is not a known format"),
                expected: "json, slack or discord",
            })?,
        };
        let daily_restart = match r.raw(&["RESTART_AT"]) {
            None => None,
            Some((var, text)) => Some(DailyRestart {
                minute_of_day: parse_hh_mm(&text).ok_or_else(|| ConfigError {
                    var,
                    problem: format!("{text:?} is not a time of day"),
                    expected: "HH:MM in UTC, 00:00 to 23:59, e.g. 04:30",
                })?,
                spread_minutes: r.number(
                    &["RESTART_SPREAD_MINUTES"],
                    30,
                    (0, SPREAD_MINUTES_MAX),
                    "minutes from 0 to 180",
                )?,
            }),
        };
        // Checked even without RESTART_AT: a typo must not go unnoticed.
        r.number(
            &["RESTART_SPREAD_MINUTES"],
            30,
            (0, SPREAD_MINUTES_MAX),
            "minutes from 0 to 180",
        )?;
        let reaction_clips = read_reaction_clips(&r)?;
        let media_url = match r.raw(&["WA_MEDIA_URL"]) {
            None => None,
            Some((var, raw)) => Some(MediaBaseUrl::parse(&raw).map_err(|err| ConfigError {
                var,
                problem: err.problem.to_owned(),
                expected: "http(s)://host[:port][/prefix], e.g. http://127.0.0.1:8789",
            })?),
        };
        let public_host = heroku || cloud_mode || production || heroku_app_url.is_some();
        let code_display = match r.bool(&["PRINT_QR"], !public_host)? {
            true => CodeDisplay::Terminal,
            false => CodeDisplay::PageOnly,
        };
        Ok(Config {
            ws_url,
            root_pubkey,
            wa_version,
            wa_version_url,
            pairing,
            frame_bytes_max: r.number(
                &["FRAME_BYTES_MAX"],
                blacksky_core::wire::frame::FRAME_BYTES_MAX_DEFAULT,
                (1024, blacksky_core::wire::frame::FRAME_BYTES_MAX_WIRE),
                "a byte count from 1024 to 16777215",
            )?,
            session_id,
            database_url,
            data_dir: PathBuf::from(r.string(&["DATA_DIR"], "./data")),
            session_data: r.secret(&["SESSION_DATA", "WA_SESSION_DATA"]),
            session_secret: r.secret(&["SESSION_SECRET"]),
            session_backup: r.bool(&["ENABLE_SESSION_BACKUP"], true)?,
            backup_interval_min: r.number(
                &["BACKUP_INTERVAL", "SESSION_BACKUP_INTERVAL"],
                30,
                (1, 7 * 24 * 60),
                "minutes from 1 to 10080",
            )?,
            backup_keep: r.number(
                &["SESSION_BACKUP_KEEP"],
                5,
                (1, 100),
                "a count from 1 to 100",
            )?,
            inbox_retention_days: r.number(
                &["INBOX_RETENTION_DAYS"],
                7,
                (0, 36_500),
                "days from 1 to 36500, or 0 to keep handled messages forever",
            )?,
            reconnect_base_ms: r.number(
                &["RECONNECT_BASE_MS"],
                1_000,
                (10, 600_000),
                "milliseconds from 10 to 600000",
            )?,
            reconnect_max_ms: r.number(
                &["RECONNECT_MAX_MS"],
                60_000,
                (10, 3_600_000),
                "milliseconds from 10 to 3600000",
            )?,
            max_reconnect_attempts: r.number(
                &["MAX_RECONNECT_ATTEMPTS"],
                0,
                (0, 1_000_000),
                "a count, 0 for unlimited",
            )?,
            shutdown_grace_ms: r.number(
                &["SHUTDOWN_GRACE_MS"],
                25_000,
                (100, 600_000),
                "milliseconds from 100 to 600000",
            )?,
            memory_limit_mb: r.optional_number(
                &["MEMORY_LIMIT_MB", "MAX_MEMORY_MB"],
                (16, 1 << 20),
                "megabytes, at least 16",
            )?,
            memory_optimization: r.bool(&["ENABLE_MEMORY_OPTIMIZATION"], true)?,
            health_check: r.bool(&["ENABLE_HEALTH_CHECK"], true)?,
            port: r.number(
                &["PORT", "HEALTH_CHECK_PORT"],
                8080,
                (0, 65_535),
                "a TCP port from 0 to 65535",
            )?,
            qr_token: r.secret(&["QR_TOKEN"]),
            heroku_app_url,
            anti_idle_min: r.number(
                &["ANTI_IDLE_MINUTES"],
                20,
                (1, 24 * 60),
                "minutes from 1 to 1440",
            )?,
            heroku,
            cloud_mode,
            production,
            code_display,
            log_full_jids: r.bool(&["LOG_FULL_JIDS"], false)?,
            json_logs: production || heroku || cloud_mode,
            log_filter,
            owner_numbers,
            reaction_clips,
            media_cache_mb: r.number(
                &["MEDIA_CACHE_MB"],
                MEDIA_CACHE_MB_DEFAULT,
                (1, 4096),
                "megabytes from 1 to 4096",
            )?,
            media_url,
            alert_webhook_url,
            alert_format,
            alert_offline_min: r.number(
                &["ALERT_OFFLINE_MINUTES"],
                5,
                (1, 24 * 60),
                "minutes from 1 to 1440",
            )?,
            alert_owner: r.bool(&["ALERT_OWNER"], false)?,
            daily_restart,
            auto_replies: match r.raw(&["AUTO_REPLY_FILE"]) {
                None => AutoReplySource::Default(PathBuf::from(AUTO_REPLY_FILE_DEFAULT)),
                Some((_, path)) => AutoReplySource::Named(PathBuf::from(path)),
            },
            rate_limit_per_min: r.number(
                &["RATE_LIMIT_PER_MIN"],
                30,
                (0, 10_000),
                "answers per sender and minute, 0 to 10000 (0: no limit)",
            )?,
            send_read_receipts: r.bool(&["SEND_READ_RECEIPTS"], false)?,
            send_typing: r.bool(&["SEND_TYPING"], false)?,
            commands: r.bool(&["COMMANDS"], true)?,
            prefixes,
            language,
        })
        .and_then(Config::check_consistency)
    }

    fn check_consistency(self) -> Result<Config, ConfigError> {
        if self.reconnect_max_ms < self.reconnect_base_ms {
            return Err(ConfigError {
                var: "RECONNECT_MAX_MS",
                problem: format!(
                    "{} is below RECONNECT_BASE_MS ({})",
                    self.reconnect_max_ms, self.reconnect_base_ms
                ),
                expected: "a value at least RECONNECT_BASE_MS",
            });
        }
        Ok(self)
    }

    /// A public host with no terminal: the QR page needs a token there.
    pub fn is_public_host(&self) -> bool {
        self.heroku || self.cloud_mode || self.heroku_app_url.is_some()
    }

    /// The effective configuration as `NAME=value` lines, secrets masked
    /// (what `blacksky config` prints).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secret = |s: &Option<Secret>| {
            if s.is_some() {
                "<set>".to_owned()
            } else {
                "<unset>".to_owned()
            }
        };
        vec![
            ("WA_WS_URL", self.ws_url.to_string()),
            ("WA_ROOT_PUBKEY", hex::encode(self.root_pubkey)),
            (
                "WA_VERSION",
                self.wa_version.map_or_else(
                    || "<unset> (the version learnt after a 405, else the built-in one)".to_owned(),
                    |v| v.to_string(),
                ),
            ),
            ("WA_VERSION_URL", self.wa_version_url.to_string()),
            (
                "PAIRING_NUMBER",
                match &self.pairing {
                    Pairing::Qr => "<unset> (pair by QR)".to_owned(),
                    Pairing::Code { phone } => mask_phone(phone),
                },
            ),
            ("FRAME_BYTES_MAX", self.frame_bytes_max.to_string()),
            ("SESSION_ID", self.session_id.clone()),
            (
                "DATABASE_URL",
                self.database_url.as_ref().map_or_else(
                    || "<unset> (embedded SQLite)".to_owned(),
                    |u| mask_url(u.expose()),
                ),
            ),
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("SESSION_DATA", secret(&self.session_data)),
            ("SESSION_SECRET", secret(&self.session_secret)),
            ("ENABLE_SESSION_BACKUP", self.session_backup.to_string()),
            ("BACKUP_INTERVAL", self.backup_interval_min.to_string()),
            ("SESSION_BACKUP_KEEP", self.backup_keep.to_string()),
            (
                "INBOX_RETENTION_DAYS",
                self.inbox_retention_days.to_string(),
            ),
            ("RECONNECT_BASE_MS", self.reconnect_base_ms.to_string()),
            ("RECONNECT_MAX_MS", self.reconnect_max_ms.to_string()),
            (
                "MAX_RECONNECT_ATTEMPTS",
                self.max_reconnect_attempts.to_string(),
            ),
            ("SHUTDOWN_GRACE_MS", self.shutdown_grace_ms.to_string()),
            (
                "MEMORY_LIMIT_MB",
                self.memory_limit_mb
                    .map_or_else(|| "<unset>".to_owned(), |m| m.to_string()),
            ),
            (
                "ENABLE_MEMORY_OPTIMIZATION",
                self.memory_optimization.to_string(),
            ),
            ("ENABLE_HEALTH_CHECK", self.health_check.to_string()),
            ("PORT", self.port.to_string()),
            ("QR_TOKEN", secret(&self.qr_token)),
            (
                "HEROKU_APP_URL",
                self.heroku_app_url
                    .as_ref()
                    .map_or_else(|| "<unset>".to_owned(), UrlSetting::to_string),
            ),
            ("ANTI_IDLE_MINUTES", self.anti_idle_min.to_string()),
            ("HEROKU", self.heroku.to_string()),
            ("CLOUD_MODE", self.cloud_mode.to_string()),
            (
                "PRINT_QR",
                (self.code_display == CodeDisplay::Terminal).to_string(),
            ),
            ("LOG_FULL_JIDS", self.log_full_jids.to_string()),
            ("JSON_LOGS", self.json_logs.to_string()),
            ("RUST_LOG", self.log_filter.clone()),
            (
                "OWNER_NUMBER",
                if self.owner_numbers.is_empty() {
                    "<unset>".to_owned()
                } else {
                    self.owner_numbers
                        .iter()
                        .map(|p| mask_phone(p.digits()))
                        .collect::<Vec<_>>()
                        .join(",")
                },
            ),
            (
                "USE_CDN_MEDIA",
                matches!(self.reaction_clips, ReactionClips::CdnFirst(_)).to_string(),
            ),
            (
                "REACTION_CDN_URL",
                match &self.reaction_clips {
                    ReactionClips::Shipped => "<unset> (the shipped clips)".to_owned(),
                    ReactionClips::CdnFirst(template) => mask_url(template.as_str()),
                },
            ),
            ("MEDIA_CACHE_MB", self.media_cache_mb.to_string()),
            (
                "WA_MEDIA_URL",
                self.media_url.as_ref().map_or_else(
                    || "<unset> (the hosts media_conn names)".to_owned(),
                    |url| mask_url(url.as_str()),
                ),
            ),
            (
                "ALERT_WEBHOOK_URL",
                self.alert_webhook_url.as_ref().map_or_else(
                    || "<unset> (alerts only in the log and on /status)".to_owned(),
                    |u| mask_webhook_url(u.expose()),
                ),
            ),
            ("ALERT_FORMAT", self.alert_format.as_str().to_owned()),
            ("ALERT_OFFLINE_MINUTES", self.alert_offline_min.to_string()),
            ("ALERT_OWNER", self.alert_owner.to_string()),
            (
                "RESTART_AT",
                self.daily_restart.map_or_else(
                    || "<unset>".to_owned(),
                    |d| format!("{:02}:{:02}", d.minute_of_day / 60, d.minute_of_day % 60),
                ),
            ),
            (
                "RESTART_SPREAD_MINUTES",
                self.daily_restart
                    .map_or_else(|| "<unset>".to_owned(), |d| d.spread_minutes.to_string()),
            ),
            (
                "AUTO_REPLY_FILE",
                match &self.auto_replies {
                    AutoReplySource::Default(path) => {
                        format!("<unset> ({} when it exists)", path.display())
                    }
                    AutoReplySource::Named(path) => path.display().to_string(),
                },
            ),
            ("RATE_LIMIT_PER_MIN", self.rate_limit_per_min.to_string()),
            ("SEND_READ_RECEIPTS", self.send_read_receipts.to_string()),
            ("SEND_TYPING", self.send_typing.to_string()),
            ("COMMANDS", self.commands.to_string()),
            ("PREFIX", self.prefixes.as_str().to_owned()),
            ("LANGUAGE", self.language.code().to_owned()),
        ]
    }
}

/// `MEDIA_CACHE_MB` when unset.
pub const MEDIA_CACHE_MB_DEFAULT: u64 = 32;

/// `USE_CDN_MEDIA` and `REACTION_CDN_URL`: the CDN is used only when both
/// say so; `true` without a template is a mistake, said at start.
fn read_reaction_clips<E: EnvSource>(r: &Reader<'_, E>) -> Result<ReactionClips, ConfigError> {
    let template = match r.raw(&["REACTION_CDN_URL"]) {
        None => None,
        Some((var, raw)) => Some(CdnTemplate::parse(&raw).map_err(|err| ConfigError {
            var,
            problem: err.problem.to_owned(),
            expected: "an http(s) URL with {name}, e.g. https://cdn.example/reactions/{name}.mp4",
        })?),
    };
    match (r.bool(&["USE_CDN_MEDIA"], false)?, template) {
        (false, _) => Ok(ReactionClips::Shipped),
        (true, Some(template)) => Ok(ReactionClips::CdnFirst(template)),
        (true, None) => Err(ConfigError {
            var: "USE_CDN_MEDIA",
            problem: "is true but REACTION_CDN_URL is not set".to_owned(),
            expected: "REACTION_CDN_URL set too (a URL template with {name}), or false",
        }),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `HH:MM` (24-hour) as minutes since midnight.
fn parse_hh_mm(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// An http(s) URL with a host.
fn http_url(url: &str) -> bool {
    let parsed: Option<hyper::Uri> = url.parse().ok();
    (url.starts_with("http://") || url.starts_with("https://"))
        && parsed.is_some_and(|uri| uri.host().is_some_and(|h| !h.is_empty()))
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// A comma list of phone numbers (`OWNER_NUMBER`); an empty entry is
/// skipped, a number given twice kept once.
fn parse_phones(var: &'static str, raw: &str) -> Result<Vec<PhoneNumber>, ConfigError> {
    let mut numbers: Vec<PhoneNumber> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let number = PhoneNumber(parse_phone(var, entry)?);
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    if numbers.len() > OWNERS_MAX {
        return Err(ConfigError {
            var,
            problem: format!("{} numbers are too many", numbers.len()),
            expected: "at most 32 numbers, separated by commas",
        });
    }
    Ok(numbers)
}

/// Accepts `+49 155 612-3456` and the like; keeps the digits.
fn parse_phone(var: &'static str, raw: &str) -> Result<String, ConfigError> {
    let allowed = |c: char| c.is_ascii_digit() || " +-()".contains(c);
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !raw.chars().all(allowed) || !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(ConfigError {
            var,
            problem: format!(
                "{} is not a phone number in international form",
                mask_phone(raw)
            ),
            expected: "country code and number, 7 to 15 digits, e.g. 15550001234",
        });
    }
    Ok(digits)
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
    fn defaults_point_at_whatsapp_with_qr_pairing_and_sqlite() {
        let config = Config::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!(config.ws_url.expose(), WHATSAPP_WS_URL);
        assert_eq!(
            config.root_pubkey,
            blacksky_core::wire::noise::WA_ROOT_PUBLIC_KEY
        );
        assert_eq!(config.pairing, Pairing::Qr);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.session_id, "BLACKSKY-MD");
        assert_eq!(config.database_url, None);
        assert_eq!((config.backup_interval_min, config.backup_keep), (30, 5));
        assert_eq!(
            (
                config.reconnect_base_ms,
                config.reconnect_max_ms,
                config.max_reconnect_attempts
            ),
            (1_000, 60_000, 0)
        );
        assert_eq!(config.shutdown_grace_ms, 25_000);
        assert!(config.health_check && !config.json_logs && !config.is_public_host());
    }

    #[test]
    fn the_client_version_and_its_lookup_are_read() {
        let defaults = Config::from_env(&env(&[])).expect("valid");
        assert_eq!(defaults.wa_version, None);
        assert_eq!(defaults.wa_version_url.expose(), WHATSAPP_VERSION_URL);
        let config = Config::from_env(&env(&[
            ("WA_VERSION", "2.3000.1015901307"),
            ("WA_VERSION_URL", "http://127.0.0.1:8788/sw.js"),
        ]))
        .expect("valid");
        assert_eq!(
            config.wa_version,
            Some(AppVersion([2, 3000, 1_015_901_307]))
        );
        assert_eq!(
            config.wa_version_url.expose(),
            "http://127.0.0.1:8788/sw.js"
        );
        let shown: HashMap<_, _> = config.describe().into_iter().collect();
        assert_eq!(shown["WA_VERSION"], "2.3000.1015901307");
        assert_eq!(shown["WA_VERSION_URL"], "http://127.0.0.1:8788/sw.js");
    }

    #[test]
    fn the_command_settings_are_read() {
        let config = Config::from_env(&env(&[
            ("OWNER_NUMBER", "+49 155 6123456, 15550001111,15550001111"),
            ("PREFIX", ".!"),
            ("LANGUAGE", "DE"),
            ("COMMANDS", "off"),
        ]))
        .expect("valid");
        let owners: Vec<&str> = config.owner_numbers.iter().map(|p| p.digits()).collect();
        assert_eq!(owners, ["491556123456", "15550001111"]);
        assert_eq!(config.prefixes.as_str(), ".!");
        assert_eq!(config.language, Language::De);
        assert!(!config.commands);
        let defaults = Config::from_env(&env(&[])).expect("valid");
        assert!(defaults.commands && defaults.owner_numbers.is_empty());
        assert_eq!(defaults.prefixes.as_str(), ".");
        assert_eq!(defaults.language, Language::En);
    }

    #[test]
    fn the_media_settings_are_read() {
        let defaults = Config::from_env(&env(&[])).expect("valid");
        assert_eq!(defaults.reaction_clips, ReactionClips::Shipped);
        assert_eq!(defaults.media_cache_mb, MEDIA_CACHE_MB_DEFAULT);
        assert_eq!(defaults.media_url, None);
        // A template alone changes nothing: USE_CDN_MEDIA turns it on.
        let template_only = Config::from_env(&env(&[(
            "REACTION_CDN_URL",
            "https://cdn.example/r/{name}.mp4",
        )]))
        .expect("valid");
        assert_eq!(template_only.reaction_clips, ReactionClips::Shipped);
        let config = Config::from_env(&env(&[
            ("USE_CDN_MEDIA", "true"),
            ("REACTION_CDN_URL", "https://cdn.example/r/{name}.mp4"),
            ("MEDIA_CACHE_MB", "8"),
            ("WA_MEDIA_URL", "http://127.0.0.1:8789/"),
        ]))
        .expect("valid");
        let ReactionClips::CdnFirst(template) = &config.reaction_clips else {
            panic!("the CDN is on");
        };
        assert_eq!(template.url_for("hug"), "https://cdn.example/r/hug.mp4");
        assert_eq!(config.media_cache_mb, 8);
        assert_eq!(
            config.media_url.as_ref().map(MediaBaseUrl::as_str),
            Some("http://127.0.0.1:8789")
        );
        let described: HashMap<_, _> = config.describe().into_iter().collect();
        assert_eq!(described["USE_CDN_MEDIA"], "true");
        assert_eq!(described["MEDIA_CACHE_MB"], "8");
        assert!(described["REACTION_CDN_URL"].contains("cdn.example"));
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (var, value) in [
            ("WA_WS_URL", "http://example.com"),
            ("WA_ROOT_PUBKEY", "abcd"),
            ("WA_VERSION", "2.3000"),
            ("WA_VERSION", "latest"),
            ("WA_VERSION_URL", "web.whatsapp.com/sw.js"),
            ("PAIRING_NUMBER", "call me"),
            ("SESSION_ID", "a b"),
            ("FRAME_BYTES_MAX", "12"),
            ("DATABASE_URL", "mysql://x"),
            ("ENABLE_SESSION_BACKUP", "maybe"),
            ("BACKUP_INTERVAL", "0"),
            ("SESSION_BACKUP_KEEP", "-1"),
            ("RECONNECT_BASE_MS", "fast"),
            ("MAX_RECONNECT_ATTEMPTS", "x"),
            ("SHUTDOWN_GRACE_MS", "1"),
            ("MEMORY_LIMIT_MB", "2"),
            ("PORT", "70000"),
            ("HEROKU_APP_URL", "myapp.herokuapp.com"),
            ("ANTI_IDLE_MINUTES", "0"),
            ("OWNER_NUMBER", "12"),
            ("OWNER_NUMBER", "15550001111,12"),
            ("PREFIX", "ab"),
            ("LANGUAGE", "fr"),
            ("COMMANDS", "maybe"),
            ("HEROKU", "sure"),
            ("CLOUD_MODE", "sometimes"),
            ("RUST_LOG", "blacksky=loud"),
            ("ALERT_WEBHOOK_URL", "hooks.slack.com/x"),
            ("ALERT_FORMAT", "teams"),
            ("ALERT_OFFLINE_MINUTES", "0"),
            ("ALERT_OWNER", "perhaps"),
            ("RESTART_AT", "25:00"),
            ("RESTART_AT", "4"),
            ("RESTART_AT", "04:5"),
            ("RESTART_SPREAD_MINUTES", "181"),
            ("USE_CDN_MEDIA", "maybe"),
            ("USE_CDN_MEDIA", "true"),
            ("REACTION_CDN_URL", "cdn.example/{name}.mp4"),
            ("REACTION_CDN_URL", "https://cdn.example/hug.mp4"),
            ("MEDIA_CACHE_MB", "0"),
            ("WA_MEDIA_URL", "ws://127.0.0.1:1"),
            ("WA_MEDIA_URL", "https://user:pw@media.example"),
        ] {
            let err = Config::from_env(&env(&[(var, value)])).expect_err(var);
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn the_console_settings_are_read() {
        let config = Config::from_env(&env(&[
            (
                "ALERT_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/tok-in-path",
            ),
            ("ALERT_FORMAT", "Slack"),
            ("ALERT_OFFLINE_MINUTES", "12"),
            ("RESTART_AT", "4:30"),
            ("RESTART_SPREAD_MINUTES", "45"),
        ]))
        .expect("valid");
        assert_eq!(config.alert_format, AlertFormat::Slack);
        assert_eq!(config.alert_offline_min, 12);
        assert_eq!(
            config.daily_restart,
            Some(DailyRestart {
                minute_of_day: 4 * 60 + 30,
                spread_minutes: 45
            })
        );
        let shown = format!("{config:?}{:?}", config.describe());
        assert!(!shown.contains("tok-in-path"), "{shown}");
        assert!(shown.contains("https://hooks.slack.com/***"), "{shown}");
        let defaults = Config::from_env(&env(&[])).expect("valid");
        assert_eq!(defaults.alert_offline_min, 5);
        assert_eq!(defaults.alert_format, AlertFormat::Json);
        assert_eq!(defaults.daily_restart, None);
        let err = Config::from_env(&env(&[("ALERT_WEBHOOK_URL", "ftp://x/tok-in-path")]))
            .expect_err("bad scheme");
        assert!(!err.to_string().contains("tok-in-path"), "{err}");
    }

    #[test]
    fn aliases_are_honoured_and_the_primary_name_wins() {
        let config = Config::from_env(&env(&[
            ("SESSION_BACKUP_INTERVAL", "7"),
            ("MAX_MEMORY_MB", "400"),
            ("HEALTH_CHECK_PORT", "9000"),
            ("WA_SESSION_DATA", "BLACKSKY-MD;;;abc"),
        ]))
        .expect("valid");
        assert_eq!(config.backup_interval_min, 7);
        assert_eq!(config.memory_limit_mb, Some(400));
        assert_eq!(config.port, 9000);
        assert_eq!(
            config.session_data.as_ref().map(Secret::expose),
            Some("BLACKSKY-MD;;;abc")
        );
        let both = Config::from_env(&env(&[("PORT", "1234"), ("HEALTH_CHECK_PORT", "9000")]))
            .expect("valid");
        assert_eq!(both.port, 1234);
        let err =
            Config::from_env(&env(&[("SESSION_BACKUP_INTERVAL", "x")])).expect_err("alias named");
        assert_eq!(err.var, "SESSION_BACKUP_INTERVAL");
    }

    #[test]
    fn secrets_never_show() {
        let config = Config::from_env(&env(&[
            (
                "DATABASE_URL",
                "postgres://app:hunter2@db.example:5432/bot?sslmode=require&password=pw-in-query",
            ),
            ("SESSION_SECRET", "s3cr3t-value"),
            ("SESSION_DATA", "BLACKSKY-MD;;;payload-xyz"),
            ("QR_TOKEN", "tok-123456"),
            ("PAIRING_NUMBER", "+49 155 612-3456"),
            ("OWNER_NUMBER", "+1 555 987 6543"),
            (
                "HEROKU_APP_URL",
                "https://basic:app-pass@my-bot.herokuapp.com",
            ),
            ("WA_WS_URL", "wss://ws-user:ws-pass@web.example/ws/chat"),
        ]))
        .expect("valid");
        let shown = format!("{config:?}{:?}", config.describe());
        for secret in [
            "hunter2",
            "pw-in-query",
            "s3cr3t-value",
            "payload-xyz",
            "tok-123456",
            "1556123",
            "5559876",
            "app-pass",
            "ws-pass",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(
            shown.contains("postgres://app:***@db.example:5432/bot?sslmode=require&password=***")
        );
        assert!(shown.contains("https://basic:***@my-bot.herokuapp.com"));
        for (var, value) in [
            ("DATABASE_URL", "mysql://app:hunter2@x/y"),
            ("HEROKU_APP_URL", "ftp://app:hunter2@x"),
            ("WA_WS_URL", "http://app:hunter2@x"),
        ] {
            let err = Config::from_env(&env(&[(var, value)])).expect_err("bad scheme");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn codes_print_on_a_terminal_and_stay_on_the_page_on_a_public_host() {
        let display =
            |pairs: &[(&str, &str)]| Config::from_env(&env(pairs)).expect("valid").code_display;
        assert_eq!(display(&[]), CodeDisplay::Terminal);
        for public in [
            ("HEROKU", "true"),
            ("DYNO", "web.1"),
            ("CLOUD_MODE", "true"),
            ("NODE_ENV", "production"),
            ("BLACKSKY_ENV", "production"),
            ("HEROKU_APP_URL", "https://my-bot.herokuapp.com"),
        ] {
            assert_eq!(display(&[public]), CodeDisplay::PageOnly, "{public:?}");
            assert_eq!(
                display(&[public, ("PRINT_QR", "true")]),
                CodeDisplay::Terminal,
                "{public:?} with PRINT_QR"
            );
        }
        assert_eq!(display(&[("PRINT_QR", "false")]), CodeDisplay::PageOnly);
        let err = Config::from_env(&env(&[("PRINT_QR", "maybe")])).expect_err("bad");
        assert_eq!(err.var, "PRINT_QR");
    }

    #[test]
    fn dyno_means_heroku_unless_heroku_says_otherwise() {
        let dyno = Config::from_env(&env(&[("DYNO", "web.1")])).expect("valid");
        assert!(dyno.heroku && dyno.json_logs && dyno.is_public_host());
        let told =
            Config::from_env(&env(&[("DYNO", "web.1"), ("HEROKU", "false")])).expect("valid");
        assert!(!told.heroku);
    }

    #[test]
    fn retention_and_full_jids_are_read() {
        let defaults = Config::from_env(&env(&[])).expect("valid");
        assert_eq!(defaults.inbox_retention_days, 7);
        assert!(!defaults.log_full_jids);
        let set = Config::from_env(&env(&[
            ("INBOX_RETENTION_DAYS", "30"),
            ("LOG_FULL_JIDS", "true"),
        ]))
        .expect("valid");
        assert_eq!(set.inbox_retention_days, 30);
        assert!(set.log_full_jids);
        for bad in ["-1", "week", "36501"] {
            let err = Config::from_env(&env(&[("INBOX_RETENTION_DAYS", bad)])).expect_err(bad);
            assert_eq!(err.var, "INBOX_RETENTION_DAYS");
        }
    }

    #[test]
    fn pairing_number_keeps_digits() {
        let config =
            Config::from_env(&env(&[("PAIRING_NUMBER", "+49 155 612-3456")])).expect("valid");
        assert_eq!(
            config.pairing,
            Pairing::Code {
                phone: "491556123456".into()
            }
        );
        let err =
            Config::from_env(&env(&[("PAIRING_NUMBER", "+49 155 612-3456 ext")])).expect_err("bad");
        assert!(!err.to_string().contains("1556123"), "{err}");
    }

    #[test]
    fn production_or_heroku_selects_json_logs_and_public_host_rules() {
        assert!(
            Config::from_env(&env(&[("NODE_ENV", "production")]))
                .expect("valid")
                .json_logs
        );
        let heroku = Config::from_env(&env(&[("HEROKU", "true")])).expect("valid");
        assert!(heroku.json_logs && heroku.is_public_host());
        let cloud = Config::from_env(&env(&[("CLOUD_MODE", "true")])).expect("valid");
        assert!(cloud.json_logs && cloud.is_public_host());
    }

    #[test]
    fn the_log_filter_is_checked_and_kept() {
        let config =
            Config::from_env(&env(&[("RUST_LOG", "warn,blacksky_io=debug")])).expect("valid");
        assert_eq!(config.log_filter, "warn,blacksky_io=debug");
        assert_eq!(
            Config::from_env(&env(&[])).expect("valid").log_filter,
            "info"
        );
    }

    #[test]
    fn backoff_bounds_must_be_ordered() {
        let err = Config::from_env(&env(&[
            ("RECONNECT_BASE_MS", "5000"),
            ("RECONNECT_MAX_MS", "1000"),
        ]))
        .expect_err("max < base");
        assert_eq!(err.var, "RECONNECT_MAX_MS");
    }
}
