//! One client connection as the server sees it: the frame layer, the
//! Noise handshake, then the transport cipher and what the client is
//! (a device being linked, or a linked device logged in).

use std::time::Instant;

use blacksky_core::wire::binary::{self, Node};
use blacksky_core::wire::frame::{FrameDecoder, FrameEncoder};
use blacksky_core::wire::noise::{ServerAwaitingFinish, ServerHandshake, Transport};

use super::phone::Pairing;

/// Where the Noise handshake stands.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Waiting for the client hello.
    Hello(ServerHandshake),
    /// Server hello sent; waiting for the client finish.
    Finish(ServerAwaitingFinish),
    /// Transport up.
    Done,
}

/// What the client turned out to be.
#[derive(Debug)]
pub(crate) enum Role {
    /// The handshake has not finished.
    Connecting,
    /// A new device: pair-device sent, the phone may link it.
    Registering(Box<Pairing>),
    /// A linked device, logged in.
    Device(u8),
}

/// One unit read off a connection.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A handshake message (before the transport is up).
    Handshake(Vec<u8>),
    Stanza(Node),
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) decoder: FrameDecoder,
    pub(crate) encoder: FrameEncoder,
    /// `None` only while a step is in progress (taken, then put back).
    pub(crate) handshake: Option<Handshake>,
    pub(crate) transport: Option<Transport>,
    pub(crate) client_static: Option<[u8; 32]>,
    pub(crate) role: Role,
    /// A simulated partition: nothing the server says reaches the client.
    pub(crate) silent: bool,
    pub(crate) handshake_deadline: Option<Instant>,
    /// Logged in passive: queued messages wait for `<active/>`.
    pub(crate) passive: bool,
    /// The offline batch was delivered: new messages go out at once.
    pub(crate) online: bool,
    /// Keepalive pings received from the client.
    pub(crate) pings: u32,
}

impl Conn {
    pub(crate) fn new(
        handshake: ServerHandshake,
        frame_bytes_max: usize,
        deadline: Instant,
    ) -> Self {
        Conn {
            decoder: FrameDecoder::server(frame_bytes_max),
            encoder: FrameEncoder::server(frame_bytes_max),
            handshake: Some(Handshake::Hello(handshake)),
            transport: None,
            client_static: None,
            role: Role::Connecting,
            silent: false,
            handshake_deadline: Some(deadline),
            passive: false,
            online: false,
            pings: 0,
        }
    }

    /// The next frame, decrypted and decoded once the transport is up.
    /// An error names the fault; the connection is then unusable.
    pub(crate) fn next_incoming(&mut self) -> Result<Option<Incoming>, String> {
        let frame = match self.decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            Err(err) => return Err(format!("framing: {err}")),
        };
        let Some(transport) = &mut self.transport else {
            return Ok(Some(Incoming::Handshake(frame.to_vec())));
        };
        let plain = transport
            .decrypt_in_place(frame)
            .map_err(|err| format!("transport: {err}"))?;
        binary::decode(plain)
            .map(|node| Some(Incoming::Stanza(node)))
            .map_err(|err| format!("stanza: {err}"))
    }

    /// One frame carrying `payload` as is (handshake messages).
    pub(crate) fn frame(&mut self, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.encoder
            .encode(payload)
            .map_err(|err| format!("framing: {err}"))
    }

    /// One frame carrying `node`, encrypted.
    pub(crate) fn seal(&mut self, node: &Node) -> Result<Vec<u8>, String> {
        let buf = binary::encode(node).map_err(|err| format!("encode: {err}"))?;
        self.seal_bytes(buf)
    }

    /// One frame carrying `buf` (an encoded stanza, or anything), encrypted.
    pub(crate) fn seal_bytes(&mut self, mut buf: Vec<u8>) -> Result<Vec<u8>, String> {
        let Some(transport) = &mut self.transport else {
            return Err("no transport yet".into());
        };
        transport
            .encrypt_in_place(&mut buf)
            .map_err(|err| format!("encrypt: {err}"))?;
        self.encoder
            .encode(&buf)
            .map_err(|err| format!("framing: {err}"))
    }

    /// The device this connection is logged in as.
    pub(crate) fn device(&self) -> Option<u8> {
        match self.role {
            Role::Device(id) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn pairing(&self) -> Option<&Pairing> {
        match &self.role {
            Role::Registering(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn pairing_mut(&mut self) -> Option<&mut Pairing> {
        match &mut self.role {
            Role::Registering(p) => Some(p),
            _ => None,
        }
    }

    /// A name for the stage, for the state snapshot.
    pub(crate) fn stage(&self) -> &'static str {
        match (&self.role, self.online) {
            (Role::Connecting, _) => "handshake",
            (Role::Registering(_), _) => "registering",
            (Role::Device(_), false) => "logged_in",
            (Role::Device(_), true) => "online",
        }
    }
}
