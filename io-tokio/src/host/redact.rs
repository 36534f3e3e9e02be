//! What may be shown of a value that unlocks or identifies something: one
//! masking rule per kind, used by the logs, `blacksky config`, error
//! messages, the status page and the CLI alike.
//!
//! - URLs ([`mask_url`]): the password of the userinfo, a bare userinfo (a
//!   token), every query value but a few harmless connection settings
//!   (`?password=` is a PostgreSQL URL's other place for the password) and
//!   the fragment are masked; scheme, user, host, port and path stay.
//! - Phone numbers and JIDs ([`mask_phone`], [`mask_jid`]): the last three
//!   characters of the user part stay, so two senders can be told apart.
//! - In logs, JIDs and phones go through [`LogId`], which masks unless the
//!   operator turned on `LOG_FULL_JIDS` ([`show_full_ids`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// What stands for a masked part.
const MASK: &str = "***";

/// Characters of a JID's user part (or a phone number) that stay visible.
const ID_TAIL_CHARS: usize = 3;

/// Query parameters whose values are connection settings, never
/// credentials (PostgreSQL's and sqlx's names); every other value is masked.
const HARMLESS_QUERY_KEYS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "connect_timeout",
    "application_name",
    "statement-cache-capacity",
    "target_session_attrs",
];

/// `scheme://user:password@host:port/path?query#fragment` with the
/// password, any query value that might be a credential and the fragment
/// masked. A userinfo without `:` may itself be a token and is masked
/// whole. Text without `://` is treated as `user:password@host…` after the
/// last `@`.
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // The userinfo ends at the LAST `@` (a password may hold an unescaped
    // `@`). An `@` in the path or query makes more than the userinfo look
    // like one: masked too, which only hides more.
    let (userinfo, location) = match rest.rsplit_once('@') {
        Some((userinfo, location)) => (Some(userinfo), location),
        None => (None, rest),
    };
    let (location, fragment) = match location.split_once('#') {
        Some((location, _)) => (location, Some(MASK)),
        None => (location, None),
    };
    let (address, query) = match location.split_once('?') {
        Some((address, query)) => (address, Some(mask_query(query))),
        None => (location, None),
    };
    let mut shown = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        shown.push_str(scheme);
        shown.push_str("://");
    }
    if let Some(userinfo) = userinfo {
        // A user name stops at the first character no user name has.
        match userinfo.split_once(':') {
            Some((user, _password)) if !user.contains(['/', '?', '#']) => {
                shown.push_str(user);
                shown.push(':');
                shown.push_str(MASK);
            }
            _ => shown.push_str(MASK),
        }
        shown.push('@');
    }
    shown.push_str(address);
    if let Some(query) = query {
        shown.push('?');
        shown.push_str(&query);
    }
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    shown
}

/// A webhook URL as logs and messages show it: scheme and host only.
/// Slack's, Discord's and most other incoming webhooks carry their token
/// in the path, so the path, query and fragment are all masked.
pub fn mask_webhook_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => return MASK.to_owned(),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // A userinfo is a credential too.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let tail = if authority.len() < rest.len() {
        format!("/{MASK}")
    } else {
        String::new()
    };
    format!("{scheme}://{host}{tail}")
}

fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value))
                if HARMLESS_QUERY_KEYS.contains(&key) && !value.contains(['@', ':']) =>
            {
                pair.to_owned()
            }
            Some((key, _)) => format!("{key}={MASK}"),
            None if pair.is_empty() => String::new(),
            None => MASK.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A phone number as `…456`: only the last three digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits
        .iter()
        .skip(digits.len().saturating_sub(ID_TAIL_CHARS))
        .collect();
    format!("…{tail}")
}

/// A JID with its user part (the phone number, or a LID or group id) cut
/// to the last three characters: `491556123456:7@s.whatsapp.net` →
/// `…456:7@s.whatsapp.net`. Anything without `@` is masked the same way.
pub fn mask_jid(jid: &str) -> String {
    // `.` ends the user of a Signal session name (`user.device`).
    let user_end = jid.find([':', '@', '_', '.']).unwrap_or(jid.len());
    let (user, rest) = jid.split_at(user_end);
    let chars = user.chars().count();
    let tail: String = user
        .chars()
        .skip(chars.saturating_sub(ID_TAIL_CHARS))
        .collect();
    format!("…{tail}{rest}")
}

/// `LOG_FULL_JIDS`: logs show JIDs and phone numbers whole. Off until the
/// binary reads its configuration.
static FULL_IDS_IN_LOGS: AtomicBool = AtomicBool::new(false);

