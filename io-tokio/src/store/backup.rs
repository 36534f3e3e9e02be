//! Backup and restore around a [`Store`]: sealing snapshots, deciding at
//! start what the session resumes from (live tables, a snapshot, a session
//! string, or a new device), and the session-string import and export the
//! `blacksky session` commands use.

use blacksky_core::session::restore::{self, Decision, Generation, Live, Refusal, Skipped};
use blacksky_core::session::snapshot::{
    self, KDF_ITERATIONS_DEFAULT, Keyring, Seal, SnapshotError, SnapshotHeader, SnapshotKey,
};
use blacksky_core::session::{Creds, Session, Write};
use blacksky_core::time::UnixMillis;
use rand_core::{OsRng, RngCore};
use thiserror::Error;
use tokio::task::JoinHandle;

use super::{CorruptRecord, LiveCreds, Store, StoreError, wall_now};
use crate::host::config::Secret;

/// Says once, plainly, whether snapshots are encrypted.
pub fn announce_encryption(secret: Option<&Secret>) {
    if secret.is_some() {
        tracing::info!(
            "snapshots and session strings are encrypted (AES-256-GCM, key from SESSION_SECRET)"
        );
    } else {
        tracing::warn!(
            "SESSION_SECRET is not set: snapshots and exported session strings are NOT encrypted; \
             anyone who reads them can take over this WhatsApp session"
        );
    }
}

/// The keyring for opening snapshots with the configured secret.
pub fn keyring(secret: Option<&Secret>) -> Keyring {
    Keyring::new(secret.map(|s| s.expose().as_bytes()))
}

/// Adds the key `store`'s live rows are sealed under to `keys`: snapshots
/// sealed under it open without deriving it again.
pub fn learn_row_key<S: Store>(keys: &mut Keyring, store: &S) {
    if let Some(key) = store.row_key() {
        keys.insert(SnapshotKey::clone(&key));
    }
}

enum KeyState {
    Plain,
    Pending(JoinHandle<SnapshotKey>),
    Ready(SnapshotKey),
}

/// Seals snapshots for one session: with SESSION_SECRET, under a key
/// derived once per process (random salt, PBKDF2 off the async runtime)
/// and a fresh random nonce per snapshot; without it, plain.
pub struct Sealer {
    session_name: String,
    key: KeyState,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("session_name", &self.session_name)
            .field("encrypted", &self.is_encrypted())
            .finish()
    }
}

impl Sealer {
    /// Starts deriving the key (call inside a tokio runtime).
    pub fn new(session_name: &str, secret: Option<&Secret>, kdf_iterations: u32) -> Sealer {
        let key = match secret {
            None => KeyState::Plain,
            Some(secret) => {
                let secret = zeroize::Zeroizing::new(secret.expose().as_bytes().to_vec());
                let mut salt = [0u8; 16];
                OsRng.fill_bytes(&mut salt);
                KeyState::Pending(tokio::task::spawn_blocking(move || {
                    SnapshotKey::derive(&secret, salt, kdf_iterations)
                }))
            }
        };
        Sealer {
            session_name: session_name.to_owned(),
            key,
        }
    }

    /// Seals under the key `store`'s live rows are sealed under when it
    /// has one (one derivation from the secret per process, not two),
    /// else as [`Sealer::new`].
    pub fn for_store<S: Store>(store: &S, secret: Option<&Secret>, kdf_iterations: u32) -> Sealer {
        match store.row_key() {
            Some(key) => Sealer {
                session_name: store.session_name().to_owned(),
                key: KeyState::Ready(SnapshotKey::clone(&key)),
            },
            None => Sealer::new(store.session_name(), secret, kdf_iterations),
        }
    }

    /// With the default (slow) key derivation.
    pub fn standard(session_name: &str, secret: Option<&Secret>) -> Sealer {
        Sealer::new(session_name, secret, KDF_ITERATIONS_DEFAULT)
    }

