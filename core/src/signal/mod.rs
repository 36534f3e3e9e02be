//! WhatsApp's Signal protocol for 1:1 chats, written for blacksky: X3DH
//! without Kyber (as libsignal v3 and WhatsApp run it), the double ratchet,
//! and the `msg`/`pkmsg` wire formats, on x25519-dalek, hmac/hkdf/sha2 and
//! aes+cbc. Facts from the open implementations (libsignal, the npm
//! `libsignal` the Node.js bots run); no code from them.
//!
//! Everything is a pure function over plain data ([`cipher`]): a
//! [`SessionRecord`] goes in by reference and a new one comes out, so a
//! refused message never changes stored state, and randomness is passed in.
//! Bounds: [`PREVIOUS_SESSIONS_LEN_MAX`] archived sessions per peer device,
//! [`RECEIVING_CHAINS_LEN_MAX`] receiving chains and
//! [`SKIPPED_KEYS_LEN_MAX`] skipped-message keys per session, and at most
//! [`SKIPPED_PER_MESSAGE_MAX`] messages skipped by one message.
//!
//! How the client is meant to use it. Receiving: decode the stored record
//! ([`SessionRecord::decode`]), call [`decrypt_msg`] or [`decrypt_pkmsg`],
//! and commit in one transaction the new record ([`SessionRecord::encode`]),
//! the message, the deletion of `consumed_pre_key` and `their_identity`;
//! on an error, commit nothing (the stored record still decrypts the next
//! good message). Sending: [`session_from_bundle`] when there is no record,
//! then [`encrypt`], and commit the new record before the ciphertext
//! leaves (sent with the old record still stored, a crash would reuse the
//! message key).

pub mod address;
pub mod aes_cbc;
mod chains;
pub mod cipher;
mod error;
pub mod group;
pub mod kdf;
pub mod keys;
pub mod message;
mod record;
mod state;
mod stored;
pub mod x3dh;

pub use chains::SKIPPED_PER_MESSAGE_MAX;
pub use cipher::{
    Decrypted, DecryptedPreKey, Encrypted, LocalPreKeys, PreKeyLookup, decrypt_msg, decrypt_pkmsg,
    encrypt, session_from_bundle,
};
pub use error::{FormatError, KeyError, MessageKind, RecordError, SignalError};
pub use keys::{IdentityKey, PublicKey, SecretKey};
pub use message::{PreKeySignalMessage, SignalMessage};
pub use record::{PREVIOUS_SESSIONS_LEN_MAX, SessionRecord};
pub use state::{
    Handshake, Initiator, PendingPreKey, RECEIVING_CHAINS_LEN_MAX, SKIPPED_KEYS_LEN_MAX,
    SessionState,
};
pub use x3dh::{OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic};
