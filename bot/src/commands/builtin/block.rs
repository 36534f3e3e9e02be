//! `block` / `unblock` people (never the owner or the bot itself).

use crate::commands::format::mentions;
use crate::commands::role::is_protected;
use crate::commands::{ArgKind, ArgSpec, Call, Command, OwnerControl, Spec};
use crate::{Action, Context, Reply};

/// Blocks, or unblocks.
pub struct Block {
    spec: Spec,
    blocks: bool,
}

const WHO: &[ArgSpec] = &[ArgSpec::required("who", ArgKind::Users)];

impl Block {
    pub const BLOCK: Block = Block {
        spec: Spec {
            args: WHO,
            ..Spec::owner("block", "block.help", "block.usage")
        },
        blocks: true,
    };
    pub const UNBLOCK: Block = Block {
        spec: Spec {
            args: WHO,
            ..Spec::owner("unblock", "unblock.help", "unblock.usage")
        },
        blocks: false,
    };
}

impl Command for Block {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let named = call.args.users("who");
        let people: Vec<_> = named
            .iter()
            .filter(|jid| !(self.blocks && is_protected(jid, call.owners(), call.account())))
            .cloned()
            .collect();
        if people.is_empty() {
            return call.answer(ctx, "block.protected", &[]);
        }
        let (control, key) = if self.blocks {
            (
                OwnerControl::Block {
                    people: people.clone(),
                },
                "block.done",
            )
        } else {
            (
                OwnerControl::Unblock {
                    people: people.clone(),
                },
                "unblock.done",
            )
        };
        ctx.perform(Action::Owner(control));
        let mut reply = Reply::text(call.render(key, &[("users", &mentions(&people))])).quoting();
        for person in people {
            reply = reply.mentioning(person);
        }
        ctx.reply(reply);
    }
}
