//! `Decoded`: a decoded payload in flat storage, for the receive path.
//!
//! The decoder writes every node, attribute and unpacked string of a
//! payload into a few vectors that a `Decoded` keeps between calls, so in
//! steady state decoding allocates nothing. [`NodeRef`] reads it in place
//! (tags, attributes, children, bytes borrow from the buffer);
//! [`NodeRef::to_node`] makes an owned [`Node`] when one is needed.

use std::fmt;

use super::decode::{self, DecodeError, DecodeLimits};
use super::jid::{Jid, Shape};
use super::node::{Content, Node, Value};
use super::str::Str;
use super::tokens;

/// A reusable buffer holding one decoded payload.
#[derive(Default, Clone)]
pub struct Decoded {
    /// The node bytes (inflated when the payload was compressed).
    pub(super) data: Vec<u8>,
    /// Packed strings, unpacked (ASCII).
    pub(super) text: Vec<u8>,
    /// Nodes in pre-order; the root is at 0.
    pub(super) nodes: Vec<FlatNode>,
    pub(super) attrs: Vec<(Flat, Flat)>,
    pub(super) jids: Vec<FlatJid>,
}

/// A string, byte range or JID of a `Decoded`, packed in one `u64` so the
/// parser passes it in a register: the low 2 bits are the kind, then
/// - token: the token code above them;
/// - data (a range of the node bytes), text (a range of the unpacked
///   strings): the length in bits 2..32 and the start in bits 32..64;
/// - JID: the index into `jids` above them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Flat(u64);

/// Payloads up to this size fit the 30-bit lengths of `Flat`.
pub(super) const DATA_LEN_MAX: usize = (1 << 30) - 1;

impl Flat {
    const TOKEN: u64 = 0;
    const DATA: u64 = 1;
    const TEXT: u64 = 2;
    const JID: u64 = 3;

    pub(super) const EMPTY: Flat = Flat(Flat::TEXT);

    #[inline]
    pub(super) fn token(code: tokens::Code) -> Flat {
        Flat((u64::from(code) << 2) | Flat::TOKEN)
    }

    /// `start` and `len` must lie within a buffer of at most
    /// `DATA_LEN_MAX` bytes (the data) or twice that (the text).
    #[inline]
    pub(super) fn data(start: usize, len: usize) -> Flat {
        Flat(((start as u64) << 32) | ((len as u64) << 2) | Flat::DATA)
    }

    #[inline]
    pub(super) fn text(start: usize, len: usize) -> Flat {
        Flat(((start as u64) << 32) | ((len as u64) << 2) | Flat::TEXT)
    }

    #[inline]
    pub(super) fn jid(index: usize) -> Flat {
        Flat(((index as u64) << 2) | Flat::JID)
    }

    #[inline]
    pub(super) fn is_token(self) -> bool {
        self.0 & 3 == Flat::TOKEN
    }

    #[inline]
    pub(super) fn is_text(self) -> bool {
        self.0 & 3 == Flat::TEXT
    }

    #[inline]
    pub(super) fn is_empty(self) -> bool {
        matches!(self.0 & 3, Flat::DATA | Flat::TEXT) && self.len() == 0
    }

    /// The length of a data or text range.
    #[inline]
    pub(super) fn len(self) -> usize {
        ((self.0 as u32) >> 2) as usize
    }

    /// The start of a data or text range.
    #[inline]
    pub(super) fn start(self) -> usize {
        (self.0 >> 32) as usize
    }

