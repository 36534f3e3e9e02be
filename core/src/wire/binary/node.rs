//! `Node`, the decoded stanza, with builders for the client's requests
//! and getters for its handlers.

use std::fmt;

use super::jid::Jid;
use super::str::Str;

/// One binary node: `<tag attrs…>content</tag>`.
///
/// Attributes keep their wire order and any duplicates, so a decoded node
/// re-encodes to the same bytes. Lookups take the first match.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct Node {
    pub tag: Str,
    pub attrs: Vec<(Str, Value)>,
    pub content: Option<Content>,
}

/// An attribute value: text or a JID (the wire tells them apart).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Value {
    Str(Str),
    Jid(Jid),
}

/// What a node holds after its attributes.
///
/// The wire has no "raw text" form of its own: text that is neither a
/// token nor packable is written as raw bytes, so it decodes as
/// [`Content::Bytes`]; so does packed text that we would write raw (empty,
/// over 127 characters, with a NUL), which keeps a decoded node what it
/// re-encodes to. [`Node::text`] reads either.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Content {
    /// A token or packed string.
    Text(Str),
    Jid(Jid),
    Bytes(Vec<u8>),
    /// Child nodes (possibly none: an empty list is not the same as no
    /// content).
    Nodes(Vec<Node>),
}

impl Value {
    /// The value Baileys would write for `text`: a JID when it reads as
    /// one (see [`Jid::parse`]), else the text itself.
    #[must_use]
    pub fn infer(text: &str) -> Value {
        match text.contains('@').then(|| Jid::parse(text)).flatten() {
            Some(jid) => Value::Jid(jid),
            None => Value::Str(Str::copy_from(text)),
        }
    }

    /// The text, if this is a text value.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Jid(_) => None,
        }
    }

    /// The JID, if this is a JID value.
    #[must_use]
    pub fn as_jid(&self) -> Option<&Jid> {
        match self {
            Value::Jid(j) => Some(j),
            Value::Str(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Jid(j) => fmt::Display::fmt(j, f),
        }
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Self {
        Value::Str(s)
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::Str(Str::from_static(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into())
    }
}

impl From<Jid> for Value {
    fn from(j: Jid) -> Self {
        Value::Jid(j)
    }
}

impl Content {
    /// Text content as Baileys would write `text`: a JID when it reads as
    /// one, else text.
    #[must_use]
    pub fn infer(text: &str) -> Content {
        match Value::infer(text) {
            Value::Jid(j) => Content::Jid(j),
            Value::Str(s) => Content::Text(s),
        }
    }
}

impl From<Vec<Node>> for Content {
    fn from(nodes: Vec<Node>) -> Self {
        Content::Nodes(nodes)
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Content::Bytes(bytes)
    }
}

impl From<Jid> for Content {
    fn from(j: Jid) -> Self {
        Content::Jid(j)
    }
}

impl From<Str> for Content {
    fn from(s: Str) -> Self {
        Content::Text(s)
    }
}

// Byte content is often key material: show its length only.
impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::Text(s) => f.debug_tuple("Text").field(s).finish(),
            Content::Jid(j) => f.debug_tuple("Jid").field(j).finish(),
            Content::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Content::Nodes(n) => f.debug_tuple("Nodes").field(n).finish(),
        }
    }
}

impl Node {
    /// A node with no attributes and no content.
    #[must_use]
    pub fn new(tag: impl Into<Str>) -> Node {
        Node {
            tag: tag.into(),
            attrs: Vec::new(),
            content: None,
        }
    }

    /// Appends an attribute.
    #[must_use]
    pub fn with_attr(mut self, key: impl Into<Str>, value: impl Into<Value>) -> Node {
        self.attrs.push((key.into(), value.into()));
        self
    }

    /// Sets child nodes as the content.
    #[must_use]
    pub fn with_children(mut self, children: Vec<Node>) -> Node {
        self.content = Some(Content::Nodes(children));
        self
    }

