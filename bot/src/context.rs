//! What a handler can ask for in answer to one message: replies (quoting
//! it, mentioning people), reactions, texts to other chats, and effects
//! the shell performs (group admin actions, owner controls, broadcasts,
//! setting changes).

use std::fmt;

use blacksky_core::message::Incoming;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;
use serde::{Deserialize, Serialize};

use crate::commands::effects::{GroupChange, OwnerControl};
use crate::commands::settings::SettingChange;
use crate::media_send::MediaSpec;

/// A text to send, maybe quoting the message it answers and mentioning
/// people (write `@<number>` in the text for each, as WhatsApp shows it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    #[serde(default)]
    pub quote: bool,
    #[serde(default, with = "crate::jid_serde::list")]
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

/// One thing a handler asked for. `Text` and `React` are messages (the
/// outbox sends them); the others are effects the shell performs. All
/// have a stable JSON form (`{"action": "text", ...}`) so effects can be
/// stored in the transaction that marks the message handled.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A text to `to` (the message's chat for a reply).
    Text {
        #[serde(with = "crate::jid_serde")]
        to: Jid,
        reply: Reply,
    },
    /// A reaction to the message (an empty emoji takes one back).
    React { emoji: String },
    /// A media file to `to` with `caption` (its text may be empty; its
    /// mentions are the message's). An effect: the shell uploads the file
    /// (or reuses an earlier upload of it), then queues the message.
    Media {
        #[serde(with = "crate::jid_serde")]
        to: Jid,
        media: Box<MediaSpec>,
        caption: Reply,
        /// Said in the chat instead when the source cannot be used (a
        /// received file that does not download, is too large or is no
        /// image a sticker can be made of).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unusable: Option<Reply>,
    },
    /// Delete message `id` of `author` in `chat` for everyone (as a group
    /// admin: a `protocolMessage` of type REVOKE naming its key).
    Delete {
        #[serde(with = "crate::jid_serde")]
        chat: Jid,
        id: String,
        #[serde(with = "crate::jid_serde::option")]
        author: Option<Jid>,
    },
    /// A change to a group the bot administers; `done` is said in the
    /// group once WhatsApp made it.
    Group {
        #[serde(with = "crate::jid_serde")]
        group: Jid,
        change: GroupChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Reply>,
    },
    /// Restart, backup, block: the owner's controls.
    Owner(OwnerControl),
    /// `text` to every group the bot is in (paced, from the durable outbox).
    Broadcast { text: String },
    /// A setting a command changed, to be stored.
    Setting(SettingChange),
}

impl Action {
    /// Whether it is a message the outbox sends (else an effect).
    #[must_use]
    pub fn is_message(&self) -> bool {
        matches!(self, Action::Text { .. } | Action::React { .. })
    }

    /// The stable JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(json: &str) -> Result<Action, serde_json::Error> {
        serde_json::from_str(json)
    }
}

// Addresses and texts stay out of logs.
impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Text { to, reply } => f
                .debug_struct("Text")
                .field("to_server", &to.server())
                .field("reply", reply)
                .finish(),
            Action::React { emoji } => f.debug_struct("React").field("emoji", emoji).finish(),
            Action::Media {
                to, media, caption, ..
            } => f
                .debug_struct("Media")
                .field("to_server", &to.server())
                .field("media", media)
                .field("caption", caption)
                .finish(),
            Action::Delete { .. } => f.write_str("Delete"),
            Action::Group { change, .. } => f.debug_tuple("Group").field(change).finish(),
            Action::Owner(control) => f.debug_tuple("Owner").field(control).finish(),
            Action::Broadcast { text } => f
                .debug_struct("Broadcast")
                .field("text_chars", &text.chars().count())
                .finish(),
            Action::Setting(change) => f.debug_tuple("Setting").field(change).finish(),
        }
    }
}

/// The answers to one message, as its handler builds them.
#[derive(Debug)]
pub struct Context {
    chat: Jid,
    now: UnixMillis,
    actions: Vec<Action>,
    /// The message mentions the bot (an `@` of its number or LID).
    bot_mentioned: bool,
}

impl Context {
    /// For `message`, handled at `now`.
    #[must_use]
    pub fn new(message: &Incoming, now: UnixMillis) -> Context {
        Context::for_chat(&message.chat, now)
    }

    /// For an event in `chat` that is no message (a member joined a
    /// group): replies go to `chat` and quote nothing.
    #[must_use]
    pub fn for_chat(chat: &Jid, now: UnixMillis) -> Context {
        Context {
            chat: chat_of(chat),
            now,
            actions: Vec::new(),
            bot_mentioned: false,
        }
    }

    /// Says whether the message mentions the bot (set by [`crate::Bot`],
    /// which knows the linked account).
    #[must_use]
    pub fn with_bot_mentioned(mut self, mentioned: bool) -> Context {
        self.bot_mentioned = mentioned;
        self
    }

    /// True when the message being answered mentions the bot (`@` its
    /// number or LID), as WhatsApp shows a mention: in groups, the usual
    /// way to call a bot without a command.
    #[must_use]
    pub fn mentions_bot(&self) -> bool {
        self.bot_mentioned
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

    /// Sends a media file in the message's chat.
    pub fn send_media(&mut self, media: MediaSpec, caption: impl Into<Reply>) {
        let to = self.chat.clone();
        self.actions.push(Action::Media {
            to,
            media: Box::new(media),
            caption: caption.into(),
            unusable: None,
        });
    }

    /// Asks for an effect (or any action) as it is.
    pub fn perform(&mut self, action: Action) {
        self.actions.push(action);
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

    /// What was asked, taken out.
    #[must_use]
    pub fn into_actions(self) -> Vec<Action> {
        self.actions
    }
}

/// `jid` without its device: where a chat's messages go.
#[must_use]
pub fn chat_of(jid: &Jid) -> Jid {
    Jid::new(jid.user().to_owned(), jid.server().to_owned())
}
