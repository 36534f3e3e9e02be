//! A Signal pkmsg from a peer: arbitrary bytes, or a real pkmsg with bytes
//! XORed in, decoded and decrypted with and without an existing session.
//! It must never panic, and a refusal must come back as a typed error.
#![no_main]
#[path = "common/signal_fixture.rs"]
mod signal_fixture;

use blacksky_core::signal::{self, PreKeySignalMessage};
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
        mutated(&f.pkmsg, rest)
    };
    let _ = PreKeySignalMessage::decode(&bytes);
    let record = (mode & 2 == 0).then_some(&f.bob_record);
    let mut rng = rng();
    if let Ok(decrypted) = signal::decrypt_pkmsg(record, &f.bob_identity, f, &bytes, &mut rng) {
        assert_eq!(decrypted.plaintext, b"hello from carol");
        assert_eq!(decrypted.consumed_pre_key, Some(2));
    }
});
