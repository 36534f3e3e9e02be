//! What the server sent that we could not accept, as one typed enum: the
//! keeper only needs "a protocol violation" (it backs off), the log and
//! tests read which one.

use thiserror::Error;

use super::IqPurpose;
use super::link_code::LinkCodeError;
use super::pairing::PairError;
use crate::wire::binary::{DecodeError, EncodeError};
use crate::wire::frame::FrameError;
use crate::wire::noise::{HandshakeError, TransportError};

/// A fault in what the server sent (or in what we would send back).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Violation {
    #[error("bytes before the socket opened")]
    BytesBeforeOpen,
    /// The frame layer: a length over the limit, a bad intro.
    #[error("{0}")]
    Frame(FrameError),
    /// A frame that does not decrypt under the transport keys.
    #[error("frame: {0}")]
    Transport(TransportError),
    /// A decrypted frame that is not a binary node.
    #[error("stanza: {0}")]
    Stanza(DecodeError),
    #[error("handshake: {0}")]
    Handshake(HandshakeError),
    /// A node of ours the encoder refused (a bug on our side, named).
    #[error("encode: {0}")]
    Encode(EncodeError),
    /// A stanza without something the protocol requires.
    #[error("{stanza} lacks {what}")]
    Missing {
        stanza: &'static str,
        what: &'static str,
    },
    /// The server answered one of our requests with an error.
    #[error("{purpose:?} refused with {code}")]
    Refused { purpose: IqPurpose, code: String },
    #[error("code pairing: {0}")]
    LinkCode(LinkCodeError),
    #[error("{0}")]
    Pairing(PairError),
    /// The pairing could not be stored: never confirm it to the phone.
    #[error("could not store the new session")]
    PairingNotStored,
    #[error("success for an unregistered device")]
    SuccessUnregistered,
}