    /// Adds a child node after the ones there (the content becomes child
    /// nodes if it was something else).
    #[must_use]
    pub fn with_child(mut self, child: Node) -> Node {
        match &mut self.content {
            Some(Content::Nodes(children)) => children.push(child),
            _ => self.content = Some(Content::Nodes(vec![child])),
        }
        self
    }

    /// Sets raw bytes as the content.
    #[must_use]
    pub fn with_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Node {
        self.content = Some(Content::Bytes(bytes.into()));
        self
    }

    /// Sets text as the content.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<Str>) -> Node {
        self.content = Some(Content::Text(text.into()));
        self
    }

    /// Sets any content.
    #[must_use]
    pub fn with_content(mut self, content: impl Into<Content>) -> Node {
        self.content = Some(content.into());
        self
    }

    /// The first attribute named `key`, if it is text. A JID value gives
    /// `None` here: read it with [`Node::attr_jid`].
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attr_value(key).and_then(Value::as_str)
    }

    /// The first attribute named `key`, of either kind.
    #[must_use]
    pub fn attr_value(&self, key: &str) -> Option<&Value> {
        self.attrs
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// The first attribute named `key` as a JID: a JID value, or text
    /// that parses as one.
    #[must_use]
    pub fn attr_jid(&self, key: &str) -> Option<Jid> {
        match self.attr_value(key)? {
            Value::Jid(j) => Some(j.clone()),
            Value::Str(s) => Jid::parse(s),
        }
    }

    /// The child nodes (none when the content is not a list).
    #[must_use]
    pub fn children(&self) -> &[Node] {
        match &self.content {
            Some(Content::Nodes(nodes)) => nodes,
            _ => &[],
        }
    }

    /// The first child with this tag.
    #[must_use]
    pub fn child(&self, tag: &str) -> Option<&Node> {
        self.children()
            .iter()
            .find(|n| n.tag.as_bytes() == tag.as_bytes())
    }

    /// The children with this tag.
    pub fn children_named<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children()
            .iter()
            .filter(move |n| n.tag.as_bytes() == tag.as_bytes())
    }

    /// Byte content.
    #[must_use]
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Some(Content::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    /// Text content: token or packed text, or raw bytes that are UTF-8.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Some(Content::Text(s)) => Some(s),
            Some(Content::Bytes(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_getters() {
        let node = Node::new("iq")
            .with_attr("id", String::from("1234"))
            .with_attr("to", Jid::at("s.whatsapp.net"))
            .with_attr("id", "again")
            .with_children(vec![
                Node::new("pair-device").with_children(vec![Node::new("ref").with_bytes(*b"abc")]),
                Node::new("other"),
                Node::new("ref").with_text("x"),
            ]);
        assert_eq!(node.attr("id"), Some("1234"));
        assert_eq!(node.attr("to"), None);
        assert_eq!(node.attr_jid("to"), Some(Jid::at("s.whatsapp.net")));
        assert_eq!(node.attr("nope"), None);
        assert_eq!(node.children().len(), 3);
        let pair = node.child("pair-device");
        assert_eq!(
            pair.and_then(|p| p.child("ref")).and_then(Node::bytes),
            Some(&b"abc"[..])
        );
        assert_eq!(node.children_named("ref").count(), 1);
        assert_eq!(node.child("ref").and_then(Node::text), Some("x"));
        assert!(Node::new("x").children().is_empty());
    }

    #[test]
    fn infer_follows_baileys() {
        assert_eq!(Value::infer("text"), Value::Str("text".into()));
        assert_eq!(
            Value::infer("1@s.whatsapp.net"),
            Value::Jid(Jid::new("1", "s.whatsapp.net"))
        );
        // Not a JID we can carry without loss: stays text.
        assert_eq!(Value::infer("1:2@g.us"), Value::Str("1:2@g.us".into()));
        assert_eq!(Content::infer("x"), Content::Text("x".into()));
    }

    #[test]
    fn debug_hides_bytes() {
        let node = Node::new("enc").with_bytes(vec![0x42; 3]);
        let shown = format!("{node:?}");
        assert!(shown.contains("<3 bytes>"), "{shown}");
        assert!(!shown.contains("66"), "{shown}");
    }
}
