//! Frames survive any chunking the network can produce, in both
//! directions, and an oversized frame is caught wherever it falls.
use blacksky_core::wire::frame::{FrameDecoder, FrameEncoder, FrameError};
use proptest::prelude::*;

const MAX: usize = 1 << 16;

/// Splits `bytes` at the given cut points (taken modulo the length).
fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect()
}

fn decode_all(decoder: &mut FrameDecoder, chunks: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_frame()? {
            out.push(frame.to_vec());
        }
    }
    Ok(out)
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 250..300),
            prop::collection::vec(any::<u8>(), 65_530..65_540),
        ],
        0..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn client_to_server_under_any_chunking(
        frames in payloads(),
        routing in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        cuts in prop::collection::vec(any::<usize>(), 0..50),
    ) {
        let mut enc = FrameEncoder::client(routing.as_deref(), MAX + 100).expect("routing fits");
        let mut wire = Vec::new();
        for f in &frames { enc.encode_into(f, &mut wire).expect("payload fits"); }
        let mut dec = FrameDecoder::server(MAX + 100);
        let got = decode_all(&mut dec, &chunked(&wire, &cuts)).expect("valid stream");
        prop_assert_eq!(got, frames.clone());
        if !frames.is_empty() {
            prop_assert_eq!(dec.routing_info(), routing.as_deref());
        }
        prop_assert_eq!(dec.buffered_len(), 0);
    }

    #[test]
    fn server_to_client_byte_by_byte(frames in payloads()) {
        let mut enc = FrameEncoder::server(MAX + 100);
        let mut wire = Vec::new();
        for f in &frames { enc.encode_into(f, &mut wire).expect("payload fits"); }
        let single_bytes: Vec<Vec<u8>> = wire.iter().map(|b| vec![*b]).collect();
        let got = decode_all(&mut FrameDecoder::client(MAX + 100), &single_bytes).expect("valid stream");
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn oversized_frame_is_reported_at_its_offset(
        good in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..5),
        excess in 1usize..1000,
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let cap = 32;
        let mut enc = FrameEncoder::server(cap);
        let mut wire = Vec::new();
        for f in &good { enc.encode_into(f, &mut wire).expect("payload fits"); }
        let offset = wire.len() as u64;
        let bad_len = cap + excess;
        wire.extend_from_slice(&(bad_len as u32).to_be_bytes()[1..]);
        wire.extend(std::iter::repeat_n(0u8, bad_len));
        let err = decode_all(&mut FrameDecoder::client(cap), &chunked(&wire, &cuts)).expect_err("over the cap");
        prop_assert_eq!(err, FrameError::TooLarge { offset, len: bad_len, max: cap });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), server in any::<bool>()) {
        let mut dec = if server { FrameDecoder::server(64) } else { FrameDecoder::client(64) };
        dec.push(&bytes);
        for _ in 0..bytes.len() + 1 {
            match dec.next_frame() {
                Ok(Some(frame)) => prop_assert!(frame.len() <= 64),
                Ok(None) | Err(_) => break,
            }
        }
    }
}
