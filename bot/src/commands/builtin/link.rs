//! `link` (the group's invite link) and `revoke` (a new one). The shell
//! fetches the link and sends the answer with `{link}` filled in.

use crate::commands::{Call, Command, GroupChange, Spec};
use crate::{Action, Context};

pub struct Link {
    spec: Spec,
    revokes: bool,
}

impl Link {
    pub const GET: Link = Link {
        spec: Spec {
            aliases: &["invite"],
            ..Spec::group_admin("link", "link.help", "link.usage")
        },
        revokes: false,
    };
    pub const REVOKE: Link = Link {
        spec: Spec {
            aliases: &["resetlink"],
            ..Spec::group_admin("revoke", "revoke.help", "revoke.usage")
        },
        revokes: true,
    };
}

impl Command for Link {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        let change = if self.revokes {
            GroupChange::RevokeInviteLink {
                answer: call.text("revoke.text"),
            }
        } else {
            GroupChange::InviteLink {
                answer: call.text("link.text"),
            }
        };
        ctx.perform(Action::Group {
            group,
            change,
            done: None,
        });
    }
}
