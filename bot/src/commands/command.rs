//! A command, built in or a plugin: what it is called, who may run it,
//! where, how often, what arguments it takes, and what it does.
//!
//! A plugin is one file:
//!
//! ```
//! use blacksky_bot::Context;
//! use blacksky_bot::commands::{ArgKind, ArgSpec, Call, Category, Command, Language, Spec, Table};
//!
//! pub struct Echo;
//!
//! const SPEC: Spec = Spec {
//!     aliases: &["say"],
//!     args: &[ArgSpec::required("text", ArgKind::Rest)],
//!     ..Spec::new("echo", Category::General, "echo.help", "echo.usage")
//! };
//!
//! impl Command for Echo {
//!     fn spec(&self) -> &Spec {
//!         &SPEC
//!     }
//!
//!     fn texts(&self, language: Language) -> Table {
//!         match language {
//!             Language::En => &[("echo.help", "Says it back."), ("echo.usage", "{prefix}echo <text>")],
//!             Language::De => &[("echo.help", "Sagt es zurück."), ("echo.usage", "{prefix}echo <Text>")],
//!         }
//!     }
//!
//!     fn run(&self, call: &Call<'_>, ctx: &mut Context) {
//!         ctx.reply(call.args.rest("text").unwrap_or_default());
//!     }
//! }
//! ```
//!
//! and one line where the registry is built: `commands.register(Echo)?`.

use super::args::ArgSpec;
use super::call::Call;
use super::language::Language;
use super::role::Permission;
use super::texts::Table;
use crate::Context;

/// Where a command is listed in the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    General,
    Info,
    /// Reaction GIFs and stickers.
    Fun,
    Group,
    Owner,
    /// A plugin's own section, titled by the text `title_key`.
    Custom {
        title_key: &'static str,
    },
}

impl Category {
    /// The text key of the menu section's title.
    #[must_use]
    pub fn title_key(self) -> &'static str {
        match self {
            Category::General => "category.general",
            Category::Info => "category.info",
            Category::Fun => "category.fun",
            Category::Group => "category.group",
            Category::Owner => "category.owner",
            Category::Custom { title_key } => title_key,
        }
    }

    /// Menu order: the built-in sections, then plugins' in the order
    /// they were registered.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Category::General => 0,
            Category::Info => 1,
            Category::Fun => 2,
            Category::Group => 3,
            Category::Owner => 4,
            Category::Custom { .. } => 5,
        }
    }
}

/// Where a command may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Anywhere,
    Groups,
}

/// What the bot itself must be for a command to work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotNeeds {
    Nothing,
    /// An admin of the group (kick, add, links, …).
    GroupAdmin,
}

/// How often a noisy command may run in one chat (the owner is exempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cooldown {
    None,
    /// At most this many runs per chat in any minute.
    PerChatPerMinute(u32),
}

/// What the registry knows of a command before running it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Lowercase letters, digits, `-`, `_`.
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub category: Category,
    pub permission: Permission,
    pub scope: Scope,
    pub bot_needs: BotNeeds,
    pub cooldown: Cooldown,
    pub args: &'static [ArgSpec],
    /// Text keys: one line saying what it does, and its usage line
    /// (`{prefix}` is filled in).
    pub help: &'static str,
    pub usage: &'static str,
}

impl Spec {
    /// For everyone, anywhere, no arguments, no cool-down.
    #[must_use]
    pub const fn new(
        name: &'static str,
        category: Category,
        help: &'static str,
        usage: &'static str,
    ) -> Spec {
        Spec {
            name,
            aliases: &[],
            category,
            permission: Permission::Everyone,
            scope: Scope::Anywhere,
            bot_needs: BotNeeds::Nothing,
            cooldown: Cooldown::None,
            args: &[],
            help,
            usage,
        }
    }

    /// For the owner, anywhere.
    #[must_use]
    pub const fn owner(name: &'static str, help: &'static str, usage: &'static str) -> Spec {
        Spec {
            permission: Permission::Owner,
            ..Spec::new(name, Category::Owner, help, usage)
        }
    }

    /// For a group's admins, in groups, with the bot an admin too.
    #[must_use]
    pub const fn group_admin(name: &'static str, help: &'static str, usage: &'static str) -> Spec {
        Spec {
            permission: Permission::GroupAdmin,
            scope: Scope::Groups,
            bot_needs: BotNeeds::GroupAdmin,
            ..Spec::new(name, Category::Group, help, usage)
        }
    }
}

/// A command. Implement it in one file and register it; the built-ins
/// are written the same way.
pub trait Command: Send + 'static {
    fn spec(&self) -> &Spec;

    /// Texts the command brings (keys it uses beyond the built-in
    /// tables), per language; every language must have the same keys.
    fn texts(&self, _language: Language) -> Table {
        &[]
    }

    /// Does the work: answers and effects go into `ctx`. It runs only
    /// when the caller may, the chat and the bot fit, and the arguments
    /// read.
    fn run(&self, call: &Call<'_>, ctx: &mut Context);
}
