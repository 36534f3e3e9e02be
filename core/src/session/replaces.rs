//! Compare-and-set for Signal session and sender key records. Two
//! processes of one session (an overlapping dyno, a late commit of a
//! process that is shutting down) can each read a record and advance it:
//! both would then encrypt under the same chain counter (or sender key
//! iteration), the one thing a ratchet must never do, and the later commit
//! would silently undo the other's. So a record write says which record
//! it replaces, and the store refuses the whole batch when that is no
//! longer the stored one; the writer then reads the store again before it
//! encrypts anything more. Devices marked as holding our sender key name
//! the record they were given, for the same reason: another process's new
//! key is one they do not hold.

use std::collections::{BTreeMap, BTreeSet};

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

/// A stored record a batch can be checked against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckedRecord {
    /// The Signal session with a peer device, by address.
    Session(String),
    /// The sender key of `sender` (ours or a member's) in `group`.
    SenderKey { group: String, sender: String },
}

/// What a record write expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaces {
    /// Whatever is stored (a whole session written at once: restore,
    /// import), or nothing.
    Anything,
    /// No record: the writer started this record itself.
    Nothing,
    /// The record the writer advanced.
    Record(RecordDigest),
}

impl Replaces {
    /// What `session` holds for `address`: the record a write built from
    /// it replaces.
    #[must_use]
    pub fn current(session: &Session, address: &str) -> Replaces {
        Replaces::of(session.sessions.get(address))
    }

    /// What `session` holds as the sender key of `sender` in `group`.
    #[must_use]
    pub fn current_sender_key(session: &Session, group: &str, sender: &str) -> Replaces {
        Replaces::of(
            session
                .sender_keys
                .get(&(group.to_owned(), sender.to_owned())),
        )
    }

    fn of(record: Option<&Vec<u8>>) -> Replaces {
        match record {
            Some(record) => Replaces::Record(RecordDigest::of(record)),
            None => Replaces::Nothing,
        }
    }

    /// Whether a store holding `stored` may take a write of `record` that
    /// expects `self`. The record itself is taken too: that is this
    /// write's own earlier attempt (a commit whose answer was lost: with a
    /// slow database, every retry would be refused otherwise), since every
    /// record written carries a fresh random stamp no other writer makes
    /// (`SessionRecord::encode_stamped`, `SenderKeyRecord::encode_stamped`).
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

/// Which of our sender keys devices were given: `record` is our sender key
/// record (under `sender`, our device's address) as the batch leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenKey {
    pub sender: String,
    pub record: RecordDigest,
}

/// A batch that would replace a record another writer changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "a Signal session or sender key record changed in the store since this process read it \
     (another process of this session wrote it): batch refused"
)]
pub struct StaleRecord;

/// The records whose stored digests `writes` must be checked against
/// (see [`check_replaces`]).
#[must_use]
pub fn checked_records(writes: &[Write]) -> BTreeSet<CheckedRecord> {
    writes
        .iter()
        .filter_map(|write| match write {
            Write::SignalSession {
                address,
                replaces: Replaces::Nothing | Replaces::Record(_),
                ..
            } => Some(CheckedRecord::Session(address.clone())),
            Write::SenderKey {
                group,
                sender,
                replaces: Replaces::Nothing | Replaces::Record(_),
                ..
            }
            | Write::SenderKeyShared {
                group,
                given: GivenKey { sender, .. },
                ..
            } => Some(CheckedRecord::SenderKey {
                group: group.clone(),
                sender: sender.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Checks `writes` in order against `stored`, the stored records'
/// digests for (at least) the [`checked_records`]: each write must find
/// what it replaces (each mark of devices holding our key, the record
/// they were given), in the store or written earlier in the batch.
pub fn check_replaces(
    writes: &[Write],
    mut stored: BTreeMap<CheckedRecord, RecordDigest>,
) -> Result<(), StaleRecord> {
    for write in writes {
        match write {
            Write::SignalSession {
                address,
                record,
                replaces,
            } => write_checked(
                &mut stored,
                CheckedRecord::Session(address.clone()),
                record,
                *replaces,
            )?,
            Write::SenderKey {
                group,
                sender,
                record,
                replaces,
            } => write_checked(&mut stored, sender_key(group, sender), record, *replaces)?,
            Write::RemoveSignalSession { address } => {
                stored.remove(&CheckedRecord::Session(address.clone()));
            }
            Write::RemoveSenderKey { group, sender } => {
                stored.remove(&sender_key(group, sender));
            }
            // Marked as given a record of our key that is not (or no
            // longer) the stored one.
            Write::SenderKeyShared { group, given, .. }
                if stored.get(&sender_key(group, &given.sender)) != Some(&given.record) =>
            {
                return Err(StaleRecord);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Takes the write of `record` over `key` if it finds what it replaces.
fn write_checked(
    stored: &mut BTreeMap<CheckedRecord, RecordDigest>,
    key: CheckedRecord,
    record: &[u8],
    replaces: Replaces,
) -> Result<(), StaleRecord> {
    let written = RecordDigest::of(record);
    if !replaces.accepts(stored.get(&key).copied(), written) {
        return Err(StaleRecord);
    }
    stored.insert(key, written);
    Ok(())
}

fn sender_key(group: &str, sender: &str) -> CheckedRecord {
    CheckedRecord::SenderKey {
        group: group.to_owned(),
        sender: sender.to_owned(),
    }
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

    fn stored(pairs: &[(&str, &[u8])]) -> BTreeMap<CheckedRecord, RecordDigest> {
        pairs
            .iter()
            .map(|(address, record)| {
                (
                    CheckedRecord::Session((*address).to_owned()),
                    RecordDigest::of(record),
                )
            })
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
        assert!(checked_records(&writes).is_empty());
    }
}
