//! The one-time pre-keys the server holds for a linked device: uploaded
//! by the device, handed out once each to a contact that starts a session
//! with it (as WhatsApp's server does), lowest id first.

use std::collections::BTreeMap;

/// One-time pre-keys kept per device; an upload that would go past this
/// is refused as a whole.
pub const ONE_TIME_PRE_KEYS_PER_DEVICE_MAX: usize = 2_000;

/// Below this many keys left, the device is told (once per drop) to upload
/// more (`<notification type="encrypt"><count value=N/>`).
pub const PRE_KEYS_LOW_WATER: u32 = 5;

/// Whether the device was told its keys ran low since it last had enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LowWater {
    Above,
    /// Went below [`PRE_KEYS_LOW_WATER`]; the drop was announced (or the
    /// device was offline then, and asks the count at its next login).
    Announced,
}

#[derive(Debug, Clone)]
pub(crate) struct OneTimePreKeys {
    /// Public keys by id.
    by_id: BTreeMap<u32, [u8; 32]>,
    low_water: LowWater,
}

impl Default for OneTimePreKeys {
    fn default() -> Self {
        OneTimePreKeys {
            by_id: BTreeMap::new(),
            // A fresh device has none and asks the count at login: no
            // notification is owed.
            low_water: LowWater::Announced,
        }
    }
}

impl OneTimePreKeys {
    pub(crate) fn count(&self) -> u32 {
        u32::try_from(self.by_id.len()).unwrap_or(u32::MAX)
    }

    /// How many keys there would be after storing `keys` (an id uploaded
    /// again replaces its key).
    pub(crate) fn count_after(&self, keys: &[(u32, [u8; 32])]) -> usize {
        let fresh = keys
            .iter()
            .filter(|(id, _)| !self.by_id.contains_key(id))
            .map(|(id, _)| id)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        self.by_id.len() + fresh
    }

    /// Stores an upload the caller checked against the bound.
    pub(crate) fn add(&mut self, keys: &[(u32, [u8; 32])]) {
        self.by_id.extend(keys.iter().copied());
        if self.count() >= PRE_KEYS_LOW_WATER {
            self.low_water = LowWater::Above;
        }
    }

    /// Hands out the key with the lowest id; it is gone from the server.
    pub(crate) fn take(&mut self) -> Option<(u32, [u8; 32])> {
        self.by_id.pop_first()
    }

    /// Hands out keys (lowest ids first) until at most `left` remain.
    pub(crate) fn keep_at_most(&mut self, left: u32) {
        while self.count() > left {
            self.by_id.pop_first();
        }
    }

    /// True once per drop below [`PRE_KEYS_LOW_WATER`]: the moment to
    /// tell the device.
    pub(crate) fn announce_drop(&mut self) -> bool {
        if self.count() < PRE_KEYS_LOW_WATER && self.low_water == LowWater::Above {
            self.low_water = LowWater::Announced;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: std::ops::Range<u32>) -> Vec<(u32, [u8; 32])> {
        ids.map(|id| (id, [id as u8; 32])).collect()
    }

    #[test]
    fn keys_go_out_lowest_first_and_once() {
        let mut store = OneTimePreKeys::default();
        store.add(&keys(3..10));
        assert_eq!(store.take(), Some((3, [3; 32])));
        assert_eq!(store.take(), Some((4, [4; 32])));
        assert_eq!(store.count(), 5);
        store.keep_at_most(2);
        assert_eq!(store.take().map(|k| k.0), Some(8));
        assert_eq!(store.take().map(|k| k.0), Some(9));
        assert_eq!(store.take(), None);
    }

    #[test]
    fn an_id_uploaded_again_is_counted_once() {
        let mut store = OneTimePreKeys::default();
        store.add(&keys(1..5));
        assert_eq!(store.count_after(&keys(3..8)), 7);
        store.add(&keys(3..8));
        assert_eq!(store.count(), 7);
    }

    #[test]
    fn a_drop_below_the_low_water_is_announced_once() {
        let mut store = OneTimePreKeys::default();
        assert!(!store.announce_drop(), "nothing uploaded yet");
        store.add(&keys(1..7));
        assert!(!store.announce_drop());
        store.take();
        assert!(!store.announce_drop(), "5 left is not below 5");
        store.take();
        assert!(store.announce_drop());
        store.take();
        assert!(!store.announce_drop(), "once per drop");
        store.add(&keys(10..15));
        store.keep_at_most(1);
        assert!(store.announce_drop(), "a new drop after a refill");
    }
}
