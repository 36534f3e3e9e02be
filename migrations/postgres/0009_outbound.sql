-- Outbound messages: each outbox row gets its WhatsApp message id (chosen
-- when the row is written, so a retried handler commit names the same
-- message) and, once sealed, the exact stanza it is sent as: resent as it
-- is after a reconnect, never sealed again with new counters.
ALTER TABLE outbox ADD COLUMN msg_id TEXT;
ALTER TABLE outbox ADD COLUMN stanza BYTEA;
CREATE UNIQUE INDEX outbox_msg_id ON outbox (session, msg_id);
