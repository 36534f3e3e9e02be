//! The binary node codec (WhatsApp "WAP" binary XML, dictionary version 3).
//!
//! A decrypted frame is a flags byte (bit `0x02`: the rest is
//! zlib-deflated) followed by one node. A node is a list: its tag, its
//! attributes as key/value pairs, then optional content (a string, raw
//! bytes, or a list of child nodes). Strings travel as a dictionary token
//! when one exists, else nibble- or hex-packed, else as raw UTF-8; JIDs
//! have their own compact forms.
//!
//! The model keeps every distinction the wire makes, so that
//! `encode(decode(x)) == x` for what real peers send: JIDs are a value
//! kind of their own ([`Jid`]), byte content stays apart from text, and
//! attribute order and duplicates are kept. What is *not* kept is a
//! sender's choice between two encodings of the same string (a raw string
//! that is also a token, a `LIST_16` of three children): we always write
//! the canonical form, the one Baileys and WhatsApp Web write.
//!
//! The decoder reads what the reference decoders read, also forms no
//! encoder of ours writes: empty and over-long (up to 254 characters)
//! packed strings, nibble 15 inside one (NUL), a JID where a string goes
//! (its text), an interop JID without its server, and an `AD_JID` of
//! device 0 (the bare JID: the phone has one name).
//!
//! Two ways to read:
//! - [`Decoded`] + [`NodeRef`]: the receive path. One buffer reused for
//!   every stanza, views into it, no allocation per stanza.
//! - [`decode`] → [`Node`]: an owned tree, for tests, tools and whatever
//!   must outlive the next stanza ([`NodeRef::to_node`] gives the same).
//!
//! One way to write: build a [`Node`], then [`encode`] or [`encode_into`].
//!
//! ```
//! use blacksky_core::wire::binary::{Decoded, Jid, Node, decode, encode};
//!
//! let ping = Node::new("iq")
//!     .with_attr("to", Jid::at("s.whatsapp.net"))
//!     .with_attr("type", "get")
//!     .with_attr("xmlns", "w:p")
//!     .with_children(vec![Node::new("ping")]);
//! let bytes = encode(&ping).unwrap();
//! assert_eq!(decode(&bytes).unwrap(), ping);
//!
//! let mut buf = Decoded::new();
//! let iq = buf.decode(&bytes).unwrap();
//! assert_eq!(iq.attr("xmlns"), Some("w:p"));
//! assert_eq!(iq.attr_jid("to"), Some(Jid::at("s.whatsapp.net")));
//! assert!(iq.child("ping").is_some());
//! ```

mod decode;
mod decoded;
mod encode;
mod jid;
mod jid_text;
mod node;
mod packed;
mod str;
pub mod tag;
mod tokens;

pub use decode::{DecodeError, DecodeLimits, Field, decode, decode_with_limits};
pub use decoded::{Children, ContentRef, Decoded, NodeRef, ValueRef};
pub use encode::{EncodeError, encode, encode_into};
pub use jid::Jid;
pub use node::{Content, Node, Value};
pub use str::Str;
