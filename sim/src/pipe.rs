//! A real [`Client`] wired to a [`FakeServer`] in memory: bytes move both
//! ways, store commands complete at once (or are held, or fail, to
//! simulate a slow or broken store), and the clock moves only when told
//! ([`Pipe::advance`] by an amount, [`Pipe::step`] / [`Pipe::run_until`]
//! to the next deadline). Every event is stamped with its virtual time.
//! No sockets, no threads, no clock reads: a test is a list of steps.
//!
//! ```
//! use std::time::Instant;
//! use blacksky_core::session::{Committed, Creds, creds_over, place_fresh_pre_keys};
//! use blacksky_core::time::UnixMillis;
//! use blacksky_sim::pipe::Pipe;
//! use blacksky_sim::server::{FakeServer, ServerConfig};
//! use rand_chacha::ChaCha20Rng;
//! use rand_core::SeedableRng;
//!
//! let wall = UnixMillis::from_secs(1_750_000_000);
//! let mut pipe = Pipe::new(FakeServer::new(ServerConfig::new(wall), 1), Instant::now(), wall, 2);
//! let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(3));
//! let conn = pipe.connect(pipe.client_config(), creds);
//! pipe.run();
//! let qr = pipe.link(conn).last_qr().expect("a QR");
//! pipe.server.scan_qr(&qr).expect("scan");
//! pipe.run();
//! assert!(pipe.link(conn).stored.as_ref().is_some_and(|c| c.me.is_some()));
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use blacksky_core::client::{Client, ClientConfig, DisconnectReason, Event, Input, OpId, Output};
use blacksky_core::session::{
    Committed, Creds, InboxContent, InboxEntry, Session, StoreFault, Write, creds_over,
    place_fresh_pre_keys,
};
use blacksky_core::time::UnixMillis;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::server::{ConnId, FakeServer, ServerEvent, ServerOutput};

/// Steps in a row that [`Pipe::run_until`] takes without the clock
/// moving before it gives up on a deadline that never clears.
const STALLED_STEPS_MAX: u32 = 1_000;

/// What the pipe's store does with incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxPolicy {
    /// Commit at once (the client then acks).
    Commit,
    /// Never complete the write (the client never acks).
    Hold,
    /// Fail the write.
    Fail,
}

/// One client and what it did.
#[derive(Debug)]
pub struct Link {
    pub client: Client,
    pub config: ClientConfig,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// The virtual time of each of `events` (same index).
    pub event_times: Vec<Instant>,
    /// Every store batch the client issued, in order, whatever became
    /// of it (committed, held or failed).
    pub stores: Vec<Vec<Write>>,
    /// The creds of the last committed store batch.
    pub stored: Option<Creds>,
    /// Everything the store holds, keys too: the session the connection
    /// started from, with the committed batches applied.
    pub stored_session: Session,
    /// The store notes a login with the stored creds was accepted (creds
    /// handed to [`Pipe::connect`] count as confirmed when registered).
    pub login_confirmed: bool,
    /// Committed inbox entries.
    pub inbox: Vec<InboxEntry>,
    pub inbox_policy: InboxPolicy,
    /// Inbox writes held by [`InboxPolicy::Hold`], until
    /// [`Pipe::complete_held`].
    pub held: Vec<(OpId, InboxEntry)>,
    /// When bytes from the server last reached the client.
    pub last_received: Option<Instant>,
    /// The socket is closed (either side).
    pub closed: bool,
    /// When set, the first store batch it matches is committed and then
    /// the process "dies" (kill -9): the client is told nothing more, the
    /// bytes it emitted before that batch are sent (a shell writes as it
    /// drains), those after it never leave, and the socket closes.
    pub crash_after_store: Option<fn(&[Write]) -> bool>,
    /// Set once `crash_after_store` fired.
    pub crashed: bool,
}

