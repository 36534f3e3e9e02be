//! One stored message through the bot: read back what was stored, call
//! the handler, hold its answers to the sender's rate limit, and give the
//! outbox entries stored with the mark that the message was handled.

use std::panic::{AssertUnwindSafe, catch_unwind};

use blacksky_core::message::Incoming;
use blacksky_core::session::OutboxEntry;
use blacksky_core::time::UnixMillis;

use blacksky_core::client::groups::notification::parse_notification;
use blacksky_core::wire::binary::Decoded;

use crate::commands::{Account, GroupEvent, Settings};
use crate::compose::{self, Answered};
use crate::context::{Action, Context, Reply};
use crate::rate_limit::RateLimit;
use crate::{Handler, Jid, Refusal};

/// What a sender past `RATE_LIMIT_PER_MIN` is told, once.
pub const RATE_LIMIT_NOTICE: &str =
    "You are sending faster than I answer: I will answer again in a minute.";

/// What one stored message gave.
#[derive(Debug, Default)]
pub struct Handled {
    /// Messages, for the outbox.
    pub outbox: Vec<OutboxEntry>,
    /// Effects for the shell to perform, in order (never messages).
    pub effects: Vec<Action>,
    /// The handler's settings as JSON ([`crate::commands::Settings::to_json`])
    /// when this message changed them: stored with the handled mark.
    pub settings: Option<String>,
}

/// The bot layer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotConfig {
    /// Answers per sender and minute; 0: no limit.
    pub rate_limit_per_min: u32,
    /// Senders the rate limit follows at once.
    pub rate_limit_senders_max: usize,
}

impl Default for BotConfig {
    fn default() -> BotConfig {
        BotConfig {
            rate_limit_per_min: 30,
            rate_limit_senders_max: 10_000,
        }
    }
}

/// A [`Handler`] and the rules around it.
#[derive(Debug)]
pub struct Bot<H> {
    handler: H,
    limit: RateLimit,
    /// Answers held back by the rate limit, since the start.
    limited_total: u64,
    /// Messages whose handler panicked, since the start.
    panics_total: u64,
    /// The bot's own number and LID, once linked: a mention of either is
    /// flagged to the handler ([`Context::mentions_bot`]).
    account: Account,
}

impl<H: Handler> Bot<H> {
    #[must_use]
    pub fn new(handler: H, config: BotConfig) -> Bot<H> {
        Bot {
            handler,
            limit: RateLimit::new(config.rate_limit_per_min, config.rate_limit_senders_max),
            limited_total: 0,
            panics_total: 0,
            account: Account::default(),
        }
    }

    /// The answers to a stored message (its `<message>` stanza and its
    /// decrypted `Message`), handled at `now`. Messages that are not for
    /// a bot (the protocol's own) get none. Effects (group actions, owner
    /// controls, settings) are dropped here: a shell that performs them
    /// calls [`Bot::handle_stored`].
    pub fn on_stored(
        &mut self,
        stanza: &[u8],
        message: &[u8],
        now: UnixMillis,
    ) -> Vec<OutboxEntry> {
        let handled = self.handle_stored(stanza, message, now);
        if !handled.effects.is_empty() {
            tracing::warn!(
                effects = handled.effects.len(),
                "the handler asked for effects this shell does not perform"
            );
        }
        handled.outbox
    }

    /// [`Bot::on_stored`], with the effects the handler asked for (each
    /// with a stable JSON form: [`Action::to_json`]), to be stored in the
    /// same transaction as the outbox entries.
    pub fn handle_stored(&mut self, stanza: &[u8], message: &[u8], now: UnixMillis) -> Handled {
        let incoming = match Incoming::read(stanza, message) {
            Ok(incoming) => incoming,
            Err(err) => {
                tracing::warn!(%err, "a stored message does not read back: no answer");
                return Handled::default();
            }
        };
        if !incoming.is_for_the_bot() {
            return Handled::default();
        }
        tracing::info!(
            id = %incoming.id,
            kind = incoming.content.kind_name(),
            text_chars = incoming.content.text().map_or(0, |t| t.chars().count()),
            offline = incoming.from_offline_queue,
            "message received"
        );
        let mentions_bot = mentions_any(&incoming, &self.account);
        let mut ctx = Context::new(&incoming, now).with_bot_mentioned(mentions_bot);
        let handler = &mut self.handler;
        // A handler that panics on one message must not panic on it again
        // at every start: the message is handled, with no answer.
        if catch_unwind(AssertUnwindSafe(|| handler.on_message(&incoming, &mut ctx))).is_err() {
            self.panics_total += 1;
            tracing::error!(id = %incoming.id, "the handler panicked on this message: it gets no answer");
            return Handled::default();
        }
        let (mut actions, effects): (Vec<Action>, Vec<Action>) =
            ctx.into_actions().into_iter().partition(Action::is_message);
        if !self.handler.exempt_from_rate_limit(&incoming) {
            self.limit_answers(&incoming, &mut actions, now);
        }
        let answered = Answered {
            incoming: &incoming,
            message,
        };
        let settings = effects
            .iter()
            .any(|effect| matches!(effect, Action::Setting(_)))
            .then(|| self.handler.kept_settings().map(Settings::to_json))
            .flatten();
        Handled {
            outbox: compose::entries(&actions, &answered, now),
            effects,
            settings,
        }
    }

