//! The unsent outbound messages as the store holds them plus the writes
//! queued for it: what a new connection hands its client, and what the
//! inbox pump waits on when too much is waiting to go out.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use blacksky_core::session::{Outbound, Write};
use tokio::sync::Notify;

/// Unsent messages kept in memory at most; past this the inbox pump
/// waits (handlers' replies pile up in the store, not in memory).
pub const OUTBOUND_VIEW_LEN_MAX: usize = 1_024;

/// The view shared by the store worker (which fills it) and the current
/// connection (which hands it to its client when it changes).
#[derive(Debug, Default)]
pub struct SharedOutbound {
    view: Mutex<OutboundView>,
    changed: Notify,
}

impl SharedOutbound {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, OutboundView> {
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows `writes`; the connection hears of new rows.
    pub fn apply(&self, writes: &[Write]) {
        let mut view = self.lock();
        let before = view.len();
        for write in writes {
            view.apply(write);
        }
        if view.len() > before {
            self.changed.notify_one();
        }
    }

    /// Follows a batch handed to the store, except its sealed stanzas:
    /// those join the view once committed ([`SharedOutbound::apply_sealed`]).
    /// A stanza the store refused (sealed from a record another process
    /// had moved on) must never reach a connection, which would send it
    /// as already sealed.
    pub fn apply_handed_in(&self, writes: &[Write]) {
        let mut view = self.lock();
        let before = view.len();
        for write in writes {
            if !matches!(write, Write::OutboundSealed { .. }) {
                view.apply(write);
            }
        }
        if view.len() > before {
            self.changed.notify_one();
        }
    }

    /// The sealed stanzas of a committed batch.
    pub fn apply_sealed(&self, writes: &[Write]) {
        let mut view = self.lock();
        for write in writes {
            if matches!(write, Write::OutboundSealed { .. }) {
                view.apply(write);
            }
        }
    }

    /// Replaces the rows with the store's; the connection hears of them.
    pub fn reset(&self, rows: Vec<Outbound>) {
        self.lock().reset(rows);
        self.changed.notify_one();
    }

    /// Resolves when rows were added since the last call returned.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[derive(Debug, Default)]
pub struct OutboundView {
    rows: VecDeque<Outbound>,
}

impl OutboundView {
    /// Replaces the rows with the store's (at start, after a reload).
    pub fn reset(&mut self, rows: Vec<Outbound>) {
        self.rows = rows.into();
    }

    /// Follows one write as the store would.
    pub fn apply(&mut self, write: &Write) {
        match write {
            Write::Handled { outbox, .. } | Write::Queued { outbox, .. } => {
                for row in outbox {
                    if !self.rows.iter().any(|r| r.id == row.id) {
                        self.rows.push_back(row.clone());
                    }
                }
            }
            Write::OutboundSealed { id, stanza } => {
                if let Some(row) = self.rows.iter_mut().find(|r| &r.id == id) {
                    row.stanza = Some(stanza.clone());
                }
            }
            Write::OutboundSent { id, .. } => self.rows.retain(|r| &r.id != id),
            _ => {}
        }
    }

    /// The first `len_max` rows, in order.
    pub fn first(&self, len_max: usize) -> Vec<Outbound> {
        self.rows.iter().take(len_max).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.rows.len() >= OUTBOUND_VIEW_LEN_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacksky_core::time::UnixMillis;

    fn row(id: &str) -> Outbound {
        Outbound {
            id: id.into(),
            to: "1@s.whatsapp.net".into(),
            message: vec![1],
            stanza: None,
        }
    }

    #[test]
    fn rows_join_once_get_their_stanza_and_leave_when_sent() {
        let mut view = OutboundView::default();
        let handled = Write::Handled {
            id: "in".into(),
            at: UnixMillis::EPOCH,
            by: "test-instance".into(),
            outbox: vec![row("a"), row("b")],
        };
        view.apply(&handled);
        view.apply(&handled);
        assert_eq!(view.len(), 2);
        view.apply(&Write::OutboundSealed {
            id: "a".into(),
            stanza: vec![9],
        });
        assert_eq!(view.first(1)[0].stanza, Some(vec![9]));
        view.apply(&Write::OutboundSent {
            id: "a".into(),
            at: UnixMillis::EPOCH,
        });
        assert_eq!(
            view.first(10)
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
    }
}
