//! The participant hash (`phash`) of a group message: which member
//! devices the sender sealed it for. The server compares it with the
//! group's devices as it knows them; when they differ (a member added
//! between our seal and its arrival), a device we did not seal for
//! asks again with a retry receipt and gets the message 1:1.
//!
//! Version 2: `2:` then the standard base64 of the first 6 bytes of the
//! SHA-256 of the sorted device JIDs concatenated. Implementations spell
//! the JIDs differently (whatsmeow its AD form, others a legacy one);
//! ours is `user:device@server`, the device always written. A server that
//! spells them otherwise only answers with its own hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::wire::binary::Jid;

/// Bytes of the digest the hash keeps.
const HASH_BYTES: usize = 6;

/// The `phash` of a message sealed for `devices` (every member device,
/// ours included).
#[must_use]
pub fn participant_hash<'a>(devices: impl IntoIterator<Item = &'a Jid>) -> String {
    let mut spelled: Vec<String> = devices
        .into_iter()
        .map(|jid| {
            format!(
                "{}:{}@{}",
                jid.user(),
                jid.device().unwrap_or(0),
                jid.server()
            )
        })
        .collect();
    spelled.sort_unstable();
    spelled.dedup();
    let mut digest = Sha256::new();
    for jid in &spelled {
        digest.update(jid.as_bytes());
    }
    format!("2:{}", STANDARD.encode(&digest.finalize()[..HASH_BYTES]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(text: &str) -> Jid {
        Jid::parse(text).expect("a JID")
    }

    #[test]
    fn the_hash_is_the_known_answer_whatever_the_order_and_spelling() {
        // sha256("111:0@s.whatsapp.net222:3@s.whatsapp.net")[..6], base64.
        let expected = "2:CwJMQJ6R";
        let devices = [jid("222:3@s.whatsapp.net"), jid("111@s.whatsapp.net")];
        assert_eq!(participant_hash(&devices), expected);
        let again = [jid("111:0@s.whatsapp.net"), jid("222:3@s.whatsapp.net")];
        assert_eq!(participant_hash(&again), expected);
    }

    #[test]
    fn another_member_device_is_another_hash() {
        let one = [jid("111@s.whatsapp.net")];
        let two = [jid("111@s.whatsapp.net"), jid("111:1@s.whatsapp.net")];
        assert_ne!(participant_hash(&one), participant_hash(&two));
    }
}
