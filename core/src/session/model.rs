//! The whole session of one device as a value: its credentials and the key
//! stores the Signal layer needs. It changes only through [`Write`]s, which
//! the shell carries out against a store, one transaction per batch; the
//! same writes applied to a [`Session`] give what the store now holds.

use std::collections::{BTreeMap, BTreeSet};

use blacksky_proto::Message;
use blacksky_proto::store as pb;

use super::creds::{Creds, CredsError, PreKey};
use super::pre_key_ids;
use super::replaces::{GivenKey, Replaces};
use crate::time::UnixMillis;

/// An incoming stanza committed before it is acked.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// The server's message id; the store ignores a second entry with it.
    pub id: String,
    /// The sender's JID, as text.
    pub from: String,
    /// The stanza as it came off the wire, decrypted from its frame
    /// (flags byte first): `wire::binary::decode` reads it back (its
    /// attributes say who sent it, when, and under which name).
    pub stanza: Vec<u8>,
    pub received_at: UnixMillis,
    /// What end-to-end decryption made of it.
    pub content: InboxContent,
}

impl std::fmt::Debug for InboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxEntry")
            .field("id", &self.id)
            .field("stanza_bytes", &self.stanza.len())
            .field("received_at", &self.received_at)
            .field("content", &self.content)
            .finish()
    }
}

/// What a stored incoming message holds beyond its stanza.
#[derive(Clone, PartialEq, Eq)]
pub enum InboxContent {
    /// The decrypted `Message` protobuf, padding removed.
    Message(Vec<u8>),
    /// It cannot be read (why, without secrets): stored and acked, so the
    /// server stops sending it, and an operator can see it.
    Unreadable(String),
    /// Not a message: a `w:gp2` notification of members who came or went
    /// (the stanza is the notification), kept so the bot's welcome or
    /// goodbye is said once.
    GroupNotice,
}

impl InboxContent {
    /// A row written before messages were decrypted holds ciphertext only.
    pub const LEGACY_REASON: &'static str = "stored as ciphertext by an older version";
}

impl std::fmt::Debug for InboxContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InboxContent::Message(bytes) => write!(f, "Message({} bytes)", bytes.len()),
            InboxContent::Unreadable(reason) => write!(f, "Unreadable({reason})"),
            InboxContent::GroupNotice => f.write_str("GroupNotice"),
        }
    }
}

/// A message whose sender we asked, with a retry receipt, to send it
/// again: how often so far, and when last. Kept until the message is
/// stored, so the count survives restarts (WhatsApp allows five).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub count: u8,
    pub at: UnixMillis,
}

/// A retry is named by the message id and the sending device's address.
pub type RetryKey = (String, String);

/// Why a batch was not committed, as the client needs to know it: it
/// only decides whether to hold back what waited on the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFault {
    /// Refused at once: the queue of batches waiting for the store is full.
    #[error("the store's write queue is full ({queue_len_max} batches)")]
    QueueFull { queue_len_max: usize },
    /// The store failed the batch (its error, for the log).
    #[error("the store failed the batch: {detail}")]
    Failed { detail: String },
    /// Refused for good: another process of this session changed a key
    /// record the batch replaces ([`super::replaces`]); start again from
    /// the store's.
    #[error("{0}")]
    Stale(#[from] super::replaces::StaleRecord),
}

/// A Signal sender key is named by the group and the sending device.
pub type SenderKeyName = (String, String);

/// Everything one linked device holds. `Debug` shows counts, never keys.
#[derive(Clone)]
pub struct Session {
    pub creds: Creds,
    /// The server accepted a login with these creds at least once. Until
    /// then a 401 at login means the pairing never completed (a crash
    /// between storing it and confirming it), not that the phone removed
    /// the device.
    pub login_confirmed: bool,
    /// One-time pre-keys by id.
    pub pre_keys: BTreeMap<u32, PreKey>,
    /// Signal sessions by peer address (records opaque here).
    pub sessions: BTreeMap<String, Vec<u8>>,
    /// Group sender keys by (group, sender).
    pub sender_keys: BTreeMap<SenderKeyName, Vec<u8>>,
    /// Peers' identity keys by address.
    pub identities: BTreeMap<String, Vec<u8>>,
    /// App-state sync keys by key id.
    pub app_state_keys: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Retry receipts sent for messages not yet stored. Not part of a
    /// snapshot: losing them only restarts a count.
    pub retries: BTreeMap<RetryKey, Retry>,
    /// Contacts' LID users by phone-number user: a contact's devices keep
    /// one Signal session each, under the LID once it is known, whichever
    /// address a message comes from.
    pub lid_for_pn: BTreeMap<String, String>,
    /// The devices that hold our current sender key, by group: they get
    /// no distribution message before our next message there. Not part
    /// of a snapshot: losing it only sends the key again.
    pub sender_key_shared: BTreeMap<String, BTreeSet<String>>,
    /// The groups we are in, as last read or told, by group JID. Not
    /// part of a snapshot: a cache the next login's list fills again.
    pub groups: BTreeMap<String, StoredGroup>,
}

