//! The alert dispatcher: a task that makes each alert durable in the
//! store's outbox, then POSTs it, retrying with backoff until the receiver
//! takes it. What a process could not deliver before it died, the next
//! one delivers (the rows stay unsent). While the store is down (one of the
//! incidents) an alert waits in memory, bounded, and is sent from there;
//! it is written as soon as the store answers again.

use std::collections::VecDeque;
use std::time::Duration;

use blacksky_core::alerts::{AlertRecord, OpenIncident, owner_text};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::AlertFormat;
use super::body;
use super::webhook::Webhook;
use crate::host::clock::{Clock, SharedClock};
use crate::host::status::StatusBoard;
use crate::session::proactive::Outbox;
use crate::store::Backlog;
use crate::store::alert_outbox::{AlertOutbox, AlertRow, Delivery};

/// Alerts handed in and not yet taken by the task, at most; a step of the
/// incident machine emits a handful, so the sender never waits long.
pub const QUEUE_LEN_MAX: usize = 64;
/// Alerts kept in memory while the store cannot take them, at most (two
/// per kind of incident fit several times over); past it the oldest goes,
/// with an error in the log.
pub const UNSAVED_LEN_MAX: usize = 64;
/// Due rows delivered per round.
const DUE_PER_ROUND_MAX: u32 = 16;
/// The first retry's wait; it doubles per failure up to [`RETRY_MAX_MS`].
const RETRY_BASE_MS: u64 = 5_000;
const RETRY_MAX_MS: u64 = 10 * 60_000;
/// How often the outbox is looked at while something is unsent.
const ROUND_INTERVAL: Duration = Duration::from_secs(2);
/// A store call longer than this counts as failed.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before delivery attempt `attempts + 1`.
pub fn retry_delay_ms(attempts: u32) -> u64 {
    RETRY_BASE_MS
        .saturating_mul(1u64 << attempts.min(16))
        .min(RETRY_MAX_MS)
}

enum Command {
    Record(AlertRecord),
    /// Persist and try to deliver what is queued, then answer.
    Flush(oneshot::Sender<()>),
}

/// The loop's handle on the dispatcher: hands alerts in.
#[derive(Debug, Clone)]
pub struct AlertLink {
    tx: Option<mpsc::Sender<Command>>,
    owner: Option<OwnerLine>,
}

/// Who hears on WhatsApp that the bot is back (`ALERT_OWNER=true`).
#[derive(Debug, Clone)]
pub struct OwnerLine {
    pub outbox: Outbox,
    /// The owner's chat.
    pub owner: Jid,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Record(record) => f.debug_tuple("Record").field(record).finish(),
            Command::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl AlertLink {
    /// A link that goes nowhere (a store without an outbox).
    pub fn none() -> AlertLink {
        AlertLink {
            tx: None,
            owner: None,
        }
    }

    /// Tells `owner` of each recovery on WhatsApp too.
    #[must_use]
    pub fn with_owner(mut self, owner: Option<OwnerLine>) -> AlertLink {
        self.owner = owner;
        self
    }

    /// Hands `record` in; waits for room rather than drop it.
    pub async fn send(&self, record: AlertRecord) {
        tracing::warn!(
            kind = record.incident.kind.as_str(),
            phase = record.phase.as_str(),
            detail = %record.detail,
            "alert: {}",
            record.headline()
        );
        if let (Some(line), Some(text)) = (&self.owner, owner_text(&record)) {
            // Stored in the outbox like any send (the loop does not wait
            // for the store): it goes out once online, which a recovery is.
            let line = line.clone();
            tokio::spawn(async move {
                match line.outbox.send(&line.owner, text).await {
                    Ok(id) => {
                        tracing::info!(%id, "the owner is told on WhatsApp that the bot is back")
                    }
                    Err(err) => tracing::warn!("the owner's WhatsApp alert was not queued: {err}"),
                }
            });
        }
        if let Some(tx) = &self.tx
            && tx.send(Command::Record(record)).await.is_err()
        {
            tracing::error!("the alert dispatcher stopped: an alert was not stored");
        }
    }
}

/// The dispatcher task and its link.
#[derive(Debug)]
pub struct Dispatcher {
    link: AlertLink,
    task: Option<JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts the task on `outbox`. Alerts are stored whether or not
    /// there is a `webhook` (the outbox also says which incidents are
    /// open); without one they are stored as delivered.
    pub fn spawn<O: AlertOutbox>(
        outbox: O,
        webhook: Option<Webhook>,
        format: AlertFormat,
        session: &str,
        clock: SharedClock,
        board: Option<StatusBoard>,
    ) -> Dispatcher {
        let (tx, rx) = mpsc::channel(QUEUE_LEN_MAX);
        let task = Task {
            outbox,
            webhook,
            format,
            session: session.to_owned(),
            clock,
            board,
            rx,
            unsaved: VecDeque::new(),
            pending: true,
        };
        Dispatcher {
            link: AlertLink {
                tx: Some(tx),
                owner: None,
            },
            task: Some(tokio::spawn(task.run())),
        }
    }

