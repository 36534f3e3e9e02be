//! The registry: every command by name and alias, and the rules around
//! running one (where, who, how often, which arguments). It is a
//! [`Handler`], so it plugs into [`crate::Bot`] like auto-replies do, and
//! `Either(AutoReplies, Commands)` answers from the file first.

use std::collections::HashMap;
use std::fmt;

use blacksky_core::message::{Incoming, Kind};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

use super::args;
use super::call::{BotView, Call};
use super::command::{BotNeeds, Command, Cooldown, Scope, Spec};
use super::facts::{GroupFacts, GroupInfo, RuntimeFacts};
use super::format;
use super::group_event::{self, GroupEvent};
use super::language::Language;
use super::parse;
use super::prefixes::Prefixes;
use super::refusals::Refusals;
use super::role::{Account, Owners, Permission, Role, role_of};
use super::settings::{GroupSettings, Settings};
use super::texts::{Catalog, TextError};
use super::{antilink, builtin};
use crate::context::chat_of;
use crate::rate_limit::RateLimit;
use crate::{Action, Context, Handler, Reply};

/// Chats each cool-down follows at once.
pub const COOLDOWN_CHATS_MAX: usize = 10_000;
/// (sender, command) pairs whose refusals are remembered at once.
pub const REFUSALS_MAX: usize = 10_000;
/// Commands (names and aliases) at most.
pub const NAMES_MAX: usize = 1000;

/// The registry's settings from the environment.
#[derive(Debug, Clone, Default)]
pub struct CommandsConfig {
    /// `PREFIX` (a command's `setprefix` overrides it).
    pub prefixes: Prefixes,
    /// `LANGUAGE` (`lang` overrides it, per bot or per group).
    pub language: Language,
    /// `OWNER_NUMBER`.
    pub owners: Owners,
    /// The linked account, always an owner (the shell sets it once known:
    /// [`Commands::set_account`]).
    pub account: Account,
}

/// A command that cannot join the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("command name {name:?} is not lowercase letters, digits, - and _")]
    BadName { name: String },
    #[error("command name {name:?} is taken by command {by:?}")]
    NameTaken { name: String, by: String },
    #[error("command {command:?} uses text {key:?}, which is not in every language's table")]
    MissingText { command: String, key: String },
    #[error("command {command:?} brings texts that do not fit: {source}")]
    Texts { command: String, source: TextError },
    #[error("more than {NAMES_MAX} command names and aliases")]
    TooMany,
}

/// The commands, their texts and settings, and what they know of the
/// world.
pub struct Commands {
    config: CommandsConfig,
    settings: Settings,
    commands: Vec<Box<dyn Command>>,
    names: HashMap<&'static str, usize>,
    catalog: Catalog,
    runtime: Box<dyn RuntimeFacts>,
    groups: Box<dyn GroupFacts>,
    refusals: Refusals,
    cooldowns: HashMap<&'static str, RateLimit>,
}

impl Commands {
    /// No commands yet; `settings` as stored (defaults on a first start).
    pub fn new(
        config: CommandsConfig,
        settings: Settings,
        runtime: impl RuntimeFacts,
        groups: impl GroupFacts,
    ) -> Result<Commands, RegistryError> {
        let catalog = Catalog::builtin().map_err(|source| RegistryError::Texts {
            command: "(built-in tables)".into(),
            source,
        })?;
        Ok(Commands {
            config,
            settings,
            commands: Vec::new(),
            names: HashMap::new(),
            catalog,
            runtime: Box::new(runtime),
            groups: Box::new(groups),
            refusals: Refusals::new(REFUSALS_MAX),
            cooldowns: HashMap::new(),
        })
    }

    /// With every built-in command.
    pub fn with_builtins(
        config: CommandsConfig,
        settings: Settings,
        runtime: impl RuntimeFacts,
        groups: impl GroupFacts,
    ) -> Result<Commands, RegistryError> {
        let mut commands = Commands::new(config, settings, runtime, groups)?;
        for command in builtin::all() {
            commands.register_boxed(command)?;
        }
        Ok(commands)
    }

    /// Adds `command` (a plugin: one line).
    pub fn register(&mut self, command: impl Command) -> Result<(), RegistryError> {
        self.register_boxed(Box::new(command))
    }