/// A group's metadata as the client last read or was told it: its
/// `<group>` node in the binary codec (`groups::metadata::group_node`),
/// and when the server last described it whole.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub node: Vec<u8>,
    pub fetched_at: UnixMillis,
}

impl std::fmt::Debug for StoredGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The node names the members: its size only.
        f.debug_struct("StoredGroup")
            .field("node_bytes", &self.node.len())
            .field("fetched_at", &self.fetched_at)
            .finish()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("creds", &self.creds)
            .field("login_confirmed", &self.login_confirmed)
            .field("pre_keys", &self.pre_keys.len())
            .field("sessions", &self.sessions.len())
            .field("sender_keys", &self.sender_keys.len())
            .field("identities", &self.identities.len())
            .field("app_state_keys", &self.app_state_keys.len())
            .field("retries", &self.retries.len())
            .field("lid_for_pn", &self.lid_for_pn.len())
            .field("sender_key_shared", &self.sender_key_shared.len())
            .field("groups", &self.groups.len())
            .finish()
    }
}

/// A reply a handler wants sent, stored in the outbox in the transaction
/// that marks its inbox entry handled (DESIGN.md, rule 2), as an
/// [`Outbound`] message with the id [`OutboxEntry::into_outbound`] gives.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The recipient's JID, as text.
    pub to: String,
    /// What to send (the bot layer's encoding).
    pub payload: Vec<u8>,
}

impl OutboxEntry {
    /// The `index`-th reply to inbox message `answered`, as the outbox
    /// keeps it (its id derived from both: see [`crate::message::ids`]).
    #[must_use]
    pub fn into_outbound(self, answered: &str, index: usize) -> Outbound {
        Outbound {
            id: crate::message::ids::reply_id(answered, index),
            to: self.to,
            message: self.payload,
            stanza: None,
        }
    }
}

impl std::fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("to", &self.to)
            .field("payload_bytes", &self.payload.len())
            .finish()
    }
}

/// A message on its way out, as the outbox holds it until the server acks
/// it: the `Message` protobuf and, once sealed, the exact stanza that
/// goes out (resent as it is after a reconnect, never sealed again: a
/// second seal would use new counters for a message the recipient may
/// already have).
#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The WhatsApp message id.
    pub id: String,
    /// The chat, as a JID text.
    pub to: String,
    pub message: Vec<u8>,
    /// The encoded `<message>` stanza, once sealed.
    pub stanza: Option<Vec<u8>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("id", &self.id)
            .field("message_bytes", &self.message.len())
            .field("sealed", &self.stanza.is_some())
            .finish_non_exhaustive()
    }
}

