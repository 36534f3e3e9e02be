//! The end-to-end plaintext path fed arbitrary bytes: WhatsApp's padding
//! check, the `Message` protobuf and the content view over it. None may
//! panic, and the view's Debug must always format.
#![no_main]
use blacksky_core::message::content::Content;
use blacksky_core::message::padding::unpad;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = unpad(data) {
        let pad_len = data.len() - body.len();
        assert!((1..=16).contains(&pad_len));
    }
    if let Ok(content) = Content::decode(data) {
        let _ = format!("{content:?}");
        let _ = content.text();
        let _ = content.context();
    }
});