/// Turns whole JIDs and phone numbers in logs on or off (the binary, once,
/// from `LOG_FULL_JIDS`).
pub fn show_full_ids(on: bool) {
    FULL_IDS_IN_LOGS.store(on, Ordering::Relaxed);
}

/// A JID or phone number as a log field shows it (`%LogId(&jid)`): masked
/// with [`mask_jid`] unless `LOG_FULL_JIDS` is on.
pub struct LogId<T>(pub T);

impl<T: fmt::Display> LogId<T> {
    fn write(&self, f: &mut fmt::Formatter<'_>, full: bool) -> fmt::Result {
        if full {
            self.0.fmt(f)
        } else {
            f.write_str(&mask_jid(&self.0.to_string()))
        }
    }
}

impl<T: fmt::Display> fmt::Display for LogId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, FULL_IDS_IN_LOGS.load(Ordering::Relaxed))
    }
}

impl<T: fmt::Display> fmt::Debug for LogId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_every_credential_and_keep_where_they_point() {
        for (url, shown) in [
            (
                "postgres://app:hunter2@db.example:5432/bot",
                "postgres://app:***@db.example:5432/bot",
            ),
            (
                "postgres://app:hunter2@db.example/bot?sslmode=require&password=hunter2",
                "postgres://app:***@db.example/bot?sslmode=require&password=***",
            ),
            (
                "postgresql://db.example/bot?user=app&password=hunter2",
                "postgresql://db.example/bot?user=***&password=***",
            ),
            // An unescaped `@` and `/` in the password.
            (
                "postgres://app:hun@ter/2@db.example/bot",
                "postgres://app:***@db.example/bot",
            ),
            ("https://hunter2@git.example/x", "https://***@git.example/x"),
            (
                "https://my-bot.herokuapp.com/",
                "https://my-bot.herokuapp.com/",
            ),
            (
                "https://my-bot.herokuapp.com/x?token=hunter2#hunter2",
                "https://my-bot.herokuapp.com/x?token=***#***",
            ),
            ("app:hunter2@db.example", "app:***@db.example"),
            ("db.example?hunter2", "db.example?***"),
            ("postgres://h/d?sslmode=a:hunter2@x", "postgres://***@x"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
            assert!(!mask_url(url).contains("hunter2"), "{url}");
        }
    }

    #[test]
    fn webhook_urls_show_only_where_they_point() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T000/B000/hunter2",
                "https://hooks.slack.com/***",
            ),
            (
                "https://discord.com/api/webhooks/123/hunter2?wait=true",
                "https://discord.com/***",
            ),
            (
                "http://user:hunter2@127.0.0.1:9000",
                "http://127.0.0.1:9000",
            ),
            ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/***"),
            ("hunter2", "***"),
        ] {
            assert_eq!(mask_webhook_url(url), shown, "{url}");
        }
    }

    #[test]
    fn phones_and_jids_keep_three_characters() {
        assert_eq!(mask_phone("+49 155 612-3456"), "…456");
        assert_eq!(
            mask_jid("491556123456:7@s.whatsapp.net"),
            "…456:7@s.whatsapp.net"
        );
        assert_eq!(
            mask_jid("491556123456@s.whatsapp.net"),
            "…456@s.whatsapp.net"
        );
        assert_eq!(mask_jid("12@lid"), "…12@lid");
        assert_eq!(mask_jid("15551234567-1600000000@g.us"), "…000@g.us");
        assert_eq!(mask_jid("491556123456"), "…456");
        // Not ASCII: cut by characters, never a panic or the whole text.
        assert_eq!(mask_jid("ééééé@x"), "…ééé@x");
    }

    /// Shows a `LogId` as it renders with `full` (the switch itself is
    /// process-wide: tests beside this one must not see it flip).
    struct Rendered<'a>(&'a LogId<&'a str>, bool);

    impl fmt::Display for Rendered<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.write(f, self.1)
        }
    }

    #[test]
    fn log_ids_are_masked_unless_full_ids_are_on() {
        let jid = "491556123456@s.whatsapp.net";
        // Off by default.
        assert_eq!(LogId(jid).to_string(), "…456@s.whatsapp.net");
        assert_eq!(format!("{:?}", LogId(jid)), "…456@s.whatsapp.net");
        assert_eq!(
            Rendered(&LogId(jid), false).to_string(),
            "…456@s.whatsapp.net"
        );
        assert_eq!(Rendered(&LogId(jid), true).to_string(), jid);
    }
}
