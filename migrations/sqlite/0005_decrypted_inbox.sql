-- End-to-end decryption. An inbox row holds the decrypted message (the
-- `Message` protobuf, padding removed) or why it cannot be read; rows from
-- before hold neither (their stanza is ciphertext).
ALTER TABLE inbox ADD COLUMN message BLOB;
ALTER TABLE inbox ADD COLUMN unreadable TEXT;

-- Retry receipts sent for messages not stored yet (WhatsApp allows five a
-- message): the count survives restarts. Deleted when the message is stored.
CREATE TABLE message_retries (
    session TEXT    NOT NULL,
    msg_id  TEXT    NOT NULL,
    sender  TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (session, msg_id, sender)
);
