//! One run of a command: the message, its arguments, who called, and
//! what the bot knows, with the texts in the chat's language.

use std::fmt;

use blacksky_core::message::Incoming;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

use super::args::Args;
use super::command::Command;
use super::facts::{GroupInfo, RuntimeFacts, RuntimeSnapshot};
use super::language::Language;
use super::prefixes::Prefixes;
use super::role::{Account, Owners, Role};
use super::settings::{GroupSettings, Settings};
use super::texts::Catalog;
use crate::context::chat_of;
use crate::{Context, Reply};

/// What a command's `run` is given.
pub struct Call<'a> {
    pub message: &'a Incoming,
    pub args: Args,
    pub role: Role,
    /// The prefix it was called with.
    pub prefix: char,
    /// The language to answer in (the group's, else the bot's).
    pub language: Language,
    pub now: UnixMillis,
    /// The group's members, when in a group whose members are known.
    pub group: Option<&'a GroupInfo>,
    pub(crate) bot: BotView<'a>,
}

/// The registry's parts a call may read.
#[derive(Clone, Copy)]
pub(crate) struct BotView<'a> {
    pub commands: &'a [Box<dyn Command>],
    pub catalog: &'a Catalog,
    pub settings: &'a Settings,
    pub prefixes: &'a Prefixes,
    pub default_language: Language,
    pub configured_language: Language,
    pub owners: &'a Owners,
    pub account: &'a Account,
    pub runtime: &'a dyn RuntimeFacts,
}

impl Call<'_> {
    /// `key` in the call's language, `{prefix}` filled in.
    #[must_use]
    pub fn text(&self, key: &str) -> String {
        self.render(key, &[])
    }

    /// `key` in the call's language with `values` (and `{prefix}`) filled
    /// in.
    #[must_use]
    pub fn render(&self, key: &str, values: &[(&str, &str)]) -> String {
        self.render_in(self.language, key, values)
    }

    /// `key` in `language`.
    #[must_use]
    pub fn render_in(&self, language: Language, key: &str, values: &[(&str, &str)]) -> String {
        let prefix = self.prefix.to_string();
        let mut all: Vec<(&str, &str)> = values.to_vec();
        all.push(("prefix", &prefix));
        self.bot.catalog.render(language, key, &all)
    }

    /// Answers in the chat, quoting the command.
    pub fn answer(&self, ctx: &mut Context, key: &str, values: &[(&str, &str)]) {
        ctx.reply(Reply::text(self.render(key, values)).quoting());
    }

    /// `name` as typed to run it (`.menu`).
    #[must_use]
    pub fn command_ref(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The chat (group or contact), without a device.
    #[must_use]
    pub fn chat(&self) -> Jid {
        chat_of(&self.message.chat)
    }

    /// The group the command runs in, if any.
    #[must_use]
    pub fn group_jid(&self) -> Option<Jid> {
        (self.message.chat.server() == "g.us").then(|| self.chat())
    }

    /// The settings of this chat's group (defaults outside groups).
    #[must_use]
    pub fn group_settings(&self) -> GroupSettings {
        self.group_jid()
            .map(|group| self.bot.settings.group(&group))
            .unwrap_or_default()
    }

    #[must_use]
    pub fn settings(&self) -> &Settings {
        self.bot.settings
    }

    /// The bot's language (outside any group's override).
    #[must_use]
    pub fn bot_language(&self) -> Language {
        self.bot.default_language
    }

    /// `LANGUAGE`: what the bot speaks when no command chose.
    #[must_use]
    pub fn configured_language(&self) -> Language {
        self.bot.configured_language
    }

    #[must_use]
    pub fn prefixes(&self) -> &Prefixes {
        self.bot.prefixes
    }

    #[must_use]
    pub fn owners(&self) -> &Owners {
        self.bot.owners
    }

    /// The linked account (the bot itself).
    #[must_use]
    pub fn account(&self) -> &Account {
        self.bot.account
    }

    /// The runtime's numbers now.
    #[must_use]
    pub fn runtime(&self) -> RuntimeSnapshot {
        self.bot.runtime.snapshot(self.now)
    }

    /// Every registered command, in registration order.
    pub fn commands(&self) -> impl Iterator<Item = &dyn Command> {
        self.bot.commands.iter().map(|command| &**command)
    }

    /// The command called `name` or an alias of it.
    #[must_use]
    pub fn find_command(&self, name: &str) -> Option<&dyn Command> {
        let name = name.to_lowercase();
        self.commands().find(|command| {
            let spec = command.spec();
            spec.name == name || spec.aliases.contains(&name.as_str())
        })
    }

    /// The catalog of texts (for a plugin rendering in another language).
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        self.bot.catalog
    }
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("message", self.message)
            .field("args", &self.args)
            .field("role", &self.role)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}
