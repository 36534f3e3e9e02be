//! The snapshot format: the whole session in one self-describing,
//! versioned, SHA-256 checksummed, compressed and (when a secret is set)
//! AES-256-GCM encrypted byte string. Backups are snapshots; a session
//! string (`SESSION_DATA`) is a snapshot in base64 behind the session name.
//!
//! Layout, integers big-endian:
//!
//! | offset   | bytes | field |
//! |----------|-------|-------|
//! | 0        | 8     | magic `BSKYSESS` |
//! | 8        | 1     | format version (1) |
//! | 9        | 1     | cipher: 0 none, 1 AES-256-GCM |
//! | 10       | 1     | kdf: 0 none, 1 PBKDF2-HMAC-SHA256 |
//! | 11       | 1     | compression: 1 raw DEFLATE |
//! | 12       | 4     | kdf iterations (0 without a cipher) |
//! | 16       | 16    | kdf salt (zeros without a cipher) |
//! | 32       | 12    | AES-GCM nonce (zeros without a cipher) |
//! | 44       | 8     | created at, Unix milliseconds |
//! | 52       | 1     | session name length `n` (1 to 64) |
//! | 53       | n     | session name (`A-Z a-z 0-9 - _ .`, as `SESSION_ID`) |
//! | 53+n     | 4     | body length `L` |
//! | 57+n     | L     | body: DEFLATE(`SessionSnapshot` protobuf); encrypted, that is ciphertext ‖ 16-byte tag with bytes 0..57+n as associated data |
//! | 57+n+L   | 32    | SHA-256 of bytes 0..57+n+L |
//!
//! The checksum is over everything, so corruption (a flipped bit, a
//! truncated write) is told apart from a wrong secret without any key: a
//! snapshot whose checksum holds but whose tag fails was sealed under
//! another secret (or forged by someone who recomputed the checksum).
//!
//! Key derivation: PBKDF2-HMAC-SHA256, 600 000 iterations by default
//! (OWASP's 2023 figure), a 16-byte random salt stored in the header. Not
//! HKDF: SESSION_SECRET is whatever a user types into a config var, often a
//! password, not a high-entropy key, so the derivation must be slow to make
//! guessing it from a leaked snapshot expensive. The cost is paid once per
//! process for sealing (one salt per process, a fresh nonce per snapshot)
//! and once per distinct salt when opening; the iteration count travels in
//! the header so it can be raised without breaking old snapshots.

use std::io::{Read, Write as _};
use std::num::NonZeroU32;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

use super::model::{RecordError, Session};
use crate::time::UnixMillis;

pub const MAGIC: &[u8; 8] = b"BSKYSESS";
pub const FORMAT_VERSION: u8 = 1;
/// PBKDF2 iterations for new snapshots.
pub const KDF_ITERATIONS_DEFAULT: u32 = 600_000;
/// Headers asking for more are refused (a forged header must not stall
/// the start for minutes).
pub const KDF_ITERATIONS_MAX: u32 = 10_000_000;
/// The largest snapshot accepted, and the largest body it may inflate to.
pub const SNAPSHOT_BYTES_MAX: usize = 64 << 20;
pub const SESSION_BYTES_MAX: usize = 256 << 20;
/// Between the session name and the snapshot in a session string.
pub const SESSION_STRING_SEPARATOR: &str = ";;;";
pub const SESSION_NAME_BYTES_MAX: usize = 64;

