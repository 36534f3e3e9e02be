//! The post-handshake cipher: one AES-256-GCM key and counter per
//! direction, empty associated data, every frame one nonce.
//!
//! Frames arrive in order over one WebSocket, so the read counter is
//! implicit: a replayed, dropped or reordered frame fails authentication.
//! Any error is fatal to the connection: drop it and reconnect.

use std::fmt;

use thiserror::Error;

use super::symmetric::{CipherError, CipherState, TAG_LEN};

/// Which half of a [`Transport`] an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Write,
    Read,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Write => "write",
            Direction::Read => "read",
        })
    }
}

/// What went wrong with one transport frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransportError {
    #[error("frame of {len} bytes is shorter than the 16-byte tag")]
    FrameTooShort { len: usize },
    #[error("frame {counter} failed authentication: tampered, replayed, reordered or wrong key")]
    DecryptFailed { counter: u32 },
    #[error("{direction} nonce counter exhausted after 2^32 frames; reconnect")]
    CounterExhausted { direction: Direction },
    #[error("plaintext of {len} bytes is over AES-GCM's per-message limit")]
    TooLong { len: usize },
}

/// The sending half: encrypts outgoing frames.
pub struct TransportWriter {
    cipher: CipherState,
}

/// The receiving half: decrypts incoming frames.
pub struct TransportReader {
    cipher: CipherState,
}

/// Both halves, as the handshake hands them out.
pub struct Transport {
    writer: TransportWriter,
    reader: TransportReader,
}

fn write_error(err: CipherError, len: usize) -> TransportError {
    match err {
        CipherError::CounterExhausted => TransportError::CounterExhausted {
            direction: Direction::Write,
        },
        CipherError::TooLong | CipherError::Open => TransportError::TooLong { len },
    }
}

impl TransportWriter {
    /// Encrypts `plaintext` into a new buffer (ciphertext ‖ tag).
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        self.encrypt_in_place(&mut buf)?;
        Ok(buf)
    }

    /// Encrypts `buf` in place and appends the 16-byte tag. Allocates
    /// nothing when `buf` has 16 bytes of spare capacity.
    pub fn encrypt_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), TransportError> {
        let len = buf.len();
        self.cipher
            .seal_append(&[], buf)
            .map_err(|e| write_error(e, len))
    }

    /// Encrypts `buf` in place and returns the tag for the caller to place
    /// after it (e.g. a frame buffer that already holds its length prefix).
    pub fn encrypt_in_place_detached(
        &mut self,
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], TransportError> {
        let len = buf.len();
        self.cipher
            .seal_detached(&[], buf)
            .map_err(|e| write_error(e, len))
    }

    /// The nonce the next frame will use (2^32 once exhausted).
    #[must_use]
    pub fn counter(&self) -> u64 {
        self.cipher.counter()
    }
}

impl TransportReader {
    /// Decrypts `ciphertext` (ciphertext ‖ tag) into a new buffer.
    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = ciphertext.to_vec();
        let len = self.decrypt_in_place(&mut buf)?.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Decrypts `buf` in place and returns the plaintext, a prefix of
    /// `buf`. No allocation. On error the counter does not move and the
    /// contents of `buf` are unspecified.
    pub fn decrypt_in_place<'a>(
        &mut self,
        buf: &'a mut [u8],
    ) -> Result<&'a mut [u8], TransportError> {
        if buf.len() < TAG_LEN {
            return Err(TransportError::FrameTooShort { len: buf.len() });
        }
        let counter = self.cipher.counter();
        self.cipher
            .open_in_place(&[], buf)
            .map_err(|err| match err {
                CipherError::CounterExhausted => TransportError::CounterExhausted {
                    direction: Direction::Read,
                },
                // Below 2^32 here: the nonce was built from it.
                CipherError::Open | CipherError::TooLong => TransportError::DecryptFailed {
                    counter: u32::try_from(counter).unwrap_or(u32::MAX),
                },
            })
    }

    /// The nonce the next frame must have been sealed with.
    #[must_use]
    pub fn counter(&self) -> u64 {
        self.cipher.counter()
    }
}