    pub fn is_encrypted(&self) -> bool {
        !matches!(self.key, KeyState::Plain)
    }

    /// Seals `session` as a snapshot made at `created_at`.
    pub async fn seal(
        &mut self,
        session: &Session,
        created_at: UnixMillis,
    ) -> Result<Vec<u8>, SnapshotError> {
        if let KeyState::Pending(task) = &mut self.key {
            match task.await {
                Ok(key) => self.key = KeyState::Ready(key),
                // The derivation cannot panic; if the runtime dropped it,
                // refuse rather than fall back to plain text.
                Err(_) => return Err(SnapshotError::NoSecret),
            }
        }
        let seal = match &self.key {
            KeyState::Ready(key) => {
                let mut nonce = [0u8; 12];
                OsRng.fill_bytes(&mut nonce);
                Seal::Encrypted { key, nonce }
            }
            _ => Seal::Plain,
        };
        snapshot::encode_snapshot(session, &self.session_name, created_at, seal)
    }
}

/// Where the session came from at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The live tables.
    Live,
    /// The live creds were missing or unreadable; this generation was
    /// written back into the live tables.
    Restored { generation: u64 },
    /// Imported from SESSION_DATA.
    Imported,
    /// Nothing was stored: new credentials (a new device to link).
    New,
}

/// What the session starts with.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The whole session: creds, keys, and whether a login with these
    /// creds was confirmed.
    pub session: Session,
    pub source: Source,
}

/// Why the session cannot start.
#[derive(Debug, Error)]
pub enum PrepareError {
    /// Stored creds exist and none can be read (the text says how to recover).
    #[error("{0}")]
    Refused(Refusal),
    /// The store did not answer (retry).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// SESSION_DATA (or an imported string) does not read or open.
    #[error("the session string: {0}")]
    SessionString(SnapshotError),
    /// An import would overwrite another linked device.
    #[error(
        "session {session:?} already holds another linked device; \
         run `blacksky session wipe --yes` first, or import with --force"
    )]
    OtherDeviceLinked { session: String },
    /// Neither the live tables nor any snapshot hold a session.
    #[error("session {session:?} holds nothing to export")]
    NothingToExport { session: String },
    /// The session does not seal into a snapshot.
    #[error("sealing the snapshot: {0}")]
    Seal(SnapshotError),
}

/// Logs each generation that was passed over, by number.
pub fn report_skipped(skipped: &[Skipped]) {
    for s in skipped {
        tracing::warn!(generation = s.generation, "{s}; skipped");
    }
}

/// Decides and carries out what the session starts from (DESIGN.md,
/// Durability 3 and 4): live creds; else the newest snapshot that opens;
/// else, with nothing stored at all, SESSION_DATA or new credentials
/// (stored at once, so a crash before linking keeps the same keys). A
/// SESSION_DATA string is imported when the store holds no linked device,
/// and as the recovery when nothing stored can be read.
pub async fn prepare<S: Store>(
    store: &mut S,
    session_data: Option<&Secret>,
    keys: &mut Keyring,
) -> Result<Prepared, PrepareError> {
    prepare_with(store, session_data, keys, &mut OsRng).await
}

