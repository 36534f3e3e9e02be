//! The frame decoder fed arbitrary bytes in arbitrary chunks, as client and
//! as server: it must never panic, never hand out a frame over its cap,
//! and agree with itself whatever the chunking.
#![no_main]
use blacksky_core::wire::frame::FrameDecoder;
use libfuzzer_sys::fuzz_target;

const CAP: usize = 4096;

fn drain(decoder: &mut FrameDecoder, out: &mut Vec<Vec<u8>>) -> bool {
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.len() <= CAP);
                out.push(frame.to_vec());
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    let server = control & 1 == 1;
    let chunk = usize::from(control >> 1).max(1);
    let new = || if server { FrameDecoder::server(CAP) } else { FrameDecoder::client(CAP) };

    let mut whole = new();
    let mut whole_frames = Vec::new();
    whole.push(bytes);
    let whole_ok = drain(&mut whole, &mut whole_frames);

    let mut pieces = new();
    let mut piece_frames = Vec::new();
    let mut pieces_ok = true;
    for part in bytes.chunks(chunk) {
        pieces.push(part);
        if !drain(&mut pieces, &mut piece_frames) {
            pieces_ok = false;
            break;
        }
    }
    assert_eq!(whole_ok, pieces_ok);
    assert_eq!(whole_frames, piece_frames);
});
