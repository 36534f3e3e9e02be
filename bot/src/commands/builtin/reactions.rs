//! The reaction commands (`.hug`, `.kiss`, …): one per shipped clip
//! ([`crate::reactions::REACTIONS`]), each sending its clip as a GIF with
//! the phrase in bold: "*Ana hugs @4915…*" at someone named by mention,
//! number or reply, "*Ana wants a hug*" alone. The clip goes out as a
//! media effect ([`crate::Action::Media`]): uploaded by the shell (the
//! CDN's copy first with `USE_CDN_MEDIA`), sent once.

use crate::commands::{ArgKind, ArgSpec, Call, Category, Command, Cooldown, Language, Spec};
use crate::reactions::{self, REACTIONS, Reaction};
use crate::{Context, MediaSpec, Reply, chat_of};

const WHO: &[ArgSpec] = &[ArgSpec::optional("who", ArgKind::Users)];

/// One reaction as a command.
#[derive(Debug)]
pub struct ReactionCommand {
    reaction: &'static Reaction,
    spec: Spec,
}

impl ReactionCommand {
    #[must_use]
    pub fn new(reaction: &'static Reaction) -> ReactionCommand {
        ReactionCommand {
            reaction,
            spec: Spec {
                args: WHO,
                cooldown: Cooldown::PerChatPerMinute(6),
                ..Spec::new(
                    reaction.name,
                    Category::Fun,
                    "reaction.help",
                    "reaction.usage",
                )
            },
        }
    }
}

/// A command per shipped reaction, but for names in `taken` (`kick` is
/// the group admins' command).
#[must_use]
pub fn all(taken: &[&str]) -> Vec<ReactionCommand> {
    REACTIONS
        .iter()
        .filter(|reaction| !taken.contains(&reaction.name))
        .map(ReactionCommand::new)
        .collect()
}

impl Command for ReactionCommand {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let sender = call
            .message
            .sender
            .pn
            .as_ref()
            .or(call.message.sender.lid.as_ref())
            .map(chat_of);
        let mut caption = Reply::text(String::new());
        let actor = match (&call.message.push_name, &sender) {
            (Some(name), _) if !name.trim().is_empty() => name.trim().to_owned(),
            (_, Some(jid)) => {
                caption = caption.mentioning(jid.clone());
                format!("@{}", jid.user())
            }
            (None | Some(_), None) => "?".to_owned(),
        };
        let target = call.args.users("who").first().map(chat_of);
        let target_text = target.as_ref().map(|jid| format!("@{}", jid.user()));
        if let Some(jid) = target {
            caption = caption.mentioning(jid);
        }
        let language = match call.language {
            Language::En => reactions::Language::English,
            Language::De => reactions::Language::German,
        };
        caption.text = format!(
            "*{}*",
            self.reaction
                .phrase(language, &actor, target_text.as_deref())
        );
        ctx.send_media(MediaSpec::reaction_clip(self.reaction.name), caption);
    }
}
