//! The protocol connection as a sans-I/O state machine: one `Client` per
//! socket, from the intro and Noise handshake to an open session (pairing
//! by QR or code the first time, login with stored creds after), then
//! keepalive, requests with deadlines, and the durable ack of messages.
//!
//! The contract is DESIGN.md's: call `handle_input` / `handle_timeout`,
//! then drain `poll_output` until `None`, then sleep until `poll_timeout`.
//! Storage is a command: the client emits [`Output::Store`] and waits for
//! [`Input::StoreDone`] before it acts on what it stored (an ack, a reply
//! to the phone, a pre-key upload), so nothing is confirmed to the server
//! that a crash could lose.

mod disconnect;
mod iq;
pub mod link_code;
pub mod pairing;
mod payload;
pub mod stanzas;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub use disconnect::DisconnectReason;
pub use iq::IqPurpose;
pub use payload::Browser;

use crate::session::{AppVersion, Committed, Creds, Me, PreKey, pre_key_ids};
use crate::time::UnixMillis;
use crate::wire::binary::{self, Jid, Node, Value};
use crate::wire::frame::{FrameDecoder, FrameEncoder, INTRO_HEADER};
use crate::wire::noise::{ClientHandshake, KeyPair, Transport, WA_ROOT_PUBLIC_KEY};
use iq::IqTracker;
use link_code::CompanionCode;

/// How a device with no stored session links.
#[derive(Clone, PartialEq, Eq)]
pub enum PairingMethod {
    /// Show QR codes.
    Qr,
    /// Show an 8-character code for this phone number (digits only).
    Code { phone: String },
}

impl std::fmt::Debug for PairingMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Qr => f.write_str("Qr"),
            Self::Code { .. } => f.write_str("Code { phone: <redacted> }"),
        }
    }
}

/// Limits and timings, units last. Defaults follow WhatsApp Web.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The key the server's certificate chain must chain to.
    pub root_public_key: [u8; 32],
    /// Sent in the ClientPayload unless the creds carry a newer one.
    pub app_version: AppVersion,
    pub browser: Browser,
    /// CompanionWebClientType in QR texts and code pairing (Chrome = 1).
    pub platform_id: u8,
    pub pairing: PairingMethod,
    pub frame_bytes_max: usize,
    /// From socket open to `<success>` (or to the first QR).
    pub connect_timeout_ms: u64,
    pub keepalive_interval_ms: u64,
    /// Silence tolerated beyond one keepalive interval before the socket
    /// counts as dead (a partition never resets a TCP connection).
    pub keepalive_grace_ms: u64,
    pub iq_timeout_ms: u64,
    pub qr_first_ttl_ms: u64,
    pub qr_next_ttl_ms: u64,
    /// Pre-keys uploaded when the server has none.
    pub pre_keys_initial: u32,
    /// Upload more when the server's count is at or below this.
    pub pre_keys_low_water: u32,
    /// TEST ONLY, and wrong on purpose: ack a message before it is stored
    /// (what Baileys-based bots do). The chaos harness turns it on to show
    /// it catches the loss this causes; nothing else may.
    #[doc(hidden)]
    pub broken_ack_before_store: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            root_public_key: WA_ROOT_PUBLIC_KEY,
            app_version: AppVersion::BUILT_IN,
            browser: Browser::default(),
            platform_id: 1,
            pairing: PairingMethod::Qr,
            frame_bytes_max: crate::wire::frame::FRAME_BYTES_MAX_DEFAULT,
            connect_timeout_ms: 20_000,
            keepalive_interval_ms: 25_000,
            keepalive_grace_ms: 10_000,
            iq_timeout_ms: 20_000,
            qr_first_ttl_ms: 60_000,
            qr_next_ttl_ms: 20_000,
            pre_keys_initial: 812,
            pre_keys_low_water: 5,
            broken_ack_before_store: false,
        }
    }
}

/// Identifies a store command so its completion can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// An incoming stanza committed before it is acked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// The server's message id; the store ignores a second entry with it.
    pub id: String,
    /// The sender's JID, as text.
    pub from: String,
    /// The whole stanza, binary-encoded (for the handlers and for replay).
    pub stanza: Vec<u8>,
    pub received_at: UnixMillis,
}

