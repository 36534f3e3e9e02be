//! Every text the bot writes to people, by key, in each [`Language`].
//! A template names what is filled in as `{name}`; [`fill`] puts values
//! in, and leaves any other braces as they are.
//!
//! The built-ins' texts are the tables in `texts/en.rs` and `texts/de.rs`;
//! a plugin brings its own (see [`crate::commands::Command::texts`]).

use std::collections::{BTreeSet, HashMap};

use super::language::Language;

mod de;
mod en;

/// A language's texts: (key, template) pairs.
pub type Table = &'static [(&'static str, &'static str)];

/// The built-in table of `language`.
#[must_use]
pub fn builtin_table(language: Language) -> Table {
    match language {
        Language::En => en::TABLE,
        Language::De => de::TABLE,
    }
}

/// A table that cannot join the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("text key {key:?} ({language}) is defined twice")]
    Duplicate { key: String, language: Language },
    #[error("text key {key:?} is in the {has} table but not in the {lacks} table")]
    Missing {
        key: String,
        has: Language,
        lacks: Language,
    },
    #[error(
        "text key {key:?} fills in {{{placeholders_en}}} in en but {{{placeholders_other}}} in {language}"
    )]
    Placeholders {
        key: String,
        language: Language,
        placeholders_en: String,
        placeholders_other: String,
    },
}

/// The texts of all languages, by key.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    en: HashMap<&'static str, &'static str>,
    de: HashMap<&'static str, &'static str>,
}

impl Catalog {
    /// The built-in tables, checked.
    pub fn builtin() -> Result<Catalog, TextError> {
        let mut catalog = Catalog::default();
        catalog.add(&|language| builtin_table(language))?;
        Ok(catalog)
    }

    /// Adds one table per language (a plugin's). Each key must be new,
    /// in every language, with the same placeholders as in English.
    pub fn add(&mut self, tables: &dyn Fn(Language) -> Table) -> Result<(), TextError> {
        check_tables(tables)?;
        for language in Language::ALL {
            for (key, _) in tables(language) {
                if self.map(language).contains_key(key) {
                    return Err(TextError::Duplicate {
                        key: (*key).to_owned(),
                        language,
                    });
                }
            }
        }
        for language in Language::ALL {
            let map = self.map_mut(language);
            map.extend(tables(language).iter().copied());
        }
        Ok(())
    }

    /// Whether `key` has a text in every language.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        Language::ALL
            .iter()
            .all(|language| self.map(*language).contains_key(key))
    }

    /// The template of `key` in `language` (English when that language
    /// lacks it, the key itself when no table has it: a visible bug, not
    /// a panic).
    #[must_use]
    pub fn template<'a>(&self, language: Language, key: &'a str) -> &'a str {
        self.map(language)
            .get(key)
            .or_else(|| self.en.get(key))
            .copied()
            .unwrap_or(key)
    }

    /// `key` in `language`, with `values` filled in.
    #[must_use]
    pub fn render(&self, language: Language, key: &str, values: &[(&str, &str)]) -> String {
        fill(self.template(language, key), values)
    }

    fn map(&self, language: Language) -> &HashMap<&'static str, &'static str> {
        match language {
            Language::En => &self.en,
            Language::De => &self.de,
        }
    }

    fn map_mut(&mut self, language: Language) -> &mut HashMap<&'static str, &'static str> {
        match language {
            Language::En => &mut self.en,
            Language::De => &mut self.de,
        }
    }
}