/// One change to a stored session. A batch of writes is one transaction.
#[derive(Clone)]
pub enum Write {
    /// Replace the credentials, except that the pre-key counter never
    /// goes back ([`pre_key_ids::later`]): another process on the store may
    /// have moved it on.
    Creds(Box<Creds>),
    /// The server accepted a login with the stored creds.
    LoginConfirmed,
    /// A stored pre-key, under its own id (a whole session being written).
    PreKey(PreKey),
    /// Freshly generated pre-keys: stored under ids claimed from the
    /// stored counter ([`pre_key_ids::claim`]), which moves past them. The
    /// commit says which ids they got ([`Committed::pre_key_ids`]).
    FreshPreKeys(Vec<PreKey>),
    RemovePreKey(u32),
    /// A Signal session record, replacing what the writer read
    /// ([`Replaces`]): the store refuses the batch if that changed.
    SignalSession {
        address: String,
        record: Vec<u8>,
        replaces: Replaces,
    },
    RemoveSignalSession {
        address: String,
    },
    /// A sender key record (ours or a member's), replacing what the
    /// writer read ([`Replaces`]), as a Signal session record does.
    SenderKey {
        group: String,
        sender: String,
        record: Vec<u8>,
        replaces: Replaces,
    },
    RemoveSenderKey {
        group: String,
        sender: String,
    },
    Identity {
        address: String,
        key: Vec<u8>,
    },
    AppStateKey {
        id: Vec<u8>,
        data: Vec<u8>,
    },
    RemoveAppStateKey {
        id: Vec<u8>,
    },
    /// These devices now hold our sender key for `group`: the record
    /// `given` names, which the store refuses the batch without (another
    /// process made a new key meanwhile).
    SenderKeyShared {
        group: String,
        devices: Vec<String>,
        given: GivenKey,
    },
    /// Nobody holds our (new) sender key for `group` yet.
    ForgetSenderKeyShared {
        group: String,
    },
    /// `group`'s metadata, replacing what was kept of it.
    Group {
        group: String,
        stored: StoredGroup,
    },
    /// We are no longer in `group` (or it left the cache's bound).
    ForgetGroup {
        group: String,
    },
    /// An incoming message; an id already stored is ignored (a redelivery).
    Inbox(InboxEntry),
    /// A retry receipt went (or goes) out for message `id` from `sender`.
    Retry {
        id: String,
        sender: String,
        retry: Retry,
    },
    /// The retry count of message `id` from `sender` is no longer needed.
    ForgetRetry {
        id: String,
        sender: String,
    },
    /// The contact with phone-number user `pn` has LID user `lid`.
    LidMapping {
        pn: String,
        lid: String,
    },
    /// The handler is done with inbox entry `id`; its replies join the
    /// outbox in the same transaction. Instance `by` handled it under its
    /// claim: where another instance holds the claim now (the lease ran
    /// out and was taken over), nothing is marked and nothing queued
    /// ([`Committed::claim_lost`]); that instance handles it.
    Handled {
        id: String,
        at: UnixMillis,
        by: String,
        outbox: Vec<Outbound>,
    },
    /// Messages sent on the bot's own initiative (not answers): they
    /// join the outbox as they are, durable once this commits.
    Queued {
        at: UnixMillis,
        outbox: Vec<Outbound>,
    },
    /// The stanza an outbound message is sent as, committed with the
    /// session records that sealing it advanced.
    OutboundSealed {
        id: String,
        stanza: Vec<u8>,
    },
    /// The server took the outbound message: it leaves the queue.
    OutboundSent {
        id: String,
        at: UnixMillis,
    },
    /// The bot's settings (commands' prefix, languages, greetings) as
    /// JSON, replacing the stored ones. Rides on the [`Write::Handled`]
    /// before it in the batch: not stored when that one's claim was lost
    /// ([`Write::rides_on_handled`]).
    BotSettings {
        json: String,
    },
    /// An effect a handler asked for (an owner control, a group action),
    /// as JSON, pending until [`Write::EffectDone`]. `id` names it
    /// uniquely (the inbox entry's id and its place), so a retried commit
    /// stores it once. Rides on the [`Write::Handled`] before it, like
    /// [`Write::BotSettings`].
    Effect {
        id: String,
        inbox_id: String,
        json: String,
        at: UnixMillis,
    },
    /// Effect `id` was performed (or given up on): never again.
    EffectDone {
        id: String,
        at: UnixMillis,
    },
    /// A file the media host took: sent again from here, not uploaded
    /// again, while it may be reused (replaces an earlier one of the same
    /// file and type; the store keeps at most
    /// [`super::MEDIA_UPLOADS_MAX`]).
    MediaUploaded(super::MediaUpload),
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Write::Creds(creds) => f.debug_tuple("Creds").field(creds).finish(),
            Write::LoginConfirmed => f.write_str("LoginConfirmed"),
            Write::PreKey(key) => write!(f, "PreKey({})", key.id),
            Write::FreshPreKeys(keys) => write!(f, "FreshPreKeys({} keys)", keys.len()),
            Write::RemovePreKey(id) => write!(f, "RemovePreKey({id})"),
            Write::SignalSession {
                address, record, ..
            } => {
                write!(f, "SignalSession({address}, {} bytes)", record.len())
            }
            Write::RemoveSignalSession { address } => write!(f, "RemoveSignalSession({address})"),
            Write::SenderKey {
                group,
                sender,
                record,
                ..
            } => write!(f, "SenderKey({group}, {sender}, {} bytes)", record.len()),
            Write::RemoveSenderKey { group, sender } => {
                write!(f, "RemoveSenderKey({group}, {sender})")
            }
            Write::Identity { address, .. } => write!(f, "Identity({address})"),
            Write::AppStateKey { id, .. } => write!(f, "AppStateKey({} byte id)", id.len()),
            Write::RemoveAppStateKey { id } => {
                write!(f, "RemoveAppStateKey({} byte id)", id.len())
            }
            Write::Inbox(entry) => write!(f, "Inbox({})", entry.id),
            Write::Retry { id, retry, .. } => write!(f, "Retry({id}, {})", retry.count),
            Write::ForgetRetry { id, .. } => write!(f, "ForgetRetry({id})"),
            // Phone numbers stay out of Debug.
            Write::LidMapping { .. } => f.write_str("LidMapping"),
            Write::SenderKeyShared { devices, .. } => {
                write!(f, "SenderKeyShared({} devices)", devices.len())
            }
            Write::ForgetSenderKeyShared { .. } => f.write_str("ForgetSenderKeyShared"),
            Write::Group { group, stored } => {
                write!(f, "Group({group}, {} bytes)", stored.node.len())
            }
            Write::ForgetGroup { group } => write!(f, "ForgetGroup({group})"),
            Write::Handled { id, outbox, .. } => {
                write!(f, "Handled({id}, {} replies)", outbox.len())
            }
            Write::Queued { outbox, .. } => write!(f, "Queued({} messages)", outbox.len()),
            Write::OutboundSealed { id, stanza } => {
                write!(f, "OutboundSealed({id}, {} bytes)", stanza.len())
            }
            Write::OutboundSent { id, .. } => write!(f, "OutboundSent({id})"),
            // Settings and effects hold texts and numbers: sizes only.
            Write::BotSettings { json } => write!(f, "BotSettings({} bytes)", json.len()),
            Write::Effect { id, json, .. } => write!(f, "Effect({id}, {} bytes)", json.len()),
            Write::EffectDone { id, .. } => write!(f, "EffectDone({id})"),
            Write::MediaUploaded(upload) => f.debug_tuple("MediaUploaded").field(upload).finish(),
        }
    }
}

