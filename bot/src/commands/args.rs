//! A command's typed arguments, read from the text after its name and
//! from the message's `contextInfo` (mentions, the quoted message).

use std::fmt;

use blacksky_core::message::content::{Context as MessageContext, Quoted};
use blacksky_core::wire::binary::Jid;

/// A text argument longer than this is refused (a broadcast, a welcome
/// text: WhatsApp's own limit is far above what a chat needs).
pub const TEXT_MAX_CHARS: usize = 2000;
/// People one command names at most.
pub const USERS_MAX: usize = 50;

/// What one argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A whole number.
    Integer,
    /// One word of a fixed set (`on`, `off`; German `an`, `aus` too).
    Choice(&'static [&'static str]),
    /// One word.
    Word,
    /// People: mentions (`@491556…`), phone numbers, or else the author of
    /// the quoted message.
    Users,
    /// The message the command replies to.
    Quoted,
    /// All the text that is left, as written.
    Rest,
}

/// One argument of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

impl ArgSpec {
    #[must_use]
    pub const fn required(name: &'static str, kind: ArgKind) -> ArgSpec {
        ArgSpec {
            name,
            kind,
            required: true,
        }
    }

    #[must_use]
    pub const fn optional(name: &'static str, kind: ArgKind) -> ArgSpec {
        ArgSpec {
            name,
            kind,
            required: false,
        }
    }
}

/// An argument's value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    Word(String),
    Users(Vec<Jid>),
    Quoted(Quoted),
    Rest(String),
}

/// The arguments of one call, by name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: Vec<(&'static str, Value)>,
}

impl Args {
    #[must_use]
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Integer(number) => Some(*number),
            _ => None,
        }
    }

    /// A `Word` or `Choice` (a choice as its canonical word, lowercase).
    #[must_use]
    pub fn word(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Word(word) => Some(word),
            _ => None,
        }
    }

    #[must_use]
    pub fn users(&self, name: &str) -> &[Jid] {
        match self.get(name) {
            Some(Value::Users(users)) => users,
            _ => &[],
        }
    }

    #[must_use]
    pub fn quoted(&self, name: &str) -> Option<&Quoted> {
        match self.get(name)? {
            Value::Quoted(quoted) => Some(quoted),
            _ => None,
        }
    }

    #[must_use]
    pub fn rest(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Rest(text) => Some(text),
            _ => None,
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

// Arguments hold numbers and texts: Debug names only their kinds.
impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in &self.values {
            let kind = match value {
                Value::Integer(_) => "integer",
                Value::Word(_) => "word",
                Value::Users(_) => "users",
                Value::Quoted(_) => "quoted",
                Value::Rest(_) => "rest",
            };
            list.entry(&format_args!("{name}: {kind}"));
        }
        list.finish()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Value::Integer(_) => "Integer(..)",
            Value::Word(_) => "Word(..)",
            Value::Users(_) => "Users(..)",
            Value::Quoted(_) => "Quoted(..)",
            Value::Rest(_) => "Rest(..)",
        })
    }
}

