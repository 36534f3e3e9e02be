//! An alert as it is stored and sent: which incident, opened or
//! recovered, when, and a detail line that holds no secret.

use crate::time::UnixMillis;

/// The kinds of incident an operator hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentKind {
    /// The phone removed this device (401) or WhatsApp refused it (403).
    LoggedOut,
    /// Someone outside this store took the session (a 440 no process of
    /// ours explains).
    SessionTaken,
    /// MAX_RECONNECT_ATTEMPTS ran out.
    ReconnectsExhausted,
    /// Not online for longer than ALERT_OFFLINE_MINUTES.
    Offline,
    /// The store refused or did not answer for longer than the same time.
    StoreDown,
    /// Memory stayed over MEMORY_LIMIT_MB: a planned restart.
    MemoryRestart,
    /// Stored credentials that cannot be read: the start was refused.
    RefusedStart,
}

impl IncidentKind {
    /// Every kind, in a fixed order.
    pub const ALL: [IncidentKind; 7] = [
        IncidentKind::LoggedOut,
        IncidentKind::SessionTaken,
        IncidentKind::ReconnectsExhausted,
        IncidentKind::Offline,
        IncidentKind::StoreDown,
        IncidentKind::MemoryRestart,
        IncidentKind::RefusedStart,
    ];

    /// The stored and sent name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::LoggedOut => "logged_out",
            IncidentKind::SessionTaken => "session_taken",
            IncidentKind::ReconnectsExhausted => "reconnects_exhausted",
            IncidentKind::Offline => "offline",
            IncidentKind::StoreDown => "store_down",
            IncidentKind::MemoryRestart => "memory_restart",
            IncidentKind::RefusedStart => "refused_start",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<IncidentKind> {
        IncidentKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A headline for a person.
    pub fn title(self) -> &'static str {
        match self {
            IncidentKind::LoggedOut => "logged out: link the device again",
            IncidentKind::SessionTaken => "the session was taken by another client",
            IncidentKind::ReconnectsExhausted => "reconnect attempts exhausted",
            IncidentKind::Offline => "offline",
            IncidentKind::StoreDown => "the session store is down",
            IncidentKind::MemoryRestart => "planned restart: memory over the limit",
            IncidentKind::RefusedStart => "refused to start: stored credentials unreadable",
        }
    }

    /// True for the kinds that explain why the bot is offline (no
    /// separate "offline" incident is opened beside them).
    pub(crate) fn explains_offline(self) -> bool {
        matches!(
            self,
            IncidentKind::LoggedOut
                | IncidentKind::SessionTaken
                | IncidentKind::ReconnectsExhausted
                | IncidentKind::RefusedStart
        )
    }
}

/// Whether the alert opens its incident or ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Opened,
    Recovered,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Opened => "opened",
            Phase::Recovered => "recovered",
        }
    }

    pub fn parse(name: &str) -> Option<Phase> {
        match name {
            "opened" => Some(Phase::Opened),
            "recovered" => Some(Phase::Recovered),
            _ => None,
        }
    }
}

/// An incident still open, as a start finds it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub kind: IncidentKind,
    pub opened_at: UnixMillis,
}

impl OpenIncident {
    /// The incident's id: its kind and when it opened (one incident of a
    /// kind is open at a time, so the pair is unique).
    pub fn id(&self) -> String {
        format!("{}-{}", self.kind.as_str(), self.opened_at.as_millis())
    }
}

/// One alert: an incident opened or recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub incident: OpenIncident,
    pub phase: Phase,
    /// When this phase happened (wall clock).
    pub at: UnixMillis,
    /// What happened, for a person; never a secret.
    pub detail: String,
}

impl AlertRecord {
    /// The one-line summary every format leads with.
    pub fn headline(&self) -> String {
        match self.phase {
            Phase::Opened => format!("blacksky: {}", self.incident.kind.title()),
            Phase::Recovered => format!(
                "blacksky recovered: {} (after {})",
                self.incident.kind.title(),
                duration_words(
                    self.at
                        .as_millis()
                        .saturating_sub(self.incident.opened_at.as_millis())
                )
            ),
        }
    }
}

/// `95 s`, `12 min`, `3 h 5 min`.
pub fn duration_words(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in IncidentKind::ALL {
            assert_eq!(IncidentKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(IncidentKind::parse("nope"), None);
        for phase in [Phase::Opened, Phase::Recovered] {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(95_000), "95 s");
        assert_eq!(duration_words(12 * 60_000 + 5_000), "12 min");
        assert_eq!(duration_words(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
    }
}