/// [`prepare`], drawing new credentials (an empty store) from `rng`: the
/// simulation's seed, so a run replays.
pub async fn prepare_with<S: Store>(
    store: &mut S,
    session_data: Option<&Secret>,
    keys: &mut Keyring,
    rng: &mut (impl rand_core::CryptoRngCore + Send),
) -> Result<Prepared, PrepareError> {
    let (live, live_state) = match store.load_creds().await {
        Ok(Some(live)) => (Some(live), Live::Present),
        Ok(None) => (None, Live::Missing),
        Err(StoreError::Corrupt { what, detail }) => {
            (None, Live::Corrupt(format!("{what}: {detail}")))
        }
        Err(err) => return Err(err.into()),
    };
    let stored = store.snapshots().await?;
    let generations: Vec<Generation<'_>> = stored
        .iter()
        .map(|s| Generation {
            generation: s.generation,
            bytes: &s.bytes,
        })
        .collect();
    let name = store.session_name().to_owned();
    match restore::plan(&name, live_state, &generations, keys) {
        Decision::UseLive { skipped } => {
            report_skipped(&skipped);
            let Some(live) = live else {
                unreachable!("UseLive is only decided for present creds")
            };
            match session_data {
                Some(text) if !live.creds.is_registered() => {
                    tracing::info!("the store holds no linked device: importing SESSION_DATA");
                    import_text(store, text.expose(), keys).await
                }
                Some(_) => {
                    tracing::info!(
                        "SESSION_DATA ignored: the store already holds a linked session"
                    );
                    live_session(store, live).await
                }
                None => live_session(store, live).await,
            }
        }
        Decision::Restore {
            generation,
            session,
            skipped,
        } => {
            report_skipped(&skipped);
            tracing::warn!(
                generation,
                "the live creds are missing or unreadable: restoring snapshot generation {generation}"
            );
            store.replace_session(&session).await?;
            Ok(Prepared {
                session: *session,
                source: Source::Restored { generation },
            })
        }
        Decision::Empty => match session_data {
            Some(text) => {
                tracing::info!("empty store: importing the session from SESSION_DATA");
                import_text(store, text.expose(), keys).await
            }
            None => {
                let creds = Creds::generate(rng);
                store
                    .commit(&[Write::Creds(Box::new(creds.clone()))])
                    .await?;
                Ok(Prepared {
                    session: Session::new(creds),
                    source: Source::New,
                })
            }
        },
        Decision::Refuse(refusal) => match session_data {
            Some(text) => {
                tracing::error!("{refusal}");
                tracing::warn!("recovering from SESSION_DATA, as configured");
                import_text(store, text.expose(), keys).await
            }
            None => Err(PrepareError::Refused(refusal)),
        },
    }
}

async fn import_text<S: Store>(
    store: &mut S,
    text: &str,
    keys: &mut Keyring,
) -> Result<Prepared, PrepareError> {
    let session = import(store, text.as_bytes(), keys, true).await?;
    Ok(Prepared {
        session,
        source: Source::Imported,
    })
}

