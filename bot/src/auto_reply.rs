//! Auto-replies without code, from a TOML file (`AUTO_REPLY_FILE`):
//!
//! ```toml
//! [[reply]]
//! match = '^ping (\d+)$'   # a regex on the message text
//! text = 'pong $1'         # $1.. (or ${name}) are its groups; $$ is a $
//! chats = "all"            # or "private", "groups" (default "all")
//! quote = false            # quote the message answered (default false)
//! ```
//!
//! The first rule that matches answers. A file that cannot serve is
//! refused whole, naming the rule and the problem, so a typo stops the
//! start instead of leaving a bot silent.

use std::fmt;
use std::path::Path;

use blacksky_core::message::{Incoming, Kind};
use regex::Regex;
use serde::Deserialize;

use crate::{Context, Handler, Reply};

/// Which chats a rule answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatFilter {
    #[default]
    All,
    Private,
    Groups,
}

impl ChatFilter {
    fn admits(self, incoming: &Incoming) -> bool {
        let in_group = incoming.chat.server() == "g.us";
        match self {
            ChatFilter::All => true,
            ChatFilter::Private => !in_group,
            ChatFilter::Groups => in_group,
        }
    }
}

/// One `[[reply]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(rename = "match")]
    pattern: String,
    text: String,
    #[serde(default)]
    chats: ChatFilter,
    #[serde(default)]
    quote: bool,
}

#[derive(Debug)]
struct Rule {
    pattern: Regex,
    text: String,
    chats: ChatFilter,
    quote: bool,
}

/// The rules of an auto-reply file, in order.
#[derive(Debug)]
pub struct AutoReplies {
    rules: Vec<Rule>,
}

/// A file that cannot serve: which file, which rule, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AutoReplyError {
    pub file: String,
    /// The rule (1-based, in file order) and its pattern, when the
    /// problem is in one.
    pub rule: Option<(usize, String)>,
    pub problem: String,
}

impl fmt::Display for AutoReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "auto-reply file {}: ", self.file)?;
        if let Some((number, pattern)) = &self.rule {
            write!(f, "rule {number} (match = {pattern:?}): ")?;
        }
        f.write_str(&self.problem)
    }
}

/// Rules past this are refused: a file is read once per start and every
/// message is tried against each rule.
pub const RULES_MAX: usize = 1000;

impl AutoReplies {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<AutoReplies, AutoReplyError> {
        let text = std::fs::read_to_string(path).map_err(|err| AutoReplyError {
            file: path.display().to_string(),
            rule: None,
            problem: format!("cannot be read: {err}"),
        })?;
        AutoReplies::parse(&text, &path.display().to_string())
    }

    /// Checks the rules in `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<AutoReplies, AutoReplyError> {
        let fail = |rule: Option<(usize, String)>, problem: String| AutoReplyError {
            file: file.to_owned(),
            rule,
            problem,
        };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|err| fail(None, one_line(&err.to_string())))?;
        let specs = match table.remove("reply") {
            Some(toml::Value::Array(specs)) => specs,
            Some(_) => return Err(fail(None, "`reply` must be written [[reply]]".into())),
            None => Vec::new(),
        };
        if let Some(key) = table.keys().next() {
            return Err(fail(
                None,
                format!("unknown key `{key}` (only [[reply]] tables belong here)"),
            ));
        }
        if specs.len() > RULES_MAX {
            return Err(fail(
                None,
                format!("{} rules; at most {RULES_MAX}", specs.len()),
            ));
        }
        let mut rules = Vec::with_capacity(specs.len());
        for (index, value) in specs.into_iter().enumerate() {
            let number = index + 1;
            let pattern_text = value
                .get("match")
                .and_then(toml::Value::as_str)
                .unwrap_or("")
                .to_owned();
            let named = |problem: String| fail(Some((number, pattern_text.clone())), problem);
            let spec: RuleSpec = value
                .try_into()
                .map_err(|err: toml::de::Error| named(one_line(err.message())))?;
            let pattern = Regex::new(&spec.pattern).map_err(|err| {
                named(format!(
                    "the pattern does not compile: {}",
                    one_line(&err.to_string())
                ))
            })?;
            if spec.text.trim().is_empty() {
                return Err(named("`text` is empty: the answer would be blank".into()));
            }
            check_groups(&pattern, &spec.text).map_err(named)?;
            rules.push(Rule {
                pattern,
                text: spec.text,
                chats: spec.chats,
                quote: spec.quote,
            });
        }
        Ok(AutoReplies { rules })
    }

    /// How many rules there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The answer of the first rule that matches `incoming`, if any.
    #[must_use]
    pub fn answer(&self, incoming: &Incoming) -> Option<Reply> {
        let text = match &incoming.content.kind {
            // Texts and captions; not edits, reactions or the protocol's.
            Kind::Text(_) | Kind::Media(_) => incoming.content.text()?,
            _ => return None,
        };
        self.rules.iter().find_map(|rule| {
            if !rule.chats.admits(incoming) {
                return None;
            }
            let captures = rule.pattern.captures(text)?;
            let mut answer = String::new();
            captures.expand(&rule.text, &mut answer);
            let reply = Reply::text(answer);
            Some(if rule.quote { reply.quoting() } else { reply })
        })
    }
}

impl Handler for AutoReplies {
    fn on_message(&mut self, message: &Incoming, ctx: &mut Context) {
        // The owner's own words to others are theirs: no auto-reply.
        if message.from_me {
            return;
        }
        if let Some(reply) = self.answer(message) {
            ctx.reply(reply);
        }
    }
}

/// Every `$group` in `text` names a group of `pattern`: `$1a` reads as a
/// group named `1a` (regex's rule), which would silently expand to
/// nothing.
fn check_groups(pattern: &Regex, text: &str) -> Result<(), String> {
    let names: Vec<&str> = pattern.capture_names().flatten().collect();
    let groups = pattern.captures_len();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let (name, after) = if let Some(stripped) = rest.strip_prefix('$') {
            rest = stripped;
            continue;
        } else if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| "`text` has a `${` without its `}`".to_owned())?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(
                    "`text` has a `$` naming no group (write `$$` for a dollar sign)".into(),
                );
            }
            (&rest[..end], &rest[end..])
        };
        let known = match name.parse::<usize>() {
            Ok(number) => number < groups,
            Err(_) => names.contains(&name),
        };
        if !known {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            let hint = if digits.is_empty() {
                String::new()
            } else {
                format!(" (for group {digits} followed by text, write ${{{digits}}})")
            };
            return Err(format!(
                "`text` uses ${name}, but the pattern has {} group(s){hint}",
                groups - 1
            ));
        }
        rest = after;
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