const CIPHER_NONE: u8 = 0;
const CIPHER_AES_256_GCM: u8 = 1;
const KDF_NONE: u8 = 0;
const KDF_PBKDF2_SHA256: u8 = 1;
const COMPRESSION_DEFLATE: u8 = 1;
const FIXED_HEADER_BYTES: usize = 53;
const CHECKSUM_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// Why a snapshot cannot be used. Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    #[error("not a blacksky snapshot (bad magic)")]
    BadMagic,
    #[error("truncated: {got} bytes, expected {expected}")]
    Truncated { got: usize, expected: usize },
    #[error("format version {0} is not one this blacksky reads (it reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown {what} {value}")]
    UnsupportedAlgorithm { what: &'static str, value: u8 },
    #[error("checksum mismatch: the snapshot is corrupt")]
    ChecksumMismatch,
    #[error("encrypted, but SESSION_SECRET is not set")]
    NoSecret,
    #[error(
        "cannot be decrypted with this SESSION_SECRET (made under another secret, or tampered with)"
    )]
    WrongKey,
    #[error("kdf iteration count {0} is out of range")]
    BadKdfIterations(u32),
    #[error("larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("session name is not 1-64 characters of A-Z a-z 0-9 - _ .")]
    BadName,
    #[error("body does not inflate: {0}")]
    Inflate(String),
    #[error("body: {0}")]
    Record(#[from] RecordError),
    #[error("not a session string: {0}")]
    BadSessionString(&'static str),
}

/// A key derived from SESSION_SECRET for one salt. Zeroized on drop;
/// `Debug` shows the salt only.
#[derive(Clone)]
pub struct SnapshotKey {
    salt: [u8; 16],
    iterations: u32,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotKey")
            .field("salt", &hex16(&self.salt))
            .field("iterations", &self.iterations)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn hex16(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SnapshotKey {
    /// PBKDF2-HMAC-SHA256(secret, salt, iterations). Slow on purpose.
    pub fn derive(secret: &[u8], salt: [u8; 16], iterations: u32) -> SnapshotKey {
        let rounds = NonZeroU32::new(iterations.max(1)).unwrap_or(NonZeroU32::MIN);
        let mut key = Zeroizing::new([0u8; 32]);
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            secret,
            &mut key[..],
        );
        SnapshotKey {
            salt,
            iterations: rounds.get(),
            key,
        }
    }

    pub fn salt(&self) -> [u8; 16] {
        self.salt
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub(crate) fn aead(&self) -> LessSafeKey {
        // 32 bytes is AES-256-GCM's key length, so this cannot fail.
        let unbound =
            UnboundKey::new(&AES_256_GCM, &self.key[..]).unwrap_or_else(|_| unreachable!());
        LessSafeKey::new(unbound)
    }
}

/// The secret and the keys derived from it so far (one per salt), so a
/// restore that reads five generations sealed by one process pays the KDF
/// once. `Debug` says only whether a secret is set.
#[derive(Clone, Default)]
pub struct Keyring {
    secret: Option<Zeroizing<Vec<u8>>>,
    derived: Vec<SnapshotKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("derived", &self.derived.len())
            .finish()
    }
}

impl Keyring {
    pub fn new(secret: Option<&[u8]>) -> Keyring {
        Keyring {
            secret: secret.map(|s| Zeroizing::new(s.to_vec())),
            derived: Vec::new(),
        }
    }

    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// Adds a key derived elsewhere (e.g. the process's sealing key, derived
    /// off the async runtime).
    pub fn insert(&mut self, key: SnapshotKey) {
        if self.key(key.salt, key.iterations).is_none() {
            self.derived.push(key);
        }
    }

    fn key(&self, salt: [u8; 16], iterations: u32) -> Option<&SnapshotKey> {
        self.derived
            .iter()
            .find(|k| k.salt == salt && k.iterations == iterations)
    }

    /// The key for this salt, derived on first use; `None` without a secret.
    pub fn key_for(&mut self, salt: [u8; 16], iterations: u32) -> Option<&SnapshotKey> {
        let secret = self.secret.as_ref()?;
        if self.key(salt, iterations).is_none() {
            let key = SnapshotKey::derive(secret, salt, iterations);
            self.derived.push(key);
        }
        self.key(salt, iterations)
    }
}

/// How a snapshot is sealed. The nonce must never repeat under one key:
/// the caller draws it from a CSPRNG.
#[derive(Debug, Clone, Copy)]
pub enum Seal<'a> {
    /// Checksummed and compressed, not encrypted.
    Plain,
    Encrypted {
        key: &'a SnapshotKey,
        nonce: [u8; 12],
    },
}

/// What a snapshot says about itself, readable without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub version: u8,
    pub encrypted: bool,
    pub kdf_iterations: u32,
    pub salt: [u8; 16],
    pub nonce: [u8; 12],
    pub created_at: UnixMillis,
    pub session_name: String,
    /// The stored body (compressed, and encrypted when `encrypted`).
    pub body_bytes: usize,
    /// The whole snapshot.
    pub total_bytes: usize,
}

