-- blacksky's session store (SQLite). One database holds any number of
-- sessions: every row is keyed by the session name (SESSION_ID). Live state
-- is one row per key, updated in transactions; snapshots are whole-session
-- backups kept in rotating generations.

CREATE TABLE creds (
    session         TEXT    NOT NULL PRIMARY KEY,
    -- blacksky.store.Creds protobuf
    record          BLOB    NOT NULL,
    -- 1 once the server accepted a login with these creds
    login_confirmed INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE pre_keys (
    session TEXT    NOT NULL,
    key_id  INTEGER NOT NULL,
    -- blacksky.store.PreKey protobuf
    record  BLOB    NOT NULL,
    PRIMARY KEY (session, key_id)
);

CREATE TABLE signal_sessions (
    session TEXT NOT NULL,
    address TEXT NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, address)
);

CREATE TABLE sender_keys (
    session  TEXT NOT NULL,
    group_id TEXT NOT NULL,
    sender   TEXT NOT NULL,
    record   BLOB NOT NULL,
    PRIMARY KEY (session, group_id, sender)
);

CREATE TABLE identities (
    session      TEXT NOT NULL,
    address      TEXT NOT NULL,
    identity_key BLOB NOT NULL,
    PRIMARY KEY (session, address)
);

CREATE TABLE app_state_keys (
    session TEXT NOT NULL,
    key_id  BLOB NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (session, key_id)
);

-- Incoming messages, committed before they are acked; a redelivered id is
-- ignored. `seq` is the order handlers see them in.
CREATE TABLE inbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    session     TEXT    NOT NULL,
    msg_id      TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    stanza      BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    handled_at  INTEGER,
    UNIQUE (session, msg_id)
);
CREATE INDEX inbox_unhandled ON inbox (session, seq) WHERE handled_at IS NULL;

-- Handlers' replies, written in the transaction that marks their inbox
-- entry handled.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    session      TEXT    NOT NULL,
    inbox_msg_id TEXT    NOT NULL,
    recipient    TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER
);
CREATE INDEX outbox_unsent ON outbox (session, seq) WHERE sent_at IS NULL;

-- Whole-session snapshots (see core::session::snapshot), newest generation
-- highest; older ones beyond SESSION_BACKUP_KEEP are deleted.
CREATE TABLE snapshots (
    session    TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    bytes      BLOB    NOT NULL,
    PRIMARY KEY (session, generation)
);