    /// The answers to a stored group notice (a `w:gp2` notification):
    /// the handler hears each change it tells, and its answers (a welcome
    /// or goodbye) go to the group, quoting nothing.
    pub fn handle_group_notice(&mut self, stanza: &[u8], now: UnixMillis) -> Vec<OutboxEntry> {
        let mut decoded = Decoded::new();
        let Some(event) = decoded.decode(stanza).ok().and_then(parse_notification) else {
            tracing::warn!("a stored group notice does not read back: no greeting");
            return Vec::new();
        };
        let mut ctx = Context::for_chat(&event.group, now);
        for change in &event.changes {
            let event = GroupEvent {
                group: event.group.clone(),
                actor: event.actor.clone(),
                change: change.clone(),
            };
            let handler = &mut self.handler;
            if catch_unwind(AssertUnwindSafe(|| {
                handler.on_group_event(&event, &mut ctx)
            }))
            .is_err()
            {
                self.panics_total += 1;
                tracing::error!("the handler panicked on a group notice: it gets no answer");
                return Vec::new();
            }
        }
        compose::unanswered_entries(&ctx.into_actions())
    }

    /// Holds `actions` (messages only) to the sender's rate limit.
    fn limit_answers(&mut self, incoming: &Incoming, actions: &mut Vec<Action>, now: UnixMillis) {
        let sender = sender_key(incoming);
        let admission = self.limit.admit(&sender, now, actions.len());
        if admission.admitted < actions.len() {
            self.limited_total += (actions.len() - admission.admitted) as u64;
            actions.truncate(admission.admitted);
            if admission.notice {
                tracing::warn!(
                    id = %incoming.id,
                    "a sender is past RATE_LIMIT_PER_MIN: their answers are held back for now"
                );
                let mut notice = Context::new(incoming, now);
                notice.reply(Reply::text(RATE_LIMIT_NOTICE).quoting());
                actions.extend(notice.into_actions());
            }
        }
    }

    /// The settings an earlier run stored (see [`Handler::restore_settings`]).
    pub fn restore_settings(&mut self, settings: Settings) {
        self.handler.restore_settings(settings);
    }

    /// The linked account, once known (see [`Handler::linked_account`]).
    pub fn linked_account(&mut self, account: Account) {
        self.account = account.clone();
        self.handler.linked_account(account);
    }

    /// The words for the server's refusal of an effect (see
    /// [`Handler::refusal`]).
    #[must_use]
    pub fn refusal(&self, chat: &Jid, refusal: Refusal, people: &[Jid]) -> Option<Reply> {
        self.handler.refusal(chat, refusal, people)
    }

    /// Answers held back by the rate limit, since the start.
    #[must_use]
    pub fn limited_total(&self) -> u64 {
        self.limited_total
    }

    /// Messages whose handler panicked, since the start.
    #[must_use]
    pub fn panics_total(&self) -> u64 {
        self.panics_total
    }
}

/// Whether `incoming` mentions the linked account (by number or LID).
fn mentions_any(incoming: &Incoming, account: &Account) -> bool {
    incoming.content.context().is_some_and(|context| {
        context
            .mentions
            .iter()
            .filter_map(|mention| Jid::parse(mention))
            .any(|jid| account.is(&jid))
    })
}

/// Who the rate limit counts a message against: the author, by LID when
/// known (a contact's phone number and LID are one person).
fn sender_key(incoming: &Incoming) -> String {
    let sender = &incoming.sender;
    sender.lid.as_ref().or(sender.pn.as_ref()).map_or_else(
        || incoming.chat.user().to_owned(),
        |jid| jid.user().to_owned(),
    )
}

#[cfg(test)]
mod tests;