/// A write the shell must make durable (one transaction each), then
/// report with [`Input::StoreDone`].
#[derive(Debug, Clone)]
pub enum StoreOp {
    /// Replace the stored credentials.
    Creds(Box<Creds>),
    /// New pre-keys and the creds whose counter covers them.
    PreKeys {
        creds: Box<Creds>,
        keys: Vec<PreKey>,
    },
    /// An incoming message; a duplicate id is not an error.
    Inbox(InboxEntry),
}

/// Things that happened, for the shell to show or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Show this QR text; it is valid for `valid_ms`.
    Qr {
        text: String,
        index: usize,
        valid_ms: u64,
    },
    /// Type this code (`XXXX-XXXX`) on the phone.
    PairingCode {
        code: String,
    },
    /// The phone linked us; the server will now ask for a restart (515).
    Paired {
        jid: Jid,
        platform: Option<String>,
    },
    /// `<success>`: logged in as this device.
    LoggedIn {
        jid: Jid,
    },
    /// Passive mode is off: the session is open and messages flow.
    Online,
    /// The server finished delivering what queued while we were away.
    OfflineDelivered {
        count: u32,
    },
    /// A message was committed to the inbox and acked.
    MessageStored {
        id: String,
        from: String,
    },
    PreKeysUploaded {
        count: u32,
    },
    IqTimedOut {
        purpose: IqPurpose,
    },
    /// A store command failed: what was waiting on it did not happen.
    StoreFailed {
        op: OpId,
        error: String,
    },
    /// The connection is over; close the socket. Terminal.
    Disconnected {
        reason: DisconnectReason,
    },
}

/// Effects for the shell, drained with [`Client::poll_output`].
#[derive(Debug, Clone)]
pub enum Output {
    /// Bytes to write to the socket, in order.
    Transmit(Vec<u8>),
    Store(OpId, StoreOp),
    Event(Event),
}

/// What the shell tells the client.
#[derive(Debug)]
pub enum Input<'a> {
    /// The socket is open: the client sends its intro and hello. `wall` is
    /// the wall clock, against which certificates are checked.
    Connected { wall: UnixMillis },
    /// Bytes read from the socket, in any chunking.
    Received { bytes: &'a [u8], wall: UnixMillis },
    /// The socket closed under us.
    Closed,
    /// A store command finished.
    StoreDone {
        op: OpId,
        result: Result<Committed, String>,
    },
}

/// Misuse of the client by its caller (not a fault of the server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Connected given twice")]
    AlreadyConnected,
    #[error("StoreDone for unknown op {0:?}")]
    UnknownOp(OpId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Hello sent; waiting for the server hello.
    Handshake,
    /// Transport up; waiting for success, failure or pair-device.
    Authenticating,
    /// Showing QR refs / a code until the phone links us.
    Pairing,
    /// pair-device-sign sent; waiting for the server's 515.
    Paired,
    LoggedIn,
    Online,
    Closed,
}

/// What to do once a store command is durable.
#[derive(Debug)]
enum AfterStore {
    Nothing,
    Ack {
        ack: Node,
        id: String,
        from: String,
    },
    PairDeviceSign {
        reply: Node,
        jid: Jid,
        platform: Option<String>,
    },
    UploadPreKeys {
        keys: Vec<PreKey>,
    },
}

#[derive(Debug)]
struct QrRotation {
    refs: Vec<String>,
    index: usize,
    next_at: Instant,
}

/// The protocol connection. See the module docs for the contract.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    creds: Creds,
    rng: ChaCha20Rng,
    phase: Phase,
    handshake: Option<ClientHandshake>,
    transport: Option<Transport>,
    decoder: FrameDecoder,
    encoder: Option<FrameEncoder>,
    outputs: VecDeque<Output>,
    iqs: IqTracker,
    next_op: u64,
    after_store: HashMap<OpId, AfterStore>,
    connect_deadline: Option<Instant>,
    silence_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    qr: Option<QrRotation>,
    link_code: Option<CompanionCode>,
    /// Message ids committed or in flight on this connection: a duplicate
    /// delivery is acked without a second store write.
    seen_messages: HashMap<String, bool>,
}

