//! What bot commands know of the running process (`.stats`, `.uptime`,
//! `.session`): the status board behind /stats, and the store worker's
//! health for the last backup; and of the groups the bot is in (their
//! members and admins, for group commands), which the board keeps too. The handler is built before the session
//! starts, so the board joins when the runner has it
//! ([`RunHooks::board_ready`]); until then the numbers are empty.

use std::sync::{Arc, Mutex, PoisonError};

use blacksky_bot::commands::{Backup, GroupFacts, GroupInfo, RuntimeFacts, RuntimeSnapshot};
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::Jid;

use crate::host::config::Config;
use crate::host::status::StatusBoard;
use crate::session::setup::RunHooks;
use crate::session::worker::StoreHealth;

/// [`RuntimeFacts`] over the process's status board and store health.
#[derive(Debug, Clone)]
pub struct BoardFacts {
    board: Arc<Mutex<Option<StatusBoard>>>,
    health: Arc<StoreHealth>,
    /// `sqlite` or `postgres`.
    store: &'static str,
}

impl BoardFacts {
    /// For the store `config` names, over the worker health `health`.
    #[must_use]
    pub fn new(config: &Config, health: Arc<StoreHealth>) -> BoardFacts {
        BoardFacts {
            board: Arc::default(),
            health,
            store: if config.database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            },
        }
    }

    /// The store worker's health these facts read.
    #[must_use]
    pub fn health(&self) -> Arc<StoreHealth> {
        self.health.clone()
    }
}

impl RuntimeFacts for BoardFacts {
    fn snapshot(&self, _now: UnixMillis) -> RuntimeSnapshot {
        let board = self
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut snapshot = board
            .map(|board| board.runtime_snapshot())
            .unwrap_or_default();
        snapshot.store = self.store.to_owned();
        let generation = self.health.last_snapshot_generation();
        snapshot.last_backup = (generation > 0).then(|| Backup {
            generation,
            at: UnixMillis(self.health.last_snapshot_at_ms()),
        });
        snapshot
    }
}

impl GroupFacts for BoardFacts {
    fn group(&self, group: &Jid) -> Option<GroupInfo> {
        let board = self
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        board.groups().group(group)
    }
}

impl RunHooks for BoardFacts {
    fn board_ready(&mut self, board: &StatusBoard) {
        *self.board.lock().unwrap_or_else(PoisonError::into_inner) = Some(board.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Instant;

    use super::*;
    use crate::host::config::Config;

    #[test]
    fn the_numbers_come_from_the_board_once_it_is_there() {
        let config = Config::from_env(&HashMap::new()).expect("defaults");
        let mut facts = BoardFacts::new(&config, StoreHealth::new());
        let before = facts.snapshot(UnixMillis(5_000));
        assert_eq!(before.store, "sqlite");
        assert_eq!(before.messages_out, 0);
        assert_eq!(before.last_backup, None);
        let board = StatusBoard::new(Instant::now(), UnixMillis(1_000));
        board.on_messages_sent(3, UnixMillis(2_000));
        board.set_pre_keys_left(42);
        facts.board_ready(&board);
        let after = facts.snapshot(UnixMillis(5_000));
        assert_eq!(after.messages_out, 3);
        assert_eq!(after.started_at, UnixMillis(1_000));
        assert_eq!(after.pre_keys_left, Some(42));
        assert_eq!(after.online_since, None, "not online yet");
    }
}
