//! Changes to a group as the shell reads them from WhatsApp's
//! `<notification type="w:gp2">`, one event each: what a handler hears
//! (`Handler::on_group_event`), and the welcome and goodbye texts.

use std::fmt;

use blacksky_core::client::groups::notification::GroupChange;
use blacksky_core::wire::binary::Jid;

use super::facts::GroupInfo;
use super::language::Language;
use super::role::Account;
use super::settings::{GreetingKind, GroupSettings};
use super::texts::{Catalog, fill};
use crate::context::chat_of;
use crate::{Context, Reply};

/// People greeted in one text, at most (a mass add is greeted in one).
pub const GREETED_MAX: usize = 50;

/// What happened to the members, for a greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Added by an admin, or joined by a link.
    Added,
    /// Removed by an admin.
    Removed,
    /// Left by themselves.
    Left,
}

/// One change to `group` as WhatsApp told it (the core's
/// `client::groups::notification::GroupChange`, not the change a command
/// asks for, `commands::GroupChange`): members added, removed, left,
/// promoted or demoted; the subject, description, announce-only or locked
/// setting; the invite link reset. `actor` is who made it, when WhatsApp
/// says.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupEvent {
    pub group: Jid,
    pub actor: Option<Jid>,
    pub change: GroupChange,
}

impl GroupEvent {
    /// Members who came or went, and which: what a welcome or goodbye
    /// greets. `None` for any other change.
    #[must_use]
    pub fn membership(&self) -> Option<(Membership, &[Jid])> {
        match &self.change {
            GroupChange::Added(who) => Some((Membership::Added, who)),
            GroupChange::Removed(who) => Some((Membership::Removed, who)),
            GroupChange::Left(who) => Some((Membership::Left, who)),
            _ => None,
        }
    }
}

impl Membership {
    pub(crate) fn greeting(self) -> GreetingKind {
        match self {
            Membership::Added => GreetingKind::Welcome,
            Membership::Removed | Membership::Left => GreetingKind::Goodbye,
        }
    }
}

/// The welcome or goodbye for `event`, if the group has it on.
pub(crate) fn greet(
    event: &GroupEvent,
    settings: &GroupSettings,
    info: Option<&GroupInfo>,
    account: &Account,
    catalog: &Catalog,
    language: Language,
    ctx: &mut Context,
) {
    let Some((membership, participants)) = event.membership() else {
        return;
    };
    let kind = membership.greeting();
    let greeting = settings.greeting(kind);
    if !greeting.state.is_on() {
        return;
    }
    // The bot itself joining or leaving is greeted by nobody.
    let people: Vec<Jid> = participants
        .iter()
        .filter(|jid| !account.is(jid))
        .take(GREETED_MAX)
        .map(chat_of)
        .collect();
    if people.is_empty() {
        return;
    }
    let template = greeting.text.as_deref().unwrap_or_else(|| {
        catalog.template(
            language,
            match kind {
                GreetingKind::Welcome => "welcome.default",
                GreetingKind::Goodbye => "goodbye.default",
            },
        )
    });
    let users = people
        .iter()
        .map(|jid| format!("@{}", jid.user()))
        .collect::<Vec<_>>()
        .join(", ");
    let subject = info.map_or("", |info| info.subject.as_str());
    let text = fill(template, &[("user", &users), ("group", subject)]);
    let mut reply = Reply::text(text);
    for person in people {
        reply = reply.mentioning(person);
    }
    ctx.reply(reply);
}

impl fmt::Debug for GroupEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // GroupChange's Debug counts members: no numbers in logs.
        f.debug_struct("GroupEvent")
            .field("change", &self.change)
            .finish_non_exhaustive()
    }
}
