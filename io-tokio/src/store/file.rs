//! A file store for hosts with a persistent disk: creds in one file,
//! pre-keys and inbox entries one file each, every write atomic
//! (write a temporary file, fsync, rename, fsync the directory), so a crash
//! at any instruction leaves either the old or the new record, never half.

use std::io::Write;
use std::path::{Path, PathBuf};

use blacksky_core::client::StoreOp;
use blacksky_core::session::Creds;

use super::{Store, StoreError};

/// Files under `<data_dir>/<session>/`.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// Opens (creating if needed) the store of session `session` in `data_dir`.
    pub fn open(data_dir: &Path, session: &str) -> Result<FileStore, StoreError> {
        let dir = data_dir.join(session);
        for sub in ["", "pre-keys", "inbox"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
                what: format!("creating {}", path.display()),
                source,
            })?;
        }
        Ok(FileStore { dir })
    }

    fn creds_path(&self) -> PathBuf {
        self.dir.join("creds.pb")
    }

    /// Inbox entries stored so far (ids), for tests and tools.
    pub fn inbox_ids(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.join("inbox");
        let entries = std::fs::read_dir(&dir).map_err(|source| StoreError::Io {
            what: format!("listing {}", dir.display()),
            source,
        })?;
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".msg"))
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new
/// content: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("record")
    ));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Message ids come from the server: keep file names to a safe alphabet.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl FileStore {
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic(path, bytes).map_err(|source| StoreError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }

    fn apply_blocking(&self, op: &StoreOp) -> Result<(), StoreError> {
        match op {
            StoreOp::Creds(creds) => self.write(&self.creds_path(), &creds.encode()),
            StoreOp::PreKeys { creds, keys } => {
                // Keys first: creds that count a key must never exist
                // without it.
                for key in keys {
                    self.write(
                        &self.dir.join("pre-keys").join(format!("{}.pb", key.id)),
                        &key.encode(),
                    )?;
                }
                self.write(&self.creds_path(), &creds.encode())
            }
            StoreOp::Inbox(entry) => {
                let path = self
                    .dir
                    .join("inbox")
                    .join(format!("{}.msg", file_safe(&entry.id)));
                if path.exists() {
                    return Ok(()); // a redelivery: already committed
                }
                self.write(&path, &entry.stanza)
            }
        }
    }
}

impl Store for FileStore {
    async fn load_creds(&mut self) -> Result<Option<Creds>, StoreError> {
        let path = self.creds_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    what: format!("reading {}", path.display()),
                    source,
                });
            }
        };
        Creds::decode(&bytes)
            .map(Some)
            .map_err(|err| StoreError::Corrupt {
                what: path.display().to_string(),
                detail: err.to_string(),
            })
    }

    async fn apply(&mut self, op: &StoreOp) -> Result<(), StoreError> {
        let store = self.clone();
        let op = op.clone();
        tokio::task::spawn_blocking(move || store.apply_blocking(&op))
            .await
            .map_err(|err| StoreError::Io {
                what: "store task".into(),
                source: std::io::Error::other(err.to_string()),
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacksky_core::client::InboxEntry;
    use blacksky_core::time::UnixMillis;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[tokio::test]
    async fn creds_survive_a_reopen_and_corruption_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = FileStore::open(dir.path(), "s1").expect("open");
        assert!(store.load_creds().await.expect("empty store").is_none());
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1));
        store
            .apply(&StoreOp::Creds(Box::new(creds.clone())))
            .await
            .expect("write");
        let mut reopened = FileStore::open(dir.path(), "s1").expect("reopen");
        let back = reopened.load_creds().await.expect("read").expect("present");
        assert_eq!(back.encode(), creds.encode());

        std::fs::write(reopened.creds_path(), b"\xff\xff").expect("corrupt it");
        let err = reopened
            .load_creds()
            .await
            .expect_err("corrupt creds are not a fresh store");
        assert!(err.to_string().contains("creds.pb"), "{err}");
    }

    #[tokio::test]
    async fn inbox_ignores_redeliveries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = FileStore::open(dir.path(), "s1").expect("open");
        let entry = InboxEntry {
            id: "ABC/1".into(),
            from: "1@s.whatsapp.net".into(),
            stanza: vec![1],
            received_at: UnixMillis(5),
        };
        store
            .apply(&StoreOp::Inbox(entry.clone()))
            .await
            .expect("first");
        store
            .apply(&StoreOp::Inbox(InboxEntry {
                stanza: vec![2],
                ..entry
            }))
            .await
            .expect("again");
        assert_eq!(store.inbox_ids().expect("list"), vec!["ABC_1".to_owned()]);
    }
}
