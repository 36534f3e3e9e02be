//! blacksky's bot layer: what a handler sees of a message and what it can
//! answer, turned into the `Message` protobufs the outbox keeps.
//!
//! - [`Handler`]: a bot's code, called once per message meant for it,
//!   with a [`Context`] to answer through (reply, quote, mention, react,
//!   send to another chat).
//! - [`Bot`]: reads a stored inbox row, calls the handler, applies the
//!   per-sender rate limit, and gives the outbox entries that are stored
//!   in the transaction marking the row handled.
//! - [`AutoReplies`]: answers from a TOML file of regex rules, no code.
//! - [`Commands`]: prefixed commands (`.menu`, `.kick @…`) with
//!   permissions, cool-downs, two languages and settings that survive.
//! - [`compose`]: the answers as WhatsApp `Message`s.
//!
//! Sans-I/O like the core: the time is given, nothing is read from a
//! clock, the environment or the network.

pub mod auto_reply;
pub mod commands;
pub mod compose;
mod context;
mod dispatch;
mod jid_serde;
pub mod media_message;
pub mod media_send;
pub mod rate_limit;
pub mod reactions;

pub use auto_reply::{AutoReplies, AutoReplyError, ChatFilter};
pub use blacksky_core::client::groups::admin::Refusal;
pub use blacksky_core::message::{Content, Incoming, Kind, Sender};
pub use blacksky_core::time::UnixMillis;
pub use blacksky_core::wire::binary::Jid;
pub use commands::Commands;
use commands::{Account, Settings};
pub use commands::{GroupEvent, Membership};
pub use context::{Action, Context, Reply, chat_of};
pub use dispatch::{Bot, BotConfig, Handled};
pub use media_send::{MediaSource, MediaSpec, ReceivedFile, SendKind};

/// A bot's code: called once for each message meant for the bot (text,
/// media, reactions, edits, deletions), in arrival order. What it asks
/// of `ctx` is stored with the mark that the message was handled, in one
/// transaction: a crash never loses an answer nor sends it twice.
///
/// It runs on the store worker's task: it must not block. Slow work
/// (a web request) belongs in a task of its own that answers through the
/// proactive outbox.
pub trait Handler: Send + 'static {
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context);

    /// Whether `message`'s sender is exempt from `RATE_LIMIT_PER_MIN`
    /// (the owner, for commands).
    fn exempt_from_rate_limit(&self, _message: &Incoming) -> bool {
        false
    }

    /// The settings it keeps in the store (commands' prefix, languages,
    /// greetings), as they are now; `None` for a handler with none.
    fn kept_settings(&self) -> Option<&Settings> {
        None
    }

    /// The settings the store kept from an earlier run, handed over at
    /// start before any message.
    fn restore_settings(&mut self, _settings: Settings) {}

    /// The linked account (the bot's own number and LID), once known.
    fn linked_account(&mut self, _account: Account) {}

    /// A change to a group the bot is in, as WhatsApp told it: members
    /// added, removed, left, promoted or demoted, a new subject or
    /// description, a setting, the invite link reset. Heard once per
    /// change (the notification is kept in the store until handled);
    /// answers (a welcome, a goodbye) go to the group through `ctx`.
    fn on_group_event(&mut self, _event: &GroupEvent, _ctx: &mut Context) {}

    /// The words for the server's refusal of an effect it asked for in
    /// `chat` (a group change); `people`: those a participant change did
    /// not take for. `None`: nothing is said.
    fn refusal(&self, _chat: &Jid, _refusal: Refusal, _people: &[Jid]) -> Option<Reply> {
        None
    }
}

impl<F> Handler for F
where
    F: FnMut(&Incoming, &mut Context) + Send + 'static,
{
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context) {
        self(message, ctx);
    }
}

/// Answers nothing (the bot only stores and logs what arrives).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Handler for Silent {
    fn on_message(&mut self, _: &Incoming, _: &mut Context) {}
}

/// `first`, then `second` when `first` answered nothing: auto-replies
/// before a bot's own code, say.
#[derive(Debug, Clone)]
pub struct Either<A, B>(pub A, pub B);

impl<A: Handler, B: Handler> Handler for Either<A, B> {
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context) {
        self.0.on_message(message, ctx);
        if ctx.actions().is_empty() {
            self.1.on_message(message, ctx);
        }
    }

    fn exempt_from_rate_limit(&self, message: &Incoming) -> bool {
        self.0.exempt_from_rate_limit(message) || self.1.exempt_from_rate_limit(message)
    }

    fn kept_settings(&self) -> Option<&Settings> {
        self.1.kept_settings().or_else(|| self.0.kept_settings())
    }

    fn restore_settings(&mut self, settings: Settings) {
        self.0.restore_settings(settings.clone());
        self.1.restore_settings(settings);
    }

    fn linked_account(&mut self, account: Account) {
        self.0.linked_account(account.clone());
        self.1.linked_account(account);
    }

    fn on_group_event(&mut self, event: &GroupEvent, ctx: &mut Context) {
        self.0.on_group_event(event, ctx);
        self.1.on_group_event(event, ctx);
    }

    fn refusal(&self, chat: &Jid, refusal: Refusal, people: &[Jid]) -> Option<Reply> {
        self.0
            .refusal(chat, refusal, people)
            .or_else(|| self.1.refusal(chat, refusal, people))
    }
}