/// Seals `session` into a snapshot.
pub fn encode_snapshot(
    session: &Session,
    session_name: &str,
    created_at: UnixMillis,
    seal: Seal<'_>,
) -> Result<Vec<u8>, SnapshotError> {
    if !is_session_name(session_name.as_bytes()) {
        return Err(SnapshotError::BadName);
    }
    let plain = Zeroizing::new(session.encode());
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate
        .write_all(&plain)
        .map_err(|err| SnapshotError::Inflate(err.to_string()))?;
    let mut body = Zeroizing::new(
        deflate
            .finish()
            .map_err(|err| SnapshotError::Inflate(err.to_string()))?,
    );
    let (cipher, kdf, iterations, salt, nonce) = match seal {
        Seal::Plain => (CIPHER_NONE, KDF_NONE, 0, [0; 16], [0; 12]),
        Seal::Encrypted { key, nonce } => (
            CIPHER_AES_256_GCM,
            KDF_PBKDF2_SHA256,
            key.iterations,
            key.salt,
            nonce,
        ),
    };
    let body_len = body.len() + if cipher == CIPHER_NONE { 0 } else { TAG_BYTES };
    let total = FIXED_HEADER_BYTES + session_name.len() + 4 + body_len + CHECKSUM_BYTES;
    if total > SNAPSHOT_BYTES_MAX {
        return Err(SnapshotError::TooLarge(SNAPSHOT_BYTES_MAX));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[FORMAT_VERSION, cipher, kdf, COMPRESSION_DEFLATE]);
    out.extend_from_slice(&iterations.to_be_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&created_at.as_millis().to_be_bytes());
    out.push(session_name.len() as u8);
    out.extend_from_slice(session_name.as_bytes());
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    if let Seal::Encrypted { key, nonce } = seal {
        let aad = out.clone();
        key.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut *body,
            )
            .map_err(|_| SnapshotError::WrongKey)?;
    }
    out.extend_from_slice(&body);
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    Ok(out)
}

