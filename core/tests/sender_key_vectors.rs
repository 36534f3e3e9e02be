//! Known answers for sender keys, computed by Baileys' own sender-key
//! code (`interop/sender-key-vectors.mjs` made `data/sender_key_vectors.json`):
//! the chain and message keys from a fixed chain key, and a distribution
//! message and skmsgs Baileys made, which we must take in and decrypt.

use blacksky_core::signal::SecretKey;
use blacksky_core::signal::group::message_key::SenderMessageKey;
use blacksky_core::signal::group::{
    GroupError, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord, group_decrypt,
    process_distribution,
};
use blacksky_core::signal::kdf::ChainKey;
use serde_json::Value;

const VECTORS: &str = include_str!("data/sender_key_vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors are JSON")
}

fn hex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("hex")
}

fn hex32(value: &Value) -> [u8; 32] {
    hex(value).try_into().expect("32 bytes")
}

#[test]
fn chain_and_message_keys_match_baileys() {
    let vectors = vectors();
    let chain = &vectors["chain"];
    let steps = chain["steps"].as_array().expect("steps");
    assert!(steps.len() >= 5, "too few steps to mean anything");
    let mut key = ChainKey::new(SecretKey::from(hex32(&chain["chain_key"])), 0);
    for step in steps {
        let iteration = u32::try_from(step["iteration"].as_u64().expect("iteration"))
            .expect("iteration fits u32");
        while key.index() < iteration {
            key = key.next().expect("chain goes on");
        }
        assert_eq!(
            key.key().expose(),
            &hex32(&step["chain_key"]),
            "chain key {iteration}"
        );
        let message_key = SenderMessageKey::of(&key);
        assert_eq!(message_key.iteration(), iteration);
        assert_eq!(
            message_key.seed().expose(),
            &hex32(&step["message_key_seed"]),
            "message key {iteration}"
        );
        let cipher = message_key.cipher_keys();
        assert_eq!(cipher.iv.to_vec(), hex(&step["iv"]), "iv {iteration}");
        assert_eq!(
            cipher.key.to_vec(),
            hex(&step["cipher_key"]),
            "key {iteration}"
        );
    }
}

#[test]
fn baileys_distribution_message_and_skmsgs_decrypt() {
    let vectors = vectors();
    let sender = &vectors["baileys_sender"];
    let skdm_bytes = hex(&sender["skdm"]);
    let skdm = SenderKeyDistributionMessage::parse(&skdm_bytes).expect("Baileys' SKDM parses");
    assert_eq!(
        u64::from(skdm.key_id()),
        sender["key_id"].as_u64().expect("id")
    );
    assert_eq!(skdm.iteration(), 0);
    assert_eq!(
        skdm.chain_key().expose(),
        &hex32(&vectors["chain"]["chain_key"])
    );
    // Baileys sends the signing key with its 0x05 prefix.
    assert_eq!(skdm_bytes[skdm_bytes.len() - 34..][..2], [0x21, 0x05]);

    let mut record =
        process_distribution(&SenderKeyRecord::default(), &skdm_bytes).expect("process");
    let messages = sender["messages"].as_array().expect("messages");
    let mut iterations = Vec::new();
    for message in messages {
        let bytes = hex(&message["skmsg"]);
        iterations.push(SenderKeyMessage::parse(&bytes).expect("parse").iteration());
        let (plaintext, next) = group_decrypt(&record, &bytes).expect("decrypts");
        assert_eq!(plaintext, hex(&message["plaintext"]));
        record = next;
    }
    // Baileys' GroupCipher asks for iteration + 1 after the first message:
    // it uses every other iteration, and we keep the ones it skips.
    assert_eq!(iterations, [0, 2, 4]);
    assert_eq!(record.skipped_keys_len(), 2);
    let first = hex(&messages[0]["skmsg"]);
    assert!(matches!(
        group_decrypt(&record, &first),
        Err(GroupError::DuplicateIteration { iteration: 0, .. })
    ));
}
