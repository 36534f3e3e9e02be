//! A Signal msg from a peer: arbitrary bytes, or a real msg with bytes
//! XORed in, decoded and decrypted against an established session. It must
//! never panic, and a refusal must come back as a typed error.
#![no_main]
#[path = "common/signal_fixture.rs"]
mod signal_fixture;

use blacksky_core::signal::{self, SignalMessage};
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
        mutated(&f.msg, rest)
    };
    let _ = SignalMessage::decode(&bytes);
    let mut rng = rng();
    if let Ok(decrypted) = signal::decrypt_msg(&f.bob_record, &f.bob_identity, &bytes, &mut rng) {
        // Only Alice's real message decrypts (the MAC stops the rest).
        assert_eq!(decrypted.plaintext, b"a new ratchet key");
    }
});
