//! Settings commands change and a dyno cycle keeps: per bot (prefixes,
//! language) and per group (language, welcome and goodbye, antilink).
//!
//! A change leaves the handler as an [`crate::Action::Setting`] with a
//! stable JSON form; the shell stores it in the transaction that marks
//! the message handled, and hands the [`Settings`] back at the next start
//! ([`SettingsStore`] is that contract; [`MemorySettings`] the in-memory
//! one for tests).

use std::collections::BTreeMap;
use std::fmt;

use blacksky_core::wire::binary::Jid;
use serde::{Deserialize, Serialize};

use super::language::Language;
use super::prefixes::Prefixes;

/// Groups with settings of their own, at most.
pub const GROUPS_MAX: usize = 10_000;
/// A welcome or goodbye text, at most (characters).
pub const GREETING_MAX_CHARS: usize = 1000;

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    On,
    #[default]
    Off,
}

impl Toggle {
    #[must_use]
    pub fn is_on(self) -> bool {
        self == Toggle::On
    }
}

/// Which greeting: to members who join, or who leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GreetingKind {
    Welcome,
    Goodbye,
}

/// A welcome or goodbye: whether it is sent, and its text (`None`: the
/// language's standard text). `{user}` and `{group}` are filled in.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Greeting {
    #[serde(default)]
    pub state: Toggle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One group's settings.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupSettings {
    /// `None`: the bot's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default)]
    pub welcome: Greeting,
    #[serde(default)]
    pub goodbye: Greeting,
    #[serde(default)]
    pub antilink: Toggle,
}

impl GroupSettings {
    #[must_use]
    pub fn greeting(&self, kind: GreetingKind) -> &Greeting {
        match kind {
            GreetingKind::Welcome => &self.welcome,
            GreetingKind::Goodbye => &self.goodbye,
        }
    }

    fn greeting_mut(&mut self, kind: GreetingKind) -> &mut Greeting {
        match kind {
            GreetingKind::Welcome => &mut self.welcome,
            GreetingKind::Goodbye => &mut self.goodbye,
        }
    }
}

/// Everything commands changed. Bot-wide values are `None` until a
/// command sets them (then `PREFIX`/`LANGUAGE` no longer apply).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<Prefixes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// By group JID; groups with only defaults are left out.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSettings>,
}

/// One change a command made.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "setting", rename_all = "snake_case")]
pub enum SettingChange {
    Prefixes {
        prefixes: Prefixes,
    },
    /// `None`: back to `LANGUAGE`.
    Language {
        language: Option<Language>,
    },
    /// `None`: back to the bot's language.
    GroupLanguage {
        #[serde(with = "crate::jid_serde")]
        group: Jid,
        language: Option<Language>,
    },
    Greeting {
        #[serde(with = "crate::jid_serde")]
        group: Jid,
        kind: GreetingKind,
        state: Toggle,
    },
    /// `None`: the standard text.
    GreetingText {
        #[serde(with = "crate::jid_serde")]
        group: Jid,
        kind: GreetingKind,
        text: Option<String>,
    },
    Antilink {
        #[serde(with = "crate::jid_serde")]
        group: Jid,
        state: Toggle,
    },
}

/// A change that cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{GROUPS_MAX} groups already have settings of their own")]
    TooManyGroups,
    #[error("a greeting text has {chars} characters; at most {GREETING_MAX_CHARS}")]
    GreetingTooLong { chars: usize },
    #[error("stored settings do not read: {0}")]
    Unreadable(String),
}

