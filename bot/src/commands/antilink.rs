//! Antilink: in a group that switched it on, a member's message with an
//! invite link to a group (`chat.whatsapp.com/…`) is deleted (when the bot
//! is an admin) and its sender warned. Admins and the owner may post
//! links.

use blacksky_core::message::Incoming;

use super::facts::GroupInfo;
use super::language::Language;
use super::role::Account;
use super::texts::Catalog;
use crate::context::chat_of;
use crate::{Action, Context, Reply};

const INVITE_HOST: &str = "chat.whatsapp.com/";

/// Whether `text` holds a group invite link.
#[must_use]
pub fn has_invite_link(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices(INVITE_HOST).any(|(at, _)| {
        // `chat.whatsapp.com/` itself, not `notchat.whatsapp.com/`.
        let before = lower[..at].chars().next_back();
        let code = &lower[at + INVITE_HOST.len()..];
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && code.chars().next().is_some_and(char::is_alphanumeric)
    })
}

/// Deletes `message` (when the bot can) and warns its author.
pub(crate) fn act(
    message: &Incoming,
    group: &GroupInfo,
    account: &Account,
    catalog: &Catalog,
    language: Language,
    ctx: &mut Context,
) {
    let author = message
        .sender
        .pn
        .as_ref()
        .or(message.sender.lid.as_ref())
        .map(chat_of);
    let bot_is_admin = group
        .rank_of(account.jids())
        .is_some_and(|rank| rank.is_admin());
    if bot_is_admin {
        ctx.perform(Action::Delete {
            chat: chat_of(&message.chat),
            id: message.id.clone(),
            author: author.clone(),
        });
    }
    let user = author
        .as_ref()
        .map_or_else(String::new, |jid| format!("@{}", jid.user()));
    let mut warning = Reply::text(catalog.render(language, "antilink.warn", &[("user", &user)]));
    if let Some(author) = author {
        warning = warning.mentioning(author);
    }
    ctx.reply(warning);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_links_are_found_in_any_case_and_lookalikes_are_not() {
        for text in [
            "join https://chat.whatsapp.com/AbCdEf123",
            "CHAT.WHATSAPP.COM/xyz",
            "(chat.whatsapp.com/abc)",
        ] {
            assert!(has_invite_link(text), "{text:?}");
        }
        for text in [
            "chat.whatsapp.com/",
            "chat.whatsapp.com",
            "mychat.whatsapp.com/abc",
            "whatsapp.com/abc",
            "wa.me/491556",
            "",
        ] {
            assert!(!has_invite_link(text), "{text:?}");
        }
    }
}
