-- blacksky's session store (PostgreSQL). One database holds any number of
-- sessions: every row is keyed by the session name (SESSION_ID). Live state
-- is one row per key, updated in transactions; snapshots are whole-session
-- backups kept in rotating generations.

CREATE TABLE creds (
    session         TEXT    NOT NULL PRIMARY KEY,
    -- blacksky.store.Creds protobuf
    record          BYTEA    NOT NULL,
    -- 1 once the server accepted a login with these creds
    login_confirmed BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE pre_keys (
    session TEXT    NOT NULL,
    key_id  BIGINT NOT NULL,
    -- blacksky.store.PreKey protobuf
    record  BYTEA    NOT NULL,
    PRIMARY KEY (session, key_id)
);

CREATE TABLE signal_sessions (
    session TEXT NOT NULL,
    address TEXT NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, address)
);

CREATE TABLE sender_keys (
    session  TEXT NOT NULL,
    group_id TEXT NOT NULL,
    sender   TEXT NOT NULL,
    record   BYTEA NOT NULL,
    PRIMARY KEY (session, group_id, sender)
);

CREATE TABLE identities (
    session      TEXT NOT NULL,
    address      TEXT NOT NULL,
    identity_key BYTEA NOT NULL,
    PRIMARY KEY (session, address)
);

CREATE TABLE app_state_keys (
    session TEXT NOT NULL,
    key_id  BYTEA NOT NULL,
    record  BYTEA NOT NULL,
    PRIMARY KEY (session, key_id)
);

-- Incoming messages, committed before they are acked; a redelivered id is
-- ignored. `seq` is the order handlers see them in.
CREATE TABLE inbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session     TEXT    NOT NULL,
    msg_id      TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    stanza      BYTEA    NOT NULL,
    received_at BIGINT NOT NULL,
    handled_at  BIGINT,
    UNIQUE (session, msg_id)
);
CREATE INDEX inbox_unhandled ON inbox (session, seq) WHERE handled_at IS NULL;

-- Handlers' replies, written in the transaction that marks their inbox
-- entry handled.
CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session      TEXT    NOT NULL,
    inbox_msg_id TEXT    NOT NULL,
    recipient    TEXT    NOT NULL,
    payload      BYTEA    NOT NULL,
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT
);
CREATE INDEX outbox_unsent ON outbox (session, seq) WHERE sent_at IS NULL;

-- Whole-session snapshots (see core::session::snapshot), newest generation
-- highest; older ones beyond SESSION_BACKUP_KEEP are deleted.
CREATE TABLE snapshots (
    session    TEXT    NOT NULL,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    bytes      BYTEA    NOT NULL,
    PRIMARY KEY (session, generation)
);