/// The names a snapshot carries: those `SESSION_ID` allows, so that a
/// session string (`NAME;;;…`, whitespace dropped) always splits back to
/// the name it was written with.
fn is_session_name(name: &[u8]) -> bool {
    (1..=SESSION_NAME_BYTES_MAX).contains(&name.len())
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Reads the header and checks the checksum, with no key.
pub fn inspect(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    if bytes.len() > SNAPSHOT_BYTES_MAX {
        return Err(SnapshotError::TooLarge(SNAPSHOT_BYTES_MAX));
    }
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(if bytes.len() < 8 && MAGIC.starts_with(bytes) {
            SnapshotError::Truncated {
                got: bytes.len(),
                expected: FIXED_HEADER_BYTES,
            }
        } else {
            SnapshotError::BadMagic
        });
    }
    let truncated = |expected: usize| SnapshotError::Truncated {
        got: bytes.len(),
        expected,
    };
    if bytes.len() < FIXED_HEADER_BYTES {
        return Err(truncated(FIXED_HEADER_BYTES));
    }
    let version = bytes[8];
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let name_len = usize::from(bytes[52]);
    let body_at = FIXED_HEADER_BYTES + name_len + 4;
    if bytes.len() < body_at {
        return Err(truncated(body_at + CHECKSUM_BYTES));
    }
    let body_len = u32::from_be_bytes(be(&bytes[body_at - 4..body_at])) as usize;
    let total = body_at + body_len + CHECKSUM_BYTES;
    if bytes.len() != total {
        return Err(truncated(total));
    }
    let (content, checksum) = bytes.split_at(total - CHECKSUM_BYTES);
    if Sha256::digest(content).as_slice() != checksum {
        return Err(SnapshotError::ChecksumMismatch);
    }
    let (cipher, kdf, compression) = (bytes[9], bytes[10], bytes[11]);
    let encrypted = match (cipher, kdf) {
        (CIPHER_NONE, KDF_NONE) => false,
        (CIPHER_AES_256_GCM, KDF_PBKDF2_SHA256) => true,
        (CIPHER_NONE | CIPHER_AES_256_GCM, other) => {
            return Err(SnapshotError::UnsupportedAlgorithm {
                what: "kdf",
                value: other,
            });
        }
        (other, _) => {
            return Err(SnapshotError::UnsupportedAlgorithm {
                what: "cipher",
                value: other,
            });
        }
    };
    if compression != COMPRESSION_DEFLATE {
        return Err(SnapshotError::UnsupportedAlgorithm {
            what: "compression",
            value: compression,
        });
    }
    let name = &bytes[53..53 + name_len];
    if !is_session_name(name) {
        return Err(SnapshotError::BadName);
    }
    let name = String::from_utf8_lossy(name);
    Ok(SnapshotHeader {
        version,
        encrypted,
        kdf_iterations: u32::from_be_bytes(be(&bytes[12..16])),
        salt: be(&bytes[16..32]),
        nonce: be(&bytes[32..44]),
        created_at: UnixMillis(u64::from_be_bytes(be(&bytes[44..52]))),
        session_name: name.into_owned(),
        body_bytes: body_len,
        total_bytes: total,
    })
}

/// Opens a snapshot: checksum, then decryption (deriving the key for its
/// salt from the keyring's secret), inflation and the session record.
pub fn decode_snapshot(
    bytes: &[u8],
    keys: &mut Keyring,
) -> Result<(SnapshotHeader, Session), SnapshotError> {
    let header = inspect(bytes)?;
    let body_at = header.total_bytes - CHECKSUM_BYTES - header.body_bytes;
    let body = &bytes[body_at..body_at + header.body_bytes];
    let mut plain_body = Zeroizing::new(body.to_vec());
    let deflated: &[u8] = if header.encrypted {
        if !(1..=KDF_ITERATIONS_MAX).contains(&header.kdf_iterations) {
            return Err(SnapshotError::BadKdfIterations(header.kdf_iterations));
        }
        if !keys.has_secret() {
            return Err(SnapshotError::NoSecret);
        }
        let key = keys
            .key_for(header.salt, header.kdf_iterations)
            .ok_or(SnapshotError::NoSecret)?;
        key.aead()
            .open_in_place(
                Nonce::assume_unique_for_key(header.nonce),
                Aad::from(&bytes[..body_at]),
                &mut plain_body,
            )
            .map_err(|_| SnapshotError::WrongKey)?
    } else {
        &plain_body
    };
    let mut inflated = Zeroizing::new(Vec::new());
    flate2::read::DeflateDecoder::new(deflated)
        .take(SESSION_BYTES_MAX as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|err| SnapshotError::Inflate(err.to_string()))?;
    if inflated.len() > SESSION_BYTES_MAX {
        return Err(SnapshotError::TooLarge(SESSION_BYTES_MAX));
    }
    let session = Session::decode(&inflated)?;
    Ok((header, session))
}

/// `NAME;;;<base64url of the snapshot>`: one line to paste into a config var.
pub fn session_string(session_name: &str, snapshot: &[u8]) -> String {
    format!(
        "{session_name}{SESSION_STRING_SEPARATOR}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(snapshot)
    )
}

