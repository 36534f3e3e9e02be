//! A downloaded media blob is bytes from a host: fed to the streaming
//! decryptor in arbitrary pieces, under the message's expectations. It
//! must never panic, never put out more plaintext than the blob could
//! hold, and accept only the one blob the expectations name.
#![no_main]
use blacksky_core::media::{
    ExpectedMedia, MediaConn, MediaDecryptor, MediaKeys, MediaType, blob_len_for,
};
use blacksky_core::message::content::MediaKey;
use blacksky_core::wire::binary::Node;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (head, blob) = rest.split_at(rest.len().min(33));
    let key_byte = head.first().copied().unwrap_or(0);
    let keys = match MediaKeys::expand(&MediaKey::from_bytes(vec![key_byte; 32]), MediaType::Video)
    {
        Ok(keys) => keys,
        Err(_) => return,
    };
    let expected = ExpectedMedia {
        file_sha256: [key_byte; 32],
        file_enc_sha256: [split; 32],
        file_length: head.get(1).map(|&b| u64::from(b) * 16),
    };
    let mut decryptor = MediaDecryptor::new(&keys, expected, 4096);
    let mut plaintext = Vec::new();
    let piece = usize::from(split % 64) + 1;
    for chunk in blob.chunks(piece) {
        if decryptor.update(chunk, &mut plaintext).is_err() {
            return;
        }
        assert!(plaintext.len() <= blob.len());
    }
    if let Ok(verified) = decryptor.finish(&mut plaintext) {
        assert_eq!(verified.file_length, plaintext.len() as u64);
        assert_eq!(blob_len_for(verified.file_length), blob.len() as u64);
    }

    // The media_conn answer is the server's too.
    if let Ok(text) = std::str::from_utf8(blob) {
        let mut node = Node::new("media_conn")
            .with_attr("auth", "a")
            .with_attr("ttl", text.to_owned());
        for host in text.split(',').take(20) {
            node = node.with_child(Node::new("host").with_attr("hostname", host.to_owned()));
        }
        if let Ok(conn) = MediaConn::parse(&node) {
            assert!(!conn.hosts.is_empty() && conn.hosts.len() <= 8);
        }
    }
});
