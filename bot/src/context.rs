//! What a handler can ask for in answer to one message: replies (quoting
//! it, mentioning people), reactions, texts to other chats.

use std::fmt;

use blacksky_core::message::Incoming;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

/// A text to send, maybe quoting the message it answers and mentioning
/// people (write `@<number>` in the text for each, as WhatsApp shows it).
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub quote: bool,
    pub mentions: Vec<Jid>,
}

impl Reply {
    #[must_use]
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            quote: false,
            mentions: Vec::new(),
        }
    }

    /// Quotes the message being answered.
    #[must_use]
    pub fn quoting(mut self) -> Reply {
        self.quote = true;
        self
    }

    /// Mentions `who` (their user JID).
    #[must_use]
    pub fn mentioning(mut self, who: Jid) -> Reply {
        self.mentions.push(who);
        self
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Reply {
        Reply::text(text)
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Reply {
        Reply::text(text)
    }
}

// Texts and addresses stay out of logs.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("text_chars", &self.text.chars().count())
            .field("quote", &self.quote)
            .field("mentions", &self.mentions.len())
            .finish()
    }
}

/// One thing a handler asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A text to `to` (the message's chat for a reply).
    Text { to: Jid, reply: Reply },
    /// A reaction to the message (an empty emoji takes one back).
    React { emoji: String },
}

/// The answers to one message, as its handler builds them.
#[derive(Debug)]
pub struct Context {
    chat: Jid,
    now: UnixMillis,
    actions: Vec<Action>,
}

impl Context {
    /// For `message`, handled at `now`.
    #[must_use]
    pub fn new(message: &Incoming, now: UnixMillis) -> Context {
        Context {
            chat: chat_of(&message.chat),
            now,
            actions: Vec::new(),
        }
    }

    /// Answers in the message's chat (the group, or the contact).
    pub fn reply(&mut self, reply: impl Into<Reply>) {
        let to = self.chat.clone();
        self.actions.push(Action::Text {
            to,
            reply: reply.into(),
        });
    }

    /// Sends to another chat (a user or group JID); a quote there still
    /// points at the message being answered.
    pub fn send(&mut self, to: &Jid, reply: impl Into<Reply>) {
        self.actions.push(Action::Text {
            to: chat_of(to),
            reply: reply.into(),
        });
    }

    /// Reacts to the message with `emoji` ("" takes a reaction back).
    pub fn react(&mut self, emoji: &str) {
        self.actions.push(Action::React {
            emoji: emoji.to_owned(),
        });
    }

    /// Where replies go: the group, or the contact (without a device).
    #[must_use]
    pub fn chat(&self) -> &Jid {
        &self.chat
    }

    /// When the message is being handled.
    #[must_use]
    pub fn now(&self) -> UnixMillis {
        self.now
    }

    /// What was asked so far.
    #[must_use]
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    pub(crate) fn into_actions(self) -> Vec<Action> {
        self.actions
    }
}

/// `jid` without its device: where a chat's messages go.
#[must_use]
pub fn chat_of(jid: &Jid) -> Jid {
    Jid::new(jid.user().to_owned(), jid.server().to_owned())
}
