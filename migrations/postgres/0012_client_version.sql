-- The WhatsApp Web version learnt after a 405 ("client outdated") from
-- the web client's sw.js: every session of this database logs in with
-- it from then on, a restarted process at once. One row; WA_VERSION
-- overrides it.
CREATE TABLE client_version (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    version     TEXT    NOT NULL,
    learned_at  BIGINT  NOT NULL
);
