//! Message ids this connection stored or is storing, so a redelivery is
//! acked (or waits for its write) instead of being written twice. Bounded:
//! past `len_max` the oldest are forgotten; the store still drops a
//! duplicate by id, so forgetting costs a write, never a second message.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// The write is in flight: its completion acks.
    Storing,
    /// Committed: a redelivery only needs the ack again.
    Stored,
}

#[derive(Debug)]
pub(super) struct SeenMessages {
    by_id: HashMap<String, Seen>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<String>,
    len_max: usize,
}

impl SeenMessages {
    pub(super) fn new(len_max: usize) -> SeenMessages {
        SeenMessages {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            len_max: len_max.max(1),
        }
    }

    pub(super) fn get(&self, id: &str) -> Option<Seen> {
        self.by_id.get(id).copied()
    }

    /// Records `id` as `seen`; true when an older id had to be forgotten.
    pub(super) fn set(&mut self, id: &str, seen: Seen) -> bool {
        if let Some(slot) = self.by_id.get_mut(id) {
            *slot = seen;
            return false;
        }
        self.by_id.insert(id.to_owned(), seen);
        self.order.push_back(id.to_owned());
        let mut forgot = false;
        while self.order.len() > self.len_max {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
                forgot = true;
            }
        }
        forgot
    }

    /// Forgets `id` (its write failed: a redelivery must try again).
    pub(super) fn forget(&mut self, id: &str) {
        if self.by_id.remove(id).is_some() {
            self.order.retain(|held| held != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_ids_are_forgotten_past_the_bound() {
        let mut seen = SeenMessages::new(2);
        assert!(!seen.set("a", Seen::Storing));
        assert!(!seen.set("b", Seen::Stored));
        assert!(!seen.set("a", Seen::Stored), "an update is not an insert");
        assert!(seen.set("c", Seen::Stored));
        assert_eq!(seen.get("a"), None);
        assert_eq!(seen.get("b"), Some(Seen::Stored));
        assert_eq!(seen.get("c"), Some(Seen::Stored));
        seen.forget("b");
        assert_eq!(seen.get("b"), None);
        assert!(!seen.set("d", Seen::Storing), "room was made by forget");
    }
}
