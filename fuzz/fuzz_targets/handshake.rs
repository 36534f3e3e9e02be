//! The Noise handshake fed arbitrary bytes where a peer's message belongs:
//! as the client hello and as the client finish (server side), and as the
//! server hello (client side). Keys are fixed, so every run is the same;
//! the only requirement is a typed error instead of a panic.
#![no_main]
use blacksky_core::time::UnixMillis;
use blacksky_core::crypto::KeyPair;
use blacksky_core::wire::noise::{ClientHandshake, ServerHandshake};
use libfuzzer_sys::fuzz_target;

const PROLOGUE: [u8; 4] = [0x57, 0x41, 0x06, 0x03];
const NOW: UnixMillis = UnixMillis(1_750_000_000_000);

fn key(byte: u8) -> KeyPair {
    KeyPair::from_private_bytes([byte; 32])
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let server_static = key(1);
    let client_static = key(2);
    // The server does not read its own chain: any bytes do as payload.
    let server = ServerHandshake::new(&PROLOGUE, &server_static, b"cert chain".to_vec());
    match mode % 3 {
        // Arbitrary client hello.
        0 => {
            let _ = server.read_client_hello_with_ephemeral(bytes, key(3));
        }
        // A real client hello, then an arbitrary client finish.
        1 => {
            let (_, hello) =
                ClientHandshake::start_with_ephemeral(&PROLOGUE, &client_static, key(4));
            let Ok((server, _)) = server.read_client_hello_with_ephemeral(&hello, key(3)) else {
                panic!("a real client hello must be accepted");
            };
            let _ = server.read_client_finish(bytes);
        }
        // Client side: an arbitrary server hello.
        _ => {
            let (client, _) =
                ClientHandshake::start_with_ephemeral(&PROLOGUE, &client_static, key(4));
            let _ = client.read_server_hello(bytes, server_static.public(), NOW);
        }
    }
});
