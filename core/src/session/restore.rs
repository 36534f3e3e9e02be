//! The restore plan: given what the live tables hold and the stored
//! snapshot generations, decide what the session starts from. Pure: the
//! shell reads the store, calls [`plan`], and carries out the decision.
//!
//! The rule (DESIGN.md, Durability 3 and 4): live creds that read back are
//! the truth (they are newer than any snapshot); otherwise the newest
//! snapshot that verifies and opens; a snapshot that does not is reported
//! by generation and skipped. If anything was stored but nothing can be
//! read, the answer is to refuse — never a fresh identity.

use std::fmt;

use super::model::Session;
use super::snapshot::{Keyring, SnapshotError, decode_snapshot, inspect};

/// What the live tables hold.
#[derive(Debug)]
pub enum Live {
    /// No creds row.
    Missing,
    /// Creds that read back.
    Present,
    /// A creds row that does not read back; the text names it.
    Corrupt(String),
}

/// One stored snapshot generation.
#[derive(Debug, Clone, Copy)]
pub struct Generation<'a> {
    pub generation: u64,
    pub bytes: &'a [u8],
}

/// A generation that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub generation: u64,
    pub error: SnapshotError,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot generation {}: {}", self.generation, self.error)
    }
}

/// What the session starts from.
#[derive(Debug)]
pub enum Decision {
    /// The live tables. `skipped` lists generations whose checksum failed
    /// (they were only inspected, not opened: no key derivation at start).
    UseLive { skipped: Vec<Skipped> },
    /// Write this snapshot's session into the live tables, then use it.
    Restore {
        generation: u64,
        session: Box<Session>,
        skipped: Vec<Skipped>,
    },
    /// Nothing stored at all: a new device may be linked (or SESSION_DATA
    /// imported).
    Empty,
    /// Something was stored and nothing of it can be read.
    Refuse(Refusal),
}

/// Why blacksky will not start, and how to recover. Its `Display` is the
/// message the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub session_name: String,
    pub live: Option<String>,
    pub skipped: Vec<Skipped>,
    pub secret_set: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "refusing to start: session {:?} has stored credentials, but none of them can be read:",
            self.session_name
        )?;
        match &self.live {
            Some(live) => writeln!(f, "  live creds: {live}")?,
            None => writeln!(f, "  live creds: missing")?,
        }
        for skipped in &self.skipped {
            writeln!(f, "  {skipped}")?;
        }
        let wrong_key = self
            .skipped
            .iter()
            .any(|s| matches!(s.error, SnapshotError::WrongKey | SnapshotError::NoSecret));
        writeln!(f, "To recover, one of:")?;
        if wrong_key || !self.secret_set {
            writeln!(
                f,
                "  - start with the SESSION_SECRET the snapshots were made with{}",
                if self.secret_set {
                    ""
                } else {
                    " (it is not set now)"
                }
            )?;
        }
        writeln!(
            f,
            "  - import a session string: `blacksky session import <string|file>` (or set SESSION_DATA)"
        )?;
        writeln!(f, "  - check every generation: `blacksky session verify`")?;
        write!(
            f,
            "  - give this identity up and link again: `blacksky session wipe --yes` (the phone will need a new scan)\n\
             blacksky never replaces a stored identity with a new one on its own."
        )
    }
}

