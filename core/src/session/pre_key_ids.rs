//! Pre-key ids: 24-bit, wrapping and skipping 0 as libsignal's do, handed
//! out from the session's counter.
//!
//! Two processes on one store (a dyno hand-over, an old dyno's late login)
//! each hold the counter in memory. So the store, not the process, decides
//! which ids a batch of fresh keys gets ([`claim`]), and a creds write never
//! moves the stored counter back ([`later`]). Otherwise one process could
//! store and upload keys under ids the other had already uploaded, and a
//! contact who fetched the first key could not start a session with us.

use super::creds::PreKey;

/// Ids run 1..=SPAN.
const SPAN: u64 = 0xFF_FFFF;

/// The id `n` places after `id`.
pub fn after(id: u32, n: u32) -> u32 {
    ((u64::from(id) + u64::from(n) + SPAN - 1) % SPAN + 1) as u32
}

/// The later of two counters along the wrap: `a` when it lies less than
/// half the id space ahead of `b`, else `b`.
pub fn later(a: u32, b: u32) -> u32 {
    let ahead = (u64::from(a) % SPAN + SPAN - u64::from(b) % SPAN) % SPAN;
    if ahead != 0 && ahead < SPAN / 2 { a } else { b }
}

/// Numbers `keys` in order from `first`; returns the counter after them.
pub fn renumber(keys: &mut [PreKey], first: u32) -> u32 {
    for (i, key) in (0u32..).zip(keys.iter_mut()) {
        key.id = after(first, i);
    }
    after(first, keys.len() as u32)
}

/// Where a batch of fresh keys goes, given the stored counter (`None`
/// when no creds are stored): from that counter or the batch's own first
/// id, whichever is later. Renumbers `keys` and returns the first id and
/// the counter after them; `None` for an empty batch.
pub fn claim(stored: Option<u32>, keys: &mut [PreKey]) -> Option<(u32, u32)> {
    let own = keys.first()?.id;
    let first = stored.map_or(own, |stored| later(stored, own));
    Some((first, renumber(keys, first)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyPair;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys(from: u32, n: u32) -> Vec<PreKey> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        (0..n)
            .map(|i| PreKey {
                id: after(from, i),
                key_pair: KeyPair::generate(&mut rng),
            })
            .collect()
    }

    #[test]
    fn ids_wrap_past_the_top_and_skip_zero() {
        assert_eq!(after(1, 0), 1);
        assert_eq!(after(812, 812), 1624);
        assert_eq!(after(0xFF_FFFF, 1), 1);
        assert_eq!(after(0xFF_FFFE, 3), 2);
    }

    #[test]
    fn later_follows_the_wrap() {
        assert_eq!(later(1625, 813), 1625);
        assert_eq!(later(813, 1625), 1625);
        assert_eq!(later(813, 813), 813);
        // Just past the wrap is later than just before it.
        assert_eq!(later(5, 0xFF_FFF0), 5);
        assert_eq!(later(0xFF_FFF0, 5), 5);
    }

    #[test]
    fn a_batch_starts_past_ids_another_process_claimed() {
        // Both processes read counter 813; the other claimed 813..=1624.
        let mut batch = keys(813, 812);
        assert_eq!(claim(Some(1625), &mut batch), Some((1625, 2437)));
        assert_eq!(batch.first().map(|k| k.id), Some(1625));
        assert_eq!(batch.last().map(|k| k.id), Some(2436));
    }

    #[test]
    fn a_batch_ahead_of_the_store_keeps_its_ids() {
        let mut batch = keys(900, 3);
        assert_eq!(claim(Some(813), &mut batch), Some((900, 903)));
        assert_eq!(claim(None, &mut batch), Some((900, 903)));
        assert_eq!(claim(Some(1), &mut []), None);
    }

    proptest! {
        #[test]
        fn later_is_one_of_its_arguments_and_never_behind_either(
            a in 1u32..=0xFF_FFFF,
            step in 0u32..0x7F_FFFF,
        ) {
            let b = after(a, step);
            prop_assert_eq!(later(a, b), b);
            prop_assert_eq!(later(b, a), b);
        }

        #[test]
        fn claimed_ids_never_overlap_the_stored_range(
            stored in 1u32..=0xFF_FFFF,
            own_back in 0u32..5000,
            n in 1u32..900,
        ) {
            // The batch was numbered from a counter up to 5000 behind the store.
            let mut batch = keys(after(stored, 0xFF_FFFF - (own_back % 0xFF_FFFF)), n);
            let (first, next) = claim(Some(stored), &mut batch).expect("non-empty");
            prop_assert_eq!(first, stored);
            prop_assert_eq!(next, after(stored, n));
        }
    }
}
