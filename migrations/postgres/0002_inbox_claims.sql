-- Which running instance is handling an inbox entry, until when (Unix ms,
-- the database's clock). Two instances sharing a session (overlapping
-- dynos) never hand the same entry to their handlers; a dead instance's
-- claim expires.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claim_until BIGINT;
