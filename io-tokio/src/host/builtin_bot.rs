//! The `blacksky` binary's own bot: the built-in commands (`.menu`,
//! `.ping`, `.restart`, …) as the configuration sets them up (`PREFIX`,
//! `LANGUAGE`, `OWNER_NUMBER`), or nothing with `COMMANDS=off`.

use blacksky_bot::commands::{
    Account, Commands, CommandsConfig, GroupEvent, Owners, RegistryError, Settings,
};
use blacksky_bot::{Context, Handler, Incoming, Jid, Refusal, Reply};

use crate::host::config::Config;
use crate::host::runtime_facts::BoardFacts;

/// The commands, or silence.
#[derive(Debug)]
pub enum BuiltinBot {
    Commands(Box<Commands>),
    /// `COMMANDS=off`: the bot stores and logs, and answers only from
    /// the auto-reply file.
    Off,
}

impl BuiltinBot {
    /// As `config` says. The settings commands changed are restored from
    /// the store when the session starts ([`Handler::restore_settings`]),
    /// the linked account once the creds name it.
    pub fn from_config(config: &Config, facts: BoardFacts) -> Result<BuiltinBot, RegistryError> {
        if !config.commands {
            tracing::info!("bot commands are off (COMMANDS=off)");
            return Ok(BuiltinBot::Off);
        }
        let groups = facts.clone();
        let commands =
            Commands::with_builtins(commands_config(config), Settings::default(), facts, groups)?;
        tracing::info!(
            prefix = commands.prefixes().as_str(),
            language = %commands.language(),
            owners = config.owner_numbers.len(),
            "bot commands on"
        );
        Ok(BuiltinBot::Commands(Box::new(commands)))
    }
}

/// The registry's settings from the configuration.
#[must_use]
pub fn commands_config(config: &Config) -> CommandsConfig {
    let numbers: Vec<&str> = config.owner_numbers.iter().map(|p| p.digits()).collect();
    CommandsConfig {
        prefixes: config.prefixes.clone(),
        language: config.language,
        // The configuration checked each number already.
        owners: Owners::parse(&numbers.join(",")).unwrap_or_default(),
        account: Account::default(),
    }
}

impl Handler for BuiltinBot {
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context) {
        if let BuiltinBot::Commands(commands) = self {
            commands.on_message(message, ctx);
        }
    }

    fn exempt_from_rate_limit(&self, message: &Incoming) -> bool {
        match self {
            BuiltinBot::Commands(commands) => commands.exempt_from_rate_limit(message),
            BuiltinBot::Off => false,
        }
    }

    fn kept_settings(&self) -> Option<&Settings> {
        match self {
            BuiltinBot::Commands(commands) => Handler::kept_settings(&**commands),
            BuiltinBot::Off => None,
        }
    }

    fn restore_settings(&mut self, settings: Settings) {
        if let BuiltinBot::Commands(commands) = self {
            Handler::restore_settings(&mut **commands, settings);
        }
    }

    fn linked_account(&mut self, account: Account) {
        if let BuiltinBot::Commands(commands) = self {
            commands.set_account(account);
        }
    }

    fn on_group_event(&mut self, event: &GroupEvent, ctx: &mut Context) {
        if let BuiltinBot::Commands(commands) = self {
            Handler::on_group_event(&mut **commands, event, ctx);
        }
    }

    fn refusal(&self, chat: &Jid, refusal: Refusal, people: &[Jid]) -> Option<Reply> {
        match self {
            BuiltinBot::Commands(commands) => Handler::refusal(&**commands, chat, refusal, people),
            BuiltinBot::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::session::worker::StoreHealth;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_env(&env).expect("valid")
    }

    #[test]
    fn the_configuration_sets_the_commands_up() {
        let config = config(&[
            ("OWNER_NUMBER", "15550001111, +49 155 6123456"),
            ("PREFIX", "!"),
            ("LANGUAGE", "de"),
        ]);
        let set_up = commands_config(&config);
        assert_eq!(set_up.owners.numbers(), ["15550001111", "491556123456"]);
        assert_eq!(set_up.prefixes.as_str(), "!");
        let facts = BoardFacts::new(&config, StoreHealth::new());
        let BuiltinBot::Commands(commands) =
            BuiltinBot::from_config(&config, facts).expect("builds")
        else {
            panic!("commands are on by default");
        };
        assert_eq!(commands.prefixes().as_str(), "!");
        assert_eq!(commands.language().code(), "de");
    }

    #[test]
    fn commands_off_answers_nothing() {
        let config = config(&[("COMMANDS", "off")]);
        let facts = BoardFacts::new(&config, StoreHealth::new());
        let bot = BuiltinBot::from_config(&config, facts).expect("builds");
        assert!(matches!(bot, BuiltinBot::Off));
        assert!(bot.kept_settings().is_none());
    }
}