impl Link {
    /// The latest QR text the client showed.
    #[must_use]
    pub fn last_qr(&self) -> Option<String> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Qr { text, .. } => Some(text.clone()),
            _ => None,
        })
    }

    /// The pairing code the client showed.
    #[must_use]
    pub fn pairing_code(&self) -> Option<String> {
        self.events.iter().rev().find_map(|e| match e {
            Event::PairingCode { code } => Some(code.clone()),
            _ => None,
        })
    }

    /// Why the connection ended, once it did.
    #[must_use]
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnected { reason } => Some(reason),
            _ => None,
        })
    }

    /// Every event with the virtual time it was emitted at.
    pub fn timed_events(&self) -> impl Iterator<Item = (Instant, &Event)> {
        self.event_times.iter().copied().zip(&self.events)
    }

    /// When the first event matching `pred` was emitted.
    #[must_use]
    pub fn time_of(&self, pred: impl Fn(&Event) -> bool) -> Option<Instant> {
        self.timed_events().find(|(_, e)| pred(e)).map(|(t, _)| t)
    }

    /// When the connection ended, once it did.
    #[must_use]
    pub fn disconnected_at(&self) -> Option<Instant> {
        self.time_of(|e| matches!(e, Event::Disconnected { .. }))
    }

    /// Every set of creds the client asked to store, in order.
    pub fn stored_creds(&self) -> impl Iterator<Item = &Creds> {
        self.stores.iter().flatten().filter_map(Write::creds)
    }

    #[must_use]
    pub fn is_online(&self) -> bool {
        self.client.is_online()
    }
}

/// A server and its clients, stepped by hand.
#[derive(Debug)]
pub struct Pipe {
    pub server: FakeServer,
    pub now: Instant,
    pub wall: UnixMillis,
    /// Every server event, in order.
    pub server_events: Vec<ServerEvent>,
    /// When set, every server→client write is recorded here.
    pub transcript: Option<Vec<(ConnId, Vec<u8>)>>,
    /// When set, every client→server write is recorded here.
    pub client_transcript: Option<Vec<(ConnId, Vec<u8>)>>,
    links: BTreeMap<ConnId, Link>,
    rng: ChaCha20Rng,
}

/// What a client asked for, applied after its outputs are drained.
enum Action {
    ToServer(Vec<u8>),
    Close,
}

impl Pipe {
    /// `seed` drives the clients' seeds.
    #[must_use]
    pub fn new(server: FakeServer, now: Instant, wall: UnixMillis, seed: u64) -> Pipe {
        Pipe {
            server,
            now,
            wall,
            server_events: Vec::new(),
            transcript: None,
            client_transcript: None,
            links: BTreeMap::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// A client config that trusts this server's root.
    #[must_use]
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            root_public_key: self.server.root_public_key(),
            ..ClientConfig::default()
        }
    }

    /// Opens a connection for a client with `creds`, as a store would hand
    /// them over (registered creds count as confirmed by an earlier
    /// login). Call [`Pipe::run`] after.
    pub fn connect(&mut self, config: ClientConfig, creds: Creds) -> ConnId {
        let confirmed = creds.is_registered();
        self.connect_with(config, creds, confirmed)
    }

    /// [`Pipe::connect`], saying whether a login with `creds` was confirmed.
    pub fn connect_with(
        &mut self,
        config: ClientConfig,
        creds: Creds,
        login_confirmed: bool,
    ) -> ConnId {
        let mut session = Session::new(creds);
        session.login_confirmed = login_confirmed;
        self.connect_session(config, session)
    }

    /// [`Pipe::connect`] with a whole stored session (keys too).
    pub fn connect_session(&mut self, config: ClientConfig, session: Session) -> ConnId {
        let login_confirmed = session.login_confirmed;
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        // The session handed over is what the store holds.
        let stored_session = session.clone();
        let mut client = Client::new(config.clone(), session, seed);
        let conn = self.server.connect(self.now);
        // A fresh client accepts Connected once; nothing to report.
        let _ = client.handle_input(self.now, Input::Connected { wall: self.wall });
        self.links.insert(
            conn,
            Link {
                client,
                config,
                events: Vec::new(),
                event_times: Vec::new(),
                stores: Vec::new(),
                stored: None,
                stored_session,
                login_confirmed,
                inbox: Vec::new(),
                inbox_policy: InboxPolicy::Commit,
                held: Vec::new(),
                last_received: None,
                closed: false,
                crash_after_store: None,
                crashed: false,
            },
        );
        conn
    }

