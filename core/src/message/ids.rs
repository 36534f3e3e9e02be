//! Message ids in WhatsApp Web's format: `3EB0` and 18 upper-case hex
//! digits (9 bytes of a SHA-256). A reply's id is derived from the message
//! it answers and its place among the answers, so a handler run again
//! after a failed commit names the same messages (never a second copy).

use sha2::{Digest, Sha256};

/// WhatsApp Web's prefix of the ids it makes.
pub const WEB_PREFIX: &str = "3EB0";

/// The id of the `index`-th reply to the message `answered`.
#[must_use]
pub fn reply_id(answered: &str, index: usize) -> String {
    let mut hash = Sha256::new();
    hash.update(b"blacksky reply\0");
    hash.update(answered.as_bytes());
    hash.update([0]);
    hash.update((index as u64).to_be_bytes());
    id_from(&hash.finalize())
}

/// An id from 9 bytes of `digest`.
#[must_use]
pub fn id_from(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut id = String::with_capacity(WEB_PREFIX.len() + 18);
    id.push_str(WEB_PREFIX);
    for byte in digest.iter().take(9) {
        let _ = write!(id, "{byte:02X}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_ids_look_like_whatsapp_webs_and_differ_by_place() {
        let first = reply_id("3EB0ABCDEF", 0);
        assert_eq!(first.len(), 22);
        assert!(first.starts_with("3EB0"));
        assert!(
            first[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        assert_eq!(first, reply_id("3EB0ABCDEF", 0), "stable");
        assert_ne!(first, reply_id("3EB0ABCDEF", 1));
        assert_ne!(first, reply_id("3EB0ABCDEG", 0));
    }
}
