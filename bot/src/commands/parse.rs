//! A message text as a command: the prefix, the name (case-insensitive)
//! and the text after it, which [`super::args`] reads.

use super::prefixes::Prefixes;

/// Names longer than this are no command (someone's `.……` is text).
pub const NAME_MAX_CHARS: usize = 32;

/// A text that starts like a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// The sign it started with.
    pub prefix: char,
    /// The name as written, lowercased.
    pub name: String,
    /// What follows the name, without the spaces between.
    pub rest: &'a str,
}

/// `text` as a command, if it is one: a prefix, then at once a name of
/// letters, digits, `-` and `_` (so `. hi`, `...` and `.5%` are text).
#[must_use]
pub fn invocation<'a>(text: &'a str, prefixes: &Prefixes) -> Option<Invocation<'a>> {
    let (prefix, after) = prefixes.strip(text.trim_start())?;
    let end = after.find(char::is_whitespace).unwrap_or(after.len());
    let name = &after[..end];
    let valid = !name.is_empty()
        && name.chars().count() <= NAME_MAX_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit());
    valid.then(|| Invocation {
        prefix,
        name: name.to_lowercase(),
        rest: after[end..].trim(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot_bang() -> Prefixes {
        Prefixes::new(".!").expect("valid")
    }

    #[test]
    fn a_command_is_a_prefix_a_name_and_the_rest() {
        let got = invocation("  .KiCk  @123 @456\nmore ", &dot_bang()).expect("a command");
        assert_eq!(got.prefix, '.');
        assert_eq!(got.name, "kick");
        assert_eq!(got.rest, "@123 @456\nmore");
        let bare = invocation("!menu", &dot_bang()).expect("a command");
        assert_eq!(
            (bare.prefix, bare.name.as_str(), bare.rest),
            ('!', "menu", "")
        );
        let umlaut = invocation(".GRÜSSE x", &dot_bang()).expect("a command");
        assert_eq!(umlaut.name, "grüsse");
    }

    #[test]
    fn texts_that_only_look_like_commands_are_not() {
        for text in [
            "menu", ". menu", "...", ".", "", "#menu", ".5", ".50%", ".ha!", "hi .menu",
        ] {
            assert_eq!(invocation(text, &dot_bang()), None, "{text:?}");
        }
        let long = format!(".{}", "a".repeat(NAME_MAX_CHARS + 1));
        assert_eq!(invocation(&long, &dot_bang()), None);
        let just = format!(".{}", "a".repeat(NAME_MAX_CHARS));
        assert!(invocation(&just, &dot_bang()).is_some());
    }

    proptest! {
        #[test]
        fn never_panics_and_the_rest_is_part_of_the_text(text in "\\PC*", signs in "[.!#/$]{1,3}") {
            let Ok(prefixes) = Prefixes::new(&signs) else { return Ok(()); };
            if let Some(found) = invocation(&text, &prefixes) {
                prop_assert!(text.contains(found.rest));
                prop_assert!(!found.name.is_empty());
                prop_assert!(signs.contains(found.prefix));
            }
        }
    }
}
