//! The POST body of an alert, per `ALERT_FORMAT`. Nothing in it is a
//! secret: the session name, the incident and its detail (which the core
//! writes without keys, numbers or URLs).

use blacksky_core::alerts::{AlertRecord, Phase};
use blacksky_core::time::UnixMillis;
use serde_json::{Value, json};

use super::AlertFormat;
use crate::host::status::VERSION;

/// Discord embed colours: red while open, green once recovered.
const DISCORD_RED: u32 = 0x00d9_3f3f;
const DISCORD_GREEN: u32 = 0x002e_b85c;

/// The body for `record`, from the bot of session `session`.
pub fn render(format: AlertFormat, record: &AlertRecord, session: &str) -> Value {
    let headline = record.headline();
    match format {
        AlertFormat::Json => json!({
            "source": "blacksky",
            "version": VERSION,
            "session": session,
            "incident": record.incident.id(),
            "kind": record.incident.kind.as_str(),
            "phase": record.phase.as_str(),
            "title": headline,
            "detail": record.detail,
            "opened_at": iso8601(record.incident.opened_at),
            "at": iso8601(record.at),
        }),
        AlertFormat::Slack => {
            let mark = match record.phase {
                Phase::Opened => ":red_circle:",
                Phase::Recovered => ":large_green_circle:",
            };
            json!({
                "text": format!(
                    "{mark} *{}*\n{}\n_session {} · {} · {}_",
                    slack_escape(&headline),
                    slack_escape(&record.detail),
                    slack_escape(session),
                    record.incident.id(),
                    iso8601(record.at)
                ),
            })
        }
        AlertFormat::Discord => json!({
            "username": "blacksky",
            "content": headline,
            "embeds": [{
                "title": record.incident.kind.title(),
                "description": record.detail,
                "color": match record.phase {
                    Phase::Opened => DISCORD_RED,
                    Phase::Recovered => DISCORD_GREEN,
                },
                "footer": { "text": format!("session {session} · {}", record.incident.id()) },
                "timestamp": iso8601(record.at),
            }],
            // Never ping @everyone from a detail line.
            "allowed_mentions": { "parse": [] },
        }),
    }
}

/// Slack's three control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `2025-01-01T04:05:06Z` (UTC, whole seconds).
pub fn iso8601(at: UnixMillis) -> String {
    let secs = at.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use blacksky_core::alerts::{IncidentKind, OpenIncident};

    use super::*;

    fn record(phase: Phase) -> AlertRecord {
        AlertRecord {
            incident: OpenIncident {
                kind: IncidentKind::Offline,
                opened_at: UnixMillis(1_735_689_600_000),
            },
            phase,
            at: UnixMillis(1_735_689_600_000 + 7 * 60_000),
            detail: "not online for <5> min".to_owned(),
        }
    }

    #[test]
    fn dates_are_iso_utc() {
        assert_eq!(iso8601(UnixMillis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(UnixMillis(1_735_689_600_000)),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            iso8601(UnixMillis(951_782_400_000 + 3_723_000)),
            "2000-02-29T01:02:03Z"
        );
    }

    #[test]
    fn each_format_carries_the_incident() {
        let json = render(AlertFormat::Json, &record(Phase::Recovered), "BOT");
        assert_eq!(json["kind"], "offline");
        assert_eq!(json["phase"], "recovered");
        assert_eq!(json["incident"], "offline-1735689600000");
        assert_eq!(json["at"], "2025-01-01T00:07:00Z");
        let slack = render(AlertFormat::Slack, &record(Phase::Opened), "BOT");
        let text = slack["text"].as_str().expect("text");
        assert!(
            text.starts_with(":red_circle: *blacksky: offline*"),
            "{text}"
        );
        assert!(text.contains("&lt;5&gt;"), "{text}");
        let discord = render(AlertFormat::Discord, &record(Phase::Recovered), "BOT");
        assert_eq!(discord["embeds"][0]["color"], DISCORD_GREEN);
        assert!(
            discord["content"]
                .as_str()
                .is_some_and(|c| c.contains("recovered"))
        );
    }
}