impl Client {
    /// A client for one connection. `creds` are the stored ones (or fresh
    /// from [`Creds::generate`]); `seed` drives every random choice.
    pub fn new(config: ClientConfig, creds: Creds, seed: [u8; 32]) -> Client {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let prefix = format!("{:04x}", rng.next_u32() & 0xFFFF);
        Client {
            decoder: FrameDecoder::client(config.frame_bytes_max),
            config,
            creds,
            rng,
            phase: Phase::Idle,
            handshake: None,
            transport: None,
            encoder: None,
            outputs: VecDeque::new(),
            iqs: IqTracker::new(prefix),
            next_op: 0,
            after_store: HashMap::new(),
            connect_deadline: None,
            silence_deadline: None,
            next_ping: None,
            qr: None,
            link_code: None,
            seen_messages: HashMap::new(),
        }
    }

    // ---- getters ----

    /// The credentials as the client currently holds them (what the last
    /// `Store` carried, or what it was built with).
    pub fn creds(&self) -> &Creds {
        &self.creds
    }

    /// True once the session is open.
    pub fn is_online(&self) -> bool {
        self.phase == Phase::Online
    }

    /// True once the connection is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    // ---- inputs ----

    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), InputError> {
        if self.phase == Phase::Closed {
            // A closed client ignores the stragglers, except store results,
            // which the shell may still deliver.
            if let Input::StoreDone { op, .. } = input {
                self.after_store.remove(&op);
            }
            return Ok(());
        }
        match input {
            Input::Connected { wall: _ } => self.on_connected(now),
            Input::Received { bytes, wall } => {
                self.on_received(now, bytes, wall);
                Ok(())
            }
            Input::Closed => {
                self.close(DisconnectReason::ConnectionClosed);
                Ok(())
            }
            Input::StoreDone { op, result } => self.on_store_done(now, op, result),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.connect_deadline.is_some_and(|t| now >= t) {
            return self.close(DisconnectReason::TimedOut);
        }
        if self.silence_deadline.is_some_and(|t| now >= t) {
            return self.close(DisconnectReason::KeepaliveTimeout);
        }
        if let Some(qr) = &mut self.qr
            && now >= qr.next_at
        {
            qr.index += 1;
            if qr.index >= qr.refs.len() {
                // WhatsApp Web's behaviour: the refs ran out, start over.
                return self.close(DisconnectReason::TimedOut);
            }
            // From the previous deadline, so a late wake-up does not shift the rotation.
            qr.next_at += ms(self.config.qr_next_ttl_ms);
            let index = qr.index;
            self.emit_qr(index);
        }
        for purpose in self.iqs.expire(now) {
            self.event(Event::IqTimedOut {
                purpose: purpose.clone(),
            });
            // A lost ping is covered by the silence deadline; a lost setup
            // request leaves the session half-open, so start over.
            if purpose != IqPurpose::Ping {
                return self.close(DisconnectReason::TimedOut);
            }
        }
        if let Some(at) = self.next_ping
            && now >= at
        {
            self.next_ping = Some(now + ms(self.config.keepalive_interval_ms));
            let id = self
                .iqs
                .start(IqPurpose::Ping, now, ms(self.config.iq_timeout_ms));
            self.send(&stanzas::ping(&id));
        }
    }

    // ---- outputs ----

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        [
            self.connect_deadline,
            self.silence_deadline,
            self.next_ping,
            self.qr.as_ref().map(|q| q.next_at),
            self.iqs.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- the connection ----

    fn on_connected(&mut self, now: Instant) -> Result<(), InputError> {
        if self.phase != Phase::Idle {
            return Err(InputError::AlreadyConnected);
        }
        let mut encoder = match FrameEncoder::client(
            self.creds.routing_info.as_deref(),
            self.config.frame_bytes_max,
        ) {
            Ok(encoder) => encoder,
            // Routing info too long to frame: connect without it.
            Err(_) => FrameEncoder::client(None, self.config.frame_bytes_max)
                .unwrap_or_else(|_| unreachable!()),
        };
        let (handshake, hello) =
            ClientHandshake::start(&INTRO_HEADER, &self.creds.noise_key, &mut self.rng);
        match encoder.encode(&hello) {
            Ok(bytes) => self.outputs.push_back(Output::Transmit(bytes)),
            Err(err) => {
                self.close(DisconnectReason::ProtocolViolation(err.to_string()));
                return Ok(());
            }
        }
        self.encoder = Some(encoder);
        self.handshake = Some(handshake);
        self.phase = Phase::Handshake;
        self.connect_deadline = Some(now + ms(self.config.connect_timeout_ms));
        Ok(())
    }

    fn on_received(&mut self, now: Instant, bytes: &[u8], wall: UnixMillis) {
        if self.phase == Phase::Idle {
            return self.close(DisconnectReason::ProtocolViolation(
                "bytes before the socket opened".into(),
            ));
        }
        self.decoder.push(bytes);
        self.silence_deadline =
            Some(now + ms(self.config.keepalive_interval_ms + self.config.keepalive_grace_ms));
        loop {
            if self.phase == Phase::Closed {
                return;
            }
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(err) => {
                    return self.close(DisconnectReason::ProtocolViolation(err.to_string()));
                }
            };
            if self.phase == Phase::Handshake {
                let hello = frame.to_vec();
                self.on_server_hello(now, &hello, wall);
                continue;
            }
            let Some(transport) = &mut self.transport else {
                return self.close(DisconnectReason::ProtocolViolation("no transport".into()));
            };
            let node = match transport.decrypt_in_place(frame) {
                Ok(plain) => binary::decode(plain),
                Err(err) => {
                    return self
                        .close(DisconnectReason::ProtocolViolation(format!("frame: {err}")));
                }
            };
            match node {
                Ok(node) => self.on_node(now, node, wall),
                Err(err) => {
                    return self.close(DisconnectReason::ProtocolViolation(format!(
                        "stanza: {err}"
                    )));
                }
            }
        }
    }

    fn on_server_hello(&mut self, now: Instant, hello: &[u8], wall: UnixMillis) {
        let Some(handshake) = self.handshake.take() else {
            return self.close(DisconnectReason::ProtocolViolation(
                "handshake state lost".into(),
            ));
        };
        let verified = match handshake.read_server_hello(hello, &self.config.root_public_key, wall)
        {
            Ok(verified) => verified,
            Err(err) => {
                return self.close(DisconnectReason::ProtocolViolation(format!(
                    "handshake: {err}"
                )));
            }
        };
        let version = self.creds.app_version.unwrap_or(self.config.app_version);
        let payload = match &self.creds.me {
            Some(me) => payload::login(me, version),
            None => payload::registration(&self.creds, version, &self.config.browser),
        };
        match verified.finish(&payload) {
            Ok((finish, transport)) => {
                self.transmit_frame(&finish);
                self.transport = Some(transport);
                self.phase = Phase::Authenticating;
                // Keepalive runs from here on, as in WhatsApp Web: while the
                // phone takes its time to scan, the server says nothing, and
                // only our pings tell a quiet socket from a dead one.
                self.next_ping = Some(now + ms(self.config.keepalive_interval_ms));
            }
            Err(err) => self.close(DisconnectReason::ProtocolViolation(format!(
                "handshake: {err}"
            ))),
        }
    }

    fn on_node(&mut self, now: Instant, node: Node, wall: UnixMillis) {
        match node.tag.as_str() {
            "iq" => self.on_iq(now, node),
            "success" => self.on_success(now, &node),
            "failure" => {
                let code = node
                    .attr("reason")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(500);
                self.close(DisconnectReason::from_code(code));
            }
            "stream:error" => self.close(stream_error_reason(&node)),
            "xmlstreamend" => self.close(DisconnectReason::ConnectionClosed),
            "message" => self.on_message(node, wall),
            "notification" => {
                if node.attr("type") == Some("link_code_companion_reg") {
                    self.on_link_code_notification(now, &node);
                }
                self.send(&stanzas::ack_for(&node));
            }
            "receipt" | "call" => self.send(&stanzas::ack_for(&node)),
            "ib" => self.on_ib(&node),
            // Server acks of what we sent, presence and the rest: nothing to do yet.
            _ => {}
        }
    }

    fn on_iq(&mut self, now: Instant, node: Node) {
        let id = node.attr("id").unwrap_or_default().to_owned();
        match node.attr("type") {
            Some("result") | Some("error") => {
                if let Some(purpose) = self.iqs.finish(&id) {
                    self.on_iq_answer(purpose, &node);
                }
            }
            Some("get") if node.attr("xmlns") == Some("urn:xmpp:ping") => {
                self.send(&stanzas::iq_result(&id))
            }
            Some("set") => {
                if let Some(pair) = node.child("pair-device") {
                    let refs = pair
                        .children_named("ref")
                        .filter_map(|r| r.text())
                        .map(str::to_owned)
                        .collect();
                    self.send(&stanzas::iq_result(&id));
                    self.on_pair_device(now, refs);
                } else if let Some(success) = node.child("pair-success") {
                    self.on_pair_success(&id, success);
                }
            }
            _ => {}
        }
    }

    fn on_iq_answer(&mut self, purpose: IqPurpose, node: &Node) {
        if node.attr("type") == Some("error") && purpose != IqPurpose::Ping {
            let code = node
                .child("error")
                .and_then(|e| e.attr("code"))
                .unwrap_or("?")
                .to_owned();
            return self.close(DisconnectReason::ProtocolViolation(format!(
                "{purpose:?} refused with {code}"
            )));
        }
        match purpose {
            IqPurpose::Ping => {}
            IqPurpose::PreKeyCount => {
                let count = node
                    .child("count")
                    .and_then(|c| c.attr("value"))
                    .and_then(|v| v.parse::<u32>().ok());
                match count {
                    Some(count) => self.maybe_upload_pre_keys(count),
                    None => self.close(DisconnectReason::ProtocolViolation(
                        "pre-key count without a value".into(),
                    )),
                }
            }
            IqPurpose::PreKeyUpload { up_to, count } => {
                let mut creds = self.creds.clone();
                creds.first_unuploaded_pre_key_id = up_to;
                self.store_creds(creds, AfterStore::Nothing);
                self.event(Event::PreKeysUploaded { count });
            }
            IqPurpose::SetActive => {
                self.phase = Phase::Online;
                self.event(Event::Online);
            }
            IqPurpose::LinkCodeHello => {
                let reference = node
                    .child("link_code_companion_reg")
                    .and_then(|r| r.child("link_code_pairing_ref"));
                match (reference, &self.link_code) {
                    (Some(_), Some(code)) => {
                        let code = link_code::display_code(&code.code);
                        self.event(Event::PairingCode { code });
                    }
                    _ => self.close(DisconnectReason::ProtocolViolation(
                        "pairing code request unanswered".into(),
                    )),
                }
            }
            IqPurpose::LinkCodeFinish => {}
        }
    }

    fn on_pair_device(&mut self, now: Instant, refs: Vec<String>) {
        if self.creds.is_registered() || refs.is_empty() {
            return;
        }
        self.phase = Phase::Pairing;
        // The phone has until the refs run out; no connect deadline meanwhile.
        self.connect_deadline = None;
        self.qr = Some(QrRotation {
            refs,
            index: 0,
            next_at: now + ms(self.config.qr_first_ttl_ms),
        });
        self.emit_qr(0);
        if let PairingMethod::Code { phone } = self.config.pairing.clone()
            && self.link_code.is_none()
        {
            let (code, wrapped) = CompanionCode::start(&mut self.rng);
            self.link_code = Some(code);
            let id = self
                .iqs
                .start(IqPurpose::LinkCodeHello, now, ms(self.config.iq_timeout_ms));
            let hello = stanzas::link_code_hello(
                &id,
                &phone,
                &wrapped,
                self.creds.noise_key.public(),
                self.config.platform_id,
            );
            self.send(&hello);
        }
    }

    fn emit_qr(&mut self, index: usize) {
        let Some(qr) = &self.qr else { return };
        let Some(reference) = qr.refs.get(index) else {
            return;
        };
        let valid_ms = if index == 0 {
            self.config.qr_first_ttl_ms
        } else {
            self.config.qr_next_ttl_ms
        };
        let text = pairing::qr_text(reference, &self.creds, self.config.platform_id);
        self.event(Event::Qr {
            text,
            index,
            valid_ms,
        });
    }

    fn on_link_code_notification(&mut self, now: Instant, node: &Node) {
        let Some(reg) = node.child("link_code_companion_reg") else {
            return;
        };
        let (Some(code), PairingMethod::Code { phone }) = (&self.link_code, &self.config.pairing)
        else {
            return;
        };
        let child_bytes = |tag: &str| reg.child(tag).and_then(Node::bytes).map(<[u8]>::to_vec);
        let (Some(reference), Some(wrapped), Some(primary_identity)) = (
            child_bytes("link_code_pairing_ref"),
            child_bytes("link_code_pairing_wrapped_primary_ephemeral_pub"),
            child_bytes("primary_identity_pub"),
        ) else {
            return self.close(DisconnectReason::ProtocolViolation(
                "code pairing notification incomplete".into(),
            ));
        };
        let phone = phone.clone();
        match code.finish(
            &self.creds.identity_key,
            &wrapped,
            &primary_identity,
            &mut self.rng,
        ) {
            Ok((adv_secret, bundle)) => {
                // Kept in memory only: the creds are stored at pair-success,
                // which this secret authenticates.
                self.creds.adv_secret = adv_secret;
                let id = self.iqs.start(
                    IqPurpose::LinkCodeFinish,
                    now,
                    ms(self.config.iq_timeout_ms),
                );
                let identity = *self.creds.identity_key.public();
                self.send(&stanzas::link_code_finish(
                    &id, &phone, bundle, &identity, reference,
                ));
            }
            Err(err) => self.close(DisconnectReason::ProtocolViolation(format!(
                "code pairing: {err}"
            ))),
        }
    }

    fn on_pair_success(&mut self, id: &str, success: &Node) {
        if self.creds.is_registered() {
            return;
        }
        let Some(identity) = success.child("device-identity").and_then(Node::bytes) else {
            self.send(&stanzas::pair_error(id, 500, "internal-error"));
            return self.close(DisconnectReason::ProtocolViolation(
                "pair-success lacks device-identity".into(),
            ));
        };
        let device = success.child("device");
        let Some(jid) = device.and_then(|d| d.attr_jid("jid")) else {
            self.send(&stanzas::pair_error(id, 500, "internal-error"));
            return self.close(DisconnectReason::ProtocolViolation(
                "pair-success lacks device jid".into(),
            ));
        };
        let accepted = match pairing::accept_pair_success(&self.creds, identity, &mut self.rng) {
            Ok(accepted) => accepted,
            Err(err) => {
                self.send(&stanzas::pair_error(id, 401, "not-authorized"));
                return self.close(DisconnectReason::ProtocolViolation(err.to_string()));
            }
        };
        let platform = success
            .child("platform")
            .and_then(|p| p.attr("name"))
            .map(str::to_owned);
        let mut creds = self.creds.clone();
        creds.me = Some(Me {
            jid: jid.clone(),
            lid: device.and_then(|d| d.attr_jid("lid")),
            push_name: success
                .child("biz")
                .and_then(|b| b.attr("name"))
                .map(str::to_owned),
        });
        creds.account = Some(accepted.account);
        creds.platform = platform.clone();
        self.qr = None;
        self.phase = Phase::Paired;
        let reply = stanzas::pair_device_sign(id, accepted.key_index, accepted.reply_identity);
        self.store_creds(
            creds,
            AfterStore::PairDeviceSign {
                reply,
                jid,
                platform,
            },
        );
    }

    fn on_success(&mut self, now: Instant, node: &Node) {
        let Some(me) = self.creds.me.clone() else {
            return self.close(DisconnectReason::ProtocolViolation(
                "success for an unregistered device".into(),
            ));
        };
        self.phase = Phase::LoggedIn;
        self.connect_deadline = None;
        if let Some(lid) = node.attr_jid("lid")
            && me.lid.is_none()
        {
            let mut creds = self.creds.clone();
            if let Some(me) = &mut creds.me {
                me.lid = Some(lid);
            }
            self.store_creds(creds, AfterStore::Nothing);
        }
        self.event(Event::LoggedIn { jid: me.jid });
        let count = self
            .iqs
            .start(IqPurpose::PreKeyCount, now, ms(self.config.iq_timeout_ms));
        self.send(&stanzas::pre_key_count(&count));
        let active = self
            .iqs
            .start(IqPurpose::SetActive, now, ms(self.config.iq_timeout_ms));
        self.send(&stanzas::set_active(&active));
    }

    fn maybe_upload_pre_keys(&mut self, server_count: u32) {
        if server_count > self.config.pre_keys_low_water {
            return;
        }
        let wanted = if server_count == 0 {
            self.config.pre_keys_initial
        } else {
            self.config.pre_keys_low_water
        };
        let mut creds = self.creds.clone();
        // Provisional ids: the store may move them past ids another
        // process on it claimed (see `session::pre_key_ids`).
        let keys: Vec<PreKey> = (0..wanted)
            .map(|i| PreKey {
                id: pre_key_ids::after(creds.next_pre_key_id, i),
                key_pair: KeyPair::generate(&mut self.rng),
            })
            .collect();
        creds.next_pre_key_id = pre_key_ids::after(creds.next_pre_key_id, wanted);
        let op = self.next_op();
        self.after_store
            .insert(op, AfterStore::UploadPreKeys { keys: keys.clone() });
        self.creds = creds.clone();
        self.outputs.push_back(Output::Store(
            op,
            StoreOp::PreKeys {
                creds: Box::new(creds),
                keys,
            },
        ));
    }

    fn on_message(&mut self, node: Node, wall: UnixMillis) {
        let Some(id) = node.attr("id").map(str::to_owned) else {
            return self.close(DisconnectReason::ProtocolViolation(
                "message without id".into(),
            ));
        };
        let from = attr_text(&node, "from").unwrap_or_default();
        let ack = stanzas::ack_for(&node);
        match self.seen_messages.get(&id) {
            // Committed already: the server missed our ack; ack again.
            Some(true) => return self.send(&ack),
            // Commit in flight: its completion acks.
            Some(false) => return,
            None => {}
        }
        let stanza = match binary::encode(&node) {
            Ok(bytes) => bytes,
            Err(err) => {
                return self.close(DisconnectReason::ProtocolViolation(format!(
                    "message re-encode: {err}"
                )));
            }
        };
        self.seen_messages.insert(id.clone(), false);
        if self.config.broken_ack_before_store {
            self.send(&ack);
        }
        let op = self.next_op();
        self.after_store.insert(
            op,
            AfterStore::Ack {
                ack,
                id: id.clone(),
                from: from.clone(),
            },
        );
        let entry = InboxEntry {
            id,
            from,
            stanza,
            received_at: wall,
        };
        self.outputs
            .push_back(Output::Store(op, StoreOp::Inbox(entry)));
    }

    fn on_ib(&mut self, node: &Node) {
        if let Some(offline) = node.child("offline") {
            let count = offline
                .attr("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            self.event(Event::OfflineDelivered { count });
        }
        if let Some(routing) = node
            .child("edge_routing")
            .and_then(|e| e.child("routing_info"))
            .and_then(Node::bytes)
            && self.creds.routing_info.as_deref() != Some(routing)
        {
            let mut creds = self.creds.clone();
            creds.routing_info = Some(routing.to_vec());
            self.store_creds(creds, AfterStore::Nothing);
        }
    }

    fn on_store_done(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<Committed, String>,
    ) -> Result<(), InputError> {
        let after = self
            .after_store
            .remove(&op)
            .ok_or(InputError::UnknownOp(op))?;
        let committed = match result {
            Ok(committed) => committed,
            Err(error) => {
                if let AfterStore::Ack { id, .. } = &after {
                    // Not committed: forget it, so a redelivery tries again.
                    self.seen_messages.remove(id);
                }
                self.event(Event::StoreFailed { op, error });
                if matches!(after, AfterStore::PairDeviceSign { .. }) {
                    // Never confirm a pairing we could not store.
                    self.close(DisconnectReason::ProtocolViolation(
                        "could not store the new session".into(),
                    ));
                }
                return Ok(());
            }
        };
        match after {
            AfterStore::Nothing => {}
            AfterStore::Ack { ack, id, from } => {
                self.seen_messages.insert(id.clone(), true);
                self.send(&ack);
                self.event(Event::MessageStored { id, from });
            }
            AfterStore::PairDeviceSign {
                reply,
                jid,
                platform,
            } => {
                self.send(&reply);
                self.event(Event::Paired { jid, platform });
            }
            AfterStore::UploadPreKeys { mut keys } => {
                if let Some((first, next)) = committed.pre_key_ids {
                    pre_key_ids::renumber(&mut keys, first);
                    self.creds.next_pre_key_id =
                        pre_key_ids::later(self.creds.next_pre_key_id, next);
                }
                let id = self.iqs.start(
                    IqPurpose::PreKeyUpload {
                        up_to: self.creds.next_pre_key_id,
                        count: keys.len() as u32,
                    },
                    now,
                    ms(self.config.iq_timeout_ms),
                );
                self.send(&stanzas::pre_key_upload(&id, &self.creds, &keys));
            }
        }
        Ok(())
    }

    // ---- helpers ----

    fn next_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Adopts `creds` and asks the shell to store them.
    fn store_creds(&mut self, creds: Creds, after: AfterStore) {
        let op = self.next_op();
        self.after_store.insert(op, after);
        self.creds = creds.clone();
        self.outputs
            .push_back(Output::Store(op, StoreOp::Creds(Box::new(creds))));
    }

    fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn send(&mut self, node: &Node) {
        let Some(transport) = &mut self.transport else {
            return;
        };
        let mut buf = match binary::encode(node) {
            Ok(buf) => buf,
            Err(err) => {
                return self.close(DisconnectReason::ProtocolViolation(format!(
                    "encode: {err}"
                )));
            }
        };
        if let Err(err) = transport.encrypt_in_place(&mut buf) {
            return self.close(DisconnectReason::ProtocolViolation(format!(
                "encrypt: {err}"
            )));
        }
        self.transmit_frame(&buf);
    }

    fn transmit_frame(&mut self, payload: &[u8]) {
        let Some(encoder) = &mut self.encoder else {
            return;
        };
        match encoder.encode(payload) {
            Ok(bytes) => self.outputs.push_back(Output::Transmit(bytes)),
            Err(err) => self.close(DisconnectReason::ProtocolViolation(err.to_string())),
        }
    }

    /// Ends the connection: one `Disconnected` event, then silence.
    fn close(&mut self, reason: DisconnectReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.connect_deadline = None;
        self.silence_deadline = None;
        self.next_ping = None;
        self.qr = None;
        self.event(Event::Disconnected { reason });
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// An attribute as text, whether the wire carried text or a JID.
fn attr_text(node: &Node, key: &str) -> Option<String> {
    match node.attr_value(key)? {
        Value::Str(s) => Some(s.to_string()),
        Value::Jid(jid) => Some(jid.to_string()),
    }
}

/// `<stream:error code=N>` → N; `<conflict>` → 440 (replaced); else 500.
fn stream_error_reason(node: &Node) -> DisconnectReason {
    if let Some(code) = node.attr("code").and_then(|c| c.parse().ok()) {
        return DisconnectReason::from_code(code);
    }
    match node.children().first().map(|c| c.tag.as_str()) {
        Some("conflict") => DisconnectReason::Replaced,
        _ => DisconnectReason::BadSession,
    }
}
