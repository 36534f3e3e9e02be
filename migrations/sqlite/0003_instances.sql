-- Every process that ran a session, in start order. Before it connects,
-- a process checks that no newer one has started: an old dyno whose
-- socket dropped during a hand-over must not take the session back from
-- the new one (which would then stand by, and the old one be stopped).
CREATE TABLE instances (
    epoch      INTEGER PRIMARY KEY AUTOINCREMENT,
    session    TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE INDEX instances_session ON instances (session, epoch);
