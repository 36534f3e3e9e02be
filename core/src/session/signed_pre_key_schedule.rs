//! The signed pre-key's schedule: when a login rotates it, when the one it
//! replaced may go, and the rotated creds. Pure: the wall clock is handed
//! in (the core never reads one).

use rand_core::CryptoRngCore;

use super::creds::{Creds, PreviousSignedPreKey, SignedPreKey, SignedPreKeyStatus};
use crate::time::UnixMillis;

/// Signal key ids travel as 3 bytes.
const SIGNED_PRE_KEY_ID_MASK: u32 = 0x00FF_FFFF;

/// What a login does about the signed pre-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedPreKeyCheck {
    /// Nothing to do.
    Keep,
    /// The server never confirmed the current key: send it again.
    Resend,
    /// The current key is due: make the next one, keep this one as the
    /// previous.
    Rotate,
    /// The previous key's grace period is over: forget it.
    DropPrevious,
}

/// The id after `id`: within 24 bits, never 0.
#[must_use]
pub fn next_signed_pre_key_id(id: u32) -> u32 {
    match id.wrapping_add(1) & SIGNED_PRE_KEY_ID_MASK {
        0 => 1,
        next => next,
    }
}

impl Creds {
    /// What a login at wall-clock `now` does: rotate a key at least
    /// `rotate_after_ms` old (or of unknown age), drop a previous key
    /// replaced at least `grace_ms` ago. A clock behind the key's time
    /// rotates nothing (the key is not older than it was).
    #[must_use]
    pub fn signed_pre_key_check(
        &self,
        now: UnixMillis,
        rotate_after_ms: u64,
        grace_ms: u64,
    ) -> SignedPreKeyCheck {
        let made = match self.signed_pre_key_status {
            SignedPreKeyStatus::Unknown => return SignedPreKeyCheck::Rotate,
            // Until the server has it, the previous key is what it hands
            // out: neither replace nor drop anything.
            SignedPreKeyStatus::Unconfirmed { .. } => return SignedPreKeyCheck::Resend,
            SignedPreKeyStatus::Confirmed { made } => made,
        };
        if now.as_millis().saturating_sub(made.as_millis()) >= rotate_after_ms && now >= made {
            return SignedPreKeyCheck::Rotate;
        }
        match &self.previous_signed_pre_key {
            Some(previous)
                if now >= previous.replaced_at
                    && now.as_millis() - previous.replaced_at.as_millis() >= grace_ms =>
            {
                SignedPreKeyCheck::DropPrevious
            }
            _ => SignedPreKeyCheck::Keep,
        }
    }

    /// These creds with the next signed pre-key, made at `now` and not yet
    /// confirmed by the server; the current one becomes the previous (an
    /// older previous is forgotten: one is kept).
    #[must_use]
    pub fn with_rotated_signed_pre_key(
        &self,
        now: UnixMillis,
        rng: &mut impl CryptoRngCore,
    ) -> Creds {
        let mut creds = self.clone();
        let id = next_signed_pre_key_id(self.signed_pre_key.id);
        let next = SignedPreKey::generate(&self.identity_key, id, rng);
        creds.previous_signed_pre_key = Some(PreviousSignedPreKey {
            key: std::mem::replace(&mut creds.signed_pre_key, next),
            replaced_at: now,
        });
        creds.signed_pre_key_status = SignedPreKeyStatus::Unconfirmed { made: now };
        creds
    }

