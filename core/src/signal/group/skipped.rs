//! The message keys a state keeps for skipped iterations, in two flat
//! arrays (iterations ascending, seeds 32 bytes each): a record that holds
//! the full 2,000 decodes, clones and encodes as a few copies instead of
//! 2,000 small allocations. Senders that use every other iteration (as
//! Baileys does) keep records full, and every message reads and writes one.

use std::fmt;

use zeroize::Zeroizing;

use super::message_key::SenderMessageKey;
use crate::signal::SecretKey;

const SEED_LEN: usize = 32;

#[derive(Clone, Default)]
pub struct SkippedKeys {
    /// Strictly ascending.
    iterations: Vec<u32>,
    /// `SEED_LEN` bytes per iteration, in the same order.
    seeds: Zeroizing<Vec<u8>>,
}

/// Why stored arrays are not a skipped-key list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkippedKeysError {
    /// The seeds are not 32 bytes per iteration.
    SeedsLength { iterations: usize, seeds_len: usize },
    /// An iteration is not above the one before it, or not below the chain.
    OutOfOrder { iteration: u32 },
}

impl SkippedKeys {
    /// From stored arrays, checked against the chain's iteration.
    pub fn from_parts(
        iterations: Vec<u32>,
        seeds: Zeroizing<Vec<u8>>,
        chain_iteration: u32,
    ) -> Result<Self, SkippedKeysError> {
        if seeds.len() != iterations.len() * SEED_LEN {
            return Err(SkippedKeysError::SeedsLength {
                iterations: iterations.len(),
                seeds_len: seeds.len(),
            });
        }
        let mut previous = None;
        for &iteration in &iterations {
            if previous.is_some_and(|p| iteration <= p) || iteration >= chain_iteration {
                return Err(SkippedKeysError::OutOfOrder { iteration });
            }
            previous = Some(iteration);
        }
        Ok(SkippedKeys { iterations, seeds })
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.iterations.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iterations.is_empty()
    }

    #[must_use]
    pub fn iterations(&self) -> &[u32] {
        &self.iterations
    }

    #[must_use]
    pub fn seeds(&self) -> &[u8] {
        &self.seeds
    }

    pub fn get(&self, iteration: u32) -> Option<SenderMessageKey> {
        let index = self.iterations.binary_search(&iteration).ok()?;
        let seed = SecretKey::from_slice(&self.seeds[Self::range(index)], "skipped seed").ok()?;
        Some(SenderMessageKey::new(iteration, seed))
    }

    pub fn remove(&mut self, iteration: u32) {
        if let Ok(index) = self.iterations.binary_search(&iteration) {
            self.iterations.remove(index);
            self.seeds.drain(Self::range(index));
        }
    }

    /// Appends a key; its iteration must be above every kept one (a chain
    /// only moves forward), else it is ignored.
    pub fn push(&mut self, key: &SenderMessageKey) {
        if self
            .iterations
            .last()
            .is_some_and(|&last| key.iteration() <= last)
        {
            return;
        }
        self.iterations.push(key.iteration());
        self.seeds.extend_from_slice(key.seed().expose());
    }

    /// Drops up to `count` of the oldest keys; returns how many went.
    pub fn drop_oldest(&mut self, count: usize) -> usize {
        let count = count.min(self.len());
        self.iterations.drain(..count);
        self.seeds.drain(..count * SEED_LEN);
        count
    }

    fn range(index: usize) -> std::ops::Range<usize> {
        index * SEED_LEN..(index + 1) * SEED_LEN
    }
}

impl fmt::Debug for SkippedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkippedKeys")
            .field("iterations", &self.iterations.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(iteration: u32) -> SenderMessageKey {
        SenderMessageKey::new(iteration, SecretKey::from([iteration as u8; 32]))
    }

    #[test]
    fn push_get_remove_drop() {
        let mut keys = SkippedKeys::default();
        for i in [1, 3, 4, 9] {
            keys.push(&key(i));
        }
        keys.push(&key(2)); // behind the last: ignored
        assert_eq!(keys.iterations(), [1, 3, 4, 9]);
        assert_eq!(keys.get(4).map(|k| *k.seed().expose()), Some([4; 32]));
        assert!(keys.get(2).is_none());
        keys.remove(3);
        assert_eq!(keys.iterations(), [1, 4, 9]);
        assert_eq!(keys.get(9).map(|k| *k.seed().expose()), Some([9; 32]));
        assert_eq!(keys.drop_oldest(2), 2);
        assert_eq!(keys.iterations(), [9]);
        assert_eq!(keys.seeds(), [9; 32]);
        assert_eq!(keys.drop_oldest(5), 1);
        assert!(keys.is_empty());
    }

    #[test]
    fn stored_parts_are_checked() {
        let seeds = || Zeroizing::new(vec![0u8; 64]);
        assert!(SkippedKeys::from_parts(vec![1, 2], seeds(), 3).is_ok());
        assert_eq!(
            SkippedKeys::from_parts(vec![1], seeds(), 3).map(|_| ()),
            Err(SkippedKeysError::SeedsLength {
                iterations: 1,
                seeds_len: 64
            })
        );
        assert_eq!(
            SkippedKeys::from_parts(vec![2, 2], seeds(), 3).map(|_| ()),
            Err(SkippedKeysError::OutOfOrder { iteration: 2 })
        );
        assert_eq!(
            SkippedKeys::from_parts(vec![1, 3], seeds(), 3).map(|_| ()),
            Err(SkippedKeysError::OutOfOrder { iteration: 3 })
        );
    }
}