impl Transport {
    /// `write_key` seals what we send, `read_key` opens what we receive.
    pub(crate) fn new(write_key: &[u8; 32], read_key: &[u8; 32]) -> Self {
        Transport {
            writer: TransportWriter {
                cipher: CipherState::new(write_key),
            },
            reader: TransportReader {
                cipher: CipherState::new(read_key),
            },
        }
    }

    /// From raw keys, skipping the handshake: for benches and tests.
    #[doc(hidden)]
    #[must_use]
    pub fn from_raw_keys(write_key: &[u8; 32], read_key: &[u8; 32]) -> Self {
        Self::new(write_key, read_key)
    }

    /// Moves both counters, to test exhaustion without 2^32 frames.
    #[doc(hidden)]
    pub fn set_counters_for_test(&mut self, write: u64, read: u64) {
        self.writer.cipher.set_counter(write);
        self.reader.cipher.set_counter(read);
    }

    /// See [`TransportWriter::encrypt`].
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.writer.encrypt(plaintext)
    }

    /// See [`TransportWriter::encrypt_in_place`].
    pub fn encrypt_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), TransportError> {
        self.writer.encrypt_in_place(buf)
    }

    /// See [`TransportWriter::encrypt_in_place_detached`].
    pub fn encrypt_in_place_detached(
        &mut self,
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], TransportError> {
        self.writer.encrypt_in_place_detached(buf)
    }

    /// See [`TransportReader::decrypt`].
    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.reader.decrypt(ciphertext)
    }

    /// See [`TransportReader::decrypt_in_place`].
    pub fn decrypt_in_place<'a>(
        &mut self,
        buf: &'a mut [u8],
    ) -> Result<&'a mut [u8], TransportError> {
        self.reader.decrypt_in_place(buf)
    }

    /// Frames sent so far (the next write nonce).
    #[must_use]
    pub fn write_counter(&self) -> u64 {
        self.writer.counter()
    }

    /// Frames received so far (the next read nonce).
    #[must_use]
    pub fn read_counter(&self) -> u64 {
        self.reader.counter()
    }

    /// The two halves, for a driver that reads and writes separately.
    #[must_use]
    pub fn into_split(self) -> (TransportWriter, TransportReader) {
        (self.writer, self.reader)
    }
}

impl fmt::Debug for TransportWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportWriter")
            .field("counter", &self.counter())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TransportReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportReader")
            .field("counter", &self.counter())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("write_counter", &self.write_counter())
            .field("read_counter", &self.read_counter())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Transport, Transport) {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        (Transport::new(&a, &b), Transport::new(&b, &a))
    }

    #[test]
    fn in_place_paths_agree_with_allocating_paths() {
        let (mut client, mut server) = pair();
        let sealed = client.encrypt(b"hello").expect("encrypt");
        let mut buf = Vec::with_capacity(5 + TAG_LEN);
        buf.extend_from_slice(b"hello");
        let mut client2 = pair().0;
        client2
            .encrypt_in_place(&mut buf)
            .expect("encrypt in place");
        assert_eq!(sealed, buf);

        let mut detached = b"hello".to_vec();
        let mut client3 = pair().0;
        let tag = client3
            .encrypt_in_place_detached(&mut detached)
            .expect("detached");
        detached.extend_from_slice(&tag);
        assert_eq!(sealed, detached);

        let plain = server.decrypt_in_place(&mut buf).expect("decrypt");
        assert_eq!(plain, b"hello");
        assert_eq!((server.read_counter(), server.write_counter()), (1, 0));
    }

    #[test]
    fn short_frame_and_failure_keep_counter() {
        let (mut client, mut server) = pair();
        assert_eq!(
            server.decrypt(&[0; 15]),
            Err(TransportError::FrameTooShort { len: 15 })
        );
        let mut bad = client.encrypt(b"x").expect("encrypt");
        bad[0] ^= 1;
        assert_eq!(
            server.decrypt(&bad),
            Err(TransportError::DecryptFailed { counter: 0 })
        );
        assert_eq!(server.read_counter(), 0);
        bad[0] ^= 1;
        assert_eq!(server.decrypt(&bad).expect("untampered"), b"x");
    }

    #[test]
    fn debug_shows_counters_only() {
        let (client, _) = pair();
        assert_eq!(
            format!("{client:?}"),
            "Transport { write_counter: 0, read_counter: 0, .. }"
        );
    }
}
