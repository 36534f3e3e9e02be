//! The fake WhatsApp server as a sans-I/O machine: many client
//! connections, one account with a mock phone and mock contacts.
//!
//! The contract is the client's: call a `handle_*` input (or a control),
//! then drain [`FakeServer::poll_output`] until `None`, then sleep until
//! [`FakeServer::poll_timeout`]. Nothing here reads a clock or the OS RNG:
//! `now` and `wall` come in with the inputs, and every random choice
//! (keys, refs, ids, signatures) comes from the seed, so the same seed and
//! the same inputs give the same bytes.
//!
//! Per connection: the intro and frames (`FrameDecoder::server`), the
//! Noise handshake as responder with a certificate chain signed by the
//! configured root, the ClientPayload (registration or login), then binary
//! stanzas through the transport cipher. Bad bytes from a client close
//! that connection with a [`ServerEvent::ClientError`]; nothing panics.
//!
//! The pieces: `login` (what a ClientPayload leads to), `phone` (the mock
//! phone: QR and code pairing), `iq` (requests from linked devices),
//! `pre_keys` (the one-time pre-keys a device uploaded, each handed out
//! once), `contacts` (mock contacts as Signal peers: identity keys,
//! sessions, sender keys), `texts` (a contact writes: encrypted per
//! device), `mailbox` (those messages until acked), `receipts` (delivery,
//! read and retry receipts), `state` (the snapshot).
//!
//! The other way, the server is the recipient of what the bot sends:
//! `users` (who a JID names), `usync` (device lists), `bundles` (pre-key
//! bundles of contacts' devices and of the phone), `peer` (one Signal
//! device the server plays), `own_phone` (the account's phone as one),
//! `bot_messages` (the bot's `<message>`: opened, acked, receipted),
//! `received` (what each device read), `retry_request` (contacts asking
//! again) and `violations` (what a real server or contact would refuse).
//! `media` is the media host (`media_conn`, uploads, downloads) and the
//! check of the blobs the bot's media messages reference.

mod account;
mod bot_group_messages;
mod bot_group_resends;
mod bot_messages;
mod bundles;
mod config;
mod conn;
mod contacts;
mod group_controls;
mod group_iq;
mod group_notices;
mod group_stanzas;
mod groups;
mod ids;
mod iq;
mod login;
mod mailbox;
mod media;
mod output;
mod own_phone;
mod peer;
mod phone;
pub mod poison;
mod pre_keys;
mod receipts;
mod received;
mod retry_request;
mod stanzas;
mod state;
mod texts;
mod users;
mod usync;
mod violations;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use blacksky_core::crypto::KeyPair;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Node;
use blacksky_core::wire::frame::INTRO_HEADER;
use blacksky_core::wire::noise::{CertChainSpec, ServerHandshake, build_cert_chain};
use blacksky_proto::Message;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use config::{DEFAULT_PHONE, ServerConfig, TEST_ROOT_PRIVATE};
pub use contacts::{CONTACTS_LEN_MAX, DEVICES_PER_CONTACT_MAX, GROUPS_PER_CONTACT_MAX};
pub use group_controls::{GroupChange, GroupState, NewGroup};
pub use group_notices::GROUP_NOTICES_LEN_MAX;
pub use groups::{
    DESCRIPTION_CHARS_MAX, GROUPS_LEN_MAX, GroupAddressing, HELD_KEYS_PER_GROUP_MAX,
    MEMBERS_PER_GROUP_MAX, Rank, SUBJECT_CHARS_MAX,
};
pub use mailbox::MESSAGES_LEN_MAX;
pub use media::{
    MEDIA_BLOB_BYTES_MAX, MEDIA_BLOBS_LEN_MAX, MEDIA_CHECKS_LEN_MAX, MEDIA_STORED_BYTES_MAX,
    MediaCheck, MediaHostError, MediaStats, ReceivedMedia, UPLOAD_TYPES, UploadAnswer,
};
pub use output::{
    ConnId, ControlError, HandshakeKind, ReceiptKind, RetryOutcome, ServerEvent, ServerOutput,
    Tamper, Target,
};
pub use peer::{HELD_PRE_KEYS_PER_DEVICE_MAX, SEEN_KEYS_PER_SESSION_MAX};
pub use pre_keys::{ONE_TIME_PRE_KEYS_PER_DEVICE_MAX, PRE_KEYS_LOW_WATER};
pub use receipts::RETRIES_PER_MESSAGE_MAX;
pub use received::{RECEIVED_TEXTS_PER_CONTACT_MAX, ReceivedText};
pub use retry_request::RETRY_COUNTS_LEN_MAX;
pub use state::{ConnState, DeviceState, MessageCounts, MessageState, PairingState, ServerState};
pub use texts::TEXT_BYTES_MAX;
pub use usync::USERS_PER_QUERY_MAX;
pub use violations::{Owner, VIOLATIONS_LEN_MAX, Violation, ViolationKind};

