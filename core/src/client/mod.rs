//! The protocol connection as a sans-I/O state machine: one `Client` per
//! socket, from the intro and Noise handshake to an open session (pairing
//! by QR or code the first time, login with stored creds after), then
//! keepalive, requests with deadlines, and the durable ack of messages.
//!
//! The contract is DESIGN.md's: call `handle_input` / `handle_timeout`,
//! then drain `poll_output` until `None`, then sleep until `poll_timeout`.
//! Storage is a command: the client emits [`Output::Store`] (a batch of
//! [`Write`]s for one transaction) and waits for [`Input::StoreDone`]
//! before it acts on what it stored (an ack, a reply to the phone, a
//! pre-key upload), so nothing is confirmed to the server that a crash
//! could lose.
//!
//! The parts, one file each: `connection` (socket, handshake, frames,
//! timers, closing), `receive` (stanzas in, messages stored then acked),
//! `pairing_flow` (QR and code linking), `login` (success, pre-keys,
//! going online).

pub mod ask;
mod config;
mod connection;
mod decrypt;
mod disconnect;
pub mod groups;
mod ignored;
mod interface;
mod iq;
pub mod link_code;
mod login;
pub mod pairing;
mod pairing_flow;
mod payload;
mod receive;
mod seen;
pub mod send;
pub mod stanzas;
mod state;
mod violation;
pub mod web_version;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub use config::{ClientConfig, PairingMethod};
pub use disconnect::DisconnectReason;
pub use ignored::{CountSource, Ignored};
pub use interface::{Event, Input, InputError, Limit, OpId, Output};
pub use iq::IqPurpose;
pub use payload::Browser;
pub use violation::Violation;

use crate::session::{Creds, PreKey, Session, SignedPreKey, Write};
use crate::time::UnixMillis;
use crate::wire;
use crate::wire::binary::{Decoded, Jid, Node};
use crate::wire::frame::FrameDecoder;
use iq::IqTracker;
use seen::SeenMessages;
use state::{Resume, State};

/// What to do once a store batch is durable.
#[derive(Debug)]
enum AfterStore {
    Nothing,
    /// A message is stored: answer the server and its sender.
    Ack {
        answer: Answer,
        id: String,
        from: String,
    },
    /// A message that did not decrypt has its retry count stored: ack it
    /// and ask its sender for it again (with `fresh_key`, once committed).
    AskAgain {
        ack: Node,
        receipt: Node,
        fresh_key: Option<PreKey>,
        id: String,
    },
    PairDeviceSign {
        reply: Node,
        jid: Jid,
        platform: Option<String>,
    },
    UploadPreKeys {
        keys: Vec<PreKey>,
    },
    /// A new signed pre-key is stored: now hand it to the server.
    SendSignedPreKey {
        key: SignedPreKey,
    },
    /// An outbound message's stanza is durable: send it.
    Transmit {
        id: String,
        stanza: Vec<u8>,
    },
    /// A message sealed again for a device that asked (its session's
    /// advance is durable): send it.
    Resend {
        stanza: Vec<u8>,
    },
    /// A message (the frame it came in) waits for the store's session,
    /// to be opened again with keys another process wrote.
    Reopen {
        raw: Vec<u8>,
        wall: UnixMillis,
    },
}

/// What a stored message is answered with: the ack to the server (or a
/// nack saying it is unusable) and, for a message that opened, the
/// delivery receipt to its sender.
#[derive(Debug)]
struct Answer {
    ack: Node,
    /// Receipts to send before the ack.
    receipts: Vec<Node>,
}

impl Answer {
    fn delivered(message: wire::binary::NodeRef<'_>) -> Answer {
        Answer {
            ack: stanzas::ack_for(message),
            receipts: vec![stanzas::delivery_receipt(message)],
        }
    }
}

/// The protocol connection. See the module docs for the contract.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    /// The session as this connection's writes leave it (its creds, its
    /// keys): what the store holds once they are committed.
    /// `login_confirmed` says the server accepted a login with these creds
    /// (now or before): a 401 is then a logout, not an unfinished link.
    session: Session,
    rng: ChaCha20Rng,
    state: State,
    decoder: FrameDecoder,
    /// Reused for every stanza: decoding allocates nothing in steady state.
    decoded: Decoded,
    outputs: VecDeque<Output>,
    iqs: IqTracker,
    next_op: u64,
    after_store: HashMap<OpId, AfterStore>,
    connect_deadline: Option<Instant>,
    silence_deadline: Option<Instant>,
    /// Frames wait in the decoder because the outputs hit their bound;
    /// the time and wall clock to read them with.
    backlog: Option<(Instant, UnixMillis)>,
    seen_messages: SeenMessages,
    limits_hit: BTreeSet<Limit>,
    outbox: send::Outbox,
    /// The wall clock of the latest input that carried one (for work a
    /// store result resumes).
    last_wall: UnixMillis,
}

