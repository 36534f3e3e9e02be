-- Alerts for the operator, durable until the webhook took them: one row
-- when an incident opens and one when it recovers (the pair is unique, so
-- an alert is stored once however often it is handed in). Rows without
-- sent_at are retried with backoff, by the next process too; an incident
-- with an "opened" row and no "recovered" one is still open.
CREATE TABLE alert_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    session         TEXT    NOT NULL,
    incident        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    opened_at       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    UNIQUE (session, incident, phase)
);
CREATE INDEX alert_outbox_unsent ON alert_outbox (session, sent_at, next_attempt_at);
