-- When each process last said it is alive (Unix ms, the database's clock).
-- A process that loses the session (440) while it is the newest asks
-- whether an older one of this session still runs: if so, that one's
-- login was late (begun before this process started) and the session is
-- taken back; if not, someone outside this database took it, and the
-- process stands by.
ALTER TABLE instances ADD COLUMN seen_at INTEGER;