/// Why the arguments do not read. The registry answers with the error's
/// text and the command's usage line.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("argument `{name}` is missing")]
    Missing { name: &'static str },
    #[error("argument `{name}` is not a whole number")]
    NotANumber { name: &'static str, got: String },
    #[error("argument `{name}` is not one of {choices:?}")]
    NotAChoice {
        name: &'static str,
        got: String,
        choices: &'static [&'static str],
    },
    #[error("argument `{name}` names nobody")]
    NoUser { name: &'static str },
    #[error("argument `{name}` needs a quoted message")]
    NoQuote { name: &'static str },
    #[error("argument `{name}` is longer than {TEXT_MAX_CHARS} characters")]
    TooLong { name: &'static str },
}

// What was typed stays out of Debug (it is in the Display-free fields).
impl fmt::Debug for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArgError({self})")
    }
}

/// Synonyms a choice accepts, so German users may type `an`/`aus`.
const SYNONYMS: &[(&str, &str)] = &[("an", "on"), ("ein", "on"), ("aus", "off")];

/// Reads `specs` from `text` (what follows the command's name) and the
/// message's `context`.
pub fn read(
    specs: &[ArgSpec],
    text: &str,
    context: Option<&MessageContext>,
) -> Result<Args, ArgError> {
    let mut rest = text.trim();
    let mut args = Args::default();
    for spec in specs {
        let value = match spec.kind {
            ArgKind::Integer => next_token(&mut rest).map(|token| {
                token
                    .parse::<i64>()
                    .map(Value::Integer)
                    .map_err(|_| ArgError::NotANumber {
                        name: spec.name,
                        got: shorten(token),
                    })
            }),
            ArgKind::Word => next_token(&mut rest).map(|token| Ok(Value::Word(token.to_owned()))),
            ArgKind::Choice(choices) => next_token(&mut rest).map(|token| {
                choice(token, choices)
                    .map(|word| Value::Word(word.to_owned()))
                    .ok_or_else(|| ArgError::NotAChoice {
                        name: spec.name,
                        got: shorten(token),
                        choices,
                    })
            }),
            ArgKind::Users => users(&mut rest, context).map(|users| Ok(Value::Users(users))),
            ArgKind::Quoted => context
                .and_then(|context| context.quoted.clone())
                .map(|quoted| Ok(Value::Quoted(quoted))),
            ArgKind::Rest => {
                let text = std::mem::take(&mut rest).trim();
                if text.chars().count() > TEXT_MAX_CHARS {
                    Some(Err(ArgError::TooLong { name: spec.name }))
                } else {
                    (!text.is_empty()).then(|| Ok(Value::Rest(text.to_owned())))
                }
            }
        };
        match value {
            Some(value) => args.values.push((spec.name, value?)),
            None if spec.required => {
                return Err(match spec.kind {
                    ArgKind::Users => ArgError::NoUser { name: spec.name },
                    ArgKind::Quoted => ArgError::NoQuote { name: spec.name },
                    _ => ArgError::Missing { name: spec.name },
                });
            }
            None => {}
        }
    }
    Ok(args)
}

fn next_token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let text = rest.trim_start();
    if text.is_empty() {
        *rest = text;
        return None;
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    *rest = &text[end..];
    Some(&text[..end])
}

fn choice(token: &str, choices: &'static [&'static str]) -> Option<&'static str> {
    let lower = token.to_lowercase();
    let canonical = SYNONYMS
        .iter()
        .find(|(synonym, _)| *synonym == lower)
        .map_or(lower.as_str(), |(_, word)| word);
    choices.iter().copied().find(|word| *word == canonical)
}

/// The people named at the start of `rest` (mentions and numbers, which
/// it consumes) and in the message's mentions; else the quoted author.
fn users(rest: &mut &str, context: Option<&MessageContext>) -> Option<Vec<Jid>> {
    let mentioned: Vec<Jid> = context
        .map(|context| {
            context
                .mentions
                .iter()
                .filter_map(|m| Jid::parse(m))
                .collect()
        })
        .unwrap_or_default();
    let mut found: Vec<Jid> = Vec::new();
    let push = |found: &mut Vec<Jid>, jid: Jid| {
        if found.len() < USERS_MAX && !found.contains(&jid) {
            found.push(jid);
        }
    };
    loop {
        let mut peek = *rest;
        let Some(token) = next_token(&mut peek) else {
            break;
        };
        let Some(jid) = user_token(token, &mentioned) else {
            break;
        };
        push(&mut found, jid);
        *rest = peek;
    }
    for jid in mentioned {
        push(&mut found, user_of(&jid));
    }
    if found.is_empty() {
        let quoted = context.and_then(|context| context.quoted.as_ref());
        if let Some(author) = quoted
            .and_then(|q| q.sender.as_deref())
            .and_then(Jid::parse)
        {
            push(&mut found, user_of(&author));
        }
    }
    (!found.is_empty()).then_some(found)
}

/// `@digits` (a mention: the mentioned JID with those digits, else a phone
/// number) or a phone number (`+` and 5 to 15 digits).
fn user_token(token: &str, mentioned: &[Jid]) -> Option<Jid> {
    if let Some(digits) = token.strip_prefix('@') {
        if let Some(jid) = mentioned.iter().find(|jid| jid.user() == digits) {
            return Some(user_of(jid));
        }
        return phone(digits);
    }
    phone(token.strip_prefix('+').unwrap_or(token))
}

fn phone(digits: &str) -> Option<Jid> {
    let ok = (5..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| Jid::new(digits.to_owned(), "s.whatsapp.net"))
}

/// A person's JID without a device.
fn user_of(jid: &Jid) -> Jid {
    Jid::new(jid.user().to_owned(), jid.server().to_owned())
}

