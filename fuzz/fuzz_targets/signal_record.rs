//! A stored Signal session record that may be corrupt: decoding must give
//! a record or a typed error, never a panic; a record that decodes encodes
//! to bytes that decode to the same record, and can be used (encrypt, and
//! decrypt a msg) without panicking.
#![no_main]
#[path = "common/signal_fixture.rs"]
mod signal_fixture;

use blacksky_core::signal::{self, SessionRecord};
use libfuzzer_sys::fuzz_target;
use signal_fixture::{fixture, mutated, rng};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        mutated(&f.bob_record.encode(), rest)
    };
    let Ok(record) = SessionRecord::decode(&bytes) else {
        return;
    };
    let encoded = record.encode();
    let again = SessionRecord::decode(&encoded).expect("an encoded record decodes");
    assert_eq!(again.encode(), encoded);
    let _ = signal::encrypt(&record, &f.bob_identity, b"x");
    let _ = signal::decrypt_msg(&record, &f.bob_identity, &f.msg, &mut rng());
});