impl Client {
    /// A client for one connection. `session` is the stored one, with
    /// every write handed to the store so far (or a fresh one, from
    /// [`Creds::generate`]); `seed` drives every random choice.
    pub fn new(config: ClientConfig, session: Session, seed: [u8; 32]) -> Client {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let prefix = format!("{:04x}", rng.next_u32() & 0xFFFF);
        let outbox = send::Outbox::with_groups(&session);
        let mut client = Client {
            decoder: FrameDecoder::client(config.frame_bytes_max),
            seen_messages: SeenMessages::new(config.seen_messages_len_max),
            config,
            session,
            rng,
            state: State::Idle,
            decoded: Decoded::new(),
            outputs: VecDeque::new(),
            iqs: IqTracker::new(prefix),
            next_op: 0,
            after_store: HashMap::new(),
            connect_deadline: None,
            silence_deadline: None,
            backlog: None,
            limits_hit: BTreeSet::new(),
            outbox,
            last_wall: UnixMillis::EPOCH,
        };
        // The shell's view of the groups (what commands know of their
        // admins) starts from the kept ones too.
        let known: Vec<_> = client.outbox.groups().infos().cloned().collect();
        for info in known {
            client.event(Event::GroupKnown(Box::new(info)));
        }
        client
    }

    // ---- getters ----

    /// The session as this connection's writes leave it.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The credentials as the client currently holds them (what the last
    /// `Store` carried, or what it was built with).
    pub fn creds(&self) -> &Creds {
        &self.session.creds
    }

    /// After the connection ended: the creds the next connection must
    /// start from instead of the stored ones, because this one changed
    /// them and the store may not have them yet. `None`: use the stored.
    pub fn resume_creds(&self) -> Option<&Creds> {
        matches!(
            self.state,
            State::Closed {
                resume: Resume::Own
            }
        )
        .then_some(&self.session.creds)
    }

    /// True once the session is open.
    pub fn is_online(&self) -> bool {
        matches!(
            self.state,
            State::Open {
                stage: state::Stage::Online,
                ..
            }
        )
    }

    /// True once the connection is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }

    // ---- inputs ----

    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), InputError> {
        if self.is_closed() {
            // A closed client ignores the stragglers, except store results,
            // which the shell may still deliver.
            if let Input::StoreDone { op, .. } | Input::ReadBack { op, .. } = input {
                self.after_store.remove(&op);
            }
            return Ok(());
        }
        if let Input::Connected { wall }
        | Input::Received { wall, .. }
        | Input::Outbound { wall, .. } = &input
        {
            self.last_wall = *wall;
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
            Input::ReadBack { op, stored } => self.on_read_back(op, stored),
            Input::Outbound { rows, wall } => {
                self.on_outbound(now, wall, rows);
                Ok(())
            }
            Input::Ask { id, request } => {
                self.on_ask(now, id, request);
                Ok(())
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if let Some((_, wall)) = self.backlog {
            self.read_frames(now, wall);
        }
        if self.connect_deadline.is_some_and(|t| now >= t) {
            return self.close(DisconnectReason::TimedOut);
        }
        if self.silence_deadline.is_some_and(|t| now >= t) {
            return self.close(DisconnectReason::KeepaliveTimeout);
        }
        self.rotate_qr(now);
        for purpose in self.iqs.expire(now) {
            // The shell's requests are answered as timed out: it asks
            // again (or gives up) itself.
            if let IqPurpose::Ask { id, .. } = purpose {
                self.answered(id, Err(ask::AskError::TimedOut));
                continue;
            }
            self.event(Event::IqTimedOut {
                purpose: purpose.clone(),
            });
            // A lost ping is covered by the silence deadline, a lost list
            // of groups by reading each when needed; a lost setup request
            // leaves the session half-open, so start over.
            if !matches!(
                purpose,
                IqPurpose::Ping | IqPurpose::Participating | IqPurpose::GroupRefresh
            ) {
                return self.close(DisconnectReason::TimedOut);
            }
        }
        self.keepalive(now);
    }

    // ---- outputs ----

    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (next_ping, qr) = match &self.state {
            State::Closed { .. } => return None,
            State::Open { link, stage } => (
                Some(link.next_ping),
                match stage {
                    state::Stage::Pairing(flow) => Some(flow.qr.next_at),
                    _ => None,
                },
            ),
            _ => (None, None),
        };
        [
            self.backlog.map(|(at, _)| at),
            self.connect_deadline,
            self.silence_deadline,
            next_ping,
            qr,
            self.iqs.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- shared helpers ----

    fn next_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Asks the shell to commit `writes` in one transaction; `after` runs
    /// once it is durable. The client's session takes the writes now
    /// (fresh pre-keys once the store has given them their ids), so the
    /// next message opens with the state this one left.
    fn store(&mut self, writes: Vec<Write>, after: AfterStore) {
        for write in &writes {
            if !matches!(write, Write::FreshPreKeys(_)) {
                self.session.apply(write);
            }
        }
        let op = self.next_op();
        self.after_store.insert(op, after);
        self.outputs.push_back(Output::Store(op, writes));
    }

    /// Adopts `creds` and asks the shell to store them.
    fn store_creds(&mut self, creds: Creds, after: AfterStore) {
        self.session.creds = creds.clone();
        self.store(vec![Write::Creds(Box::new(creds))], after);
    }

    fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Reports a bound hit, once per connection and limit.
    fn limit_reached(&mut self, limit: Limit) {
        if self.limits_hit.insert(limit) {
            self.event(Event::LimitReached { limit });
        }
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
