//! A store in memory, for tests and the simulator: the same semantics as
//! the SQL stores (one transaction per call, duplicates by message id
//! dropped, generations rotated), a database that outlives the handles
//! (a "restart" opens a new handle on the same [`MemoryDb`]), and injected
//! faults: while `failing` is set every call fails and changes nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use blacksky_core::session::replaces::{
    CheckedRecord, RecordDigest, check_replaces, checked_records,
};
use blacksky_core::session::{
    AppVersion, Committed, Creds, MEDIA_UPLOAD_REUSE_MS, MEDIA_UPLOADS_MAX, MediaUpload, Outbound,
    Session, Write, creds_over, place_fresh_pre_keys,
};
use blacksky_core::time::UnixMillis;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::host::clock::{Clock, SharedClock};

use super::{
    Backlog, EffectRecord, INSTANCE_FORGET_MS, InboxRecord, LiveCreds, OutboxRecord, PruneCount,
    SessionSummary, Standing, Store, StoreError, StoredSnapshot,
};

/// A row of the instance register (times on the database's clock).
#[derive(Debug)]
struct Instance {
    owner: String,
    seen_at: UnixMillis,
    stopped: bool,
}

#[derive(Debug, Default)]
struct SessionRows {
    /// The creds record as stored (bytes, so corruption can be injected).
    creds: Option<(Vec<u8>, bool)>,
    keys: Option<Session>,
    inbox: Vec<InboxRecord>,
    outbox: Vec<OutboxRecord>,
    /// The unsent outbox rows' messages (and stanzas), by message id.
    outbound: BTreeMap<String, Outbound>,
    snapshots: BTreeMap<u64, StoredSnapshot>,
    /// Inbox id → (owner, claim end on the database's clock).
    claims: BTreeMap<String, (String, UnixMillis)>,
    /// Registered instances, oldest first.
    instances: Vec<Instance>,
    /// The alert outbox ([`super::alert_outbox`]).
    alerts: Vec<super::alert_outbox::AlertRow>,
    /// The bot's settings (JSON).
    bot_settings: Option<String>,
    /// Effects in the order stored, with when they were done.
    effects: Vec<(EffectRecord, Option<UnixMillis>)>,
    /// Kept uploads, oldest first.
    media_uploads: Vec<MediaUpload>,
}

/// The shared database behind [`MemoryStore`] handles.
#[derive(Debug, Default)]
pub struct MemoryDb {
    sessions: Mutex<BTreeMap<String, SessionRows>>,
    next_seq: Mutex<i64>,
    failing: AtomicBool,
    /// Transactions committed (how writes were grouped).
    commits_total: AtomicU64,
    /// The database server's clock (claims expire on it).
    clock: Mutex<SharedClock>,
    /// The WhatsApp version learnt after a 405, for every session.
    client_version: Mutex<Option<AppVersion>>,
}

impl MemoryDb {
    pub fn new() -> Arc<MemoryDb> {
        Arc::default()
    }

    /// While set, every store call fails (a database outage).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// The database server's clock from now on (the simulation's).
    pub fn set_clock(&self, clock: SharedClock) {
        *lock(&self.clock) = clock;
    }

    /// Transactions committed so far.
    pub fn commits_total(&self) -> u64 {
        self.commits_total.load(Ordering::SeqCst)
    }

    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    /// Whether inbox entry `id` is stored, and if so whether it is marked
    /// handled (cheap checks for the simulator's invariants).
    pub fn inbox_entry(&self, session: &str, id: &str) -> Option<bool> {
        let sessions = lock(&self.sessions);
        let rows = sessions.get(session)?;
        rows.inbox
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.handled_at.is_some())
    }

    /// The newest snapshot generation of `session` (0 without snapshots).
    pub fn newest_generation(&self, session: &str) -> u64 {
        lock(&self.sessions)
            .get(session)
            .and_then(|rows| rows.snapshots.keys().next_back().copied())
            .unwrap_or(0)
    }

    /// Marks outbox row `seq` of `session` sent at `at` (tests: nothing
    /// sends the outbox yet). False if there is no such row.
    pub fn mark_outbox_sent(&self, session: &str, seq: i64, at: UnixMillis) -> bool {
        let mut sessions = lock(&self.sessions);
        let row = sessions
            .get_mut(session)
            .and_then(|rows| rows.outbox.iter_mut().find(|row| row.seq == seq));
        match row {
            Some(row) => {
                row.sent_at = Some(at);
                true
            }
            None => false,
        }
    }

    /// Replaces the stored creds record with raw bytes (corruption tests).
    pub fn corrupt_creds(&self, session: &str, bytes: Vec<u8>) {
        let mut sessions = lock(&self.sessions);
        let rows = sessions.entry(session.to_owned()).or_default();
        let confirmed = rows.creds.as_ref().is_some_and(|c| c.1);
        rows.creds = Some((bytes, confirmed));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on a [`MemoryDb`] for one session name.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    db: Arc<MemoryDb>,
    session: String,
}

