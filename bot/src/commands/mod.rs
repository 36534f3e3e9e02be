//! Bot commands: `.menu`, `.ping`, `.kick @…`, and plugins written the
//! same way.
//!
//! Sans-I/O like the rest of the bot layer: a command reads the message,
//! its typed arguments ([`args`]) and what the shell hands in ([`facts`]),
//! and answers through the [`crate::Context`] with messages and effects
//! ([`effects`], [`settings`]) the shell performs and stores.
//!
//! - [`Commands`]: the registry, a [`crate::Handler`].
//! - [`Command`] and [`Spec`]: what a command is (see the plugin example
//!   there).
//! - [`texts`]: every text in English and German.

pub mod antilink;
pub mod args;
pub mod builtin;
mod call;
mod command;
pub mod effects;
pub mod facts;
pub mod format;
pub mod group_event;
pub mod language;
pub mod parse;
pub mod prefixes;
pub mod refusals;
mod registry;
pub mod role;
pub mod settings;
pub mod texts;

pub use args::{ArgError, ArgKind, ArgSpec, Args};
pub use call::Call;
pub use command::{BotNeeds, Category, Command, Cooldown, Scope, Spec};
pub use effects::{GroupChange, OwnerControl};
pub use facts::{
    Backup, GroupFacts, GroupInfo, NoFacts, Participant, Rank, RuntimeFacts, RuntimeSnapshot,
};
pub use group_event::{GroupEvent, Membership};
pub use language::{Language, UnknownLanguage};
pub use prefixes::{PrefixError, Prefixes};
pub use registry::{Commands, CommandsConfig, RegistryError};
pub use role::{Account, Owners, OwnersError, Permission, Role};
pub use settings::{
    GreetingKind, GroupSettings, MemorySettings, SettingChange, Settings, SettingsError,
    SettingsStore, Toggle,
};
pub use texts::{Catalog, Table, TextError};

#[cfg(test)]
mod tests;

/// The guide's plugin example compiles (`bot/COMMANDS.md`).
#[cfg(doctest)]
#[doc = include_str!("../../COMMANDS.md")]
struct CommandsGuide;
