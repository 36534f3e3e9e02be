//! `setname <text>`, `setdesc <text>`: the group's name and description;
//! `lock` / `unlock`: whether only admins may edit them.

use crate::commands::{ArgKind, ArgSpec, Call, Command, GroupChange, Spec, Toggle};
use crate::{Action, Context};

/// WhatsApp's longest group name.
pub const SUBJECT_MAX_CHARS: usize = 100;

#[derive(Clone, Copy)]
enum Field {
    Subject,
    Description,
}

/// Sets the name or the description.
pub struct GroupText {
    spec: Spec,
    field: Field,
}

const TEXT: &[ArgSpec] = &[ArgSpec::required("text", ArgKind::Rest)];

impl GroupText {
    pub const SUBJECT: GroupText = GroupText {
        spec: Spec {
            aliases: &["subject"],
            args: TEXT,
            ..Spec::group_admin("setname", "setname.help", "setname.usage")
        },
        field: Field::Subject,
    };
    pub const DESCRIPTION: GroupText = GroupText {
        spec: Spec {
            aliases: &["description"],
            args: TEXT,
            ..Spec::group_admin("setdesc", "setdesc.help", "setdesc.usage")
        },
        field: Field::Description,
    };
}

impl Command for GroupText {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let (Some(group), Some(text)) = (call.group_jid(), call.args.rest("text")) else {
            return;
        };
        let (change, key) = match self.field {
            Field::Subject => {
                if text.chars().count() > SUBJECT_MAX_CHARS {
                    let max = SUBJECT_MAX_CHARS.to_string();
                    return call.answer(ctx, "arg.too_long", &[("max", &max)]);
                }
                (
                    GroupChange::Subject {
                        subject: text.to_owned(),
                    },
                    "setname.done",
                )
            }
            Field::Description => (
                GroupChange::Description {
                    description: text.to_owned(),
                },
                "setdesc.done",
            ),
        };
        ctx.perform(Action::Group {
            group,
            change,
            done: None,
        });
        call.answer(ctx, key, &[]);
    }
}

/// Locks or unlocks the group's info.
pub struct Lock {
    spec: Spec,
    state: Toggle,
}

impl Lock {
    pub const ON: Lock = Lock {
        spec: Spec::group_admin("lock", "lock.help", "lock.usage"),
        state: Toggle::On,
    };
    pub const OFF: Lock = Lock {
        spec: Spec::group_admin("unlock", "unlock.help", "unlock.usage"),
        state: Toggle::Off,
    };
}

impl Command for Lock {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(group) = call.group_jid() else {
            return;
        };
        ctx.perform(Action::Group {
            group,
            change: GroupChange::Locked { state: self.state },
            done: None,
        });
        let key = if self.state.is_on() {
            "lock.done"
        } else {
            "unlock.done"
        };
        call.answer(ctx, key, &[]);
    }
}