    pub fn link(&self) -> AlertLink {
        self.link.clone()
    }

    /// Stores what is queued and tries once to deliver what is due, within
    /// `budget`; then stops the task. What is left stays in the outbox.
    pub async fn finish(mut self, budget: Duration) {
        if let Some(tx) = self.link.tx.take() {
            let (reply, done) = oneshot::channel();
            let asked = async {
                if tx.send(Command::Flush(reply)).await.is_ok() {
                    let _ = done.await;
                }
            };
            if tokio::time::timeout(budget, asked).await.is_err() {
                tracing::warn!(
                    budget_ms = budget.as_millis() as u64,
                    "alerts not all delivered before exit: the next start sends them"
                );
            }
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Reads the incidents earlier processes left open (empty when the store
/// cannot say in time: the worst is an alert told twice).
pub async fn open_incidents<O: AlertOutbox>(outbox: &mut O) -> Vec<OpenIncident> {
    match tokio::time::timeout(STORE_TIMEOUT, outbox.open_incidents()).await {
        Ok(Ok(open)) => open,
        Ok(Err(err)) => {
            tracing::warn!("open incidents not read: {err}");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!("open incidents not read: the store did not answer");
            Vec::new()
        }
    }
}

struct Task<O> {
    outbox: O,
    webhook: Option<Webhook>,
    format: AlertFormat,
    session: String,
    clock: SharedClock,
    board: Option<StatusBoard>,
    rx: mpsc::Receiver<Command>,
    /// Alerts the store did not take yet, oldest first.
    unsaved: VecDeque<AlertRow>,
    /// Something may be unsent: rounds keep running.
    pending: bool,
}

impl<O: AlertOutbox> Task<O> {
    async fn run(mut self) {
        if let Some(webhook) = &self.webhook {
            tracing::info!(url = %webhook.shown(), format = self.format.as_str(), "alerts go to the webhook");
        }
        loop {
            self.round().await;
            let command = if self.pending {
                tokio::select! {
                    biased;
                    command = self.rx.recv() => command,
                    () = tokio::time::sleep(ROUND_INTERVAL) => continue,
                }
            } else {
                self.rx.recv().await
            };
            match command {
                Some(Command::Record(record)) => self.take(record),
                Some(Command::Flush(reply)) => {
                    while let Ok(Command::Record(record)) = self.rx.try_recv() {
                        self.take(record);
                    }
                    self.round().await;
                    let _ = reply.send(());
                }
                None => {
                    self.round().await;
                    return;
                }
            }
        }
    }

    fn take(&mut self, record: AlertRecord) {
        // Nowhere to send it: stored as delivered, for the incident record.
        let sent_at = self.webhook.is_none().then_some(record.at);
        if self.unsaved.len() >= UNSAVED_LEN_MAX {
            if let Some(dropped) = self.unsaved.pop_front() {
                tracing::error!(
                    incident = %dropped.record.incident.id(),
                    "the alert buffer is full while the store is down: the oldest alert is dropped"
                );
            }
        }
        self.unsaved.push_back(AlertRow::new(record, sent_at));
        self.pending = true;
    }

    /// Stores what waits in memory, delivers what is due, updates the
    /// backlog figures.
    async fn round(&mut self) {
        let now = self.clock.wall();
        let stored = self.store_unsaved().await;
        if let Some(webhook) = self.webhook.clone() {
            if stored {
                self.deliver_due(&webhook, now).await;
            } else {
                self.deliver_unsaved(&webhook, now).await;
            }
        }
        match tokio::time::timeout(STORE_TIMEOUT, self.outbox.alert_backlog()).await {
            Ok(Ok(backlog)) => {
                let in_memory = self.unsaved.iter().filter(|r| r.sent_at.is_none());
                let backlog = Backlog {
                    unsent: backlog.unsent + in_memory.clone().count() as u64,
                    oldest_at: backlog
                        .oldest_at
                        .into_iter()
                        .chain(in_memory.map(|r| r.record.at))
                        .min(),
                };
                self.pending = backlog.unsent > 0 || !self.unsaved.is_empty();
                if let Some(board) = &self.board {
                    board.set_alert_backlog(backlog.unsent, backlog.oldest_at);
                }
            }
            _ => self.pending = true,
        }
    }

    /// True once nothing waits in memory.
    async fn store_unsaved(&mut self) -> bool {
        while let Some(row) = self.unsaved.front() {
            match tokio::time::timeout(STORE_TIMEOUT, self.outbox.put_alert(row)).await {
                Ok(Ok(())) => {
                    self.unsaved.pop_front();
                }
                Ok(Err(err)) => {
                    tracing::debug!("alert not stored yet: {err}");
                    return false;
                }
                Err(_) => return false,
            }
        }
        true
    }

    async fn deliver_due(&mut self, webhook: &Webhook, now: UnixMillis) {
        let unsent =
            match tokio::time::timeout(STORE_TIMEOUT, self.outbox.unsent_alerts(DUE_PER_ROUND_MAX))
                .await
            {
                Ok(Ok(unsent)) => unsent,
                Ok(Err(err)) => {
                    tracing::debug!("due alerts not read: {err}");
                    return;
                }
                Err(_) => return,
            };
        for row in unsent {
            // In order: one not yet due holds back those after it.
            if row.next_attempt_at > now {
                return;
            }
            let delivery =
                Self::attempt(self.format, &self.session, &self.clock, webhook, &row).await;
            let failed = matches!(delivery, Delivery::Retry { .. });
            if let Ok(Err(err)) | Err(err) =
                tokio::time::timeout(STORE_TIMEOUT, self.outbox.alert_delivery(row.seq, delivery))
                    .await
                    .map_err(|_| {
                        crate::store::StoreError::TimedOut(STORE_TIMEOUT.as_millis() as u64)
                    })
            {
                // Sent but not marked: it is sent again later (at least once).
                tracing::warn!("alert delivery not recorded: {err}");
            }
            if failed {
                // The receiver is down: the rest waits behind this one.
                return;
            }
        }
    }

    /// The store is down: deliver from memory; the rows keep what
    /// happened and are stored with it later.
    async fn deliver_unsaved(&mut self, webhook: &Webhook, now: UnixMillis) {
        let mut rows = std::mem::take(&mut self.unsaved);
        for row in rows.iter_mut().filter(|r| r.sent_at.is_none()) {
            if row.next_attempt_at > now {
                break;
            }
            match Self::attempt(self.format, &self.session, &self.clock, webhook, row).await {
                Delivery::Sent { at } => row.sent_at = Some(at),
                Delivery::Retry { attempts, next_at } => {
                    row.attempts = attempts;
                    row.next_attempt_at = next_at;
                    break;
                }
            }
        }
        self.unsaved = rows;
    }

    /// One delivery (a free function of what it needs: the outbox need
    /// not be `Sync`).
    async fn attempt(
        format: AlertFormat,
        session: &str,
        clock: &SharedClock,
        webhook: &Webhook,
        row: &AlertRow,
    ) -> Delivery {
        let body = body::render(format, &row.record, session);
        match webhook.post(&body).await {
            Ok(()) => {
                tracing::info!(
                    incident = %row.record.incident.id(),
                    phase = row.record.phase.as_str(),
                    "alert delivered"
                );
                Delivery::Sent { at: clock.wall() }
            }
            Err(err) => {
                let attempts = row.attempts.saturating_add(1);
                let wait = retry_delay_ms(row.attempts);
                tracing::warn!(
                    url = %webhook.shown(),
                    incident = %row.record.incident.id(),
                    attempts,
                    retry_in_ms = wait,
                    "alert not delivered: {err}"
                );
                Delivery::Retry {
                    attempts,
                    next_at: clock.wall().saturating_add_millis(wait),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay_ms(0), 5_000);
        assert_eq!(retry_delay_ms(1), 10_000);
        assert_eq!(retry_delay_ms(6), 320_000);
        assert_eq!(retry_delay_ms(7), RETRY_MAX_MS);
        assert_eq!(retry_delay_ms(u32::MAX), RETRY_MAX_MS);
    }
}