    pub fn register_boxed(&mut self, command: Box<dyn Command>) -> Result<(), RegistryError> {
        let spec = *command.spec();
        let names: Vec<&'static str> = std::iter::once(spec.name)
            .chain(spec.aliases.iter().copied())
            .collect();
        if self.names.len() + names.len() > NAMES_MAX {
            return Err(RegistryError::TooMany);
        }
        for (index, name) in names.iter().enumerate() {
            let valid = !name.is_empty()
                && name.chars().count() <= parse::NAME_MAX_CHARS
                && name
                    .chars()
                    .all(|c| c.is_lowercase() || c.is_numeric() || c == '-' || c == '_')
                && !name.chars().all(|c| c.is_ascii_digit());
            if !valid {
                return Err(RegistryError::BadName {
                    name: (*name).to_owned(),
                });
            }
            let taken = self
                .names
                .get(name)
                .map(|&at| self.commands[at].spec().name)
                .or_else(|| names[..index].contains(name).then_some(spec.name));
            if let Some(by) = taken {
                return Err(RegistryError::NameTaken {
                    name: (*name).to_owned(),
                    by: by.to_owned(),
                });
            }
        }
        let mut catalog = self.catalog.clone();
        catalog
            .add(&|language| command.texts(language))
            .map_err(|source| RegistryError::Texts {
                command: spec.name.to_owned(),
                source,
            })?;
        let title = matches!(spec.category, super::Category::Custom { .. })
            .then_some(spec.category.title_key());
        for key in [Some(spec.help), Some(spec.usage), title]
            .into_iter()
            .flatten()
        {
            if !catalog.has(key) {
                return Err(RegistryError::MissingText {
                    command: spec.name.to_owned(),
                    key: key.to_owned(),
                });
            }
        }
        self.catalog = catalog;
        let index = self.commands.len();
        self.commands.push(command);
        for name in names {
            self.names.insert(name, index);
        }
        Ok(())
    }

    /// The linked account, once the session knows it.
    pub fn set_account(&mut self, account: Account) {
        self.config.account = account;
    }

    /// The settings as commands left them.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The prefixes in effect.
    #[must_use]
    pub fn prefixes(&self) -> &Prefixes {
        self.settings
            .prefixes
            .as_ref()
            .unwrap_or(&self.config.prefixes)
    }

    /// The language of the bot (outside any group's override).
    #[must_use]
    pub fn language(&self) -> Language {
        self.settings.language.unwrap_or(self.config.language)
    }

    /// The texts of every registered command.
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A change to a group: members added or gone get its welcome or
    /// goodbye, when on. Answers go to the group and quote nothing; turn
    /// them into outbox entries with [`crate::compose::unanswered_entries`].
    pub fn on_group_event(&mut self, event: &GroupEvent, ctx: &mut Context) {
        let Some((membership, _)) = event.membership() else {
            return;
        };
        let settings = self.settings.group(&event.group);
        if !settings.greeting(membership.greeting()).state.is_on() {
            return;
        }
        let info = self.groups.group(&event.group);
        let language = settings.language.unwrap_or(self.language());
        group_event::greet(
            event,
            &settings,
            info.as_ref(),
            &self.config.account,
            &self.catalog,
            language,
            ctx,
        );
    }

