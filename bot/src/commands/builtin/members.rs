//! `kick`, `add`, `promote`, `demote`: people named by mention, number or
//! reply. The owner and the bot itself are never kicked or demoted.

use crate::commands::format::mentions;
use crate::commands::role::is_protected;
use crate::commands::{ArgKind, ArgSpec, Call, Command, GroupChange, Spec};
use crate::{Action, Context, Reply};

/// What is done to the people named.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Remove,
    Add,
    Promote,
    Demote,
}

pub struct Members {
    spec: Spec,
    change: Change,
}

const WHO: &[ArgSpec] = &[ArgSpec::required("who", ArgKind::Users)];

impl Members {
    pub const KICK: Members = Members {
        spec: Spec {
            aliases: &["remove"],
            args: WHO,
            ..Spec::group_admin("kick", "kick.help", "kick.usage")
        },
        change: Change::Remove,
    };
    pub const ADD: Members = Members {
        spec: Spec {
            args: WHO,
            ..Spec::group_admin("add", "add.help", "add.usage")
        },
        change: Change::Add,
    };
    pub const PROMOTE: Members = Members {
        spec: Spec {
            args: WHO,
            ..Spec::group_admin("promote", "promote.help", "promote.usage")
        },
        change: Change::Promote,
    };
    pub const DEMOTE: Members = Members {
        spec: Spec {
            args: WHO,
            ..Spec::group_admin("demote", "demote.help", "demote.usage")
        },
        change: Change::Demote,
    };
}

impl Command for Members {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        let named = call.args.users("who");
        let guarded = matches!(self.change, Change::Remove | Change::Demote);
        let people: Vec<_> = named
            .iter()
            .filter(|jid| !(guarded && is_protected(jid, call.owners(), call.account())))
            .cloned()
            .collect();
        if people.is_empty() {
            return call.answer(ctx, "members.protected", &[]);
        }
        let (change, key) = match self.change {
            Change::Remove => (
                GroupChange::Remove {
                    people: people.clone(),
                },
                "kick.done",
            ),
            Change::Add => (
                GroupChange::Add {
                    people: people.clone(),
                },
                "add.done",
            ),
            Change::Promote => (
                GroupChange::Promote {
                    people: people.clone(),
                },
                "promote.done",
            ),
            Change::Demote => (
                GroupChange::Demote {
                    people: people.clone(),
                },
                "demote.done",
            ),
        };
        let mut text = call.render(key, &[("users", &mentions(&people))]);
        if people.len() < named.len() {
            text.push('\n');
            text.push_str(&call.text("members.protected"));
        }
        let mut reply = Reply::text(text);
        for person in people {
            reply = reply.mentioning(person);
        }
        // Said once WhatsApp made the change, so the message goes to the
        // members as they are then (never our key to someone just removed).
        ctx.perform(Action::Group {
            group,
            change,
            done: Some(reply),
        });
    }
}
