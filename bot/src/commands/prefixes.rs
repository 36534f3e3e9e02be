//! The signs a command starts with (`PREFIX`, default `.`): each
//! character of the setting is one prefix, so `.!` allows `.menu` and
//! `!menu`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Prefixes past this many are refused.
pub const PREFIXES_MAX: usize = 8;

/// One to [`PREFIXES_MAX`] distinct signs, none a letter, digit, space,
/// `@` (a mention) or quote.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefixes(String);

/// A `PREFIX` that cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("the prefix is empty: give one or more signs, e.g. `.` or `.!`")]
    Empty,
    #[error("the prefix has {count} signs; at most {PREFIXES_MAX}")]
    TooMany { count: usize },
    #[error(
        "the prefix sign {sign:?} cannot start a command (letters, digits, spaces, @ and quotes are text)"
    )]
    NotASign { sign: char },
    #[error("the prefix sign {sign:?} is given twice")]
    Twice { sign: char },
}

impl Prefixes {
    /// The signs in `text` (surrounding spaces ignored).
    pub fn new(text: &str) -> Result<Prefixes, PrefixError> {
        let text = text.trim();
        let count = text.chars().count();
        if count == 0 {
            return Err(PrefixError::Empty);
        }
        if count > PREFIXES_MAX {
            return Err(PrefixError::TooMany { count });
        }
        for (index, sign) in text.chars().enumerate() {
            if sign.is_alphanumeric()
                || sign.is_whitespace()
                || sign.is_control()
                || matches!(sign, '@' | '"' | '\'' | '`' | '{' | '}')
            {
                return Err(PrefixError::NotASign { sign });
            }
            if text.chars().take(index).any(|earlier| earlier == sign) {
                return Err(PrefixError::Twice { sign });
            }
        }
        Ok(Prefixes(text.to_owned()))
    }

    /// The first sign: the one the menu and usage lines show.
    #[must_use]
    pub fn first(&self) -> char {
        self.0.chars().next().unwrap_or('.')
    }

    /// The prefix `text` starts with, and the text after it.
    #[must_use]
    pub fn strip<'a>(&self, text: &'a str) -> Option<(char, &'a str)> {
        let sign = text.chars().next()?;
        self.0
            .contains(sign)
            .then(|| (sign, &text[sign.len_utf8()..]))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefixes {
    fn default() -> Prefixes {
        Prefixes(".".to_owned())
    }
}

impl FromStr for Prefixes {
    type Err = PrefixError;

    fn from_str(text: &str) -> Result<Prefixes, PrefixError> {
        Prefixes::new(text)
    }
}

impl TryFrom<String> for Prefixes {
    type Error = PrefixError;

    fn try_from(text: String) -> Result<Prefixes, PrefixError> {
        Prefixes::new(&text)
    }
}

impl From<Prefixes> for String {
    fn from(prefixes: Prefixes) -> String {
        prefixes.0
    }
}

impl fmt::Display for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefixes({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_signs_each_start_a_command() {
        let prefixes = Prefixes::new(" .! ").expect("two signs");
        assert_eq!(prefixes.strip(".menu"), Some(('.', "menu")));
        assert_eq!(prefixes.strip("!menu"), Some(('!', "menu")));
        assert_eq!(prefixes.strip("#menu"), None);
        assert_eq!(prefixes.strip(""), None);
        assert_eq!(prefixes.first(), '.');
        let unicode = Prefixes::new("⚡").expect("a sign");
        assert_eq!(unicode.strip("⚡ping"), Some(('⚡', "ping")));
    }

    #[test]
    fn bad_prefixes_are_named() {
        assert_eq!(Prefixes::new("  "), Err(PrefixError::Empty));
        assert_eq!(
            Prefixes::new(".a"),
            Err(PrefixError::NotASign { sign: 'a' })
        );
        assert_eq!(Prefixes::new(". "), Ok(Prefixes(".".into())), "trimmed");
        assert_eq!(
            Prefixes::new(".@"),
            Err(PrefixError::NotASign { sign: '@' })
        );
        assert_eq!(Prefixes::new(".!."), Err(PrefixError::Twice { sign: '.' }));
        assert_eq!(
            Prefixes::new(".!#$%^&*("),
            Err(PrefixError::TooMany { count: 9 })
        );
    }

    #[test]
    fn the_json_form_is_the_text_and_is_checked_on_reading() {
        let prefixes = Prefixes::new(".!").expect("valid");
        let json = serde_json::to_string(&prefixes).expect("serializes");
        assert_eq!(json, "\".!\"");
        assert_eq!(
            serde_json::from_str::<Prefixes>(&json).expect("reads"),
            prefixes
        );
        assert!(serde_json::from_str::<Prefixes>("\"a\"").is_err());
    }
}
