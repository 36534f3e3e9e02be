//! A rough timing loop over the shared stanza set (the real benches are
//! criterion, in benches/). Run by hand:
//! `cargo test --release -p blacksky-core --test binary_speed -- --ignored --nocapture`
//! (`BINARY_SPEED_ONLY=a_` times only the stanzas whose name starts so,
//! `BINARY_SPEED_ONLY=a_:decode` only their decoding into a reused
//! `Decoded`, `:owned` only `decode`, `:encode` only encoding: for a
//! profiler).

mod binary_common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use binary_common::load_stanzas;
use blacksky_core::wire::binary::{Decoded, decode, encode_into};

/// Best of several rounds, in ns per call.
fn time(mut f: impl FnMut()) -> f64 {
    let mut iters = 1u32;
    // Size a round to ~20 ms.
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() > Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore = "timing, run by hand in release"]
fn decode_and_encode_timing() {
    let only = std::env::var("BINARY_SPEED_ONLY").unwrap_or_default();
    let (prefix, what) = only.split_once(':').unwrap_or((&only, ""));
    let mut out = Vec::with_capacity(1 << 17);
    for s in load_stanzas()
        .into_iter()
        .filter(|s| s.name.starts_with(prefix))
    {
        let bytes = s.bytes();
        let node = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        // The receive path: one reused buffer, views into it.
        let mut buf = Decoded::new();
        let flat = if what != "encode" && what != "owned" {
            time(|| {
                black_box(buf.decode(black_box(&bytes)).is_ok());
            })
        } else {
            f64::NAN
        };
        // An owned tree per call.
        let owned = if what != "encode" && what != "decode" {
            time(|| {
                black_box(decode(black_box(&bytes)).is_ok());
            })
        } else {
            f64::NAN
        };
        let enc = if what != "decode" && what != "owned" {
            time(|| {
                out.clear();
                black_box(encode_into(black_box(&node), &mut out).is_ok());
            })
        } else {
            f64::NAN
        };
        println!(
            "{:<20} {:>6} B   decode {:>8.0} ns   decode owned {:>8.0} ns   encode {:>8.0} ns",
            s.name,
            bytes.len(),
            flat,
            owned,
            enc
        );
    }
}
