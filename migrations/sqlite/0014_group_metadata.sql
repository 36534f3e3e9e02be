-- The groups the bot is in, as last read from the server or told by a
-- notification: the `<group>` node in WhatsApp's binary codec, and when
-- the server last described it whole. A cache: after a restart the bot
-- knows its groups' members and admins before the login's list comes.
-- At most 2,048 per session (the client forgets the one read longest ago).
CREATE TABLE group_metadata (
    session    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    node       BLOB NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (session, group_id)
);