fn shorten(token: &str) -> String {
    const SHOWN_MAX: usize = 24;
    if token.chars().count() <= SHOWN_MAX {
        token.to_owned()
    } else {
        let mut short: String = token.chars().take(SHOWN_MAX).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ON_OFF: &[&str] = &["on", "off"];

    fn context(mentions: &[&str], quoted_author: Option<&str>) -> MessageContext {
        MessageContext {
            quoted: quoted_author.map(|author| Quoted {
                id: "3EB0QUOTED".into(),
                sender: Some(author.into()),
                chat: None,
                text: Some("the quoted text".into()),
                media: None,
            }),
            mentions: mentions.iter().map(|m| (*m).to_owned()).collect(),
            forwarded: false,
        }
    }

    #[test]
    fn numbers_choices_words_and_the_rest() {
        let specs = [
            ArgSpec::required("count", ArgKind::Integer),
            ArgSpec::required("state", ArgKind::Choice(ON_OFF)),
            ArgSpec::optional("word", ArgKind::Word),
            ArgSpec::optional("text", ArgKind::Rest),
        ];
        let args = read(&specs, " -3  AUS  hello  the\nrest ", None).expect("reads");
        assert_eq!(args.integer("count"), Some(-3));
        assert_eq!(args.word("state"), Some("off"), "German synonym, canonical");
        assert_eq!(args.word("word"), Some("hello"));
        assert_eq!(args.rest("text"), Some("the\nrest"), "newlines kept");
        let short = read(&specs, "1 on", None).expect("optional ones may be absent");
        assert_eq!(short.word("word"), None);
        assert_eq!(short.rest("text"), None);
    }

    #[test]
    fn each_mistake_is_named() {
        let specs = [
            ArgSpec::required("count", ArgKind::Integer),
            ArgSpec::required("state", ArgKind::Choice(ON_OFF)),
        ];
        assert_eq!(
            read(&specs, "x on", None),
            Err(ArgError::NotANumber {
                name: "count",
                got: "x".into()
            })
        );
        assert_eq!(
            read(&specs, "1 maybe", None),
            Err(ArgError::NotAChoice {
                name: "state",
                got: "maybe".into(),
                choices: ON_OFF
            })
        );
        assert_eq!(
            read(&specs, "1", None),
            Err(ArgError::Missing { name: "state" })
        );
        let users = [ArgSpec::required("who", ArgKind::Users)];
        assert_eq!(
            read(&users, "nobody", None),
            Err(ArgError::NoUser { name: "who" })
        );
        let quoted = [ArgSpec::required("message", ArgKind::Quoted)];
        assert_eq!(
            read(&quoted, "", Some(&context(&[], None))),
            Err(ArgError::NoQuote { name: "message" })
        );
        let rest = [ArgSpec::required("text", ArgKind::Rest)];
        let long = "x".repeat(TEXT_MAX_CHARS + 1);
        assert_eq!(
            read(&rest, &long, None),
            Err(ArgError::TooLong { name: "text" })
        );
        let shown = format!("{:?}", read(&specs, "secret-typo on", None));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn users_come_from_mentions_numbers_or_the_quoted_author() {
        let specs = [
            ArgSpec::required("who", ArgKind::Users),
            ArgSpec::optional("reason", ArgKind::Rest),
        ];
        let ctx = context(
            &["15550001111@s.whatsapp.net", "777000111@lid"],
            Some("15550009999@s.whatsapp.net"),
        );
        let args = read(
            &specs,
            "@15550001111 +491556123456 @777000111 spam",
            Some(&ctx),
        )
        .expect("reads");
        let who: Vec<String> = args.users("who").iter().map(ToString::to_string).collect();
        assert_eq!(
            who,
            [
                "15550001111@s.whatsapp.net",
                "491556123456@s.whatsapp.net",
                "777000111@lid"
            ],
            "in order, a LID mention as a LID; the quoted author is not added"
        );
        assert_eq!(args.rest("reason"), Some("spam"));
        let by_reply = read(&specs, "", Some(&ctx)).expect("reads");
        let who: Vec<String> = by_reply
            .users("who")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            who,
            ["15550001111@s.whatsapp.net", "777000111@lid"],
            "mentioned JIDs without @ tokens"
        );
        let quoted_only = context(&[], Some("15550009999:3@s.whatsapp.net"));
        let args = read(&specs, "", Some(&quoted_only)).expect("reads");
        assert_eq!(
            args.users("who"),
            [Jid::new("15550009999", "s.whatsapp.net")],
            "the quoted author, without a device"
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*", mention in "[0-9@a-z.]{0,20}") {
            let specs = [
                ArgSpec::optional("n", ArgKind::Integer),
                ArgSpec::optional("who", ArgKind::Users),
                ArgSpec::optional("state", ArgKind::Choice(ON_OFF)),
                ArgSpec::optional("word", ArgKind::Word),
                ArgSpec::optional("quoted", ArgKind::Quoted),
                ArgSpec::optional("rest", ArgKind::Rest),
            ];
            let ctx = context(&[mention.as_str()], Some(&mention));
            let _ = read(&specs, &text, Some(&ctx));
            let _ = read(&specs, &text, None);
        }
    }
}
