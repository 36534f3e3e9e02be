//! WhatsApp's Noise layer: the `Noise_XX_25519_AESGCM_SHA256` handshake
//! (client = initiator, server = responder) carried in `HandshakeMessage`
//! protobufs, the server's certificate chain, and the transport cipher.
//!
//! ```text
//! client                                         server
//! ClientHandshake::start ── client_hello{e} ──▶ ServerHandshake::read_client_hello
//! read_server_hello ◀─ server_hello{e, enc s, enc certs} ─┘
//!   (verifies the cert chain against the root key and `now`)
//! finish(payload) ── client_finish{enc s, enc payload} ──▶ read_client_finish
//!   → Transport                                            → Transport
//! ```
//!
//! One deviation from stock Noise, on both sides: the empty payload of
//! message 1 is not MixHashed (the real server does not). Everything here
//! is sans-I/O: the RNG and the wall clock come from the caller, and the
//! frame layer adds the 3-byte lengths and the intro header.

mod cert;
mod handshake;
mod symmetric;
mod transport;

use thiserror::Error;

use crate::time::UnixMillis;

pub use cert::{
    CertChainSpec, CertDetails, CertLevel, Validity, VerifiedCertChain, WA_ROOT_ISSUER_SERIAL,
    WA_ROOT_PUBLIC_KEY, build_cert_chain, sign_certificate, verify_cert_chain,
};
pub use handshake::{
    AcceptedClient, ClientHandshake, ClientHandshakeVerified, HandshakeStep, ServerAwaitingFinish,
    ServerHandshake,
};
#[doc(hidden)]
pub use handshake::{XxInitiator, XxMessage2, XxOptions, XxResponder};
pub use symmetric::{NOISE_PROTOCOL_NAME, TAG_LEN};
pub use transport::{Direction, Transport, TransportError, TransportReader, TransportWriter};

/// Why a handshake failed. Every variant is fatal: drop the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("{what} is not a valid protobuf: {source}")]
    BadProtobuf {
        what: &'static str,
        source: prost::DecodeError,
    },
    #[error("handshake message has no {0}")]
    MissingField(&'static str),
    #[error("handshake message carries {0}, which the XX pattern does not use")]
    UnexpectedField(&'static str),
    #[error("{field} is {len} bytes; a Curve25519 key is 32")]
    WrongKeyLength { field: &'static str, len: usize },
    #[error("{field} is a low-order point (all-zero Diffie-Hellman result)")]
    WeakKey { field: &'static str },
    #[error("could not decrypt the {step}: wrong keys or tampered bytes")]
    DecryptFailed { step: HandshakeStep },
    #[error("{which} certificate signature is invalid")]
    CertSignatureInvalid { which: CertLevel },
    #[error("{which} certificate names issuer serial {got}, expected {expected}")]
    CertIssuerMismatch {
        which: CertLevel,
        expected: u32,
        got: u32,
    },
    #[error("leaf certificate key is not the server's static key")]
    CertKeyMismatch,
    #[error("{which} certificate expired at {not_after} (unix seconds); now is {now}")]
    CertExpired {
        which: CertLevel,
        not_after: u64,
        now: UnixMillis,
    },
    #[error("{which} certificate is valid from {not_before} (unix seconds); now is {now}")]
    CertNotYetValid {
        which: CertLevel,
        not_before: u64,
        now: UnixMillis,
    },
    #[error("handshake nonce counter exhausted")]
    CounterExhausted,
    #[error("{0} is over AES-GCM's per-message limit")]
    TooLong(&'static str),
    #[error("handshake step out of order: {0}")]
    OutOfOrder(&'static str),
}