impl Settings {
    /// One group's settings (defaults when it has none).
    #[must_use]
    pub fn group(&self, group: &Jid) -> GroupSettings {
        self.groups
            .get(&group_key(group))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether `change` can be kept ([`Settings::apply`] would succeed).
    pub fn check(&self, change: &SettingChange) -> Result<(), SettingsError> {
        if let SettingChange::GreetingText {
            text: Some(text), ..
        } = change
        {
            let chars = text.chars().count();
            if chars > GREETING_MAX_CHARS {
                return Err(SettingsError::GreetingTooLong { chars });
            }
        }
        let group = match change {
            SettingChange::Prefixes { .. } | SettingChange::Language { .. } => return Ok(()),
            SettingChange::GroupLanguage { group, .. }
            | SettingChange::Greeting { group, .. }
            | SettingChange::GreetingText { group, .. }
            | SettingChange::Antilink { group, .. } => group,
        };
        if !self.groups.contains_key(&group_key(group)) && self.groups.len() >= GROUPS_MAX {
            return Err(SettingsError::TooManyGroups);
        }
        Ok(())
    }

    /// Applies `change`; on an error nothing changed.
    pub fn apply(&mut self, change: &SettingChange) -> Result<(), SettingsError> {
        self.check(change)?;
        match change {
            SettingChange::Prefixes { prefixes } => self.prefixes = Some(prefixes.clone()),
            SettingChange::Language { language } => self.language = *language,
            SettingChange::GroupLanguage { group, language } => {
                self.edit_group(group, |settings| settings.language = *language);
            }
            SettingChange::Greeting { group, kind, state } => {
                self.edit_group(group, |settings| {
                    settings.greeting_mut(*kind).state = *state
                });
            }
            SettingChange::GreetingText { group, kind, text } => {
                self.edit_group(group, |settings| {
                    settings.greeting_mut(*kind).text.clone_from(text);
                });
            }
            SettingChange::Antilink { group, state } => {
                self.edit_group(group, |settings| settings.antilink = *state);
            }
        }
        Ok(())
    }

    /// Edits a group's settings (room checked by [`Settings::check`]).
    fn edit_group(&mut self, group: &Jid, edit: impl FnOnce(&mut GroupSettings)) {
        let key = group_key(group);
        let settings = self.groups.entry(key.clone()).or_default();
        edit(settings);
        if *settings == GroupSettings::default() {
            self.groups.remove(&key);
        }
    }

    /// The stable JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(json: &str) -> Result<Settings, SettingsError> {
        serde_json::from_str(json).map_err(|err| SettingsError::Unreadable(err.to_string()))
    }
}

impl SettingChange {
    /// The stable JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(json: &str) -> Result<SettingChange, SettingsError> {
        serde_json::from_str(json).map_err(|err| SettingsError::Unreadable(err.to_string()))
    }
}

fn group_key(group: &Jid) -> String {
    format!("{}@{}", group.user(), group.server())
}

/// Where settings survive restarts: the shell's store (a row written in
/// the same transaction as the handled mark), or memory in tests.
pub trait SettingsStore {
    /// The settings as last stored (defaults when none were).
    fn load(&self) -> Result<Settings, SettingsError>;
    /// Keeps `change` on top of what is stored.
    fn record(&mut self, change: &SettingChange) -> Result<(), SettingsError>;
}

/// Settings kept in memory, in their JSON form (as a store would keep
/// them): what a restart within one test reads back.
#[derive(Debug, Clone, Default)]
pub struct MemorySettings {
    json: Option<String>,
}

impl SettingsStore for MemorySettings {
    fn load(&self) -> Result<Settings, SettingsError> {
        self.json
            .as_deref()
            .map_or_else(|| Ok(Settings::default()), Settings::from_json)
    }

    fn record(&mut self, change: &SettingChange) -> Result<(), SettingsError> {
        let mut settings = self.load()?;
        settings.apply(change)?;
        self.json = Some(settings.to_json());
        Ok(())
    }
}

// Group JIDs and greeting texts stay out of logs.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("prefixes", &self.prefixes)
            .field("language", &self.language)
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl fmt::Debug for GroupSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSettings")
            .field("language", &self.language)
            .field("welcome", &self.welcome)
            .field("goodbye", &self.goodbye)
            .field("antilink", &self.antilink)
            .finish()
    }
}

impl fmt::Debug for Greeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greeting")
            .field("state", &self.state)
            .field("custom_text", &self.text.is_some())
            .finish()
    }
}

