//! Live rows sealed at rest. With SESSION_SECRET set, the SQL stores keep
//! every credential and key row (creds, pre-keys, Signal sessions, sender
//! keys, identities, app-state keys) as AES-256-GCM ciphertext
//! (`blacksky_core::session::row_seal`): the key is PBKDF2 from the secret
//! and a random salt the store keeps in its `row_sealing` row (migration
//! 0008), derived once per process; each write draws a fresh nonce, and
//! the row's identity is the associated data, so a value moved onto
//! another row does not open. The `row_sealing` row also holds a check
//! value, so a wrong secret is told at open, before any row is read.
//!
//! Whether a store is sealed is the store's own fact, not the config's: a
//! store sealed under a secret refuses to open without it or under
//! another (never a silent re-link); a store written without the secret
//! is sealed, every row in one transaction, on the first open with it.

use std::sync::{Arc, Mutex};

use blacksky_core::session::row_seal::{self, RowSealError, row_identity};
use blacksky_core::session::snapshot::{KDF_ITERATIONS_DEFAULT, KDF_ITERATIONS_MAX, SnapshotKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::StoreError;
use crate::host::config::Secret;

/// The secret the key rows are sealed with, and the derivation cost a
/// store sealed for the first time gets (a sealed store keeps its own).
#[derive(Clone)]
pub struct RowSecret {
    secret: Zeroizing<Vec<u8>>,
    kdf_iterations: u32,
}

impl std::fmt::Debug for RowSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSecret")
            .field("secret", &"<redacted>")
            .field("kdf_iterations", &self.kdf_iterations)
            .finish()
    }
}

/// Keys derived in this process, by secret digest, salt and cost: a store
/// opened again (a retry, the CLI's second handle) does not pay PBKDF2
/// again. Bounded: a process has one secret and a store or two.
static DERIVED: Mutex<Vec<([u8; 32], Arc<SnapshotKey>)>> = Mutex::new(Vec::new());
const DERIVED_KEYS_MAX: usize = 8;

impl RowSecret {
    /// SESSION_SECRET with the standard (slow) derivation.
    pub fn new(secret: &Secret) -> RowSecret {
        RowSecret::with_kdf_iterations(secret.expose().as_bytes(), KDF_ITERATIONS_DEFAULT)
    }

    /// A secret with another derivation cost (tests: fast).
    pub fn with_kdf_iterations(secret: &[u8], kdf_iterations: u32) -> RowSecret {
        RowSecret {
            secret: Zeroizing::new(secret.to_vec()),
            kdf_iterations: kdf_iterations.clamp(1, KDF_ITERATIONS_MAX),
        }
    }

    pub(crate) fn kdf_iterations(&self) -> u32 {
        self.kdf_iterations
    }

    /// The key for `salt`, derived off the async runtime the first time
    /// this process asks.
    pub(crate) async fn key(
        &self,
        salt: [u8; 16],
        iterations: u32,
    ) -> Result<Arc<SnapshotKey>, StoreError> {
        let mut tag = Sha256::new();
        tag.update(&self.secret[..]);
        tag.update(salt);
        tag.update(iterations.to_be_bytes());
        let tag: [u8; 32] = tag.finalize().into();
        if let Some(key) = derived(&tag) {
            return Ok(key);
        }
        let secret = self.secret.clone();
        let key =
            tokio::task::spawn_blocking(move || SnapshotKey::derive(&secret, salt, iterations))
                .await
                .map_err(|_| {
                    StoreError::Config("deriving the key from SESSION_SECRET failed".into())
                })?;
        let key = Arc::new(key);
        if let Ok(mut keys) = DERIVED.lock() {
            if keys.len() >= DERIVED_KEYS_MAX {
                keys.remove(0);
            }
            keys.push((tag, key.clone()));
        }
        Ok(key)
    }
}

fn derived(tag: &[u8; 32]) -> Option<Arc<SnapshotKey>> {
    let keys = DERIVED.lock().ok()?;
    keys.iter().find(|(t, _)| t == tag).map(|(_, k)| k.clone())
}

/// A fresh random salt for a store sealed for the first time.
pub(crate) fn fresh_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    salt
}

/// How a store keeps its key rows.
#[derive(Clone)]
pub(crate) enum Rows {
    Clear,
    Sealed(Arc<SnapshotKey>),
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rows::Clear => "Clear",
            Rows::Sealed(_) => "Sealed",
        })
    }
}