impl MemoryStore {
    pub fn new(db: Arc<MemoryDb>, session: &str) -> MemoryStore {
        MemoryStore {
            db,
            session: session.to_owned(),
        }
    }

    pub fn with_session(&self, session: &str) -> MemoryStore {
        MemoryStore::new(self.db.clone(), session)
    }

    pub fn db(&self) -> &Arc<MemoryDb> {
        &self.db
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.db.failing.load(Ordering::SeqCst) {
            Err(StoreError::Injected)
        } else {
            Ok(())
        }
    }

    /// The alert outbox of this session and the database's row counter,
    /// in one transaction.
    pub(super) fn with_alerts<T>(
        &self,
        f: impl FnOnce(&mut Vec<super::alert_outbox::AlertRow>, &mut i64) -> T,
    ) -> Result<T, StoreError> {
        self.check()?;
        let mut next_seq = lock(&self.db.next_seq);
        let mut sessions = lock(&self.db.sessions);
        let rows = sessions.entry(self.session.clone()).or_default();
        Ok(f(&mut rows.alerts, &mut next_seq))
    }

    fn with_rows<T>(&self, f: impl FnOnce(&mut SessionRows) -> T) -> Result<T, StoreError> {
        self.check()?;
        let mut sessions = lock(&self.db.sessions);
        Ok(f(sessions.entry(self.session.clone()).or_default()))
    }

    fn live(&self, rows: &SessionRows) -> Result<Option<LiveCreds>, StoreError> {
        let Some((bytes, confirmed)) = &rows.creds else {
            return Ok(None);
        };
        let creds = Creds::decode(bytes).map_err(|err| StoreError::Corrupt {
            what: format!("creds of session {:?}", self.session),
            detail: err.to_string(),
        })?;
        Ok(Some(LiveCreds {
            creds,
            login_confirmed: *confirmed,
        }))
    }

