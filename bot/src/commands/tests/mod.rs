//! The commands against fake facts: each built-in, each refusal, each
//! language.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use blacksky_core::message::content::{Context as MessageContext, Kind, Quoted, Text};
use blacksky_core::message::{Content, Incoming, Sender};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

use super::*;
use crate::{Action, Context, Handler, Reply};

mod bot;
mod everyone;
mod fun;
mod greetings;
mod group_admins;
mod owner;
mod registry;

/// Now, for every test: 100 s after the messages were sent.
const NOW: UnixMillis = UnixMillis(1_700_000_100_000);
const SENT: UnixMillis = UnixMillis(1_700_000_000_000);
const STARTED: UnixMillis = UnixMillis(1_700_000_100_000 - 3 * 3_600_000 - 120_000);

const OWNER: &str = "491556123456";
const BOT: &str = "15550000000";
const BOT_LID: &str = "900000001";
const ADMIN: &str = "15550001111";
const MEMBER: &str = "15550002222";
const OTHER: &str = "15550003333";
const GROUP: &str = "120363000000000001";

fn pn(user: &str) -> Jid {
    Jid::new(user.to_owned(), "s.whatsapp.net")
}

fn group_jid() -> Jid {
    Jid::new(GROUP, "g.us")
}

/// What the shell would know, changeable while the registry holds it.
#[derive(Clone, Default)]
struct Fake {
    runtime: Arc<Mutex<RuntimeSnapshot>>,
    groups: Arc<Mutex<HashMap<String, GroupInfo>>>,
}

impl RuntimeFacts for Fake {
    fn snapshot(&self, _: UnixMillis) -> RuntimeSnapshot {
        self.runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl GroupFacts for Fake {
    fn group(&self, group: &Jid) -> Option<GroupInfo> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(group.user())
            .cloned()
    }
}

impl Fake {
    /// A group with the bot (an admin when `bot_admin`), ADMIN as admin,
    /// MEMBER and OTHER as members.
    fn with_group(bot_admin: bool) -> Fake {
        let fake = Fake::default();
        fake.set_group(bot_admin);
        *fake.runtime.lock().unwrap_or_else(PoisonError::into_inner) = RuntimeSnapshot {
            messages_in: 42,
            messages_out: 17,
            started_at: STARTED,
            online_since: Some(UnixMillis(NOW.as_millis() - 600_000)),
            rss_bytes: Some(50 * 1024 * 1024),
            reconnects: 3,
            store: "sqlite".into(),
            last_backup: Some(Backup {
                generation: 12,
                at: UnixMillis(NOW.as_millis() - 3_600_000),
            }),
            pre_keys_left: Some(87),
        };
        fake
    }

    fn set_group(&self, bot_admin: bool) {
        let member = |user: &str, rank| Participant {
            pn: Some(pn(user)),
            lid: None,
            rank,
        };
        let bot_rank = if bot_admin { Rank::Admin } else { Rank::Member };
        let info = GroupInfo {
            subject: "Rust Friends".into(),
            participants: vec![
                Participant {
                    pn: None,
                    lid: Some(Jid::new(BOT_LID, "lid")),
                    rank: bot_rank,
                },
                member(ADMIN, Rank::SuperAdmin),
                member(MEMBER, Rank::Member),
                member(OTHER, Rank::Member),
            ],
        };
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(GROUP.to_owned(), info);
    }

    fn forget_groups(&self) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

fn config(language: Language) -> CommandsConfig {
    CommandsConfig {
        prefixes: Prefixes::new(".!").expect("valid"),
        language,
        owners: Owners::parse(OWNER).expect("valid"),
        account: Account {
            pn: Some(Jid::ad(BOT, 0, 12)),
            lid: Some(Jid::new(BOT_LID, "lid")),
        },
    }
}

fn commands_with(fake: &Fake, language: Language, settings: Settings) -> Commands {
    Commands::with_builtins(config(language), settings, fake.clone(), fake.clone())
        .expect("the built-ins register")
}

fn commands(fake: &Fake) -> Commands {
    commands_with(fake, Language::En, Settings::default())
}

/// A message from `from` in `chat`, mentioning and quoting as given.
struct Message {
    chat: Jid,
    from: String,
    text: String,
    mentions: Vec<String>,
    quoted_author: Option<String>,
}

fn in_group(from: &str, text: &str) -> Message {
    Message {
        chat: group_jid(),
        from: from.to_owned(),
        text: text.to_owned(),
        mentions: Vec::new(),
        quoted_author: None,
    }
}

fn private(from: &str, text: &str) -> Message {
    Message {
        chat: pn(from),
        ..in_group(from, text)
    }
}

impl Message {
    fn mentioning(mut self, user: &str) -> Message {
        self.mentions.push(pn(user).to_string());
        self
    }

    fn quoting(mut self, author: &str) -> Message {
        self.quoted_author = Some(pn(author).to_string());
        self
    }

    fn incoming(&self) -> Incoming {
        Incoming {
            id: "3EB0COMMAND".into(),
            chat: self.chat.clone(),
            sender: Sender {
                pn: Some(Jid::ad(self.from.clone(), 0, 2)),
                lid: None,
            },
            push_name: None,
            sent_at: SENT,
            from_offline_queue: false,
            from_me: false,
            content: Content {
                kind: Kind::Text(Text {
                    body: self.text.clone(),
                    context: MessageContext {
                        quoted: self.quoted_author.as_ref().map(|author| Quoted {
                            id: "3EB0QUOTED".into(),
                            sender: Some(author.clone()),
                            chat: None,
                            text: Some("what they said".into()),
                            media: None,
                        }),
                        mentions: self.mentions.clone(),
                        forwarded: false,
                    },
                }),
                sender_key_distribution: None,
                view_once: false,
                unmodelled_fields: Vec::new(),
            },
        }
    }
}

/// What `commands` does with `message`.
fn run(commands: &mut Commands, message: &Message) -> Vec<Action> {
    let incoming = message.incoming();
    let mut ctx = Context::new(&incoming, NOW);
    commands.on_message(&incoming, &mut ctx);
    ctx.into_actions()
}

/// The texts among `actions`.
/// The texts `actions` say: replies, and what a group change says once
/// it is made.
fn texts(actions: &[Action]) -> Vec<String> {
    replies(actions)
        .into_iter()
        .map(|reply| reply.text.clone())
        .collect()
}

fn replies(actions: &[Action]) -> Vec<&Reply> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Text { reply, .. }
            | Action::Group {
                done: Some(reply), ..
            } => Some(reply),
            _ => None,
        })
        .collect()
}

/// The one text `message` gets.
fn answer(commands: &mut Commands, message: &Message) -> String {
    let actions = run(commands, message);
    let texts = texts(&actions);
    assert_eq!(texts.len(), 1, "one answer expected: {texts:?}");
    texts.into_iter().next().unwrap_or_default()
}

/// The effects among `actions` (every action but messages).
fn effects(actions: &[Action]) -> Vec<&Action> {
    actions.iter().filter(|a| !a.is_message()).collect()
}

/// Every action's JSON reads back as itself.
fn assert_json_round_trips(actions: &[Action]) {
    for action in actions {
        let json = action.to_json();
        assert_eq!(
            Action::from_json(&json).as_ref().ok(),
            Some(action),
            "{json}"
        );
    }
}