impl Write {
    /// Whether this write belongs to the handling of the
    /// [`Write::Handled`] before it in its batch: a store skips it when
    /// that handled mark lost its claim ([`Committed::claim_lost`]), so a
    /// handling another instance took over leaves nothing behind.
    pub fn rides_on_handled(&self) -> bool {
        matches!(self, Write::BotSettings { .. } | Write::Effect { .. })
    }

    /// The creds this write stores, if it stores creds.
    pub fn creds(&self) -> Option<&Creds> {
        match self {
            Write::Creds(creds) => Some(creds),
            _ => None,
        }
    }
}

/// What a committed batch tells its writer beyond "done".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// The first id the batch's fresh pre-keys got (the rest follow in
    /// order) and the counter after them; `None` without fresh keys.
    pub pre_key_ids: Option<(u32, u32)>,
    /// A [`Write::Handled`] was not marked: another instance holds the
    /// entry's claim now.
    pub claim_lost: bool,
}

impl Committed {
    /// What a batch says, given what each of its writes said.
    pub fn and(self, other: Committed) -> Committed {
        Committed {
            pre_key_ids: self.pre_key_ids.or(other.pre_key_ids),
            claim_lost: self.claim_lost || other.claim_lost,
        }
    }
}

/// What a store holds after `written` goes over `stored` creds: `written`,
/// but with the later of the two pre-key counters.
pub fn creds_over(stored: Option<&Creds>, written: &Creds) -> Creds {
    let mut creds = written.clone();
    if let Some(stored) = stored {
        creds.next_pre_key_id = pre_key_ids::later(stored.next_pre_key_id, written.next_pre_key_id);
    }
    creds
}

/// What a store writes for [`Write::FreshPreKeys`] over its stored creds.
#[derive(Debug)]
pub struct PlacedPreKeys {
    /// The keys, under the ids they claimed.
    pub keys: Vec<PreKey>,
    /// The stored creds with the counter moved past them (`None` when no
    /// creds are stored: the batch's creds write sets the counter).
    pub creds: Option<Creds>,
    /// What the commit answers.
    pub committed: Committed,
}