/// One row of a sealed table, by its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyRow<'a> {
    Creds,
    PreKey(i64),
    SignalSession(&'a str),
    SenderKey { group: &'a str, sender: &'a str },
    Identity(&'a str),
    AppStateKey(&'a [u8]),
}

impl KeyRow<'_> {
    fn identity(self, session: &str) -> Vec<u8> {
        let s = session.as_bytes();
        match self {
            KeyRow::Creds => row_identity("creds", &[s]),
            KeyRow::PreKey(id) => row_identity("pre_keys", &[s, id.to_string().as_bytes()]),
            KeyRow::SignalSession(address) => {
                row_identity("signal_sessions", &[s, address.as_bytes()])
            }
            KeyRow::SenderKey { group, sender } => {
                row_identity("sender_keys", &[s, group.as_bytes(), sender.as_bytes()])
            }
            KeyRow::Identity(address) => row_identity("identities", &[s, address.as_bytes()]),
            KeyRow::AppStateKey(id) => row_identity("app_state_keys", &[s, id]),
        }
    }

    /// Names the row for an error, without the JIDs it is keyed by.
    fn describe(self, session: &str) -> String {
        let what = match self {
            KeyRow::Creds => "creds".to_owned(),
            KeyRow::PreKey(id) => format!("pre-key {id}"),
            KeyRow::SignalSession(_) => "a Signal session record".to_owned(),
            KeyRow::SenderKey { .. } => "a sender key".to_owned(),
            KeyRow::Identity(_) => "a contact's identity key".to_owned(),
            KeyRow::AppStateKey(_) => "an app-state key".to_owned(),
        };
        format!("{what} of session {session:?}")
    }
}

impl Rows {
    /// The key rows are sealed under this key.
    pub(crate) fn key(&self) -> Option<&Arc<SnapshotKey>> {
        match self {
            Rows::Clear => None,
            Rows::Sealed(key) => Some(key),
        }
    }

    /// `plain` as row `row` of `session` stores it.
    pub(crate) fn seal(&self, session: &str, row: KeyRow<'_>, plain: &[u8]) -> Vec<u8> {
        match self {
            Rows::Clear => plain.to_vec(),
            Rows::Sealed(key) => {
                let mut nonce = [0u8; 12];
                OsRng.fill_bytes(&mut nonce);
                row_seal::seal_row(key, nonce, &row.identity(session), plain)
            }
        }
    }

    /// The plain value of row `row` of `session` as stored.
    pub(crate) fn open(
        &self,
        session: &str,
        row: KeyRow<'_>,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        match self {
            Rows::Clear => Ok(stored),
            Rows::Sealed(key) => row_seal::open_row(key, &row.identity(session), &stored)
                .map(|plain| plain.to_vec())
                .map_err(|err| StoreError::Corrupt {
                    what: row.describe(session),
                    detail: match err {
                        RowSealError::Malformed => {
                            "not sealed, though the store is (written by hand?)".to_owned()
                        }
                        RowSealError::WrongKeyOrRow => {
                            "its seal does not open: moved from another row or altered".to_owned()
                        }
                    },
                }),
        }
    }
}

/// The known value the `row_sealing` row keeps sealed: it opens only
/// under the secret the store was sealed with.
const CHECK_PLAIN: &[u8] = b"blacksky sealed rows";

fn check_identity() -> Vec<u8> {
    row_identity("row_sealing", &[])
}

pub(crate) fn check_value(key: &SnapshotKey) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    row_seal::seal_row(key, nonce, &check_identity(), CHECK_PLAIN)
}

pub(crate) fn check_opens(key: &SnapshotKey, stored: &[u8]) -> bool {
    row_seal::open_row(key, &check_identity(), stored).is_ok_and(|plain| plain[..] == *CHECK_PLAIN)
}

/// A sealed store opened without the secret.
pub(crate) fn sealed_without_secret() -> StoreError {
    StoreError::Config(
        "the store's credential and key rows are sealed with a SESSION_SECRET, and \
         SESSION_SECRET is not set: start with the secret the store was sealed with"
            .to_owned(),
    )
}

/// A sealed store opened under another secret.
pub(crate) fn sealed_under_another_secret() -> StoreError {
    StoreError::Config(
        "the store's credential and key rows were sealed under another SESSION_SECRET: \
         start with the secret the store was sealed with"
            .to_owned(),
    )
}

/// The stored sealing parameters, checked.
pub(crate) fn stored_parameters(
    iterations: i64,
    salt: &[u8],
) -> Result<([u8; 16], u32), StoreError> {
    let corrupt = |detail: &str| StoreError::Corrupt {
        what: "row sealing parameters".to_owned(),
        detail: detail.to_owned(),
    };
    let salt: [u8; 16] = salt
        .try_into()
        .map_err(|_| corrupt("the salt is not 16 bytes"))?;
    let iterations = u32::try_from(iterations)
        .ok()
        .filter(|n| (1..=KDF_ITERATIONS_MAX).contains(n))
        .ok_or_else(|| corrupt("the iteration count is out of range"))?;
    Ok((salt, iterations))
}
