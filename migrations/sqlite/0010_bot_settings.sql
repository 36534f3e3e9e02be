-- The bot's settings that commands change (prefix, languages, welcome and
-- goodbye texts, antilink) as one JSON document per session, written in
-- the transaction that marks the changing message handled.
CREATE TABLE bot_settings (
    session     TEXT    PRIMARY KEY,
    settings    TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- Effects commands asked for (restart, backup, broadcast, group actions),
-- stored with the handled mark and performed after the commit: a row
-- without done_at is still to do, by the next process too. effect_id is
-- the inbox message id and the effect's place, so a retried commit stores
-- it once.
CREATE TABLE effects (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    session      TEXT    NOT NULL,
    effect_id    TEXT    NOT NULL,
    inbox_msg_id TEXT    NOT NULL,
    effect       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    done_at      INTEGER,
    UNIQUE (session, effect_id)
);
CREATE INDEX effects_pending ON effects (session, done_at, seq);
