//! Compiles protos/*.proto with protox (pure Rust), so a fresh machine
//! builds with cargo alone: no system `protoc`.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "protos/handshake.proto",
        "protos/client_payload.proto",
        "protos/adv.proto",
        "protos/session.proto",
        "protos/whisper.proto",
        "protos/signal_record.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["protos"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    prost_build::Config::new()
        .out_dir(&out_dir)
        // These hold private keys and secrets: their Debug is written by
        // hand in lib.rs and redacts them.
        .skip_debug([
            "blacksky.store.KeyPair",
            "blacksky.store.Creds",
            "blacksky.store.SignalSessionRecord",
            "blacksky.store.SenderKeyRecord",
            "blacksky.store.AppStateKeyRecord",
            "blacksky.store.SessionSnapshot",
            "blacksky.store.SignalRecord",
            "blacksky.store.SignalState",
            "blacksky.store.SignalSendingChain",
            "blacksky.store.SignalReceivingChain",
            "blacksky.store.SignalMessageKey",
        ])
        .compile_fds(descriptors)?;
    Ok(())
}