/// Splits a session string into its name and snapshot bytes. Whitespace
/// around or inside (line breaks from a paste) is ignored; standard and
/// URL-safe base64, padded or not, are accepted.
pub fn parse_session_string(text: &str) -> Result<(String, Vec<u8>), SnapshotError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (name, payload) = compact
        .split_once(SESSION_STRING_SEPARATOR)
        .ok_or(SnapshotError::BadSessionString("no \";;;\" after the name"))?;
    let payload = payload.trim_end_matches('=');
    let engine = if payload.contains(['+', '/']) {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    } else {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    };
    let bytes = engine
        .decode(payload)
        .map_err(|_| SnapshotError::BadSessionString("the part after \";;;\" is not base64"))?;
    Ok((name.to_owned(), bytes))
}

/// What `blacksky session import` and `SESSION_DATA` take: a snapshot
/// file as it is, anything else as a session string (its name, if any,
/// comes back with the bytes).
pub fn snapshot_bytes(input: &[u8]) -> Result<(Option<String>, Vec<u8>), SnapshotError> {
    if input.starts_with(MAGIC) {
        return Ok((None, input.to_vec()));
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| SnapshotError::BadSessionString("neither text nor a snapshot file"))?;
    let (name, bytes) = parse_session_string(text)?;
    Ok((Some(name), bytes))
}

