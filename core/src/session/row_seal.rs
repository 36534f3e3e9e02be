//! Sealed live rows: with SESSION_SECRET set, each credential and key row
//! of the live tables is stored as AES-256-GCM ciphertext under the key
//! the snapshots use ([`SnapshotKey`], PBKDF2 from the secret and a salt
//! the store keeps), derived once per process. The row's identity (its
//! table, session and key) is the associated data, so a sealed value
//! copied onto another row does not open there.
//!
//! Layout: version (1) ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag. The
//! nonce comes from the caller (the core draws no randomness): a fresh
//! random one per write.

use ring::aead::{Aad, NONCE_LEN, Nonce};
use thiserror::Error;
use zeroize::Zeroizing;

use super::snapshot::SnapshotKey;

const ROW_FORMAT_VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Bytes a sealed row adds to its plain value.
pub const ROW_OVERHEAD_BYTES: usize = 1 + NONCE_LEN + TAG_LEN;

/// A sealed value that does not open: another secret, another row's
/// value, or altered bytes (the cases look alike on purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RowSealError {
    #[error("too short or of an unknown format")]
    Malformed,
    #[error("does not open under this key for this row (another secret, or moved or altered)")]
    WrongKeyOrRow,
}

/// The associated data naming one row: its table, then each key column,
/// each part length-prefixed so that no two identities read alike.
#[must_use]
pub fn row_identity(table: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for part in std::iter::once(table.as_bytes()).chain(parts.iter().copied()) {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Seals `plain` for the row named `identity`.
#[must_use]
pub fn seal_row(key: &SnapshotKey, nonce: [u8; 12], identity: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(plain.len() + ROW_OVERHEAD_BYTES);
    body.push(ROW_FORMAT_VERSION);
    body.extend_from_slice(&nonce);
    let mut sealed = plain.to_vec();
    // AES-GCM refuses only inputs past 64 GiB: rows are far smaller.
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(identity),
            &mut sealed,
        )
        .unwrap_or_else(|_| unreachable!("a row is far below AES-GCM's limit"));
    body.extend_from_slice(&sealed);
    body.extend_from_slice(tag.as_ref());
    body
}

/// The plain value of a row sealed by [`seal_row`] for `identity`.
pub fn open_row(
    key: &SnapshotKey,
    identity: &[u8],
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, RowSealError> {
    if stored.len() < ROW_OVERHEAD_BYTES || stored[0] != ROW_FORMAT_VERSION {
        return Err(RowSealError::Malformed);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&stored[1..1 + NONCE_LEN]);
    let mut body = Zeroizing::new(stored[1 + NONCE_LEN..].to_vec());
    let plain_len = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(identity),
            &mut body,
        )
        .map_err(|_| RowSealError::WrongKeyOrRow)?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> SnapshotKey {
        SnapshotKey::derive(secret, [7; 16], 1)
    }

    #[test]
    fn a_row_opens_only_as_itself_under_its_key() {
        let k = key(b"secret");
        let here = row_identity("signal_sessions", &[b"s", b"1@s.whatsapp.net"]);
        let there = row_identity("signal_sessions", &[b"s", b"2@s.whatsapp.net"]);
        let sealed = seal_row(&k, [1; 12], &here, b"record bytes");
        assert_eq!(sealed.len(), b"record bytes".len() + ROW_OVERHEAD_BYTES);
        assert!(!sealed.windows(6).any(|w| w == b"record"));
        assert_eq!(
            &open_row(&k, &here, &sealed).expect("opens")[..],
            b"record bytes"
        );
        assert_eq!(
            open_row(&k, &there, &sealed),
            Err(RowSealError::WrongKeyOrRow)
        );
        assert_eq!(
            open_row(&key(b"other"), &here, &sealed),
            Err(RowSealError::WrongKeyOrRow)
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().expect("tag") ^= 1;
        assert_eq!(
            open_row(&k, &here, &flipped),
            Err(RowSealError::WrongKeyOrRow)
        );
        assert_eq!(open_row(&k, &here, b"short"), Err(RowSealError::Malformed));
    }

    #[test]
    fn identities_do_not_run_together() {
        assert_ne!(
            row_identity("t", &[b"ab", b"c"]),
            row_identity("t", &[b"a", b"bc"])
        );
    }
}