impl fmt::Debug for SettingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingChange::Prefixes { prefixes } => write!(f, "Prefixes({prefixes:?})"),
            SettingChange::Language { language } => write!(f, "Language({language:?})"),
            SettingChange::GroupLanguage { language, .. } => {
                write!(f, "GroupLanguage({language:?})")
            }
            SettingChange::Greeting { kind, state, .. } => {
                write!(f, "Greeting({kind:?}, {state:?})")
            }
            SettingChange::GreetingText { kind, text, .. } => {
                write!(f, "GreetingText({kind:?}, custom: {})", text.is_some())
            }
            SettingChange::Antilink { state, .. } => write!(f, "Antilink({state:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Jid {
        Jid::new("120363000000000001", "g.us")
    }

    #[test]
    fn changes_have_a_stable_json_form() {
        let change = SettingChange::GreetingText {
            group: group(),
            kind: GreetingKind::Welcome,
            text: Some("Hi {user}".into()),
        };
        let json = change.to_json();
        assert_eq!(
            json,
            r#"{"setting":"greeting_text","group":"120363000000000001@g.us","kind":"welcome","text":"Hi {user}"}"#
        );
        assert_eq!(SettingChange::from_json(&json), Ok(change.clone()));
        let prefixes = SettingChange::Prefixes {
            prefixes: Prefixes::new(".!").expect("valid"),
        };
        assert_eq!(
            prefixes.to_json(),
            r#"{"setting":"prefixes","prefixes":".!"}"#
        );
        assert!(SettingChange::from_json(r#"{"setting":"prefixes","prefixes":"a"}"#).is_err());
        assert!(!format!("{change:?}").contains("120363"), "{change:?}");
    }

    #[test]
    fn a_store_gives_back_what_changed_and_defaults_are_not_kept() {
        let mut store = MemorySettings::default();
        assert_eq!(store.load(), Ok(Settings::default()));
        for change in [
            SettingChange::Language {
                language: Some(Language::De),
            },
            SettingChange::Greeting {
                group: group(),
                kind: GreetingKind::Goodbye,
                state: Toggle::On,
            },
            SettingChange::Antilink {
                group: group(),
                state: Toggle::On,
            },
        ] {
            store.record(&change).expect("kept");
        }
        let settings = store.load().expect("reads");
        assert_eq!(settings.language, Some(Language::De));
        let in_group = settings.group(&group());
        assert_eq!(in_group.goodbye.state, Toggle::On);
        assert_eq!(in_group.antilink, Toggle::On);
        assert_eq!(in_group.welcome.state, Toggle::Off);
        for change in [
            SettingChange::Greeting {
                group: group(),
                kind: GreetingKind::Goodbye,
                state: Toggle::Off,
            },
            SettingChange::Antilink {
                group: group(),
                state: Toggle::Off,
            },
        ] {
            store.record(&change).expect("kept");
        }
        assert!(
            store.load().expect("reads").groups.is_empty(),
            "back to defaults"
        );
    }

    #[test]
    fn limits_are_kept() {
        let mut settings = Settings::default();
        let long = SettingChange::GreetingText {
            group: group(),
            kind: GreetingKind::Welcome,
            text: Some("x".repeat(GREETING_MAX_CHARS + 1)),
        };
        assert_eq!(
            settings.apply(&long),
            Err(SettingsError::GreetingTooLong {
                chars: GREETING_MAX_CHARS + 1
            })
        );
        for n in 0..GROUPS_MAX {
            let change = SettingChange::Antilink {
                group: Jid::new(format!("1203630{n}"), "g.us"),
                state: Toggle::On,
            };
            settings.apply(&change).expect("room");
        }
        let one_more = SettingChange::Antilink {
            group: group(),
            state: Toggle::On,
        };
        assert_eq!(settings.apply(&one_more), Err(SettingsError::TooManyGroups));
        assert_eq!(settings.groups.len(), GROUPS_MAX);
    }
}
