//! The socket's side of the client: intro and Noise handshake, frames in
//! (decrypted in place, decoded into the reusable buffer), frames out,
//! keepalive and the silence deadline, and the one way a connection ends.

use std::time::Instant;

use super::state::{Resume, Secure, Stage, State};
use super::{
    Client, DisconnectReason, Event, InputError, IqPurpose, Limit, Violation, ms, payload, stanzas,
};
use crate::session::Write;
use crate::time::UnixMillis;
use crate::wire::binary::{self, Node};
use crate::wire::frame::{FrameDecoder, FrameEncoder, INTRO_HEADER};
use crate::wire::noise::ClientHandshake;

impl Client {
    pub(super) fn on_connected(&mut self, now: Instant) -> Result<(), InputError> {
        if !matches!(self.state, State::Idle) {
            return Err(InputError::AlreadyConnected);
        }
        let frame_bytes_max = self.config.frame_bytes_max;
        // Routing info too long to frame: connect without it.
        let encoder =
            FrameEncoder::client(self.session.creds.routing_info.as_deref(), frame_bytes_max)
                .or_else(|_| FrameEncoder::client(None, frame_bytes_max));
        let mut encoder = match encoder {
            Ok(encoder) => encoder,
            Err(err) => {
                self.close(DisconnectReason::ProtocolViolation(Violation::Frame(err)));
                return Ok(());
            }
        };
        let (handshake, hello) =
            ClientHandshake::start(&INTRO_HEADER, &self.session.creds.noise_key, &mut self.rng);
        match encoder.encode(&hello) {
            Ok(bytes) => self.outputs.push_back(super::Output::Transmit(bytes)),
            Err(err) => {
                self.close(DisconnectReason::ProtocolViolation(Violation::Frame(err)));
                return Ok(());
            }
        }
        self.state = State::Handshake { handshake, encoder };
        self.connect_deadline = Some(now + ms(self.config.connect_timeout_ms));
        Ok(())
    }

    pub(super) fn on_received(&mut self, now: Instant, bytes: &[u8], wall: UnixMillis) {
        if matches!(self.state, State::Idle) {
            return self.close(DisconnectReason::ProtocolViolation(
                Violation::BytesBeforeOpen,
            ));
        }
        self.decoder.push(bytes);
        self.silence_deadline =
            Some(now + ms(self.config.keepalive_interval_ms + self.config.keepalive_grace_ms));
        self.read_frames(now, wall);
    }

