//! The `blacksky` binary.
fn main() {
    eprintln!("blacksky: the protocol client is not wired up yet");
    std::process::exit(2);
}