/// The live session with its keys. A key row that does not read back
/// costs its keys, not the start: the session runs on its creds, and a
/// contact whose session is lost gets a retry receipt and starts a new one.
async fn live_session<S: Store>(store: &mut S, live: LiveCreds) -> Result<Prepared, PrepareError> {
    let creds_only = |live: LiveCreds| {
        let mut session = Session::new(live.creds);
        session.login_confirmed = live.login_confirmed;
        session
    };
    let session = match store.load_session().await {
        Ok(Some(session)) => session,
        // Gone since the creds were read (another process wiped it).
        Ok(None) => creds_only(live),
        Err(StoreError::Corrupt { what, detail }) => {
            tracing::error!(
                "{what} does not read back ({detail}): starting without the stored keys"
            );
            creds_only(live)
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Prepared {
        session,
        source: Source::Live,
    })
}

/// Imports a session string (or raw snapshot) into the store: the live
/// tables are replaced by its session and it becomes the newest snapshot
/// generation. Without `force`, a store that holds a different linked
/// device is left alone.
pub async fn import<S: Store>(
    store: &mut S,
    input: &[u8],
    keys: &mut Keyring,
    force: bool,
) -> Result<Session, PrepareError> {
    let (name, bytes) = snapshot::snapshot_bytes(input).map_err(PrepareError::SessionString)?;
    let (_, session) =
        snapshot::decode_snapshot(&bytes, keys).map_err(PrepareError::SessionString)?;
    if let Some(name) = name.filter(|n| n != store.session_name()) {
        tracing::info!(
            "the session string was exported from session {name:?}; importing it as {:?}",
            store.session_name()
        );
    }
    if !force {
        match store.load_creds().await {
            Ok(Some(live))
                if live.creds.is_registered()
                    && live.creds.noise_key.public() != session.creds.noise_key.public() =>
            {
                return Err(PrepareError::OtherDeviceLinked {
                    session: store.session_name().to_owned(),
                });
            }
            Ok(_) | Err(StoreError::Corrupt { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    store.replace_session(&session).await?;
    store.put_snapshot(wall_now(), &bytes, u32::MAX).await?;
    Ok(session)
}

/// The session as a string to paste into SESSION_DATA: from the live
/// tables, or from the newest snapshot that opens when they are unreadable.
/// `compact` leaves out the one-time pre-keys (they are most of the size;
/// see the README).
pub async fn export<S: Store>(
    store: &mut S,
    keys: &mut Keyring,
    sealer: &mut Sealer,
    compact: bool,
) -> Result<String, PrepareError> {
    let live = match store.load_session().await {
        Ok(session) => session,
        Err(StoreError::Corrupt { what, detail }) => {
            tracing::warn!(
                "the live session is unreadable ({what}: {detail}); exporting the newest snapshot that opens"
            );
            None
        }
        Err(err) => return Err(err.into()),
    };
    let mut session = match live {
        Some(session) => session,
        None => {
            let stored = store.snapshots().await?;
            let generations: Vec<Generation<'_>> = stored
                .iter()
                .map(|s| Generation {
                    generation: s.generation,
                    bytes: &s.bytes,
                })
                .collect();
            match restore::plan(store.session_name(), Live::Missing, &generations, keys) {
                Decision::Restore {
                    session, skipped, ..
                } => {
                    report_skipped(&skipped);
                    *session
                }
                Decision::Refuse(refusal) => return Err(PrepareError::Refused(refusal)),
                _ => {
                    return Err(PrepareError::NothingToExport {
                        session: store.session_name().to_owned(),
                    });
                }
            }
        }
    };
    if compact {
        session.pre_keys.clear();
    }
    let bytes = sealer
        .seal(&session, wall_now())
        .await
        .map_err(PrepareError::Seal)?;
    Ok(snapshot::session_string(store.session_name(), &bytes))
}

/// One generation's verdict.
#[derive(Debug, Clone)]
pub struct GenerationCheck {
    pub generation: u64,
    pub created_at: UnixMillis,
    pub bytes: usize,
    pub header: Option<SnapshotHeader>,
    /// The device JID (`None` before linking), or what is wrong.
    pub verdict: Result<Option<String>, SnapshotError>,
}

/// What `blacksky session verify` reports.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The live creds: the device JID, or what is wrong.
    pub live: Result<Option<Option<String>>, CorruptRecord>,
    pub generations: Vec<GenerationCheck>,
}

impl VerifyReport {
    /// True when nothing stored is unreadable.
    pub fn all_ok(&self) -> bool {
        self.live.is_ok() && self.generations.iter().all(|g| g.verdict.is_ok())
    }
}

/// Opens the live session and every generation.
pub async fn verify<S: Store>(
    store: &mut S,
    keys: &mut Keyring,
) -> Result<VerifyReport, StoreError> {
    let live = match store.load_session().await {
        Ok(session) => Ok(session.map(|s| s.creds.me.map(|me| me.jid.to_string()))),
        Err(err) => Err(err.into_corrupt()?),
    };
    let generations = store
        .snapshots()
        .await?
        .into_iter()
        .map(|s| GenerationCheck {
            generation: s.generation,
            created_at: s.created_at,
            bytes: s.bytes.len(),
            header: snapshot::inspect(&s.bytes).ok(),
            verdict: snapshot::decode_snapshot(&s.bytes, keys)
                .map(|(_, session)| session.creds.me.map(|me| me.jid.to_string())),
        })
        .collect();
    Ok(VerifyReport { live, generations })
}
