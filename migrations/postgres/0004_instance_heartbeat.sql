-- When each process last said it is alive, and when it stopped (Unix ms,
-- the database's clock). A process that loses the session (440) asks the
-- register who took it: a newer process of this session (stand by for it,
-- take over once it is gone), an older one whose login was already under
-- way when this one started (take the session back), or someone outside
-- this database (stand by).
ALTER TABLE instances ADD COLUMN seen_at BIGINT;
ALTER TABLE instances ADD COLUMN stopped_at BIGINT;