    #[inline]
    fn jid_index(self) -> Option<usize> {
        (self.0 & 3 == Flat::JID).then_some((self.0 >> 2) as usize)
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum JidForm {
    Pair,
    Device,
    Fb,
    Interop,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct FlatJid {
    pub(super) form: JidForm,
    pub(super) domain: u8,
    pub(super) device: u16,
    pub(super) integrator: u16,
    pub(super) user: Flat,
    /// Unused (EMPTY) for `Device`.
    pub(super) server: Flat,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum FlatContent {
    None,
    /// This many children follow the node in pre-order.
    Nodes(u32),
    /// Text (token or unpacked), a JID, or (a data range) bytes.
    Value(Flat),
    /// Packed text our encoder would write raw (empty, over 127
    /// characters, or with a NUL): read as the bytes it re-encodes to, so
    /// that a decoded node survives `encode` unchanged. Its text is the
    /// same either way ([`NodeRef::text`]).
    TextAsBytes(Flat),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct FlatNode {
    pub(super) tag: Flat,
    pub(super) attrs_start: u32,
    pub(super) attrs_len: u32,
    pub(super) content: FlatContent,
    /// One past the last node of this node's subtree: its next sibling.
    pub(super) end: u32,
}

impl FlatJid {
    pub(super) fn shape(&self) -> Shape {
        match self.form {
            JidForm::Pair => Shape::Pair,
            JidForm::Device => Shape::Device {
                domain: self.domain,
                device: self.device as u8,
            },
            JidForm::Fb => Shape::Fb {
                device: self.device,
            },
            JidForm::Interop => Shape::Interop {
                device: self.device,
                integrator: self.integrator,
            },
        }
    }
}

/// The bytes of a string or byte range of a payload whose node bytes are
/// `data` and unpacked strings `text` (nothing for a JID).
pub(super) fn flat_bytes<'x>(f: Flat, data: &'x [u8], text: &'x [u8]) -> &'x [u8] {
    let buf = match f.0 & 3 {
        Flat::TOKEN => return tokens::text((f.0 >> 2) as tokens::Code).as_bytes(),
        Flat::DATA => data,
        Flat::TEXT => text,
        _ => return &[],
    };
    buf.get(f.start()..f.start() + f.len()).unwrap_or_default()
}

impl Decoded {
    #[must_use]
    pub fn new() -> Decoded {
        Decoded::default()
    }

    /// Decodes a frame payload (flags byte first) with the default
    /// limits, replacing what the buffer held.
    pub fn decode(&mut self, payload: &[u8]) -> Result<NodeRef<'_>, DecodeError> {
        self.decode_with_limits(payload, &DecodeLimits::DEFAULT)
    }

    /// Decodes a frame payload (flags byte first), replacing what the
    /// buffer held. On error the buffer holds no node.
    pub fn decode_with_limits(
        &mut self,
        payload: &[u8],
        limits: &DecodeLimits,
    ) -> Result<NodeRef<'_>, DecodeError> {
        decode::decode_into(self, payload, limits)?;
        Ok(NodeRef {
            decoded: self,
            index: 0,
        })
    }

    /// The root node of the last successful decode.
    #[must_use]
    pub fn root(&self) -> Option<NodeRef<'_>> {
        (!self.nodes.is_empty()).then_some(NodeRef {
            decoded: self,
            index: 0,
        })
    }

    /// A buffer sized for one typical stanza of `len` bytes, so a one-off
    /// decode does not grow its vectors (capped: big payloads are mostly
    /// bytes).
    pub(super) fn sized_for(len: usize) -> Decoded {
        Decoded {
            data: Vec::with_capacity(len),
            text: Vec::new(),
            nodes: Vec::with_capacity((len / 24 + 1).min(256)),
            attrs: Vec::with_capacity((len / 12 + 1).min(512)),
            jids: Vec::with_capacity((len / 48 + 1).min(128)),
        }
    }

    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.text.clear();
        self.nodes.clear();
        self.attrs.clear();
        self.jids.clear();
    }

    /// The bytes of a string or byte range (nothing for a JID).
    fn bytes_of(&self, f: Flat) -> &[u8] {
        flat_bytes(f, &self.data, &self.text)
    }

    fn str(&self, f: Flat) -> &str {
        // Checked when decoded; re-checking keeps the crate free of
        // `unsafe` and costs little for the short strings stanzas carry.
        std::str::from_utf8(self.bytes_of(f)).unwrap_or("")
    }

    fn owned_str(&self, f: Flat) -> Str {
        match f.0 & 3 {
            Flat::TOKEN => Str::token((f.0 >> 2) as tokens::Code),
            _ => Str::copy_from(self.str(f)),
        }
    }

    /// The JID a `Flat` names, if it names one.
    fn jid(&self, f: Flat) -> Option<Jid> {
        let j = self.jids.get(f.jid_index()?)?;
        let user = self.owned_str(j.user);
        Some(match j.form {
            JidForm::Pair => Jid::Pair {
                user,
                server: self.owned_str(j.server),
            },
            JidForm::Device => Jid::Device {
                user,
                domain: j.domain,
                device: j.device as u8,
            },
            JidForm::Fb => Jid::Fb {
                user,
                device: j.device,
                server: self.owned_str(j.server),
            },
            JidForm::Interop => Jid::Interop {
                user,
                device: j.device,
                integrator: j.integrator,
                server: self.owned_str(j.server),
            },
        })
    }

    fn value(&self, f: Flat) -> ValueRef<'_> {
        match self.jid(f) {
            Some(j) => ValueRef::Jid(j),
            None => ValueRef::Str(self.str(f)),
        }
    }

