//! The session-string import up to the database: what `blacksky session
//! import` and `SESSION_DATA` go through (text or snapshot file → snapshot
//! bytes → checksum → decryption → inflation → session record), with and
//! without a secret. It must never panic; what it reads must seal and read
//! back the same, and its session string must parse back to it.
//!
//! A checksum is out of a fuzzer's reach, so the first byte picks how the
//! rest becomes the input:
//! 0. as pasted: the text (or snapshot file) itself;
//! 1. a session record, deflated and sealed plain, checksum made to hold;
//! 2. a deflate stream, sealed plain, checksum made to hold;
//! 3. a header and body, the length and checksum made to hold;
//! 4. a real session (from an RNG seed) sealed plain, its name replaced,
//!    then edited byte by byte, the checksum made to hold or not;
//! 5. the same sealed under the secret.
#![no_main]

use std::io::Write as _;
use std::sync::LazyLock;

use blacksky_core::session::snapshot::{
    self, Keyring, MAGIC, SESSION_NAME_BYTES_MAX, Seal, SnapshotError, SnapshotKey,
};
use blacksky_core::session::{Creds, Session};
use blacksky_core::time::UnixMillis;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

const SECRET: &[u8] = b"fuzz secret";
const SALT: [u8; 16] = [7; 16];
/// Few rounds: the KDF's cost is not what is fuzzed.
const ITERATIONS: u32 = 2;
/// Headers asking for more rounds are not opened with the secret (each
/// new salt would cost a derivation of that many rounds).
const ITERATIONS_TRIED_MAX: u32 = 16;
/// Where a snapshot's fixed header ends (the session name's length).
const NAME_LEN_AT: usize = 52;
const CHECKSUM_BYTES: usize = 32;

static KEY: LazyLock<SnapshotKey> = LazyLock::new(|| SnapshotKey::derive(SECRET, SALT, ITERATIONS));

/// A plain snapshot of session "fuzz" whose stored body is `body`.
fn plain_with_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 100);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0, 0, 1]);
    out.extend_from_slice(&[0; 4 + 16 + 12]);
    out.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    out.push(4);
    out.extend_from_slice(b"fuzz");
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&Sha256::digest(&out));
    out
}

fn deflated(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

/// `bytes` as header and body: the body length is set to what follows the
/// name, and the checksum appended.
fn with_length_and_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(&name_len) = bytes.get(NAME_LEN_AT) {
        let body_at = NAME_LEN_AT + 1 + usize::from(name_len) + 4;
        if bytes.len() >= body_at {
            let body_len = (bytes.len() - body_at) as u32;
            bytes[body_at - 4..body_at].copy_from_slice(&body_len.to_be_bytes());
        }
    }
    let checksum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&checksum);
    bytes
}

/// A real session from the first 8 bytes, sealed (under the secret or
/// plain) as session "fuzz"; then the name replaced by the next byte's
/// worth of bytes (any length, ASCII or not), the rest applied as
/// (offset, xor) edits, and the length and checksum made to hold again
/// when the last byte is odd.
fn sealed_and_edited(data: &[u8], encrypted: bool) -> Vec<u8> {
    let (seed, rest) = data.split_at(data.len().min(8));
    let mut seed_bytes = [0u8; 8];
    seed_bytes[..seed.len()].copy_from_slice(seed);
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from_le_bytes(seed_bytes));
    let session = Session::new(Creds::generate(&mut rng));
    let seal = if encrypted {
        Seal::Encrypted {
            key: &KEY,
            nonce: [9; 12],
        }
    } else {
        Seal::Plain
    };
    let Ok(mut bytes) = snapshot::encode_snapshot(&session, "fuzz", UnixMillis(1), seal) else {
        return Vec::new();
    };
    let (name, edits) = match rest.split_first() {
        Some((&len, after)) if len < 0x80 => after.split_at(usize::from(len).min(after.len())),
        _ => (&b"fuzz"[..], rest),
    };
    let name_at = NAME_LEN_AT + 1;
    bytes.splice(name_at..name_at + 4, name.iter().copied());
    bytes[NAME_LEN_AT] = name.len() as u8;
    let fix = edits.last().is_some_and(|b| b & 1 == 1);
    for pair in edits.chunks_exact(2) {
        let at = usize::from(pair[0]) % bytes.len();
        bytes[at] ^= pair[1];
    }
    if fix {
        bytes.truncate(bytes.len().saturating_sub(CHECKSUM_BYTES));
        with_length_and_checksum(bytes)
    } else {
        bytes
    }
}

/// The keyring of a process with the secret, its one key derived already.
fn keyring_with_secret() -> Keyring {
    let mut keys = Keyring::new(Some(SECRET));
    keys.insert(KEY.clone());
    keys
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = match mode % 6 {
        0 => rest.to_vec(),
        1 => plain_with_body(&deflated(rest)),
        2 => plain_with_body(rest),
        3 => with_length_and_checksum(rest.to_vec()),
        4 => sealed_and_edited(rest, false),
        _ => sealed_and_edited(rest, true),
    };
    let Ok((_, bytes)) = snapshot::snapshot_bytes(&input) else {
        return;
    };
    let header = snapshot::inspect(&bytes);
    let without = snapshot::decode_snapshot(&bytes, &mut Keyring::new(None));
    let with = match &header {
        Ok(h) if h.encrypted && h.kdf_iterations > ITERATIONS_TRIED_MAX => None,
        _ => Some(snapshot::decode_snapshot(
            &bytes,
            &mut keyring_with_secret(),
        )),
    };
    match (&header, &without) {
        (Err(err), _) => assert_eq!(without.as_ref().err(), Some(err)),
        // Without the secret nothing encrypted opens.
        (Ok(h), Ok(_)) => assert!(!h.encrypted),
        (Ok(h), Err(err)) => {
            if h.encrypted {
                assert!(
                    matches!(
                        err,
                        SnapshotError::NoSecret | SnapshotError::BadKdfIterations(_)
                    ),
                    "{err}"
                );
            }
        }
    }
    // A secret changes nothing for a snapshot sealed without one.
    if let (Ok(h), Some(with)) = (&header, &with)
        && !h.encrypted
    {
        match (&without, with) {
            (Ok((_, a)), Ok((_, b))) => assert!(a.same_as(b)),
            (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err()),
        }
    }
    for result in [Some(without), with].into_iter().flatten() {
        let Ok((header, session)) = result else {
            continue;
        };
        // The header is one the format allows and the writer writes.
        assert!(
            (1..=SESSION_NAME_BYTES_MAX).contains(&header.session_name.len()),
            "{:?}",
            header.session_name
        );
        // What was read seals and reads back the same, and its session
        // string parses back to its name and bytes.
        let again = snapshot::encode_snapshot(
            &session,
            &header.session_name,
            header.created_at,
            Seal::Plain,
        )
        .unwrap_or_else(|err| panic!("{header:?}: {err}"));
        let (_, back) = snapshot::decode_snapshot(&again, &mut Keyring::new(None))
            .unwrap_or_else(|err| panic!("{header:?}: {err}"));
        assert!(back.same_as(&session));
        let text = snapshot::session_string(&header.session_name, &again);
        assert_eq!(
            snapshot::parse_session_string(&text),
            Ok((header.session_name.clone(), again))
        );
    }
});
