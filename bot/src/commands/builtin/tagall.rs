//! `tagall [text]`: mentions every member of the group.

use crate::commands::format::mentions;
use crate::commands::{ArgKind, ArgSpec, BotNeeds, Call, Command, Cooldown, Spec};
use crate::{Context, Reply};

pub struct TagAll;

const SPEC: Spec = Spec {
    aliases: &["everyone", "all"],
    args: &[ArgSpec::optional("text", ArgKind::Rest)],
    bot_needs: BotNeeds::Nothing,
    cooldown: Cooldown::PerChatPerMinute(1),
    ..Spec::group_admin("tagall", "tagall.help", "tagall.usage")
};

impl Command for TagAll {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group else {
            return call.answer(ctx, "refused.group_unknown", &[]);
        };
        let people: Vec<_> = group
            .participants
            .iter()
            .filter_map(|member| member.jid())
            .filter(|jid| !call.account().is(jid))
            .map(crate::chat_of)
            .collect();
        let header = call
            .args
            .rest("text")
            .map_or_else(|| call.text("tagall.default"), str::to_owned);
        let mut reply = Reply::text(format!("{header}\n\n{}", mentions(&people)));
        for person in people {
            reply = reply.mentioning(person);
        }
        ctx.reply(reply);
    }
}