    fn apply(&self, rows: &mut SessionRows, next_seq: &mut i64, write: &Write) -> Committed {
        // As in the SQL stores: a stored record that cannot be read has no
        // counter to keep.
        let stored = || {
            rows.creds
                .as_ref()
                .and_then(|(bytes, _)| Creds::decode(bytes).ok())
        };
        let confirmed = rows.creds.as_ref().is_some_and(|c| c.1);
        match write {
            Write::Creds(creds) => {
                let creds = creds_over(stored().as_ref(), creds);
                rows.creds = Some((creds.encode(), confirmed));
                match &mut rows.keys {
                    Some(keys) => keys.creds = creds,
                    None => rows.keys = Some(Session::new(creds)),
                }
            }
            Write::FreshPreKeys(keys) => {
                let placed = place_fresh_pre_keys(stored(), keys);
                let session = rows.keys.get_or_insert_with(placeholder_session);
                session
                    .pre_keys
                    .extend(placed.keys.into_iter().map(|key| (key.id, key)));
                if let Some(creds) = placed.creds {
                    rows.creds = Some((creds.encode(), confirmed));
                    session.creds = creds;
                }
                return placed.committed;
            }
            Write::LoginConfirmed => {
                if let Some(creds) = &mut rows.creds {
                    creds.1 = true;
                }
            }
            Write::Inbox(entry) => {
                if rows.inbox.iter().all(|e| e.id != entry.id) {
                    *next_seq += 1;
                    rows.inbox.push(InboxRecord {
                        seq: *next_seq,
                        id: entry.id.clone(),
                        from: entry.from.clone(),
                        stanza: entry.stanza.clone(),
                        received_at: entry.received_at,
                        handled_at: None,
                        content: entry.content.clone(),
                    });
                }
            }
            Write::Handled { id, at, by, outbox } => {
                let taken_over = rows.claims.get(id).is_some_and(|(holder, _)| holder != by);
                if let Some(entry) = rows
                    .inbox
                    .iter_mut()
                    .find(|e| &e.id == id && e.handled_at.is_none())
                {
                    if taken_over {
                        return Committed {
                            claim_lost: true,
                            ..Committed::default()
                        };
                    }
                    entry.handled_at = Some(*at);
                    queue_outbound(rows, next_seq, id, outbox, *at);
                }
            }
            Write::Queued { at, outbox } => queue_outbound(rows, next_seq, "", outbox, *at),
            Write::BotSettings { json } => rows.bot_settings = Some(json.clone()),
            Write::Effect {
                id,
                inbox_id,
                json,
                at,
            } => {
                if rows.effects.iter().all(|(effect, _)| &effect.id != id) {
                    let effect = EffectRecord {
                        id: id.clone(),
                        inbox_id: inbox_id.clone(),
                        json: json.clone(),
                        created_at: *at,
                    };
                    rows.effects.push((effect, None));
                }
            }
            Write::MediaUploaded(upload) => {
                let expired = upload
                    .uploaded_at
                    .as_millis()
                    .saturating_sub(MEDIA_UPLOAD_REUSE_MS);
                let kept = &mut rows.media_uploads;
                kept.retain(|old| {
                    !(old.file_sha256 == upload.file_sha256 && old.media_type == upload.media_type)
                        && old.uploaded_at.as_millis() >= expired
                });
                kept.push(upload.clone());
                let over = kept.len().saturating_sub(MEDIA_UPLOADS_MAX as usize);
                kept.drain(..over);
            }
            Write::EffectDone { id, at } => {
                if let Some((_, done)) = rows
                    .effects
                    .iter_mut()
                    .find(|(effect, done)| &effect.id == id && done.is_none())
                {
                    *done = Some(*at);
                }
            }
            Write::OutboundSealed { id, stanza } => {
                if let Some(row) = rows.outbox.iter_mut().find(|row| &row.id == id) {
                    row.sealed = true;
                }
                if let Some(outbound) = rows.outbound.get_mut(id) {
                    outbound.stanza = Some(stanza.clone());
                }
            }
            Write::OutboundSent { id, at } => {
                if let Some(row) = rows
                    .outbox
                    .iter_mut()
                    .find(|row| &row.id == id && row.sent_at.is_none())
                {
                    row.sent_at = Some(*at);
                }
                rows.outbound.remove(id);
            }
            other => {
                if let Some(keys) = &mut rows.keys {
                    keys.apply(other);
                } else if !matches!(
                    other,
                    Write::RemovePreKey(_)
                        | Write::RemoveSignalSession { .. }
                        | Write::RemoveSenderKey { .. }
                        | Write::RemoveAppStateKey { .. }
                ) {
                    let mut keys = placeholder_session();
                    keys.apply(other);
                    rows.keys = Some(keys);
                }
            }
        }
        Committed::default()
    }
}

/// Keys before any creds are held under placeholder creds until a creds
/// write arrives (the SQL stores keep them in their own tables the same way).
/// Adds `outbox` to the queue, answering inbox message `inbox_id` ("" for
/// a proactive send); a row already there (a retried commit) stays once.
fn queue_outbound(
    rows: &mut SessionRows,
    next_seq: &mut i64,
    inbox_id: &str,
    outbox: &[Outbound],
    at: UnixMillis,
) {
    for reply in outbox {
        if rows.outbox.iter().any(|row| row.id == reply.id) {
            continue;
        }
        *next_seq += 1;
        rows.outbox.push(OutboxRecord {
            seq: *next_seq,
            inbox_id: inbox_id.to_owned(),
            to: reply.to.clone(),
            payload_bytes: reply.message.len(),
            sent_at: None,
            id: reply.id.clone(),
            sealed: false,
            created_at: at,
        });
        rows.outbound.insert(reply.id.clone(), reply.clone());
    }
}

fn placeholder_session() -> Session {
    Session::new(Creds::generate(&mut ChaCha20Rng::seed_from_u64(0)))
}

impl Store for MemoryStore {
    fn alert_outbox(&self) -> Option<super::AnyStore> {
        Some(super::AnyStore::Memory(self.clone()))
    }

