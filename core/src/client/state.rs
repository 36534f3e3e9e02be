//! Where one connection stands, as states that carry their own data: a
//! transport exists only once the handshake is done, a QR rotation only
//! while pairing. Nothing is "maybe there" at run time.

use std::time::Instant;

use crate::wire::frame::FrameEncoder;
use crate::wire::noise::{ClientHandshake, Transport};

use super::link_code::CompanionCode;

#[derive(Debug)]
pub(super) enum State {
    /// Built; waiting for the socket.
    Idle,
    /// Hello sent; waiting for the server hello.
    Handshake {
        handshake: ClientHandshake,
        encoder: FrameEncoder,
    },
    /// The Noise transport is up.
    Open { link: Secure, stage: Stage },
    /// Over; `resume` says which creds the next connection starts from.
    Closed { resume: Resume },
}

/// The encrypted link after the handshake, with its keepalive timer.
#[derive(Debug)]
pub(super) struct Secure {
    pub(super) transport: Transport,
    pub(super) encoder: FrameEncoder,
    pub(super) next_ping: Instant,
}

/// How far the session got over an open link.
#[derive(Debug)]
pub(super) enum Stage {
    /// Waiting for success, failure or pair-device.
    Authenticating,
    /// Showing QR refs / a code until the phone links us.
    Pairing(PairingFlow),
    /// pair-device-sign sent; waiting for the server's 515.
    Paired,
    LoggedIn,
    Online,
}

#[derive(Debug)]
pub(super) struct PairingFlow {
    pub(super) qr: QrRotation,
    /// Code pairing, once its hello went out.
    pub(super) link_code: Option<CompanionCode>,
}

#[derive(Debug)]
pub(super) struct QrRotation {
    pub(super) refs: Vec<String>,
    pub(super) index: usize,
    pub(super) next_at: Instant,
}

/// Which creds the next connection starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resume {
    /// The stored ones (the normal case).
    Stored,
    /// This client's, which it changed and handed to the store but which
    /// may not be committed yet (an unfinished link, unlinked).
    Own,
}