use account::Device;
use conn::{Conn, Handshake, Incoming, Role};
use contacts::Contacts;
use mailbox::Mailbox;
use own_phone::OwnPhone;
use retry_request::RetryCounts;
use violations::Violations;

/// The fake server. See the module docs for the contract.
#[derive(Debug)]
pub struct FakeServer {
    config: ServerConfig,
    rng: ChaCha20Rng,
    static_key: KeyPair,
    /// The encoded CertChain every server hello carries.
    cert_chain: Vec<u8>,
    /// The phone's identity key, which signs devices into the account.
    account_key: KeyPair,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: u64,
    devices: BTreeMap<u8, Device>,
    next_device_id: u16,
    next_key_index: u32,
    mailbox: Mailbox,
    /// The mock contacts' Signal keys and sessions.
    contacts: Contacts,
    /// The account's phone as a Signal device (it reads DSM copies).
    own_phone: OwnPhone,
    /// The groups, their members and the bot's sender keys they hold.
    groups: groups::Groups,
    /// Group notifications until each linked device acks them.
    group_notices: group_notices::GroupNotices,
    /// What the bot's messages broke, in a ring.
    violations: Violations,
    /// The media host: uploaded blobs and the checks of the bot's media.
    media: media::MediaHost,
    /// Retry receipts the played devices sent, per message and device.
    retry_counts: RetryCounts,
    outputs: VecDeque<ServerOutput>,
    /// The latest wall clock given; controls stamp with it.
    wall: UnixMillis,
    /// The next `count` logins get `<failure reason=code>`.
    refused_logins: Option<(u16, u32)>,
    /// Logins and registrations refused with 405 for an old app version.
    outdated_logins: u32,
    /// Iqs of this xmlns are never answered.
    ignored_iq_xmlns: Option<String>,
    /// The next pair-success is spoiled this way.
    tamper_pair_success: Option<Tamper>,
    stanza_counter: u64,
    max_live_connections_per_device: u32,
    replaced_connections: u32,
    last_client_error: Option<String>,
    /// Stanzas a client cannot use, sent on demand (see `poison`).
    poison: poison::Poison,
}

impl FakeServer {
    /// A server whose keys, certificates and ids all come from `seed`.
    /// Until an input brings a wall clock, controls stamp stanzas with the
    /// middle of the certificate validity window.
    #[must_use]
    pub fn new(config: ServerConfig, seed: u64) -> FakeServer {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let static_key = KeyPair::generate(&mut rng);
        let account_key = KeyPair::generate(&mut rng);
        let spec = CertChainSpec {
            intermediate_serial: 1,
            leaf_serial: 2,
            intermediate: config.cert_validity,
            leaf: config.cert_validity,
        };
        let cert_chain =
            build_cert_chain(&config.root, static_key.public(), &spec, &mut rng).encode_to_vec();
        let validity = config.cert_validity;
        let middle = validity.not_before_secs / 2 + validity.not_after_secs / 2;
        FakeServer {
            next_device_id: u16::from(config.first_device_id),
            config,
            rng,
            static_key,
            cert_chain,
            account_key,
            conns: BTreeMap::new(),
            next_conn: 0,
            devices: BTreeMap::new(),
            next_key_index: 1,
            mailbox: Mailbox::default(),
            contacts: Contacts::default(),
            own_phone: OwnPhone::default(),
            groups: groups::Groups::default(),
            group_notices: group_notices::GroupNotices::default(),
            violations: Violations::default(),
            media: media::MediaHost::default(),
            retry_counts: RetryCounts::default(),
            outputs: VecDeque::new(),
            wall: UnixMillis::from_secs(middle),
            refused_logins: None,
            outdated_logins: 0,
            ignored_iq_xmlns: None,
            tamper_pair_success: None,
            stanza_counter: 0,
            max_live_connections_per_device: 0,
            replaced_connections: 0,
            last_client_error: None,
            poison: poison::Poison::default(),
        }
    }

    // ---- getters ----

    /// The key clients must trust (print it for `WA_ROOT_PUBKEY`).
    #[must_use]
    pub fn root_public_key(&self) -> [u8; 32] {
        self.config.root_public_key()
    }

    /// The server's Noise static key (the leaf certificate's key).
    #[must_use]
    pub fn static_public_key(&self) -> [u8; 32] {
        *self.static_key.public()
    }

    /// The phone's identity key, which signs linked devices (ADV).
    #[must_use]
    pub fn account_public_key(&self) -> [u8; 32] {
        *self.account_key.public()
    }