/// Decides what to start from. `generations` are newest first.
pub fn plan(
    session_name: &str,
    live: Live,
    generations: &[Generation<'_>],
    keys: &mut Keyring,
) -> Decision {
    match live {
        Live::Present => Decision::UseLive {
            skipped: generations
                .iter()
                .filter_map(|g| {
                    inspect(g.bytes).err().map(|error| Skipped {
                        generation: g.generation,
                        error,
                    })
                })
                .collect(),
        },
        Live::Missing if generations.is_empty() => Decision::Empty,
        live => {
            let mut skipped = Vec::new();
            for g in generations {
                match decode_snapshot(g.bytes, keys) {
                    Ok((_, session)) => {
                        return Decision::Restore {
                            generation: g.generation,
                            session: Box::new(session),
                            skipped,
                        };
                    }
                    Err(error) => skipped.push(Skipped {
                        generation: g.generation,
                        error,
                    }),
                }
            }
            Decision::Refuse(Refusal {
                session_name: session_name.to_owned(),
                live: match live {
                    Live::Corrupt(what) => Some(what),
                    _ => None,
                },
                skipped,
                secret_set: keys.has_secret(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::snapshot::{Seal, SnapshotKey, encode_snapshot};
    use crate::session::testing::sample_session;
    use crate::time::UnixMillis;

    fn generations(n: u64, secret: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let key = SnapshotKey::derive(secret, [3; 16], 100);
        (1..=n)
            .rev()
            .map(|g| {
                let mut session = sample_session(1, 2, 1, 10);
                session.creds.next_pre_key_id = g as u32;
                let bytes = encode_snapshot(
                    &session,
                    "s",
                    UnixMillis(g),
                    Seal::Encrypted {
                        key: &key,
                        nonce: [g as u8; 12],
                    },
                )
                .expect("seal");
                (g, bytes)
            })
            .collect()
    }

    fn view(gens: &[(u64, Vec<u8>)]) -> Vec<Generation<'_>> {
        gens.iter()
            .map(|(generation, bytes)| Generation {
                generation: *generation,
                bytes,
            })
            .collect()
    }

    #[test]
    fn live_creds_win_and_bad_generations_are_still_reported() {
        let mut gens = generations(3, b"k");
        gens[1].1[70] ^= 1;
        match plan(
            "s",
            Live::Present,
            &view(&gens),
            &mut Keyring::new(Some(b"k")),
        ) {
            Decision::UseLive { skipped } => {
                assert_eq!(skipped.len(), 1);
                assert_eq!(skipped[0].generation, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_newest_generation_that_opens_is_restored() {
        let mut gens = generations(5, b"k");
        gens[0].1[80] ^= 4; // generation 5: bit flip
        gens[1].1.truncate(30); // generation 4: truncated
        gens[2] = generations(3, b"other").remove(0); // generation 3: another secret
        match plan(
            "s",
            Live::Missing,
            &view(&gens),
            &mut Keyring::new(Some(b"k")),
        ) {
            Decision::Restore {
                generation,
                session,
                skipped,
            } => {
                assert_eq!(generation, 2);
                assert_eq!(session.creds.next_pre_key_id, 2);
                let reasons: Vec<_> = skipped.iter().map(|s| (s.generation, &s.error)).collect();
                assert!(matches!(reasons[0], (5, SnapshotError::ChecksumMismatch)));
                assert!(matches!(reasons[1], (4, SnapshotError::Truncated { .. })));
                assert!(matches!(reasons[2], (3, SnapshotError::WrongKey)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_stored_is_empty_but_unreadable_creds_refuse() {
        assert!(matches!(
            plan("s", Live::Missing, &[], &mut Keyring::new(None)),
            Decision::Empty
        ));
        let refusal = match plan(
            "s",
            Live::Corrupt("creds row: bad length".into()),
            &[],
            &mut Keyring::new(None),
        ) {
            Decision::Refuse(refusal) => refusal,
            other => panic!("{other:?}"),
        };
        let text = refusal.to_string();
        assert!(text.contains("creds row: bad length"), "{text}");
        assert!(text.contains("blacksky session wipe --yes"), "{text}");
    }

    #[test]
    fn all_generations_bad_refuses_naming_each() {
        let gens = generations(3, b"k");
        let refusal = match plan("s", Live::Missing, &view(&gens), &mut Keyring::new(None)) {
            Decision::Refuse(refusal) => refusal,
            other => panic!("{other:?}"),
        };
        let text = refusal.to_string();
        for g in 1..=3 {
            assert!(
                text.contains(&format!("snapshot generation {g}: encrypted")),
                "{text}"
            );
        }
        assert!(text.contains("SESSION_SECRET"), "{text}");
    }
}