    /// A new connection for the client of `conn`, as the shell makes it:
    /// from the creds the client said to resume from, else its stored
    /// creds (or its current ones), with the same config and inbox policy.
    pub fn reconnect(&mut self, conn: ConnId) -> ConnId {
        let link = self.link(conn);
        let session = match link.client.resume_creds() {
            Some(creds) => Session::new(creds.clone()),
            None => {
                let mut session = link.stored_session.clone();
                // A test may have put other creds in the store.
                if let Some(creds) = &link.stored {
                    session.creds = creds.clone();
                }
                session.login_confirmed = link.login_confirmed;
                session
            }
        };
        let (config, policy) = (link.config.clone(), link.inbox_policy);
        let next = self.connect_session(config, session);
        self.link_mut(next).inbox_policy = policy;
        next
    }

    /// # Panics
    /// When `conn` was never connected through this pipe.
    #[must_use]
    pub fn link(&self, conn: ConnId) -> &Link {
        match self.links.get(&conn) {
            Some(link) => link,
            None => panic!("no link {conn}"),
        }
    }

    /// # Panics
    /// When `conn` was never connected through this pipe.
    pub fn link_mut(&mut self, conn: ConnId) -> &mut Link {
        match self.links.get_mut(&conn) {
            Some(link) => link,
            None => panic!("no link {conn}"),
        }
    }

    /// Closes `conn`'s socket from the client's side.
    pub fn close(&mut self, conn: ConnId) {
        if let Some(link) = self.links.get_mut(&conn)
            && !link.closed
        {
            link.closed = true;
            let _ = link.client.handle_input(self.now, Input::Closed);
            self.server.handle_closed(conn);
        }
        self.run();
    }

