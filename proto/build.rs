//! Compiles protos/*.proto with protox (pure Rust), so a fresh machine
//! builds with cargo alone: no system `protoc`.
use std::path::PathBuf;

/// Records that hold private keys and secrets: their Debug is written by
/// hand in lib.rs and redacts them.
const SECRET_RECORD_TYPES: [&str; 14] = [
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
    // Chain keys and signing keys of group sender keys (the leading dot
    // takes the nested types too).
    "blacksky.group.SenderKeyDistributionMessage",
    "blacksky.group.SenderKeyRecordStructure",
    ".blacksky.group.SenderKeyStateStructure",
];

/// `blacksky.wa` message types that carry plaintext or keys (listed one by
/// one: a prefix match would take the enums inside `Message` too). Their
/// Debug, in lib.rs, shows only their size.
const OPAQUE_MESSAGE_TYPES: [&str; 18] = [
    "blacksky.wa.Message",
    "blacksky.wa.ContextInfo",
    "blacksky.wa.MessageContextInfo",
    "blacksky.wa.Message.FutureProofMessage",
    "blacksky.wa.Message.SenderKeyDistributionMessage",
    "blacksky.wa.Message.ExtendedTextMessage",
    "blacksky.wa.Message.ImageMessage",
    "blacksky.wa.Message.VideoMessage",
    "blacksky.wa.Message.AudioMessage",
    "blacksky.wa.Message.DocumentMessage",
    "blacksky.wa.Message.StickerMessage",
    "blacksky.wa.Message.ReactionMessage",
    "blacksky.wa.Message.ProtocolMessage",
    "blacksky.wa.Message.HistorySyncNotification",
    "blacksky.wa.Message.AppStateSyncKeyShare",
    "blacksky.wa.Message.AppStateSyncKey",
    "blacksky.wa.Message.AppStateSyncKeyData",
    "blacksky.wa.Message.DeviceSentMessage",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "protos/handshake.proto",
        "protos/client_payload.proto",
        "protos/adv.proto",
        "protos/session.proto",
        "protos/whisper.proto",
        "protos/signal_record.proto",
        "protos/sender_keys.proto",
        "protos/message.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["protos"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    prost_build::Config::new()
        .out_dir(&out_dir)
        .skip_debug(SECRET_RECORD_TYPES.iter().chain(&OPAQUE_MESSAGE_TYPES))
        .compile_fds(descriptors)?;
    Ok(())
}