    /// The signed pre-keys a pkmsg may name: the current one, then the
    /// previous while it is kept.
    pub fn signed_pre_keys(&self) -> impl Iterator<Item = &SignedPreKey> {
        std::iter::once(&self.signed_pre_key)
            .chain(self.previous_signed_pre_key.as_ref().map(|p| &p.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    const ROTATE_MS: u64 = 7 * DAY_MS;
    const GRACE_MS: u64 = 30 * DAY_MS;

    fn confirmed_at(made: u64) -> Creds {
        let mut creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(5));
        creds.signed_pre_key_status = SignedPreKeyStatus::Confirmed {
            made: UnixMillis(made),
        };
        creds
    }

    #[test]
    fn ids_wrap_within_24_bits_and_skip_0() {
        assert_eq!(next_signed_pre_key_id(1), 2);
        assert_eq!(next_signed_pre_key_id(0x00FF_FFFE), 0x00FF_FFFF);
        assert_eq!(next_signed_pre_key_id(0x00FF_FFFF), 1);
        assert_eq!(next_signed_pre_key_id(u32::MAX), 1);
        assert_eq!(next_signed_pre_key_id(0), 1);
    }

    #[test]
    fn a_key_rotates_at_its_age_limit_not_a_millisecond_before() {
        let t0 = 1_750_000_000_000;
        let creds = confirmed_at(t0);
        let at = |ms| creds.signed_pre_key_check(UnixMillis(ms), ROTATE_MS, GRACE_MS);
        assert_eq!(at(t0 + ROTATE_MS - 1), SignedPreKeyCheck::Keep);
        assert_eq!(at(t0 + ROTATE_MS), SignedPreKeyCheck::Rotate);
        assert_eq!(at(t0 - DAY_MS), SignedPreKeyCheck::Keep, "clock behind");
    }

    #[test]
    fn a_key_of_unknown_age_rotates_and_an_unconfirmed_one_is_resent() {
        let mut creds = confirmed_at(0);
        creds.signed_pre_key_status = SignedPreKeyStatus::Unknown;
        assert_eq!(
            creds.signed_pre_key_check(UnixMillis(1), ROTATE_MS, GRACE_MS),
            SignedPreKeyCheck::Rotate
        );
        let rotated =
            creds.with_rotated_signed_pre_key(UnixMillis(5), &mut ChaCha20Rng::seed_from_u64(1));
        // Even long past its age limit: the server still hands out the
        // previous one, which must not go.
        assert_eq!(
            rotated.signed_pre_key_check(UnixMillis(5 + GRACE_MS * 2), ROTATE_MS, GRACE_MS),
            SignedPreKeyCheck::Resend
        );
    }

    #[test]
    fn rotation_keeps_the_old_key_as_previous_and_signs_the_new_one() {
        let creds = confirmed_at(0);
        let now = UnixMillis(ROTATE_MS);
        let rotated = creds.with_rotated_signed_pre_key(now, &mut ChaCha20Rng::seed_from_u64(2));
        assert_eq!(rotated.signed_pre_key.id, 2);
        assert_ne!(
            rotated.signed_pre_key.key_pair.public(),
            creds.signed_pre_key.key_pair.public()
        );
        let previous = rotated.previous_signed_pre_key.as_ref().expect("kept");
        assert_eq!(previous.key.id, 1);
        assert_eq!(previous.replaced_at, now);
        assert_eq!(
            rotated.signed_pre_key_status,
            SignedPreKeyStatus::Unconfirmed { made: now }
        );
        let ids: Vec<u32> = rotated.signed_pre_keys().map(|k| k.id).collect();
        assert_eq!(ids, [2, 1]);
        assert!(
            crate::crypto::xeddsa::verify(
                rotated.identity_key.public(),
                &crate::crypto::prefixed_public(&rotated.signed_pre_key.key_pair),
                &rotated.signed_pre_key.signature
            )
            .is_ok()
        );
    }

    #[test]
    fn the_previous_key_goes_at_the_end_of_its_grace_period() {
        let mut creds = confirmed_at(0)
            .with_rotated_signed_pre_key(UnixMillis(0), &mut ChaCha20Rng::seed_from_u64(3));
        // Confirmed, and made long ago, but a short rotation period would
        // rotate first: use one longer than the grace to see the drop.
        creds.signed_pre_key_status = SignedPreKeyStatus::Confirmed {
            made: UnixMillis(0),
        };
        let at = |ms| creds.signed_pre_key_check(UnixMillis(ms), GRACE_MS * 2, GRACE_MS);
        assert_eq!(at(GRACE_MS - 1), SignedPreKeyCheck::Keep);
        assert_eq!(at(GRACE_MS), SignedPreKeyCheck::DropPrevious);
    }
}