    fn owned_value(&self, f: Flat) -> Value {
        match self.jid(f) {
            Some(j) => Value::Jid(j),
            None => Value::Str(self.owned_str(f)),
        }
    }

    fn node(&self, index: u32) -> Option<&FlatNode> {
        self.nodes.get(index as usize)
    }
}

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.root() {
            Some(root) => f.debug_tuple("Decoded").field(&root).finish(),
            None => f.write_str("Decoded(empty)"),
        }
    }
}

/// A node inside a [`Decoded`] buffer.
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    decoded: &'a Decoded,
    index: u32,
}

/// An attribute value inside a [`Decoded`] buffer. JIDs come out owned
/// (their parts are short: no allocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Str(&'a str),
    Jid(Jid),
}

/// A node's content inside a [`Decoded`] buffer.
#[derive(Clone)]
pub enum ContentRef<'a> {
    Text(&'a str),
    Jid(Jid),
    Bytes(&'a [u8]),
    Nodes(Children<'a>),
}

// Byte content is often key material: show its length only.
impl fmt::Debug for ContentRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentRef::Text(s) => f.debug_tuple("Text").field(s).finish(),
            ContentRef::Jid(j) => f.debug_tuple("Jid").field(j).finish(),
            ContentRef::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            ContentRef::Nodes(c) => f.debug_list().entries(c.clone()).finish(),
        }
    }
}

impl<'a> NodeRef<'a> {
    fn flat(&self) -> FlatNode {
        self.decoded.node(self.index).copied().unwrap_or(FlatNode {
            tag: Flat::EMPTY,
            attrs_start: 0,
            attrs_len: 0,
            content: FlatContent::None,
            end: self.index.saturating_add(1),
        })
    }

