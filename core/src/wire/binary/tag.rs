//! The reserved tag bytes. Every other byte below 236 is a single-byte
//! token (1..=235); 240..=244 are unused.

/// An empty list; as a string, the empty string (Baileys reads it so).
pub const LIST_EMPTY: u8 = 0;
/// Not a tag of its own in dictionary v3: byte 2 is the single-byte token
/// `xmlstreamend`, and a stream end arrives as the node `<xmlstreamend/>`.
pub const STREAM_END: u8 = 2;
/// `DICTIONARY_0 + d`, then an index byte: a token of double-byte table `d`.
pub const DICTIONARY_0: u8 = 236;
pub const DICTIONARY_1: u8 = 237;
pub const DICTIONARY_2: u8 = 238;
pub const DICTIONARY_3: u8 = 239;
/// User string, 16-bit device, 16-bit integrator, server string.
pub const INTEROP_JID: u8 = 245;
/// User string, 16-bit device, server string (Messenger, `msgr`).
pub const FB_JID: u8 = 246;
/// Domain byte, device byte, user string.
pub const AD_JID: u8 = 247;
/// A list with an 8-bit size.
pub const LIST_8: u8 = 248;
/// A list with a 16-bit big-endian size.
pub const LIST_16: u8 = 249;
/// User (or `LIST_EMPTY`), then server.
pub const JID_PAIR: u8 = 250;
/// Hex-packed string: `0-9A-F`, two characters a byte.
pub const HEX_8: u8 = 251;
/// Raw bytes with an 8-bit length.
pub const BINARY_8: u8 = 252;
/// Raw bytes with a 20-bit length in 3 bytes (the top 4 bits are ignored).
pub const BINARY_20: u8 = 253;
/// Raw bytes with a 32-bit big-endian length.
pub const BINARY_32: u8 = 254;
/// Nibble-packed string: `0-9 - .`, two characters a byte.
pub const NIBBLE_8: u8 = 255;

/// The longest string encoders pack (the length byte's low 7 bits count
/// packed bytes, so decoders read up to 254 characters, but every encoder
/// stops at 127).
pub const PACKED_MAX: usize = 127;