    fn handle(&mut self, message: &Incoming, ctx: &mut Context) {
        let Some(text) = command_text(message) else {
            return;
        };
        let chat = chat_of(&message.chat);
        let in_group = chat.server() == "g.us";
        let group_settings = if in_group {
            self.settings.group(&chat)
        } else {
            GroupSettings::default()
        };
        let language = group_settings.language.unwrap_or(self.language());
        // Without the group's members the bot cannot tell an admin's link
        // from a member's: it lets the link be.
        if in_group
            && group_settings.antilink.is_on()
            && antilink::has_invite_link(text)
            && let Some(info) = self.groups.group(&chat)
        {
            let role = role_of(
                &message.sender,
                &self.config.owners,
                &self.config.account,
                Some(&info),
            );
            if role == Role::Everyone {
                antilink::act(
                    message,
                    &info,
                    &self.config.account,
                    &self.catalog,
                    language,
                    ctx,
                );
                return;
            }
        }
        let Some(invocation) = parse::invocation(text, self.prefixes()) else {
            return;
        };
        let Some(&index) = self.names.get(invocation.name.as_str()) else {
            // In a group a stray `.word` is someone's text; alone with the
            // bot it is a question.
            if !in_group {
                let command = format!("{}{}", invocation.prefix, invocation.name);
                let menu = format!("{}menu", invocation.prefix);
                let text = self.catalog.render(
                    language,
                    "unknown_command",
                    &[("command", &command), ("menu", &menu)],
                );
                ctx.reply(Reply::text(text).quoting());
            }
            return;
        };
        let spec = *self.commands[index].spec();
        let info = if in_group {
            self.groups.group(&chat)
        } else {
            None
        };
        let role = role_of(
            &message.sender,
            &self.config.owners,
            &self.config.account,
            info.as_ref(),
        );
        let refusal = Refusal {
            sender: sender_key(message),
            command: spec.name,
            shown: format!("{}{}", invocation.prefix, spec.name),
            language,
            now: ctx.now(),
        };
        match self.gate(&spec, role, &chat, info.as_ref(), ctx.now()) {
            Gate::Open => {}
            Gate::Refused(reason) => return self.refuse(&refusal, reason, ctx),
            Gate::Resting { notice } => {
                if notice {
                    let text =
                        self.catalog
                            .render(language, "cooldown", &[("command", &refusal.shown)]);
                    ctx.reply(Reply::text(text).quoting());
                }
                return;
            }
        }
        let args = match args::read(spec.args, invocation.rest, message.content.context()) {
            Ok(args) => args,
            Err(err) => return self.usage(language, &spec, &err, invocation.prefix, ctx),
        };
        let first_new = ctx.actions().len();
        let call = Call {
            message,
            args,
            role,
            prefix: invocation.prefix,
            language,
            now: ctx.now(),
            group: info.as_ref(),
            bot: BotView {
                commands: &self.commands,
                catalog: &self.catalog,
                settings: &self.settings,
                prefixes: self
                    .settings
                    .prefixes
                    .as_ref()
                    .unwrap_or(&self.config.prefixes),
                default_language: self.settings.language.unwrap_or(self.config.language),
                configured_language: self.config.language,
                owners: &self.config.owners,
                account: &self.config.account,
                runtime: &*self.runtime,
            },
        };
        tracing::debug!(command = spec.name, ?role, "running a command");
        self.commands[index].run(&call, ctx);
        for action in &ctx.actions()[first_new..] {
            if let Action::Setting(change) = action
                && let Err(err) = self.settings.apply(change)
            {
                // Commands check first (Settings::check): this is a bug.
                tracing::error!(%err, command = spec.name, "a setting change was not applied");
            }
        }
    }

    /// Whether `spec` may run for `role` in `chat` now (a cool-down that
    /// lets it run counts the run).
    fn gate(
        &mut self,
        spec: &Spec,
        role: Role,
        chat: &Jid,
        info: Option<&GroupInfo>,
        now: UnixMillis,
    ) -> Gate {
        let in_group = chat.server() == "g.us";
        if spec.scope == Scope::Groups && !in_group {
            return Gate::Refused("refused.groups_only");
        }
        if !spec.permission.allows(role) {
            return Gate::Refused(
                if in_group && info.is_none() && spec.permission == Permission::GroupAdmin {
                    "refused.group_unknown"
                } else if spec.permission == Permission::Owner || !in_group {
                    "refused.owner"
                } else {
                    "refused.admin"
                },
            );
        }
        if spec.bot_needs == BotNeeds::GroupAdmin && in_group {
            match info {
                None => return Gate::Refused("refused.group_unknown"),
                Some(info) if !bot_is_admin(info, &self.config.account) => {
                    return Gate::Refused("refused.bot_not_admin");
                }
                Some(_) => {}
            }
        }
        if let Cooldown::PerChatPerMinute(per_min) = spec.cooldown
            && role != Role::Owner
        {
            let admission = self
                .cooldowns
                .entry(spec.name)
                .or_insert_with(|| RateLimit::new(per_min, COOLDOWN_CHATS_MAX))
                .admit(&chat.to_string(), now, 1);
            if admission.admitted == 0 {
                return Gate::Resting {
                    notice: admission.notice,
                };
            }
        }
        Gate::Open
    }

    fn refuse(&mut self, refusal: &Refusal, key: &'static str, ctx: &mut Context) {
        tracing::debug!(command = refusal.command, reason = key, "command refused");
        if self
            .refusals
            .tell(&refusal.sender, refusal.command, key, refusal.now)
        {
            let text = self
                .catalog
                .render(refusal.language, key, &[("command", &refusal.shown)]);
            ctx.reply(Reply::text(text).quoting());
        }
    }

