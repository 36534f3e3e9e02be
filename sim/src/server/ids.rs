//! Ids the server makes up, all from the seeded RNG or a counter.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_core::RngCore;

use super::FakeServer;

impl FakeServer {
    /// An id for a stanza the server starts (iq, notification): decimal,
    /// unique for the server's life.
    pub(crate) fn next_stanza_id(&mut self) -> String {
        self.stanza_counter += 1;
        (100_000 + self.stanza_counter).to_string()
    }

    /// A pairing ref like WhatsApp's: `2@` and base64 (never a comma,
    /// which separates the QR text's fields).
    pub(crate) fn new_ref(&mut self) -> String {
        let mut raw = [0u8; 48];
        self.rng.fill_bytes(&mut raw);
        format!("2@{}", STANDARD.encode(raw))
    }

    /// A message id like WhatsApp Web's: `3EB0` and 18 uppercase hex digits.
    pub(crate) fn new_message_id(&mut self) -> String {
        let mut raw = [0u8; 9];
        self.rng.fill_bytes(&mut raw);
        format!("3EB0{}", hex::encode_upper(raw))
    }
}
