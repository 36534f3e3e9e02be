-- With SESSION_SECRET set, the credential and key rows (creds, pre_keys,
-- signal_sessions, sender_keys, identities, app_state_keys) hold
-- AES-256-GCM ciphertext under a key derived from the secret and this
-- row's salt. The row exists once the store is sealed (every key row is,
-- from the same transaction on); check_value opens only under the secret
-- it was sealed with, so a wrong secret is told before any row is read.
CREATE TABLE row_sealing (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    kdf_iterations INTEGER NOT NULL,
    salt           BLOB    NOT NULL,
    check_value    BLOB    NOT NULL,
    sealed_at      INTEGER NOT NULL
);