    fn session_name(&self) -> &str {
        &self.session
    }

    async fn load_creds(&mut self) -> Result<Option<LiveCreds>, StoreError> {
        self.check()?;
        let sessions = lock(&self.db.sessions);
        match sessions.get(&self.session) {
            Some(rows) => self.live(rows),
            None => Ok(None),
        }
    }

    async fn load_session(&mut self) -> Result<Option<Session>, StoreError> {
        self.check()?;
        let sessions = lock(&self.db.sessions);
        let Some(rows) = sessions.get(&self.session) else {
            return Ok(None);
        };
        let Some(live) = self.live(rows)? else {
            return Ok(None);
        };
        let mut session = rows
            .keys
            .clone()
            .unwrap_or_else(|| Session::new(live.creds.clone()));
        session.creds = live.creds;
        session.login_confirmed = live.login_confirmed;
        Ok(Some(session))
    }

    async fn commit(&mut self, writes: &[Write]) -> Result<Committed, StoreError> {
        self.check()?;
        let mut sessions = lock(&self.db.sessions);
        let mut next_seq = lock(&self.db.next_seq);
        let rows = sessions.entry(self.session.clone()).or_default();
        let stored = checked_records(writes)
            .into_iter()
            .filter_map(|key| {
                let keys = rows.keys.as_ref()?;
                let record = match &key {
                    CheckedRecord::Session(address) => keys.sessions.get(address),
                    CheckedRecord::SenderKey { group, sender } => {
                        keys.sender_keys.get(&(group.clone(), sender.clone()))
                    }
                }?;
                Some((key, RecordDigest::of(record)))
            })
            .collect();
        check_replaces(writes, stored)?;
        let mut committed = Committed::default();
        for write in writes {
            if committed.claim_lost && write.rides_on_handled() {
                continue;
            }
            committed = committed.and(self.apply(rows, &mut next_seq, write));
        }
        self.db.commits_total.fetch_add(1, Ordering::SeqCst);
        Ok(committed)
    }

    async fn replace_session(&mut self, session: &Session) -> Result<(), StoreError> {
        self.with_rows(|rows| {
            rows.creds = Some((session.creds.encode(), session.login_confirmed));
            rows.keys = Some(session.clone());
        })
    }

    async fn put_snapshot(
        &mut self,
        created_at: UnixMillis,
        bytes: &[u8],
        keep: u32,
    ) -> Result<u64, StoreError> {
        self.with_rows(|rows| {
            let generation = rows.snapshots.keys().next_back().copied().unwrap_or(0) + 1;
            rows.snapshots.insert(
                generation,
                StoredSnapshot {
                    generation,
                    created_at,
                    bytes: bytes.to_vec(),
                },
            );
            let floor = generation.saturating_sub(u64::from(keep.max(1)));
            rows.snapshots.retain(|g, _| *g > floor);
            generation
        })
    }

    async fn snapshots(&mut self) -> Result<Vec<StoredSnapshot>, StoreError> {
        self.with_rows(|rows| rows.snapshots.values().rev().cloned().collect())
    }

    async fn claim_inbox(
        &mut self,
        owner: &str,
        lease_ms: u64,
        limit: u32,
    ) -> Result<Vec<InboxRecord>, StoreError> {
        let now = lock(&self.db.clock).wall();
        self.with_rows(|rows| {
            let SessionRows { inbox, claims, .. } = rows;
            let mut claimed = Vec::new();
            for entry in inbox.iter().filter(|e| e.handled_at.is_none()) {
                if claimed.len() >= limit as usize {
                    break;
                }
                let free = claims
                    .get(&entry.id)
                    .is_none_or(|(holder, until)| holder == owner || *until < now);
                if free {
                    claims.insert(
                        entry.id.clone(),
                        (owner.to_owned(), now.saturating_add_millis(lease_ms)),
                    );
                    claimed.push(entry.clone());
                }
            }
            claimed
        })
    }