    /// A fake server at `wall` and a device linked by QR and online, all
    /// drawn from `seed` (server `seed`, pipe `seed + 100`, creds
    /// `seed + 1000`): the start most scenarios share.
    pub fn online(seed: u64, wall: UnixMillis) -> (Pipe, ConnId) {
        let server = FakeServer::new(crate::server::ServerConfig::new(wall), seed);
        let mut pipe = Pipe::new(server, Instant::now(), wall, seed + 100);
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(seed + 1000));
        let conn = pipe
            .pair_and_login(pipe.client_config(), creds)
            .expect("pairs and logs in");
        (pipe, conn)
    }

    /// Links a fresh client by QR and logs it in after the 515: returns
    /// the online connection, or what went wrong.
    pub fn pair_and_login(&mut self, config: ClientConfig, creds: Creds) -> Result<ConnId, String> {
        let conn = self.connect(config, creds);
        self.run();
        let qr = self
            .link(conn)
            .last_qr()
            .ok_or_else(|| format!("no QR: {:?}", self.link(conn).events))?;
        self.server.scan_qr(&qr).map_err(|err| err.to_string())?;
        self.run();
        match self.link(conn).disconnect_reason() {
            Some(DisconnectReason::RestartRequired) => {}
            other => return Err(format!("pairing ended with {other:?}")),
        }
        let online = self.reconnect(conn);
        self.run();
        if self.link(online).is_online() {
            Ok(online)
        } else {
            Err(format!(
                "login did not open: {:?}",
                self.link(online).events
            ))
        }
    }

    /// Moves both clocks by `by` in one jump, fires what is due, and runs.
    /// Deadlines passed on the way fire once, late, at the new time (as
    /// after a suspended process); [`Pipe::step`] and [`Pipe::run_until`]
    /// fire each one on time.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.wall = self
            .wall
            .saturating_add_millis(u64::try_from(by.as_millis()).unwrap_or(u64::MAX));
        self.server.set_wall(self.wall);
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        for link in self.links.values_mut() {
            if link.client.poll_timeout().is_some_and(|t| t <= self.now) {
                link.client.handle_timeout(self.now);
            }
        }
        self.run();
    }

    /// The earliest deadline of the server and of every open client.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        let clients = self
            .links
            .values()
            .filter(|l| !l.closed)
            .filter_map(|l| l.client.poll_timeout());
        self.server.poll_timeout().into_iter().chain(clients).min()
    }

    /// Moves the clocks to the next deadline (not back, if it is past),
    /// fires it and runs. Returns the new time, or `None` (and does
    /// nothing) when nothing is scheduled.
    pub fn step(&mut self) -> Option<Instant> {
        let at = self.next_deadline()?;
        self.advance(at.saturating_duration_since(self.now));
        Some(self.now)
    }

    /// Steps from deadline to deadline until `done` holds, or until the
    /// next deadline is more than `limit` after the current time (then
    /// the clocks stop at that limit). Returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pipe) -> bool) -> bool {
        let end = self.now + limit;
        // A deadline that firing does not move would spin forever.
        let mut stalled = 0u32;
        loop {
            if done(self) {
                return true;
            }
            match self.next_deadline() {
                Some(at) if at <= end && stalled < STALLED_STEPS_MAX => {
                    stalled = if at <= self.now { stalled + 1 } else { 0 };
                    self.advance(at.saturating_duration_since(self.now));
                }
                _ => {
                    self.advance(end.saturating_duration_since(self.now));
                    return done(self);
                }
            }
        }
    }

    /// Bytes reach `conn`'s client as if the server had written them
    /// (garbage, replays, forged frames), then everything runs.
    pub fn inject(&mut self, conn: ConnId, bytes: &[u8]) {
        if let Some(link) = self.links.get_mut(&conn)
            && !link.closed
        {
            link.last_received = Some(self.now);
            let _ = link.client.handle_input(
                self.now,
                Input::Received {
                    bytes,
                    wall: self.wall,
                },
            );
        }
        self.run();
    }

    /// Completes the inbox writes [`InboxPolicy::Hold`] held for `conn`,
    /// in order: `Ok` commits them to the inbox, `Err` fails them. Returns
    /// how many there were.
    pub fn complete_held(&mut self, conn: ConnId, result: Result<(), StoreFault>) -> usize {
        let now = self.now;
        let link = self.link_mut(conn);
        let held = std::mem::take(&mut link.held);
        let count = held.len();
        for (op, entry) in held {
            if result.is_ok() {
                link.inbox.push(entry);
            }
            let result = result.clone().map(|()| Committed::default());
            let _ = link
                .client
                .handle_input(now, Input::StoreDone { op, result });
        }
        self.run();
        count
    }

    /// Moves bytes and completes store commands until nothing moves.
    pub fn run(&mut self) {
        loop {
            let mut moved = self.drain_server();
            let conns: Vec<ConnId> = self.links.keys().copied().collect();
            for conn in conns {
                moved |= self.drain_client(conn);
            }
            if !moved {
                return;
            }
        }
    }

    fn drain_server(&mut self) -> bool {
        let mut moved = false;
        while let Some(output) = self.server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit { conn, bytes } => {
                    if let Some(transcript) = &mut self.transcript {
                        transcript.push((conn, bytes.clone()));
                    }
                    if let Some(link) = self.links.get_mut(&conn)
                        && !link.closed
                    {
                        link.last_received = Some(self.now);
                        let _ = link.client.handle_input(
                            self.now,
                            Input::Received {
                                bytes: &bytes,
                                wall: self.wall,
                            },
                        );
                    }
                }
                ServerOutput::Close { conn } => {
                    if let Some(link) = self.links.get_mut(&conn)
                        && !link.closed
                    {
                        link.closed = true;
                        let _ = link.client.handle_input(self.now, Input::Closed);
                    }
                }
                ServerOutput::Event(event) => self.server_events.push(event),
            }
        }
        moved
    }

    fn drain_client(&mut self, conn: ConnId) -> bool {
        let (now, wall) = (self.now, self.wall);
        let Some(link) = self.links.get_mut(&conn) else {
            return false;
        };
        if link.crashed {
            return false;
        }
        let mut actions = Vec::new();
        let mut moved = false;
        'drain: loop {
            let mut done = Vec::new();
            while let Some(output) = link.client.poll_output() {
                moved = true;
                match output {
                    Output::Transmit(bytes) => actions.push(Action::ToServer(bytes)),
                    Output::Store(op, store) => {
                        let crash = link.crash_after_store.is_some_and(|hit| hit(&store));
                        if let Some(result) = commit(link, op, store) {
                            done.push(Input::StoreDone { op, result });
                        }
                        if crash {
                            link.crash_after_store = None;
                            link.crashed = true;
                            actions.push(Action::Close);
                            break 'drain;
                        }
                    }
                    Output::ReadBack(op) => {
                        // Everything handed to this store is committed.
                        let stored = Some(Box::new(link.stored_session.clone()));
                        done.push(Input::ReadBack { op, stored });
                    }
                    Output::Event(event) => {
                        if matches!(event, Event::Disconnected { .. }) {
                            actions.push(Action::Close);
                        }
                        link.events.push(event);
                        link.event_times.push(now);
                    }
                }
            }
            if done.is_empty() {
                break;
            }
            for input in done {
                let _ = link.client.handle_input(now, input);
            }
        }
        for action in actions {
            match action {
                Action::ToServer(bytes) => {
                    if !self.links.get(&conn).is_some_and(|l| l.closed) {
                        if let Some(transcript) = &mut self.client_transcript {
                            transcript.push((conn, bytes.clone()));
                        }
                        self.server.handle_bytes(conn, now, wall, &bytes);
                    }
                }
                Action::Close => {
                    if let Some(link) = self.links.get_mut(&conn) {
                        link.closed = true;
                    }
                    self.server.handle_closed(conn);
                }
            }
        }
        moved
    }
}