/// Places fresh pre-keys after the `stored` creds' counter (see
/// [`pre_key_ids::claim`]).
pub fn place_fresh_pre_keys(stored: Option<Creds>, keys: &[PreKey]) -> PlacedPreKeys {
    let mut keys = keys.to_vec();
    let claimed = pre_key_ids::claim(stored.as_ref().map(|c| c.next_pre_key_id), &mut keys);
    let creds = stored.map(|mut creds| {
        if let Some((_, next)) = claimed {
            creds.next_pre_key_id = next;
        }
        creds
    });
    PlacedPreKeys {
        keys,
        creds,
        committed: Committed {
            pre_key_ids: claimed,
            ..Committed::default()
        },
    }
}

/// A stored record that cannot be read back, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{what}: {source}")]
    Creds { what: String, source: CredsError },
    #[error("{what}: {detail}")]
    Malformed { what: String, detail: String },
}

impl Session {
    /// A session that holds only its credentials.
    pub fn new(creds: Creds) -> Session {
        Session {
            creds,
            login_confirmed: false,
            pre_keys: BTreeMap::new(),
            sessions: BTreeMap::new(),
            sender_keys: BTreeMap::new(),
            identities: BTreeMap::new(),
            app_state_keys: BTreeMap::new(),
            retries: BTreeMap::new(),
            lid_for_pn: BTreeMap::new(),
            sender_key_shared: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }

    /// Takes the keys `stored` has and this session lacks: one-time
    /// pre-keys, Signal sessions, sender keys, identities and LID
    /// mappings another process of this session wrote. What this session
    /// holds already stays as it is: its own writes are the later ones.
    /// Returns how many were taken.
    pub fn take_missing_keys(&mut self, stored: Session) -> usize {
        fn take<K: Ord, V>(ours: &mut BTreeMap<K, V>, theirs: BTreeMap<K, V>) -> usize {
            let mut taken = 0;
            for (key, value) in theirs {
                if let std::collections::btree_map::Entry::Vacant(slot) = ours.entry(key) {
                    slot.insert(value);
                    taken += 1;
                }
            }
            taken
        }
        take(&mut self.pre_keys, stored.pre_keys)
            + take(&mut self.sessions, stored.sessions)
            + take(&mut self.sender_keys, stored.sender_keys)
            + take(&mut self.identities, stored.identities)
            + take(&mut self.lid_for_pn, stored.lid_for_pn)
    }

    /// Applies one write as a store would. Inbox writes change no session
    /// state and are ignored here.
    pub fn apply(&mut self, write: &Write) -> Committed {
        match write {
            Write::Creds(creds) => self.creds = creds_over(Some(&self.creds), creds),
            Write::LoginConfirmed => self.login_confirmed = true,
            Write::PreKey(key) => {
                self.pre_keys.insert(key.id, key.clone());
            }
            Write::FreshPreKeys(keys) => {
                let placed = place_fresh_pre_keys(Some(self.creds.clone()), keys);
                self.pre_keys
                    .extend(placed.keys.into_iter().map(|key| (key.id, key)));
                if let Some(creds) = placed.creds {
                    self.creds = creds;
                }
                return placed.committed;
            }
            Write::RemovePreKey(id) => {
                self.pre_keys.remove(id);
            }
            Write::SignalSession {
                address, record, ..
            } => {
                self.sessions.insert(address.clone(), record.clone());
            }
            Write::RemoveSignalSession { address } => {
                self.sessions.remove(address);
            }
            Write::SenderKey {
                group,
                sender,
                record,
                ..
            } => {
                self.sender_keys
                    .insert((group.clone(), sender.clone()), record.clone());
            }
            Write::RemoveSenderKey { group, sender } => {
                self.sender_keys.remove(&(group.clone(), sender.clone()));
            }
            Write::Identity { address, key } => {
                self.identities.insert(address.clone(), key.clone());
            }
            Write::AppStateKey { id, data } => {
                self.app_state_keys.insert(id.clone(), data.clone());
            }
            Write::RemoveAppStateKey { id } => {
                self.app_state_keys.remove(id);
            }
            Write::Retry { id, sender, retry } => {
                self.retries.insert((id.clone(), sender.clone()), *retry);
            }
            Write::ForgetRetry { id, sender } => {
                self.retries.remove(&(id.clone(), sender.clone()));
            }
            Write::LidMapping { pn, lid } => {
                self.lid_for_pn.insert(pn.clone(), lid.clone());
            }
            Write::SenderKeyShared { group, devices, .. } => {
                self.sender_key_shared
                    .entry(group.clone())
                    .or_default()
                    .extend(devices.iter().cloned());
            }
            Write::ForgetSenderKeyShared { group } => {
                self.sender_key_shared.remove(group);
            }
            Write::Group { group, stored } => {
                self.groups.insert(group.clone(), stored.clone());
            }
            Write::ForgetGroup { group } => {
                self.groups.remove(group);
            }
            Write::Inbox(_)
            | Write::Handled { .. }
            | Write::Queued { .. }
            | Write::OutboundSealed { .. }
            | Write::OutboundSent { .. }
            | Write::BotSettings { .. }
            | Write::Effect { .. }
            | Write::EffectDone { .. }
            | Write::MediaUploaded(_) => {}
        }
        Committed::default()
    }

    /// Every record as writes: what a store runs to hold this session
    /// (creds last).
    pub fn to_writes(&self) -> Vec<Write> {
        let mut writes = Vec::with_capacity(
            self.pre_keys.len()
                + self.sessions.len()
                + self.sender_keys.len()
                + self.identities.len()
                + self.app_state_keys.len()
                + self.lid_for_pn.len()
                + 2,
        );
        writes.extend(self.pre_keys.values().cloned().map(Write::PreKey));
        writes.extend(
            self.sessions
                .iter()
                .map(|(address, record)| Write::SignalSession {
                    address: address.clone(),
                    record: record.clone(),
                    replaces: Replaces::Anything,
                }),
        );
        writes.extend(
            self.sender_keys
                .iter()
                .map(|((group, sender), record)| Write::SenderKey {
                    group: group.clone(),
                    sender: sender.clone(),
                    record: record.clone(),
                    replaces: Replaces::Anything,
                }),
        );
        writes.extend(
            self.identities
                .iter()
                .map(|(address, key)| Write::Identity {
                    address: address.clone(),
                    key: key.clone(),
                }),
        );
        writes.extend(
            self.app_state_keys
                .iter()
                .map(|(id, data)| Write::AppStateKey {
                    id: id.clone(),
                    data: data.clone(),
                }),
        );
        writes.extend(self.lid_for_pn.iter().map(|(pn, lid)| Write::LidMapping {
            pn: pn.clone(),
            lid: lid.clone(),
        }));
        writes.push(Write::Creds(Box::new(self.creds.clone())));
        if self.login_confirmed {
            writes.push(Write::LoginConfirmed);
        }
        writes
    }

    /// The protobuf record of the whole session (a snapshot's body).
    pub fn encode(&self) -> Vec<u8> {
        pb::SessionSnapshot {
            creds: Some(self.creds.to_record()),
            pre_keys: self.pre_keys.values().map(PreKey::to_record).collect(),
            sessions: self
                .sessions
                .iter()
                .map(|(address, record)| pb::SignalSessionRecord {
                    address: address.clone(),
                    record: record.clone(),
                })
                .collect(),
            sender_keys: self
                .sender_keys
                .iter()
                .map(|((group, sender), record)| pb::SenderKeyRecord {
                    group: group.clone(),
                    sender: sender.clone(),
                    record: record.clone(),
                })
                .collect(),
            identities: self
                .identities
                .iter()
                .map(|(address, key)| pb::IdentityRecord {
                    address: address.clone(),
                    key: key.clone(),
                })
                .collect(),
            app_state_keys: self
                .app_state_keys
                .iter()
                .map(|(id, data)| pb::AppStateKeyRecord {
                    id: id.clone(),
                    data: data.clone(),
                })
                .collect(),
            login_confirmed: self.login_confirmed,
            lid_mappings: self
                .lid_for_pn
                .iter()
                .map(|(pn, lid)| pb::LidMappingRecord {
                    pn: pn.clone(),
                    lid: lid.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Reads [`Session::encode`]'s output back; a bad record is named.
    pub fn decode(bytes: &[u8]) -> Result<Session, RecordError> {
        let record = pb::SessionSnapshot::decode(bytes).map_err(|err| RecordError::Malformed {
            what: "session record".into(),
            detail: err.to_string(),
        })?;
        let creds = record.creds.ok_or_else(|| RecordError::Malformed {
            what: "session record".into(),
            detail: "no creds".into(),
        })?;
        let creds = Creds::from_record(creds).map_err(|source| RecordError::Creds {
            what: "creds".into(),
            source,
        })?;
        let mut session = Session::new(creds);
        session.login_confirmed = record.login_confirmed;
        for key in record.pre_keys {
            let id = key.id;
            let key = PreKey::from_record(key).map_err(|source| RecordError::Creds {
                what: format!("pre-key {id}"),
                source,
            })?;
            session.pre_keys.insert(key.id, key);
        }
        for s in record.sessions {
            session.sessions.insert(s.address, s.record);
        }
        for s in record.sender_keys {
            session.sender_keys.insert((s.group, s.sender), s.record);
        }
        for i in record.identities {
            session.identities.insert(i.address, i.key);
        }
        for k in record.app_state_keys {
            session.app_state_keys.insert(k.id, k.data);
        }
        for m in record.lid_mappings {
            session.lid_for_pn.insert(m.pn, m.lid);
        }
        Ok(session)
    }

    /// True when both hold the same records (creds compared by their
    /// stored form).
    pub fn same_as(&self, other: &Session) -> bool {
        self.encode() == other.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::sample_session;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn every_record_kind_round_trips_through_the_session_record() {
        let mut session = sample_session(1, 20, 5, 40);
        session.login_confirmed = true;
        let back = Session::decode(&session.encode()).expect("round trip");
        assert!(back.same_as(&session));
        assert_eq!(back.pre_keys.len(), 20);
        assert_eq!(back.sender_keys.len(), 1);
        assert_eq!(back.lid_for_pn.len(), 1);
        assert!(back.login_confirmed);
    }

    #[test]
    fn writes_rebuild_the_session_and_removals_remove() {
        let session = sample_session(2, 5, 3, 40);
        let mut rebuilt = Session::new(Creds::generate(&mut ChaCha20Rng::seed_from_u64(99)));
        for write in session.to_writes() {
            rebuilt.apply(&write);
        }
        assert!(rebuilt.same_as(&session));
        rebuilt.apply(&Write::RemovePreKey(3));
        rebuilt.apply(&Write::RemoveSignalSession {
            address: "15550000000.0:1".into(),
        });
        rebuilt.apply(&Write::RemoveSenderKey {
            group: "120363000000000000@g.us".into(),
            sender: "15550001111.0:1".into(),
        });
        rebuilt.apply(&Write::RemoveAppStateKey {
            id: vec![0, 0, 0, 1],
        });
        assert_eq!(rebuilt.pre_keys.len(), 4);
        assert_eq!(rebuilt.sessions.len(), 2);
        assert!(rebuilt.sender_keys.is_empty() && rebuilt.app_state_keys.is_empty());
    }

    #[test]
    fn the_stored_pre_key_counter_never_goes_back() {
        let mut stored = sample_session(5, 0, 0, 40);
        stored.creds.next_pre_key_id = 1625;
        // A process that read the counter at 813 writes its creds from memory.
        let mut stale = stored.creds.clone();
        stale.next_pre_key_id = 813;
        stale.routing_info = Some(vec![1, 2]);
        stored.apply(&Write::Creds(Box::new(stale)));
        assert_eq!(stored.creds.next_pre_key_id, 1625);
        assert_eq!(stored.creds.routing_info, Some(vec![1, 2]));
    }

    #[test]
    fn fresh_pre_keys_get_ids_past_the_stored_counter() {
        let mut stored = sample_session(6, 0, 0, 40);
        stored.creds.next_pre_key_id = 1625;
        let fresh = sample_session(7, 3, 0, 40);
        let keys: Vec<PreKey> = fresh.pre_keys.values().cloned().collect();
        let committed = stored.apply(&Write::FreshPreKeys(keys.clone()));
        assert_eq!(committed.pre_key_ids, Some((1625, 1628)));
        assert_eq!(stored.creds.next_pre_key_id, 1628);
        let stored_keys: Vec<u32> = stored.pre_keys.keys().copied().collect();
        assert_eq!(stored_keys, [1625, 1626, 1627]);
        assert_eq!(
            stored.pre_keys[&1625].key_pair.public(),
            keys[0].key_pair.public()
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let session = sample_session(4, 2, 1, 40);
        let private = hex(&session.creds.noise_key.private_bytes()[..]);
        let shown = format!(
            "{session:?}{:?}",
            session.to_writes().iter().collect::<Vec<_>>()
        );
        assert!(!shown.contains(&private[..16]), "{shown}");
        assert!(!shown.contains("3, 3, 3"), "{shown}");
        assert!(!shown.contains("5, 5, 5"), "{shown}");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