    /// Handles the complete frames buffered, until none is left, the
    /// connection ends, or the outputs reach their bound (the rest wait
    /// for [`Client::handle_timeout`], which `poll_timeout` asks for).
    pub(super) fn read_frames(&mut self, now: Instant, wall: UnixMillis) {
        // Taken out while a frame and its decoded node borrow them, and
        // put back with their buffers (no allocation in steady state).
        let mut frames = std::mem::replace(&mut self.decoder, FrameDecoder::client(0));
        let mut decoded = std::mem::take(&mut self.decoded);
        self.backlog = None;
        loop {
            if self.is_closed() {
                break;
            }
            if self.outputs.len() >= self.config.outputs_len_max {
                self.backlog = Some((now, wall));
                self.limit_reached(Limit::Outputs);
                break;
            }
            let frame = match frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(err) => {
                    self.close(DisconnectReason::ProtocolViolation(Violation::Frame(err)));
                    break;
                }
            };
            let link = match &mut self.state {
                State::Handshake { .. } => {
                    let hello = frame.to_vec();
                    self.on_server_hello(now, &hello, wall);
                    continue;
                }
                State::Open { link, .. } => link,
                State::Idle | State::Closed { .. } => break,
            };
            let plain = match link.transport.decrypt_in_place(frame) {
                Ok(plain) => plain,
                Err(err) => {
                    self.close(DisconnectReason::ProtocolViolation(Violation::Transport(
                        err,
                    )));
                    break;
                }
            };
            match decoded.decode(plain) {
                Ok(node) => self.on_node(now, node, plain, wall),
                // Each frame decodes on its own: skipping one leaves the
                // next readable, and a close would only bring it back.
                Err(err) => self.ignore(super::Ignored::UndecodableStanza(err)),
            }
        }
        self.decoder = frames;
        self.decoded = decoded;
    }

    fn on_server_hello(&mut self, now: Instant, hello: &[u8], wall: UnixMillis) {
        let State::Handshake { handshake, encoder } =
            std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let verified = match handshake.read_server_hello(hello, &self.config.root_public_key, wall)
        {
            Ok(verified) => verified,
            Err(err) => return self.violation(Violation::Handshake(err)),
        };
        let version = self
            .session
            .creds
            .app_version
            .unwrap_or(self.config.app_version);
        let payload = match &self.session.creds.me {
            Some(me) => payload::login(me, version),
            None => payload::registration(&self.session.creds, version, &self.config.browser),
        };
        match verified.finish(&payload) {
            Ok((finish, transport)) => {
                self.state = State::Open {
                    link: Secure {
                        transport,
                        encoder,
                        // Keepalive runs from here on, as in WhatsApp Web:
                        // while the phone takes its time to scan, the
                        // server says nothing, and only our pings tell a
                        // quiet socket from a dead one.
                        next_ping: now + ms(self.config.keepalive_interval_ms),
                    },
                    stage: Stage::Authenticating,
                };
                self.transmit_frame(&finish);
            }
            Err(err) => self.violation(Violation::Handshake(err)),
        }
    }

    pub(super) fn keepalive(&mut self, now: Instant) {
        let State::Open { link, .. } = &mut self.state else {
            return;
        };
        if now < link.next_ping {
            return;
        }
        link.next_ping = now + ms(self.config.keepalive_interval_ms);
        let id = self
            .iqs
            .start(IqPurpose::Ping, now, ms(self.config.iq_timeout_ms));
        self.send(&stanzas::ping(&id));
    }

    /// Encodes, encrypts and frames `node` for the socket.
    pub(super) fn send(&mut self, node: &Node) {
        let mut buf = match binary::encode(node) {
            Ok(buf) => buf,
            Err(err) => return self.violation(Violation::Encode(err)),
        };
        let State::Open { link, .. } = &mut self.state else {
            return;
        };
        if let Err(err) = link.transport.encrypt_in_place(&mut buf) {
            return self.violation(Violation::Transport(err));
        }
        self.transmit_frame(&buf);
    }

    /// Sends a stanza encoded before (an outbound message's, as stored).
    pub(super) fn send_encoded(&mut self, mut buf: Vec<u8>) {
        let State::Open { link, .. } = &mut self.state else {
            return;
        };
        if let Err(err) = link.transport.encrypt_in_place(&mut buf) {
            return self.violation(Violation::Transport(err));
        }
        self.transmit_frame(&buf);
    }

    fn transmit_frame(&mut self, payload: &[u8]) {
        let State::Open { link, .. } = &mut self.state else {
            return;
        };
        match link.encoder.encode(payload) {
            Ok(bytes) => self.outputs.push_back(super::Output::Transmit(bytes)),
            Err(err) => self.violation(Violation::Frame(err)),
        }
    }

    pub(super) fn violation(&mut self, violation: Violation) {
        self.close(DisconnectReason::ProtocolViolation(violation));
    }

    /// Ends the connection: one `Disconnected` event, then silence.
    pub(super) fn close(&mut self, reason: DisconnectReason) {
        if self.is_closed() {
            return;
        }
        let (reason, resume) = if reason == DisconnectReason::LoggedOut && self.link_unfinished() {
            self.unlink();
            (DisconnectReason::LinkUnfinished, Resume::Own)
        } else {
            (reason, Resume::Stored)
        };
        self.state = State::Closed { resume };
        self.connect_deadline = None;
        self.silence_deadline = None;
        self.backlog = None;
        self.event(Event::Disconnected { reason });
    }

    /// A 401 now means the server never knew this device: creds stored at
    /// pair-success whose first login never succeeded (a crash between
    /// storing the pairing and the phone getting our confirmation).
    fn link_unfinished(&self) -> bool {
        self.session.creds.is_registered() && !self.session.login_confirmed
    }

    /// The same keys without the link, stored, to link again: never new
    /// keys over a stored identity.
    fn unlink(&mut self) {
        let mut unlinked = self.session.creds.clone();
        unlinked.me = None;
        unlinked.account = None;
        unlinked.platform = None;
        self.session.creds = unlinked.clone();
        let op = self.next_op();
        // Nobody waits on it: the next connection starts from these creds
        // (`resume_creds`) whether or not the store has them yet.
        self.outputs.push_back(super::Output::Store(
            op,
            vec![Write::Creds(Box::new(unlinked))],
        ));
    }
}
