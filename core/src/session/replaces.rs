//! Compare-and-set for Signal session records. Two processes of one
//! session (an overlapping dyno, a late commit of a process that is
//! shutting down) can each read a record and advance it: both would then
//! encrypt under the same chain counter, the one thing a ratchet must
//! never do, and the later commit would silently undo the other's. So a
//! session write says which record it replaces, and the store refuses the
//! whole batch when that is no longer the stored one; the writer then
//! reads the store again before it encrypts anything more.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{Session, Write};

/// A record's fingerprint: what a write expects to find in the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordDigest([u8; 32]);

impl RecordDigest {
    #[must_use]
    pub fn of(record: &[u8]) -> RecordDigest {
        RecordDigest(Sha256::digest(record).into())
    }
}

impl std::fmt::Debug for RecordDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordDigest({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// What a session record write expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaces {
    /// Whatever is stored (a whole session written at once: restore,
    /// import), or nothing.
    Anything,
    /// No record: the writer started this session itself.
    Nothing,
    /// The record the writer advanced.
    Record(RecordDigest),
}

impl Replaces {
    /// What `session` holds for `address`: the record a write built from
    /// it replaces.
    #[must_use]
    pub fn current(session: &Session, address: &str) -> Replaces {
        match session.sessions.get(address) {
            Some(record) => Replaces::Record(RecordDigest::of(record)),
            None => Replaces::Nothing,
        }
    }

    /// Whether a store holding `stored` may take a write of `record` that
    /// expects `self`. The record itself is taken too: that is this
    /// write's own earlier attempt (a commit whose answer was lost: with a
    /// slow database, every retry would be refused otherwise), since every
    /// record written carries a fresh random stamp no other writer makes
    /// (`SessionRecord::encode_stamped`).
    fn accepts(self, stored: Option<RecordDigest>, record: RecordDigest) -> bool {
        if stored == Some(record) {
            return true;
        }
        match self {
            Replaces::Anything => true,
            Replaces::Nothing => stored.is_none(),
            Replaces::Record(expected) => stored == Some(expected),
        }
    }
}

/// A batch that would replace a session record another writer changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "a Signal session record changed in the store since this process read it \
     (another process of this session wrote it): batch refused"
)]
pub struct StaleRecord;

/// The session addresses whose stored records `writes` must be checked
/// against (see [`check_replaces`]).
pub fn checked_addresses(writes: &[Write]) -> impl Iterator<Item = &str> {
    writes.iter().filter_map(|write| match write {
        Write::SignalSession {
            address,
            replaces: Replaces::Nothing | Replaces::Record(_),
            ..
        } => Some(address.as_str()),
        _ => None,
    })
}

/// Checks `writes` in order against `stored`, the stored records'
/// digests for (at least) the [`checked_addresses`]: each write must find
/// what it replaces, in the store or written earlier in the batch.
pub fn check_replaces(
    writes: &[Write],
    mut stored: BTreeMap<String, RecordDigest>,
) -> Result<(), StaleRecord> {
    for write in writes {
        match write {
            Write::SignalSession {
                address,
                record,
                replaces,
            } => {
                let written = RecordDigest::of(record);
                if !replaces.accepts(stored.get(address).copied(), written) {
                    return Err(StaleRecord);
                }
                stored.insert(address.clone(), written);
            }
            Write::RemoveSignalSession { address } => {
                stored.remove(address);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(address: &str, record: &[u8], replaces: Replaces) -> Write {
        Write::SignalSession {
            address: address.into(),
            record: record.to_vec(),
            replaces,
        }
    }

    fn stored(pairs: &[(&str, &[u8])]) -> BTreeMap<String, RecordDigest> {
        pairs
            .iter()
            .map(|(address, record)| ((*address).to_owned(), RecordDigest::of(record)))
            .collect()
    }

    #[test]
    fn a_write_over_the_record_it_read_is_taken() {
        let old = RecordDigest::of(b"r0");
        let writes = [write("a.0", b"r1", Replaces::Record(old))];
        assert_eq!(check_replaces(&writes, stored(&[("a.0", b"r0")])), Ok(()));
    }

    #[test]
    fn a_write_over_a_record_another_process_advanced_is_refused() {
        let old = RecordDigest::of(b"r0");
        let writes = [write("a.0", b"r1", Replaces::Record(old))];
        let theirs = stored(&[("a.0", b"theirs")]);
        assert_eq!(check_replaces(&writes, theirs), Err(StaleRecord));
    }

    #[test]
    fn a_new_session_is_refused_where_another_process_started_one() {
        let writes = [write("a.0", b"mine", Replaces::Nothing)];
        assert_eq!(check_replaces(&writes, stored(&[])), Ok(()));
        let theirs = stored(&[("a.0", b"theirs")]);
        assert_eq!(check_replaces(&writes, theirs), Err(StaleRecord));
    }

    #[test]
    fn a_retried_commit_finds_its_own_record() {
        let old = RecordDigest::of(b"r0");
        let writes = [write("a.0", b"r1", Replaces::Record(old))];
        assert_eq!(check_replaces(&writes, stored(&[("a.0", b"r1")])), Ok(()));
    }

    #[test]
    fn writes_in_one_batch_chain() {
        let writes = [
            write("a.0", b"r1", Replaces::Record(RecordDigest::of(b"r0"))),
            write("a.0", b"r2", Replaces::Record(RecordDigest::of(b"r1"))),
        ];
        assert_eq!(check_replaces(&writes, stored(&[("a.0", b"r0")])), Ok(()));
        // The second expects what the first wrote, not what was stored.
        let skipped = [
            write("a.0", b"r1", Replaces::Record(RecordDigest::of(b"r0"))),
            write("a.0", b"r3", Replaces::Record(RecordDigest::of(b"r0"))),
        ];
        assert_eq!(
            check_replaces(&skipped, stored(&[("a.0", b"r0")])),
            Err(StaleRecord)
        );
    }

    #[test]
    fn a_whole_session_write_replaces_anything() {
        let writes = [write("a.0", b"r1", Replaces::Anything)];
        assert_eq!(check_replaces(&writes, stored(&[("a.0", b"x")])), Ok(()));
        assert_eq!(checked_addresses(&writes).count(), 0);
    }
}