fn be<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::sample_session;

    const FAST: u32 = 1_000;

    fn sealed(session: &Session, secret: &[u8]) -> Vec<u8> {
        let key = SnapshotKey::derive(secret, [7; 16], FAST);
        encode_snapshot(
            session,
            "BLACKSKY-MD",
            UnixMillis(1_700_000_000_000),
            Seal::Encrypted {
                key: &key,
                nonce: [1; 12],
            },
        )
        .expect("seal")
    }

    #[test]
    fn plain_and_encrypted_snapshots_round_trip() {
        let session = sample_session(1, 50, 10, 200);
        let plain = encode_snapshot(&session, "s1", UnixMillis(5), Seal::Plain).expect("plain");
        let (header, back) = decode_snapshot(&plain, &mut Keyring::new(None)).expect("open");
        assert!(!header.encrypted);
        assert_eq!(header.session_name, "s1");
        assert_eq!(header.created_at, UnixMillis(5));
        assert!(back.same_as(&session));

        let sealed = sealed(&session, b"hunter2");
        let mut keys = Keyring::new(Some(b"hunter2"));
        let (header, back) = decode_snapshot(&sealed, &mut keys).expect("open sealed");
        assert!(header.encrypted && header.kdf_iterations == FAST);
        assert!(back.same_as(&session));
        // A plain snapshot opens with a secret set too.
        assert!(decode_snapshot(&plain, &mut keys).is_ok());
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let session = sample_session(2, 5, 1, 50);
        assert_eq!(sealed(&session, b"k"), sealed(&session, b"k"));
    }

    #[test]
    fn every_flipped_bit_is_a_checksum_mismatch() {
        let sealed = sealed(&sample_session(3, 3, 1, 20), b"k");
        let mut keys = Keyring::new(Some(b"k"));
        for bit in (0..sealed.len() * 8).step_by(7) {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = decode_snapshot(&bad, &mut keys).expect_err("flipped");
            assert!(
                matches!(
                    err,
                    SnapshotError::ChecksumMismatch
                        | SnapshotError::BadMagic
                        | SnapshotError::Truncated { .. }
                        | SnapshotError::UnsupportedVersion(_)
                ),
                "bit {bit}: {err}"
            );
        }
    }

    #[test]
    fn truncation_and_garbage_are_reported_not_panics() {
        let sealed = sealed(&sample_session(4, 3, 1, 20), b"k");
        let mut keys = Keyring::new(Some(b"k"));
        for len in 0..sealed.len() {
            assert!(decode_snapshot(&sealed[..len], &mut keys).is_err(), "{len}");
        }
        assert_eq!(
            decode_snapshot(b"not a snapshot at all", &mut keys).expect_err("garbage"),
            SnapshotError::BadMagic
        );
    }

    #[test]
    fn a_wrong_or_missing_secret_is_named_as_such() {
        let sealed = sealed(&sample_session(5, 3, 1, 20), b"right");
        assert_eq!(
            decode_snapshot(&sealed, &mut Keyring::new(Some(b"wrong"))).expect_err("wrong"),
            SnapshotError::WrongKey
        );
        assert_eq!(
            decode_snapshot(&sealed, &mut Keyring::new(None)).expect_err("none"),
            SnapshotError::NoSecret
        );
    }

    #[test]
    fn a_forged_iteration_count_is_refused_before_deriving() {
        let mut sealed = sealed(&sample_session(6, 1, 0, 10), b"k");
        sealed[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        let n = sealed.len() - 32;
        let sum = Sha256::digest(&sealed[..n]);
        sealed[n..].copy_from_slice(&sum);
        assert_eq!(
            decode_snapshot(&sealed, &mut Keyring::new(Some(b"k"))).expect_err("forged"),
            SnapshotError::BadKdfIterations(u32::MAX)
        );
    }

    /// Found by the session_string fuzz target: a snapshot named "" was
    /// read, and a name with a space or ";;;" gave a session string that
    /// did not split back to it.
    #[test]
    fn only_session_id_names_are_written_or_read() {
        let session = sample_session(7, 1, 0, 10);
        let at = UnixMillis(1);
        for bad in ["", "a b", "a;;;b", "é", &"x".repeat(65)] {
            assert_eq!(
                encode_snapshot(&session, bad, at, Seal::Plain).err(),
                Some(SnapshotError::BadName),
                "{bad:?}"
            );
        }
        let good = encode_snapshot(&session, "BOT_1.a-b", at, Seal::Plain).expect("seal");
        assert!(decode_snapshot(&good, &mut Keyring::new(None)).is_ok());
        // The same bytes with the name made "" or "a;c" (same body, the
        // length and checksum made to hold) are refused.
        for name in [&b""[..], b"a;c"] {
            let body_len_at = 53 + "BOT_1.a-b".len();
            let mut forged = good[..52].to_vec();
            forged.push(name.len() as u8);
            forged.extend_from_slice(name);
            forged.extend_from_slice(&good[body_len_at..good.len() - 32]);
            let sum = Sha256::digest(&forged);
            forged.extend_from_slice(&sum);
            assert_eq!(inspect(&forged).err(), Some(SnapshotError::BadName));
        }
    }

    #[test]
    fn encrypted_snapshots_hide_their_content() {
        let session = sample_session(7, 1, 0, 10);
        let sealed = sealed(&session, b"k");
        let private = session.creds.noise_key.private_bytes();
        assert!(!sealed.windows(32).any(|w| w == &private[..]));
    }

    #[test]
    fn session_strings_round_trip_and_tolerate_pasting() {
        let snapshot = sealed(&sample_session(8, 2, 1, 20), b"k");
        let text = session_string("BLACKSKY-MD", &snapshot);
        assert!(text.starts_with("BLACKSKY-MD;;;"));
        assert!(!text.contains(char::is_whitespace));
        let (name, bytes) = parse_session_string(&text).expect("parse");
        assert_eq!(
            (name.as_str(), bytes.as_slice()),
            ("BLACKSKY-MD", &snapshot[..])
        );
        let pasted = format!("  {}\n{}\n", &text[..40], &text[40..]);
        assert_eq!(parse_session_string(&pasted).expect("pasted").1, snapshot);
        assert!(parse_session_string("no separator").is_err());
        assert!(parse_session_string("X;;;!!!").is_err());
    }

    #[test]
    fn debug_of_keys_hides_them() {
        let key = SnapshotKey::derive(b"secret", [1; 16], FAST);
        let keys = Keyring::new(Some(b"secret"));
        let shown = format!("{key:?}{keys:?}");
        assert!(!shown.contains("secret\""), "{shown}");
        let raw: String = key.key.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&raw[..12]), "{shown}");
    }
}