    async fn register_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        let now = lock(&self.db.clock).wall();
        self.with_rows(|rows| {
            rows.instances.retain(|i| {
                i.owner == owner || i.seen_at.saturating_add_millis(INSTANCE_FORGET_MS) >= now
            });
            rows.instances.push(Instance {
                owner: owner.to_owned(),
                seen_at: now,
                stopped: false,
            });
        })
    }

    async fn heartbeat_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        let now = lock(&self.db.clock).wall();
        self.with_rows(|rows| {
            for row in rows.instances.iter_mut().filter(|i| i.owner == owner) {
                row.seen_at = now;
            }
        })
    }

    async fn retire_instance(&mut self, owner: &str) -> Result<(), StoreError> {
        self.with_rows(|rows| {
            for row in rows.instances.iter_mut().filter(|i| i.owner == owner) {
                row.stopped = true;
            }
            rows.claims.retain(|_, (holder, _)| holder != owner);
        })
    }

    async fn instance_standing(
        &mut self,
        owner: &str,
        alive_ms: u64,
        recent_ms: u64,
    ) -> Result<Standing, StoreError> {
        let now = lock(&self.db.clock).wall();
        self.with_rows(|rows| {
            let mine = rows
                .instances
                .iter()
                .position(|i| i.owner == owner)
                .unwrap_or(rows.instances.len());
            let others = |range: &[Instance]| -> Vec<(bool, bool)> {
                range
                    .iter()
                    .filter(|i| i.owner != owner)
                    .map(|i| {
                        let seen_within = |ms| i.seen_at.saturating_add_millis(ms) >= now;
                        (!i.stopped && seen_within(alive_ms), seen_within(recent_ms))
                    })
                    .collect()
            };
            let newer = others(rows.instances.get(mine + 1..).unwrap_or_default());
            let older = others(&rows.instances[..mine]);
            Standing {
                newer_alive: newer.iter().any(|(alive, _)| *alive),
                newer_ran: !newer.is_empty(),
                older_recent: older.iter().any(|(_, recent)| *recent),
            }
        })
    }

    async fn unhandled_inbox(&mut self, limit: u32) -> Result<Vec<InboxRecord>, StoreError> {
        self.with_rows(|rows| {
            rows.inbox
                .iter()
                .filter(|e| e.handled_at.is_none())
                .take(limit as usize)
                .cloned()
                .collect()
        })
    }

    async fn inbox(&mut self) -> Result<Vec<InboxRecord>, StoreError> {
        self.with_rows(|rows| rows.inbox.clone())
    }

    async fn outbox(&mut self) -> Result<Vec<OutboxRecord>, StoreError> {
        self.with_rows(|rows| rows.outbox.clone())
    }

    async fn outbox_backlog(&mut self) -> Result<Backlog, StoreError> {
        self.with_rows(|rows| {
            let unsent = rows.outbox.iter().filter(|row| row.sent_at.is_none());
            Backlog {
                unsent: unsent.clone().count() as u64,
                oldest_at: unsent.map(|row| row.created_at).min(),
            }
        })
    }

    async fn unsent_outbound(&mut self, limit: u32) -> Result<Vec<Outbound>, StoreError> {
        self.with_rows(|rows| {
            rows.outbox
                .iter()
                .filter(|row| row.sent_at.is_none())
                .filter_map(|row| rows.outbound.get(&row.id).cloned())
                .take(limit as usize)
                .collect()
        })
    }

    async fn prune(&mut self, before: UnixMillis, rows_max: u32) -> Result<PruneCount, StoreError> {
        self.with_rows(|rows| {
            let rows_max = rows_max as usize;
            let old = |at: Option<UnixMillis>| at.is_some_and(|at| at < before);
            let mut pruned_ids = Vec::new();
            rows.inbox.retain(|entry| {
                let prune = pruned_ids.len() < rows_max && old(entry.handled_at);
                if prune {
                    pruned_ids.push(entry.id.clone());
                }
                !prune
            });
            // A claim on an entry that is gone would be kept forever.
            for id in &pruned_ids {
                rows.claims.remove(id);
            }
            let mut outbox = 0;
            rows.outbox.retain(|reply| {
                let prune = outbox < rows_max && old(reply.sent_at);
                outbox += usize::from(prune);
                !prune
            });
            let mut effects = 0;
            rows.effects.retain(|(_, done_at)| {
                let prune = effects < rows_max && old(*done_at);
                effects += usize::from(prune);
                !prune
            });
            PruneCount {
                inbox: pruned_ids.len() as u64,
                outbox: outbox as u64,
                effects: effects as u64,
            }
        })
    }

    async fn wipe(&mut self) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.db.sessions).remove(&self.session);
        Ok(())
    }

    async fn sessions(&mut self) -> Result<Vec<SessionSummary>, StoreError> {
        self.check()?;
        let sessions = lock(&self.db.sessions);
        sessions
            .iter()
            .map(|(name, rows)| {
                let handle = self.with_session(name);
                let device = match handle.live(rows) {
                    Ok(live) => Ok(live.and_then(|c| c.creds.me.map(|me| me.jid.to_string()))),
                    Err(err) => Err(err.into_corrupt()?),
                };
                Ok(SessionSummary {
                    name: name.clone(),
                    device,
                    pre_keys: rows.keys.as_ref().map_or(0, |k| k.pre_keys.len() as u64),
                    signal_sessions: rows.keys.as_ref().map_or(0, |k| k.sessions.len() as u64),
                    inbox: rows.inbox.len() as u64,
                    inbox_unhandled: rows.inbox.iter().filter(|e| e.handled_at.is_none()).count()
                        as u64,
                    snapshots: rows.snapshots.len() as u64,
                    newest_snapshot_at: rows.snapshots.values().next_back().map(|s| s.created_at),
                })
            })
            .collect()
    }

    async fn bot_settings(&mut self) -> Result<Option<String>, StoreError> {
        self.with_rows(|rows| rows.bot_settings.clone())
    }

    async fn client_version(&mut self) -> Result<Option<AppVersion>, StoreError> {
        self.check()?;
        Ok(*lock(&self.db.client_version))
    }

    async fn put_client_version(
        &mut self,
        version: AppVersion,
        _learned_at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.check()?;
        *lock(&self.db.client_version) = Some(version);
        Ok(())
    }

    async fn known_groups(&mut self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.with_rows(|rows| {
            let groups: std::collections::BTreeSet<&String> = rows
                .inbox
                .iter()
                .map(|entry| &entry.from)
                .filter(|from| from.ends_with("@g.us"))
                .collect();
            groups.into_iter().take(limit as usize).cloned().collect()
        })
    }

    async fn media_upload(
        &mut self,
        file_sha256: &[u8; 32],
        media_type: &str,
    ) -> Result<Option<MediaUpload>, StoreError> {
        self.with_rows(|rows| {
            rows.media_uploads
                .iter()
                .find(|kept| &kept.file_sha256 == file_sha256 && kept.media_type == media_type)
                .cloned()
        })
    }

    async fn pending_effects(&mut self, limit: u32) -> Result<Vec<EffectRecord>, StoreError> {
        self.with_rows(|rows| {
            rows.effects
                .iter()
                .filter(|(_, done)| done.is_none())
                .take(limit as usize)
                .map(|(effect, _)| effect.clone())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use blacksky_core::session::{GivenKey, RecordDigest, Replaces};

    use super::*;

    fn own_key(record: &[u8], replaces: Replaces) -> Write {
        Write::SenderKey {
            group: "1@g.us".into(),
            sender: "9.0".into(),
            record: record.to_vec(),
            replaces,
        }
    }

    /// The memory store (the chaos harness's) checks sender keys as the
    /// SQL stores do (`sender_keys_are_compare_and_set`).
    #[tokio::test]
    async fn a_second_use_of_one_sender_key_record_is_refused() {
        let mut store = MemoryStore::new(MemoryDb::new(), "s");
        store
            .commit(&[Write::Creds(Box::new(placeholder_session().creds))])
            .await
            .expect("creds");
        store
            .commit(&[own_key(b"k0", Replaces::Nothing)])
            .await
            .expect("new");
        let k0 = Replaces::Record(RecordDigest::of(b"k0"));
        store.commit(&[own_key(b"k1", k0)]).await.expect("advanced");
        assert!(matches!(
            store.commit(&[own_key(b"k1-other", k0)]).await,
            Err(StoreError::Stale(_))
        ));
        let given = |record: &[u8]| Write::SenderKeyShared {
            group: "1@g.us".into(),
            devices: vec!["7.0".into()],
            given: GivenKey {
                sender: "9.0".into(),
                record: RecordDigest::of(record),
            },
        };
        assert!(matches!(
            store.commit(&[given(b"k0")]).await,
            Err(StoreError::Stale(_))
        ));
        store
            .commit(&[given(b"k1")])
            .await
            .expect("under the stored key");
    }
}
