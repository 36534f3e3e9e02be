//! The sender-key decoders fed arbitrary bytes: skmsg and SKDM parsing,
//! the stored record, and decryption against a fixed member record. None
//! may panic; what parses must re-encode to what parses the same; a
//! refused message leaves the record as it was.
#![no_main]
use blacksky_core::signal::{PublicKey, SecretKey};
use blacksky_core::signal::group::{
    SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord, group_decrypt,
    process_distribution,
};
use libfuzzer_sys::fuzz_target;

/// A member record of a fixed sender key (id 7, iteration 3).
fn member() -> SenderKeyRecord {
    let distribution = SenderKeyDistributionMessage::new(
        7,
        3,
        SecretKey::from([0x11; 32]),
        PublicKey::from([0x22; 32]),
    );
    process_distribution(&SenderKeyRecord::default(), &distribution.to_bytes())
        .unwrap_or_else(|e| panic!("a valid SKDM: {e}"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SenderKeyMessage::parse(data) {
        let again = SenderKeyMessage::parse(&message.to_bytes());
        assert_eq!(again.as_ref(), Ok(&message));
    }
    if let Ok(distribution) = SenderKeyDistributionMessage::parse(data) {
        let bytes = distribution.to_bytes();
        let again = SenderKeyDistributionMessage::parse(&bytes)
            .unwrap_or_else(|e| panic!("an SKDM we encoded: {e}"));
        assert_eq!(again.to_bytes(), bytes);
    }
    if let Ok(record) = SenderKeyRecord::decode(data) {
        let again = SenderKeyRecord::decode(&record.encode())
            .unwrap_or_else(|e| panic!("a record we encoded: {e}"));
        assert_eq!(again.encode(), record.encode());
    }
    let record = member();
    let before = record.encode();
    // Without the signing key's private half no input can pass the
    // signature; this walks every refusal before it.
    assert!(group_decrypt(&record, data).is_err());
    assert_eq!(record.encode(), before);
});
