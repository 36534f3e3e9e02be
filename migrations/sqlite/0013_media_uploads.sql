-- Files the media host took, by their plaintext's SHA-256 and the type
-- they were sent as: sent again with the kept key and direct path instead
-- of a second upload while reusable (a week). At most 512 per session:
-- each new one prunes the oldest and the expired.
CREATE TABLE media_uploads (
    session         TEXT NOT NULL,
    file_sha256     BLOB NOT NULL,
    media_type      TEXT NOT NULL,
    media_key       BLOB NOT NULL,
    file_enc_sha256 BLOB NOT NULL,
    file_length     BIGINT NOT NULL,
    url             TEXT NOT NULL,
    direct_path     TEXT NOT NULL,
    uploaded_at     BIGINT NOT NULL,
    PRIMARY KEY (session, file_sha256, media_type)
);
CREATE INDEX media_uploads_by_age ON media_uploads (session, uploaded_at);