    fn flat_attrs(&self) -> &'a [(Flat, Flat)] {
        let n = self.flat();
        let start = n.attrs_start as usize;
        self.decoded
            .attrs
            .get(start..start + n.attrs_len as usize)
            .unwrap_or_default()
    }

    #[must_use]
    pub fn tag(&self) -> &'a str {
        self.decoded.str(self.flat().tag)
    }

    /// The attributes, in wire order.
    pub fn attrs(&self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> + 'a {
        let d = self.decoded;
        self.flat_attrs()
            .iter()
            .map(move |&(k, v)| (d.str(k), d.value(v)))
    }

    fn find(&self, key: &str) -> Option<Flat> {
        self.flat_attrs()
            .iter()
            .find(|(k, _)| self.decoded.bytes_of(*k) == key.as_bytes())
            .map(|&(_, v)| v)
    }

    /// The first attribute named `key`, if it is text (see [`Node::attr`]).
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&'a str> {
        let v = self.find(key)?;
        v.jid_index().is_none().then(|| self.decoded.str(v))
    }

    /// The first attribute named `key`, of either kind.
    #[must_use]
    pub fn attr_value(&self, key: &str) -> Option<ValueRef<'a>> {
        self.find(key).map(|v| self.decoded.value(v))
    }

    /// The first attribute named `key` as a JID: a JID value, or text
    /// that parses as one.
    #[must_use]
    pub fn attr_jid(&self, key: &str) -> Option<Jid> {
        let v = self.find(key)?;
        self.decoded
            .jid(v)
            .or_else(|| Jid::parse(self.decoded.str(v)))
    }

    /// The content, if any.
    #[must_use]
    pub fn content(&self) -> Option<ContentRef<'a>> {
        let d = self.decoded;
        Some(match self.flat().content {
            FlatContent::None => return None,
            FlatContent::Nodes(_) => ContentRef::Nodes(self.children()),
            FlatContent::TextAsBytes(f) => ContentRef::Bytes(d.bytes_of(f)),
            FlatContent::Value(f) => match (f.0 & 3, d.jid(f)) {
                (_, Some(j)) => ContentRef::Jid(j),
                (Flat::DATA, None) => ContentRef::Bytes(d.bytes_of(f)),
                _ => ContentRef::Text(d.str(f)),
            },
        })
    }

    /// The child nodes (none when the content is not a list).
    #[must_use]
    pub fn children(&self) -> Children<'a> {
        let remaining = match self.flat().content {
            FlatContent::Nodes(n) => n,
            _ => 0,
        };
        Children {
            decoded: self.decoded,
            next: self.index + 1,
            remaining,
        }
    }

    /// The first child with this tag.
    #[must_use]
    pub fn child(&self, tag: &str) -> Option<NodeRef<'a>> {
        self.children().find(|c| c.tag_is(tag))
    }

    /// The children with this tag.
    pub fn children_named<'t>(&self, tag: &'t str) -> impl Iterator<Item = NodeRef<'a>> + 't
    where
        'a: 't,
    {
        self.children().filter(move |c| c.tag_is(tag))
    }

    fn tag_is(&self, tag: &str) -> bool {
        self.decoded.bytes_of(self.flat().tag) == tag.as_bytes()
    }

    /// Byte content.
    #[must_use]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.flat().content {
            FlatContent::Value(f) if f.0 & 3 == Flat::DATA => Some(self.decoded.bytes_of(f)),
            FlatContent::TextAsBytes(f) => Some(self.decoded.bytes_of(f)),
            _ => None,
        }
    }

    /// Text content: token or packed text, or raw bytes that are UTF-8.
    #[must_use]
    pub fn text(&self) -> Option<&'a str> {
        match self.content()? {
            ContentRef::Text(s) => Some(s),
            ContentRef::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// An owned copy of this node and everything under it.
    #[must_use]
    pub fn to_node(&self) -> Node {
        let n = self.flat();
        let d = self.decoded;
        let attrs = self
            .flat_attrs()
            .iter()
            .map(|&(k, v)| (d.owned_str(k), d.owned_value(v)))
            .collect();
        let content = match n.content {
            FlatContent::None => None,
            FlatContent::Nodes(_) => Some(Content::Nodes(
                self.children().map(|c| c.to_node()).collect(),
            )),
            FlatContent::TextAsBytes(f) => Some(Content::Bytes(d.bytes_of(f).to_vec())),
            FlatContent::Value(f) => Some(match (f.0 & 3, d.jid(f)) {
                (_, Some(j)) => Content::Jid(j),
                (Flat::DATA, None) => Content::Bytes(d.bytes_of(f).to_vec()),
                _ => Content::Text(d.owned_str(f)),
            }),
        };
        Node {
            tag: d.owned_str(n.tag),
            attrs,
            content,
        }
    }
}

impl fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeRef")
            .field("tag", &self.tag())
            .field("attrs", &self.attrs().collect::<Vec<_>>())
            .field("content", &self.content())
            .finish()
    }
}

/// The children of a [`NodeRef`], in order.
#[derive(Clone)]
pub struct Children<'a> {
    decoded: &'a Decoded,
    next: u32,
    remaining: u32,
}

