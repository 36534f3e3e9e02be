//! A session record: the open session with one peer device and, newest
//! first, the sessions it replaced (a peer may still send on one of them
//! for a while). Plain data; the functions in [`super::cipher`] return a
//! new record and never change the one they were given.

use std::collections::VecDeque;

use super::keys::PublicKey;
use super::state::{Initiator, SessionState};

/// Previous sessions kept per peer device (libsignal's archive bound);
/// past it the oldest is dropped.
pub const PREVIOUS_SESSIONS_LEN_MAX: usize = 40;

/// Where a state sits in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Current,
    /// Index into the previous sessions, newest first.
    Previous(usize),
}

/// The Signal sessions with one peer device. `Debug` shows no key material.
#[derive(Clone)]
pub struct SessionRecord {
    pub(crate) current: SessionState,
    /// Newest first, at most [`PREVIOUS_SESSIONS_LEN_MAX`].
    pub(crate) previous: VecDeque<SessionState>,
}

impl SessionRecord {
    pub(crate) fn new(current: SessionState) -> SessionRecord {
        SessionRecord {
            current,
            previous: VecDeque::new(),
        }
    }

    /// The open session: the one we encrypt with.
    #[must_use]
    pub fn current(&self) -> &SessionState {
        &self.current
    }

    /// The sessions the open one replaced, newest first.
    pub fn previous(&self) -> impl ExactSizeIterator<Item = &SessionState> {
        self.previous.iter()
    }

    /// Every state in the order a message is tried on them: the open one,
    /// then the previous ones, newest first.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (Slot, &SessionState)> {
        std::iter::once((Slot::Current, &self.current)).chain(
            self.previous
                .iter()
                .enumerate()
                .map(|(index, state)| (Slot::Previous(index), state)),
        )
    }

    pub(crate) fn state(&self, slot: Slot) -> &SessionState {
        match slot {
            Slot::Current => &self.current,
            Slot::Previous(index) => &self.previous[index],
        }
    }

    /// The session a peer's pkmsg with `base_key` started, if we have it.
    pub(crate) fn started_by(&self, base_key: &PublicKey) -> Option<Slot> {
        self.slots()
            .find(|(_, state)| state.initiator == Initiator::Them && state.base_key == *base_key)
            .map(|(slot, _)| slot)
    }

    /// A record whose open session is `state`, which replaces the one in
    /// `slot`. A previous session that decrypted a message becomes the open
    /// one again (as in libsignal) and the open one is archived.
    pub(crate) fn with_state(&self, slot: Slot, state: SessionState) -> SessionRecord {
        match slot {
            Slot::Current => SessionRecord {
                current: state,
                previous: self.previous.clone(),
            },
            Slot::Previous(index) => {
                let mut previous = self.previous.clone();
                previous.remove(index);
                archived(previous, self.current.clone(), state)
            }
        }
    }

    /// A record whose open session is a new `state`; the open one is
    /// archived.
    pub(crate) fn with_new_session(&self, state: SessionState) -> SessionRecord {
        archived(self.previous.clone(), self.current.clone(), state)
    }
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("current", &self.current)
            .field("previous", &self.previous.len())
            .finish()
    }
}

fn archived(
    mut previous: VecDeque<SessionState>,
    old_current: SessionState,
    current: SessionState,
) -> SessionRecord {
    previous.push_front(old_current);
    previous.truncate(PREVIOUS_SESSIONS_LEN_MAX);
    SessionRecord { current, previous }
}
