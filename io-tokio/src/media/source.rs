//! What is uploaded: bytes in memory (a shipped clip) or a file, read in
//! pieces, twice: once to learn the blob's hash (the upload's token), once
//! to send it. The key is the same both times, so the bytes are too; the
//! whole file is never in memory.

use std::path::PathBuf;

use blacksky_core::media::{EncryptedMedia, MediaEncryptor, MediaKeys};
use hyper::body::Bytes;
use tokio::io::AsyncReadExt;

use super::error::MediaTransferError;

#[derive(Debug, Clone)]
pub enum MediaSource {
    Bytes(Bytes),
    File(PathBuf),
}

/// Reads a source piece by piece.
pub(crate) enum Reader {
    Bytes { bytes: Bytes, at: usize },
    File(tokio::fs::File),
}

impl MediaSource {
    /// Bytes built into the binary (a shipped reaction clip).
    #[must_use]
    pub fn from_static(bytes: &'static [u8]) -> MediaSource {
        MediaSource::Bytes(Bytes::from_static(bytes))
    }

    #[must_use]
    pub fn from_vec(bytes: Vec<u8>) -> MediaSource {
        MediaSource::Bytes(Bytes::from(bytes))
    }

    pub(crate) async fn open(&self) -> Result<Reader, MediaTransferError> {
        Ok(match self {
            MediaSource::Bytes(bytes) => Reader::Bytes {
                bytes: bytes.clone(),
                at: 0,
            },
            MediaSource::File(path) => Reader::File(
                tokio::fs::File::open(path)
                    .await
                    .map_err(MediaTransferError::Source)?,
            ),
        })
    }
}

impl Reader {
    /// The next piece of at most `max` bytes into `buf` (cleared first);
    /// empty at the end.
    pub(crate) async fn next(
        &mut self,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), MediaTransferError> {
        buf.clear();
        match self {
            Reader::Bytes { bytes, at } => {
                let end = (*at + max).min(bytes.len());
                buf.extend_from_slice(&bytes[*at..end]);
                *at = end;
            }
            Reader::File(file) => {
                buf.resize(max, 0);
                let n = file.read(buf).await.map_err(MediaTransferError::Source)?;
                buf.truncate(n);
            }
        }
        Ok(())
    }
}

/// The first pass: the blob's hashes and length, nothing kept.
pub(crate) async fn measure(
    source: &MediaSource,
    keys: &MediaKeys,
    chunk_bytes: usize,
) -> Result<EncryptedMedia, MediaTransferError> {
    let mut reader = source.open().await?;
    let mut encryptor = MediaEncryptor::new(keys);
    let mut plain = Vec::with_capacity(chunk_bytes);
    let mut scratch = Vec::with_capacity(chunk_bytes + 16);
    loop {
        reader.next(&mut plain, chunk_bytes).await?;
        if plain.is_empty() {
            break;
        }
        scratch.clear();
        encryptor.update(&plain, &mut scratch);
    }
    scratch.clear();
    Ok(encryptor.finish(&mut scratch))
}