    #[must_use]
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Open connections, in connect order.
    #[must_use]
    pub fn connections(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// True while `conn` is open (as far as the server knows).
    #[must_use]
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    // ---- inputs ----

    /// A client opened a socket.
    pub fn connect(&mut self, now: Instant) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let handshake =
            ServerHandshake::new(&INTRO_HEADER, &self.static_key, self.cert_chain.clone());
        let deadline = now + Duration::from_millis(self.config.handshake_timeout_ms);
        self.conns.insert(
            id,
            Conn::new(handshake, self.config.frame_bytes_max, deadline),
        );
        self.event(ServerEvent::Connected { conn: id });
        id
    }

    /// Bytes read from `conn`'s socket, in any chunking. Bytes for a
    /// connection the server closed are ignored.
    pub fn handle_bytes(&mut self, conn: ConnId, now: Instant, wall: UnixMillis, bytes: &[u8]) {
        // No server deadline depends on client traffic (the handshake
        // deadline runs from connect); `now` is part of the contract.
        let _ = now;
        self.wall = wall;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.decoder.push(bytes);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.next_incoming() {
                Ok(None) => return,
                Ok(Some(Incoming::Handshake(message))) => self.on_handshake(conn, &message),
                Ok(Some(Incoming::Stanza(node))) => self.on_stanza(conn, node),
                Err(what) => return self.client_error(conn, what),
            }
        }
    }

    /// The client closed its socket (or it broke).
    pub fn handle_closed(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.forget(conn, c);
            self.event(ServerEvent::Closed { conn });
        }
    }

    /// Closes connections that did not finish their handshake in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.handshake_deadline.is_some_and(|t| now >= t))
            .map(|(id, _)| *id)
            .collect();
        for conn in late {
            let what = format!(
                "no handshake within {} ms",
                self.config.handshake_timeout_ms
            );
            self.client_error(conn, what);
        }
    }

    /// The wall clock moved (for controls that stamp stanzas, when no
    /// bytes arrived lately).
    pub fn set_wall(&mut self, wall: UnixMillis) {
        self.wall = wall;
    }

    // ---- outputs ----

    /// The next effect. Drain until `None` after every input or control.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.outputs.pop_front()
    }

    /// The next handshake deadline, if a connection is still in its handshake.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.handshake_deadline)
            .min()
    }

    // ---- controls: misbehaviour ----

    /// `<stream:error code=N/>` (for 440 the `<conflict type="replaced"/>`
    /// form), then close. Returns how many connections it hit.
    pub fn kick(&mut self, target: Target, code: u16) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.send(conn, &stanzas::stream_error(code));
            self.close(conn);
        }
        conns.len()
    }

    /// `<failure reason=N/>`, then close.
    pub fn kick_failure(&mut self, target: Target, code: u16) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.send(conn, &stanzas::failure(code));
            self.close(conn);
        }
        conns.len()
    }

    /// Closes without a word (an abrupt drop).
    pub fn drop_connections(&mut self, target: Target) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.close(conn);
        }
        conns.len()
    }

    /// New contacts fetched the linked devices' one-time pre-keys (each
    /// is handed out once, lowest id first) until at most `left` remain;
    /// a device that drops below the low water is told, as after any fetch.
    pub fn use_pre_keys(&mut self, left: u32) {
        let ids: Vec<u8> = self.devices.keys().copied().collect();
        for id in ids {
            if let Some(device) = self.devices.get_mut(&id) {
                device.one_time_pre_keys.keep_at_most(left);
            }
            self.after_bundle_fetch(id);
        }
    }

    /// The next `count` logins are refused with `<failure reason=code>`.
    pub fn refuse_logins(&mut self, code: u16, count: u32) {
        self.refused_logins = (count > 0).then_some((code, count));
    }

    /// From now on, logins and registrations whose app version is below
    /// `min` get `<failure reason=405>` (`None`: any version logs in).
    pub fn demand_app_version(&mut self, min: Option<[u32; 3]>) {
        self.config.min_app_version = min;
    }

    /// Never answer iqs of this xmlns (`None`: answer all again).
    pub fn set_ignore_iqs(&mut self, xmlns: Option<&str>) {
        self.ignored_iq_xmlns = xmlns.map(str::to_owned);
    }

    /// The next pair-success the phone sends (by QR or by code) is
    /// spoiled as `tamper` says, as a forged or corrupted one would be: a
    /// careful client refuses it and stores nothing.
    pub fn tamper_next_pair_success(&mut self, tamper: Tamper) {
        self.tamper_pair_success = Some(tamper);
    }

    /// `bytes` as one frame on `conn`, encrypted with the transport cipher
    /// once the handshake is done (as they are before): a frame that is no
    /// stanza, for testing a client's decoder. `Ok(false)` when nothing went out (the
    /// connection is silent, or the bytes are too long for a frame).
    pub fn send_garbage(&mut self, conn: ConnId, bytes: &[u8]) -> Result<bool, ControlError> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(ControlError::UnknownConn { conn })?;
        let framed = if c.transport.is_some() {
            c.seal_bytes(bytes.to_vec())
        } else {
            c.frame(bytes)
        };
        Ok(framed.is_ok_and(|framed| self.transmit(conn, framed)))
    }

    /// A silent partition: while set, nothing the server says (not even a
    /// close) reaches `conn`; what it sends still arrives.
    pub fn set_silent(&mut self, conn: ConnId, silent: bool) -> Result<(), ControlError> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(ControlError::UnknownConn { conn })?;
        c.silent = silent;
        Ok(())
    }

    // ---- internals shared by the parts ----

    fn targets(&self, target: Target) -> Vec<ConnId> {
        match target {
            Target::Conn(conn) => self
                .conns
                .contains_key(&conn)
                .then_some(conn)
                .into_iter()
                .collect(),
            Target::AllLive => self.connections(),
        }
    }

    fn event(&mut self, event: ServerEvent) {
        self.outputs.push_back(ServerOutput::Event(event));
    }

    fn on_handshake(&mut self, conn: ConnId, message: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match c.handshake.take() {
            Some(Handshake::Hello(handshake)) => {
                match handshake.read_client_hello(message, &mut self.rng) {
                    Ok((awaiting, reply)) => {
                        c.handshake = Some(Handshake::Finish(awaiting));
                        match c.frame(&reply) {
                            Ok(bytes) => {
                                self.transmit(conn, bytes);
                            }
                            Err(what) => self.client_error(conn, what),
                        }
                    }
                    Err(err) => self.client_error(conn, format!("client hello: {err}")),
                }
            }
            Some(Handshake::Finish(awaiting)) => match awaiting.read_client_finish(message) {
                Ok(accepted) => {
                    c.handshake = Some(Handshake::Done);
                    c.transport = Some(accepted.transport);
                    c.client_static = Some(accepted.client_static);
                    c.handshake_deadline = None;
                    self.on_client_payload(conn, &accepted.client_payload);
                }
                Err(err) => self.client_error(conn, format!("client finish: {err}")),
            },
            _ => self.client_error(conn, "handshake message out of order".into()),
        }
    }

    /// Bytes for `conn`, unless it is cut off.
    fn transmit(&mut self, conn: ConnId, bytes: Vec<u8>) -> bool {
        if self.conns.get(&conn).is_none_or(|c| c.silent) {
            return false;
        }
        self.outputs
            .push_back(ServerOutput::Transmit { conn, bytes });
        true
    }

    /// Sends a stanza; false when it did not go out (closed, silent).
    fn send(&mut self, conn: ConnId, node: &Node) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if c.silent {
            return false;
        }
        match c.seal(node) {
            Ok(bytes) => self.transmit(conn, bytes),
            Err(what) => {
                self.event(ServerEvent::ClientError {
                    conn,
                    what: format!("server could not send <{}>: {what}", node.tag),
                });
                self.close(conn);
                false
            }
        }
    }

    /// Ends a connection from the server's side.
    fn close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let silent = c.silent;
        self.forget(conn, c);
        if !silent {
            self.outputs.push_back(ServerOutput::Close { conn });
        }
        self.event(ServerEvent::Closed { conn });
    }

    /// What a connection held goes with it.
    fn forget(&mut self, conn: ConnId, c: Conn) {
        match &c.role {
            Role::Device(id) => {
                if let Some(device) = self.devices.get_mut(id)
                    && device.live == Some(conn)
                {
                    device.live = None;
                    device.active = false;
                }
            }
            role @ Role::Registering(_) => self.abandon_pairing(role),
            Role::Connecting => {}
        }
    }

    /// The client did something we refuse: say so and hang up.
    fn client_error(&mut self, conn: ConnId, what: String) {
        self.last_client_error = Some(format!("{conn}: {what}"));
        self.event(ServerEvent::ClientError { conn, what });
        self.close(conn);
    }

    /// Answers an iq with an error and records why; the client decides
    /// whether to hang up.
    fn refuse_iq(&mut self, conn: ConnId, id: &str, code: u16, text: &'static str, what: String) {
        self.send(conn, &stanzas::iq_error(id, code, text));
        self.last_client_error = Some(format!("{conn}: {what}"));
        self.event(ServerEvent::ClientError { conn, what });
    }
}