impl<'a> Iterator for Children<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let node = NodeRef {
            decoded: self.decoded,
            index: self.next,
        };
        self.remaining -= 1;
        // Jump over the child's subtree to its next sibling.
        self.next = self.decoded.node(self.next).map_or(u32::MAX, |n| n.end);
        Some(node)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for Children<'_> {}

impl fmt::Debug for Children<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Children({})", self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::binary::encode;

    fn stanza() -> Node {
        Node::new("message")
            .with_attr("from", Jid::new("491556123456", "s.whatsapp.net"))
            .with_attr("id", "3EB021DD5531B9DC518971")
            .with_attr("notify", "Alice")
            .with_attr("participant", "1:2@lid")
            .with_children(vec![
                Node::new("enc")
                    .with_attr("v", "2")
                    .with_bytes(vec![0x42; 5]),
                Node::new("body").with_bytes(*b"hello"),
                Node::new("enc")
                    .with_attr("v", "3")
                    .with_children(vec![Node::new("x")]),
                Node::new("to").with_content(Jid::ad("5", Jid::DOMAIN_LID, 3)),
                Node::new("t").with_text("1732291200"),
            ])
    }

    #[test]
    fn views_read_in_place() {
        let bytes = encode(&stanza()).unwrap_or_default();
        let mut buf = Decoded::new();
        let Ok(root) = buf.decode(&bytes) else {
            panic!("decodes")
        };
        assert_eq!(root.tag(), "message");
        assert_eq!(root.attr("id"), Some("3EB021DD5531B9DC518971"));
        assert_eq!(root.attr("notify"), Some("Alice"));
        assert_eq!(root.attr("from"), None);
        assert_eq!(
            root.attr_value("from"),
            Some(ValueRef::Jid(Jid::new("491556123456", "s.whatsapp.net")))
        );
        assert_eq!(
            root.attr_jid("from"),
            Some(Jid::new("491556123456", "s.whatsapp.net"))
        );
        // Text that reads as a JID.
        assert_eq!(root.attr_jid("participant"), Some(Jid::ad("1", 1, 2)));
        assert_eq!(root.attr("missing"), None);
        assert_eq!(root.attrs().count(), 4);
        assert_eq!(root.children().len(), 5);
        assert_eq!(root.children_named("enc").count(), 2);
        let enc = root.child("enc");
        assert_eq!(enc.and_then(|e| e.bytes()), Some(&[0x42; 5][..]));
        assert_eq!(root.child("body").and_then(|b| b.text()), Some("hello"));
        assert_eq!(root.child("t").and_then(|b| b.text()), Some("1732291200"));
        assert!(matches!(
            root.child("to").and_then(|t| t.content()),
            Some(ContentRef::Jid(j)) if j == Jid::ad("5", 1, 3)
        ));
        // Siblings after a subtree are found past it.
        let third = root.children().nth(2);
        assert_eq!(third.map(|n| n.children().len()), Some(1));
        assert_eq!(root.children().nth(3).map(|n| n.tag()), Some("to"));
        assert_eq!(root.to_node(), stanza());
    }

    #[test]
    fn one_buffer_for_many_stanzas() {
        let mut buf = Decoded::new();
        for i in 0..3u8 {
            let node = Node::new("iq").with_bytes(vec![i; usize::from(i) * 100]);
            let bytes = encode(&node).unwrap_or_default();
            assert_eq!(buf.decode(&bytes).map(|r| r.to_node()), Ok(node));
        }
        assert!(buf.root().is_some());
    }

    #[test]
    fn debug_hides_bytes() {
        let bytes = encode(&stanza()).unwrap_or_default();
        let mut buf = Decoded::new();
        let shown = buf
            .decode(&bytes)
            .map(|r| format!("{r:?}"))
            .unwrap_or_default();
        assert!(shown.contains("<5 bytes>"), "{shown}");
        assert!(!shown.contains("66"), "{shown}");
        assert!(shown.contains("Alice"), "{shown}");
    }
}
