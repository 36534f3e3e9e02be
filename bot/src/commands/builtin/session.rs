//! `session`: the connection, the store, the last backup, pre-keys left.

use crate::Context;
use crate::commands::format::duration;
use crate::commands::{Call, Command, Spec};

pub struct Session;

const SPEC: Spec = Spec::owner("session", "session.help", "session.usage");

impl Command for Session {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let runtime = call.runtime();
        let state = call.text(if runtime.online_since.is_some() {
            "state.online"
        } else {
            "state.offline"
        });
        let store = if runtime.store.is_empty() {
            call.text("value.unknown")
        } else {
            runtime.store.clone()
        };
        let backup = runtime.last_backup.map_or_else(
            || call.text("value.never"),
            |backup| {
                let ago = duration(call.now.as_millis().saturating_sub(backup.at.as_millis()));
                call.render(
                    "session.backup",
                    &[
                        ("generation", &backup.generation.to_string()),
                        ("ago", &ago),
                    ],
                )
            },
        );
        let prekeys = runtime
            .pre_keys_left
            .map_or_else(|| call.text("value.unknown"), |n| n.to_string());
        call.answer(
            ctx,
            "session.text",
            &[
                ("state", &state),
                ("store", &store),
                ("backup", &backup),
                ("prekeys", &prekeys),
            ],
        );
    }
}