    fn usage(
        &self,
        language: Language,
        spec: &Spec,
        err: &args::ArgError,
        prefix: char,
        ctx: &mut Context,
    ) {
        let prefix = prefix.to_string();
        let usage = self.catalog.render(
            language,
            spec.usage,
            &[("prefix", &prefix), ("command", spec.name)],
        );
        let usage_line = self.catalog.render(language, "usage", &[("usage", &usage)]);
        let max = args::TEXT_MAX_CHARS.to_string();
        let problem = match err {
            args::ArgError::Missing { .. } => None,
            args::ArgError::NotANumber { got, .. } => Some(self.catalog.render(
                language,
                "arg.not_a_number",
                &[("got", got)],
            )),
            args::ArgError::NotAChoice { got, choices, .. } => Some(self.catalog.render(
                language,
                "arg.not_a_choice",
                &[("got", got), ("choices", &choices.join(", "))],
            )),
            args::ArgError::NoUser { .. } => {
                Some(self.catalog.render(language, "arg.no_user", &[]))
            }
            args::ArgError::NoQuote { .. } => {
                Some(self.catalog.render(language, "arg.no_quote", &[]))
            }
            args::ArgError::TooLong { .. } => Some(self.catalog.render(
                language,
                "arg.too_long",
                &[("max", &max)],
            )),
        };
        let text = match problem {
            Some(problem) => format!("{problem}\n{usage_line}"),
            None => usage_line,
        };
        ctx.reply(Reply::text(text).quoting());
    }
}

/// Whether a command may run now.
enum Gate {
    Open,
    /// Not here, not for this caller, or not without the bot as admin:
    /// the text key saying so.
    Refused(&'static str),
    /// Its cool-down in this chat: tell the chat (once).
    Resting {
        notice: bool,
    },
}

/// Who a refusal is for, and in which words.
struct Refusal {
    sender: String,
    command: &'static str,
    /// The command as typed (`.kick`).
    shown: String,
    language: Language,
    now: UnixMillis,
}

impl Handler for Commands {
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context) {
        self.handle(message, ctx);
    }

    fn exempt_from_rate_limit(&self, message: &Incoming) -> bool {
        role_of(
            &message.sender,
            &self.config.owners,
            &self.config.account,
            None,
        ) == Role::Owner
    }

    fn kept_settings(&self) -> Option<&Settings> {
        Some(&self.settings)
    }

    fn restore_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }

    fn linked_account(&mut self, account: Account) {
        self.set_account(account);
    }

    fn on_group_event(&mut self, event: &GroupEvent, ctx: &mut Context) {
        Commands::on_group_event(self, event, ctx);
    }

    fn refusal(&self, chat: &Jid, refusal: crate::Refusal, people: &[Jid]) -> Option<Reply> {
        use crate::Refusal;
        let chat = chat_of(chat);
        let language = self
            .settings
            .group(&chat)
            .language
            .unwrap_or(self.language());
        let text = match refusal {
            Refusal::NotAdmin => self.catalog.render(language, "effect.not_admin", &[]),
            _ if !people.is_empty() => self.catalog.render(
                language,
                "effect.people_refused",
                &[("users", &format::mentions(people))],
            ),
            other => self.catalog.render(
                language,
                "effect.refused",
                &[("reason", &other.to_string())],
            ),
        };
        let mut reply = Reply::text(text);
        for person in people {
            reply = reply.mentioning(person.clone());
        }
        Some(reply)
    }
}

/// The text commands are read from: a text or a caption (not an edit,
/// a reaction or the protocol's).
fn command_text(message: &Incoming) -> Option<&str> {
    match &message.content.kind {
        Kind::Text(_) | Kind::Media(_) => message.content.text(),
        _ => None,
    }
}

fn bot_is_admin(info: &GroupInfo, account: &Account) -> bool {
    info.rank_of(account.jids())
        .is_some_and(|rank| rank.is_admin())
}

/// Who refusals are remembered for: the author, by LID when known.
fn sender_key(message: &Incoming) -> String {
    let sender = &message.sender;
    sender
        .lid
        .as_ref()
        .or(sender.pn.as_ref())
        .map_or_else(|| message.chat.user().to_owned(), |jid| jid.to_string())
}

impl fmt::Debug for Commands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commands")
            .field("commands", &self.commands.len())
            .field("prefixes", self.prefixes())
            .field("language", &self.language())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
