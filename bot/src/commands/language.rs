//! The languages the bot answers in (`LANGUAGE=en|de`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language with a full table of texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    De,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::De];

    /// The code users type and settings store: `en`, `de`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that has no table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language {given:?} is not known: use one of en, de")]
pub struct UnknownLanguage {
    pub given: String,
}

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(text: &str) -> Result<Language, UnknownLanguage> {
        Language::ALL
            .into_iter()
            .find(|language| language.code().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownLanguage {
                given: text.chars().take(16).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_others_are_named() {
        for language in Language::ALL {
            assert_eq!(language.code().parse::<Language>(), Ok(language));
        }
        assert_eq!(" DE ".parse::<Language>(), Ok(Language::De));
        let err = "fr".parse::<Language>().expect_err("no French table");
        assert!(err.to_string().contains("\"fr\""), "{err}");
    }
}