/// Every language has the same keys, each with the same placeholders,
/// and no key twice.
pub fn check_tables(tables: &dyn Fn(Language) -> Table) -> Result<(), TextError> {
    let english: HashMap<&str, &str> = unique(tables(Language::En), Language::En)?;
    for language in Language::ALL.into_iter().skip(1) {
        let other = unique(tables(language), language)?;
        for key in english.keys() {
            if !other.contains_key(key) {
                return Err(TextError::Missing {
                    key: (*key).to_owned(),
                    has: Language::En,
                    lacks: language,
                });
            }
        }
        for (key, template) in &other {
            let Some(english_template) = english.get(key) else {
                return Err(TextError::Missing {
                    key: (*key).to_owned(),
                    has: language,
                    lacks: Language::En,
                });
            };
            let (wanted, got) = (placeholders(english_template), placeholders(template));
            if wanted != got {
                let join = |set: BTreeSet<&str>| set.into_iter().collect::<Vec<_>>().join(", ");
                return Err(TextError::Placeholders {
                    key: (*key).to_owned(),
                    language,
                    placeholders_en: join(wanted),
                    placeholders_other: join(got),
                });
            }
        }
    }
    Ok(())
}

fn unique(
    table: Table,
    language: Language,
) -> Result<HashMap<&'static str, &'static str>, TextError> {
    let mut map = HashMap::with_capacity(table.len());
    for (key, template) in table {
        if map.insert(*key, *template).is_some() {
            return Err(TextError::Duplicate {
                key: (*key).to_owned(),
                language,
            });
        }
    }
    Ok(map)
}

/// The `{name}`s a template fills in.
#[must_use]
pub fn placeholders(template: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            let name = &rest[..close];
            if is_name(name) {
                found.insert(name);
                rest = &rest[close + 1..];
            }
        }
    }
    found
}

/// `template` with each `{name}` of `values` replaced by its value, in
/// one pass (a value that itself holds `{name}` stays as written).
#[must_use]
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_have_the_same_keys_and_placeholders() {
        check_tables(&builtin_table).expect("the built-in tables agree");
        assert_eq!(
            builtin_table(Language::En).len(),
            builtin_table(Language::De).len()
        );
    }

    #[test]
    fn a_table_that_disagrees_is_named() {
        const EN: Table = &[("a", "x {user}"), ("b", "y")];
        const DE_MISSING: Table = &[("a", "x {user}")];
        const DE_WRONG: Table = &[("a", "x {nutzer}"), ("b", "y")];
        let missing = check_tables(&|l| if l == Language::En { EN } else { DE_MISSING });
        assert_eq!(
            missing,
            Err(TextError::Missing {
                key: "b".into(),
                has: Language::En,
                lacks: Language::De
            })
        );
        let wrong = check_tables(&|l| if l == Language::En { EN } else { DE_WRONG })
            .expect_err("placeholders differ");
        assert!(wrong.to_string().contains("\"a\""), "{wrong}");
        assert!(wrong.to_string().contains("nutzer"), "{wrong}");
    }

    #[test]
    fn fill_replaces_named_values_once_and_leaves_other_braces() {
        assert_eq!(
            fill("Hi {user}, {unknown} {x", &[("user", "{user}!")]),
            "Hi {user}!, {unknown} {x"
        );
        assert_eq!(
            placeholders("{a} {b_c} {} {Not} {a}")
                .into_iter()
                .collect::<Vec<_>>(),
            ["a", "b_c"]
        );
    }

    #[test]
    fn a_missing_key_shows_itself_and_english_fills_in() {
        let mut catalog = Catalog::builtin().expect("checks");
        assert_eq!(
            catalog.render(Language::De, "no.such.key", &[]),
            "no.such.key"
        );
        const EN: Table = &[("plugin.x", "X {n}")];
        const DE: Table = &[("plugin.x", "Y {n}")];
        catalog
            .add(&|l| if l == Language::En { EN } else { DE })
            .expect("new key");
        assert_eq!(
            catalog.render(Language::De, "plugin.x", &[("n", "1")]),
            "Y 1"
        );
        let again = catalog.add(&|l| if l == Language::En { EN } else { DE });
        assert!(
            matches!(again, Err(TextError::Duplicate { .. })),
            "{again:?}"
        );
    }
}
