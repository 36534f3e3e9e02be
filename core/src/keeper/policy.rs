//! The reconnect policy as one table: what each way of losing the
//! connection means for what the keeper does next. README's table is this
//! one, in prose.

use crate::client::DisconnectReason;

/// What the keeper does after a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Connect again at once (515 after pairing; the server asked).
    ReconnectNow,
    /// Connect again after a jittered, growing delay.
    BackOff,
    /// Learn the current client version first, then reconnect.
    RefreshVersionThenReconnect,
    /// Another instance holds the session: stand by, never fight.
    StandBy,
    /// The phone removed this device: stop connecting, keep the data, ask
    /// for pairing.
    NeedsPairing,
}

/// A 440 that another process of this very session caused (the shell
/// asks the store's register: an older one seen lately, whose login was
/// already under way when this one started, or a newer one that has
/// stopped since): take the session back at once, at most `max` times a
/// window, then stand by as for any 440. A 440 from a newer process that
/// still runs stands by for it instead, and one from outside the store
/// stands by for a person.
pub fn reaction_to_older_process(takebacks_in_window: u32, max: u32) -> Reaction {
    if takebacks_in_window < max {
        Reaction::ReconnectNow
    } else {
        Reaction::StandBy
    }
}

/// The policy table.
pub fn reaction(reason: &DisconnectReason) -> Reaction {
    use DisconnectReason as R;
    match reason {
        // After a 515, or to link again after an unfinished link.
        R::RestartRequired | R::LinkUnfinished => Reaction::ReconnectNow,
        R::LoggedOut | R::Forbidden => Reaction::NeedsPairing,
        R::Replaced => Reaction::StandBy,
        R::ClientOutdated => Reaction::RefreshVersionThenReconnect,
        R::TimedOut
        | R::ConnectionClosed
        | R::KeepaliveTimeout
        | R::BadSession
        | R::Unavailable
        | R::StoreRefused
        | R::MultideviceMismatch
        | R::ProtocolViolation(_)
        | R::Other(_) => Reaction::BackOff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let cases = [
            (515, Reaction::ReconnectNow),
            (401, Reaction::NeedsPairing),
            (403, Reaction::NeedsPairing),
            (440, Reaction::StandBy),
            (405, Reaction::RefreshVersionThenReconnect),
            (408, Reaction::BackOff),
            (428, Reaction::BackOff),
            (500, Reaction::BackOff),
            (503, Reaction::BackOff),
            (599, Reaction::BackOff),
        ];
        assert_eq!(
            reaction(&DisconnectReason::LinkUnfinished),
            Reaction::ReconnectNow,
            "an unfinished link links again at once"
        );
        for (code, expected) in cases {
            assert_eq!(
                reaction(&DisconnectReason::from_code(code)),
                expected,
                "code {code}"
            );
        }
        assert_eq!(
            reaction(&DisconnectReason::KeepaliveTimeout),
            Reaction::BackOff
        );
    }

    #[test]
    fn an_older_process_is_answered_a_bounded_number_of_times() {
        assert_eq!(reaction_to_older_process(0, 3), Reaction::ReconnectNow);
        assert_eq!(reaction_to_older_process(2, 3), Reaction::ReconnectNow);
        assert_eq!(reaction_to_older_process(3, 3), Reaction::StandBy);
        assert_eq!(reaction_to_older_process(0, 0), Reaction::StandBy);
    }
}
