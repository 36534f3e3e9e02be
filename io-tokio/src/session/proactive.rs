//! Sends on the bot's own initiative, not in answer to a message
//! (broadcasts, scheduled sends, alerts): the [`Outbox`] handle a bot
//! keeps, and the store worker's end of it. A send is durable once
//! [`Outbox::send`] returns its id: it is in the outbox, sent and resent
//! after reconnects until the server acks it, like every answer.

use blacksky_bot::{Jid, Reply, compose};
use blacksky_core::message::ids;
use blacksky_core::session::Outbound;
use prost::Message as _;
use rand_core::{OsRng, RngCore};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// Sends waiting for the store worker; past this `send` waits for room.
pub const REQUESTS_LEN_MAX: usize = 64;

/// A handle to queue messages; clone it into the tasks that send.
#[derive(Debug, Clone)]
pub struct Outbox {
    requests: mpsc::Sender<Request>,
}

/// The store worker's end of the [`Outbox`] handles.
#[derive(Debug)]
pub struct OutboxIntake {
    pub(crate) requests: mpsc::Receiver<Request>,
}

/// One send waiting to be stored.
pub(crate) struct Request {
    pub outbound: Outbound,
    pub stored: oneshot::Sender<Result<(), String>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.outbound.id)
            .finish_non_exhaustive()
    }
}

/// Why a message was not queued (nothing of it was stored).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    #[error("the bot is not running: its store worker has stopped")]
    Stopped,
    #[error("the message could not be stored (try again): {0}")]
    Store(String),
    #[error("the recipient is not a user or group JID (number@s.whatsapp.net, id@lid, id@g.us)")]
    BadRecipient,
}

/// A bot's proactive sends: the handle the process keeps (alerts to the
/// owner use it too) and the worker's end.
#[derive(Debug)]
pub struct Proactive {
    pub outbox: Outbox,
    pub intake: OutboxIntake,
}

/// A new handle and the worker's end of it.
#[must_use]
pub fn channel() -> (Outbox, OutboxIntake) {
    let (requests, intake) = mpsc::channel(REQUESTS_LEN_MAX);
    (Outbox { requests }, OutboxIntake { requests: intake })
}

impl Outbox {
    /// Queues a text for `to` (a user or group JID); its message id once
    /// it is stored.
    pub async fn send(&self, to: &Jid, reply: impl Into<Reply>) -> Result<String, SendError> {
        let message = compose::text(&reply.into(), None, to).encode_to_vec();
        self.send_message(to, message).await
    }

    /// Queues a `Message` protobuf, as encoded, for `to`.
    pub async fn send_message(&self, to: &Jid, message: Vec<u8>) -> Result<String, SendError> {
        if !matches!(to.server(), "s.whatsapp.net" | "lid" | "g.us") || to.user().is_empty() {
            return Err(SendError::BadRecipient);
        }
        let mut random = [0u8; 9];
        OsRng.fill_bytes(&mut random);
        let id = ids::id_from(&random);
        let (stored, answer) = oneshot::channel();
        let outbound = Outbound {
            id: id.clone(),
            to: blacksky_bot::chat_of(to).to_string(),
            message,
            stanza: None,
        };
        self.requests
            .send(Request { outbound, stored })
            .await
            .map_err(|_| SendError::Stopped)?;
        match answer.await {
            Ok(Ok(())) => Ok(id),
            Ok(Err(why)) => Err(SendError::Store(why)),
            Err(_) => Err(SendError::Stopped),
        }
    }
}
