//! `ALERT_OWNER=true`: the text the owner gets on WhatsApp when the bot is
//! back after an incident (the shell queues it in the outbox).

use super::record::{AlertRecord, Phase, duration_words};

/// The owner's message for `record`: only a recovery is told on WhatsApp
/// (while the incident lasts the bot cannot send).
pub fn owner_text(record: &AlertRecord) -> Option<String> {
    match record.phase {
        Phase::Opened => None,
        Phase::Recovered => Some(format!(
            "blacksky is back online. It was away {}: {}.",
            duration_words(
                record
                    .at
                    .as_millis()
                    .saturating_sub(record.incident.opened_at.as_millis())
            ),
            record.incident.kind.title()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{IncidentKind, OpenIncident};
    use crate::time::UnixMillis;

    #[test]
    fn only_a_recovery_reaches_the_owner() {
        let incident = OpenIncident {
            kind: IncidentKind::Offline,
            opened_at: UnixMillis(1_000),
        };
        let mut record = AlertRecord {
            incident,
            phase: Phase::Opened,
            at: UnixMillis(1_000),
            detail: String::new(),
        };
        assert_eq!(owner_text(&record), None);
        record.phase = Phase::Recovered;
        record.at = UnixMillis(1_000 + 7 * 60_000);
        assert_eq!(
            owner_text(&record).as_deref(),
            Some("blacksky is back online. It was away 7 min: offline.")
        );
    }
}