/// Applies a store batch; `None` when it is held. Creds and pre-key
/// counters behave as in a real store (`session::pre_key_ids`).
fn commit(link: &mut Link, op: OpId, writes: Vec<Write>) -> Option<Result<Committed, StoreFault>> {
    link.stores.push(writes.clone());
    let inbox: Vec<InboxEntry> = writes
        .iter()
        .filter_map(|write| match write {
            Write::Inbox(entry) => Some(entry.clone()),
            _ => None,
        })
        .collect();
    if !inbox.is_empty() {
        match link.inbox_policy {
            InboxPolicy::Commit => {}
            InboxPolicy::Hold => {
                link.held.extend(inbox.into_iter().map(|entry| (op, entry)));
                return None;
            }
            InboxPolicy::Fail => {
                return Some(Err(StoreFault::Failed {
                    detail: "store unavailable".into(),
                }));
            }
        }
    }
    let mut committed = Committed::default();
    for write in &writes {
        link.stored_session.apply(write);
    }
    for write in writes {
        match write {
            Write::Creds(creds) => link.stored = Some(creds_over(link.stored.as_ref(), &creds)),
            Write::FreshPreKeys(keys) => {
                let placed = place_fresh_pre_keys(link.stored.take(), &keys);
                link.stored = placed.creds;
                committed = committed.and(placed.committed);
            }
            Write::LoginConfirmed => link.login_confirmed = true,
            Write::Inbox(entry) => link.inbox.push(entry),
            _ => {}
        }
    }
    Some(Ok(committed))
}

/// The text of a stored message; `None` for one stored unreadable or
/// without text.
#[must_use]
pub fn stored_text(entry: &InboxEntry) -> Option<String> {
    match &entry.content {
        InboxContent::Message(bytes) => blacksky_core::message::Content::decode(bytes)
            .ok()?
            .text()
            .map(str::to_owned),
        InboxContent::Unreadable(_) | InboxContent::GroupNotice => None,
    }
}
