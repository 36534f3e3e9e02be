//! Stanzas the client cannot use and must not die on. Each is answered as
//! WhatsApp expects where it can be (a notification is acked whatever it
//! holds; a message without an id has nothing to ack it by), reported as
//! an event, and skipped. Closing instead would bring the same stanza
//! back on the next connection, and again: a reconnect loop with no end.

use thiserror::Error;

use super::{Client, Event};
use crate::wire::binary::DecodeError;

/// A stanza that was skipped, by what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Ignored {
    /// A frame that decrypted (so it is the server's) but is no binary
    /// node this decoder reads.
    #[error("a stanza that does not decode: {0}")]
    UndecodableStanza(DecodeError),
    /// A `<message>` without an id: it cannot be stored or acked.
    #[error("a message without an id")]
    MessageWithoutId,
    /// The server's count of our one-time pre-keys (its notification, or
    /// the answer to our request) without a number: nothing is uploaded
    /// on it; the next count decides.
    #[error("a pre-key count without a value ({0})")]
    PreKeyCountWithoutValue(CountSource),
    /// A code-pairing notification without its ref, wrapped key or the
    /// primary's identity: acked, and the pairing waits for a good one.
    #[error("a code pairing notification without its keys")]
    LinkCodeNotificationIncomplete,
}

/// Where a pre-key count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    /// `<notification type="encrypt"><count/>`.
    Notification,
    /// The answer to our `<iq xmlns="encrypt"><count/>`.
    Answer,
}

impl std::fmt::Display for CountSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CountSource::Notification => "notification",
            CountSource::Answer => "iq answer",
        })
    }
}

impl Ignored {
    /// Every kind, as [`Ignored::kind`] names it (for metrics that list
    /// each one, zero or not).
    pub const KINDS: [&'static str; 5] = [
        "undecodable_stanza",
        "message_without_id",
        "pre_key_count_notification_without_value",
        "pre_key_count_answer_without_value",
        "link_code_notification_incomplete",
    ];

    /// The label /metrics and the log use.
    pub fn kind(&self) -> &'static str {
        match self {
            Ignored::UndecodableStanza(_) => Self::KINDS[0],
            Ignored::MessageWithoutId => Self::KINDS[1],
            Ignored::PreKeyCountWithoutValue(CountSource::Notification) => Self::KINDS[2],
            Ignored::PreKeyCountWithoutValue(CountSource::Answer) => Self::KINDS[3],
            Ignored::LinkCodeNotificationIncomplete => Self::KINDS[4],
        }
    }
}

impl Client {
    /// Reports a stanza skipped; the connection goes on.
    pub(super) fn ignore(&mut self, what: Ignored) {
        self.event(Event::StanzaIgnored { what });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_label() {
        let all = [
            Ignored::UndecodableStanza(DecodeError::Empty),
            Ignored::MessageWithoutId,
            Ignored::PreKeyCountWithoutValue(CountSource::Notification),
            Ignored::PreKeyCountWithoutValue(CountSource::Answer),
            Ignored::LinkCodeNotificationIncomplete,
        ];
        let kinds: Vec<&str> = all.iter().map(Ignored::kind).collect();
        assert_eq!(kinds, Ignored::KINDS);
    }
}
