//! Node → bytes, writing what Baileys 7 writes for the same node.

use thiserror::Error;

use super::jid::Jid;
use super::node::{Content, Node, Value};
use super::packed;
use super::str::Str;
use super::tag;
use super::tokens;

/// A node the wire cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A list (a node's tag + 2·attributes + content, or a list of
    /// children) longer than `LIST_16` can count.
    #[error("a list of {len} entries is over the wire limit of 65535")]
    ListTooLong { len: usize },
    /// Bytes or a string longer than `BINARY_32` can count.
    #[error("{len} bytes are over the wire limit of 4294967295")]
    BytesTooLong { len: usize },
    /// A node with an empty tag (no decoder accepts one).
    #[error("a node tag is empty")]
    EmptyTag,
    /// A JID with an empty server (no decoder accepts one).
    #[error("the JID {jid} has an empty server")]
    EmptyJidServer { jid: String },
}

/// Encodes a node as a frame payload: flags byte `0x00`, then the node.
pub fn encode(node: &Node) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(size_hint(node));
    encode_into(node, &mut out)?;
    Ok(out)
}

/// Appends the frame payload for `node` (flags byte `0x00`, then the
/// node) to `out`, so a caller can reuse one buffer or put a frame header
/// in front. On error `out` is left as it was.
pub fn encode_into(node: &Node, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.push(0);
    let result = write_node(node, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// A cheap first guess at the encoded size, to allocate once for the
/// common small stanza and for big byte payloads.
fn size_hint(node: &Node) -> usize {
    let own = match &node.content {
        Some(Content::Bytes(b)) => b.len() + 5,
        Some(Content::Nodes(n)) => n.iter().take(64).map(size_hint).sum(),
        _ => 0,
    };
    16 + 24 * node.attrs.len() + own
}

fn write_node(node: &Node, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if node.tag.is_empty() {
        return Err(EncodeError::EmptyTag);
    }
    let len = 1 + 2 * node.attrs.len() + usize::from(node.content.is_some());
    write_list_start(len, out)?;
    write_str(&node.tag, out)?;
    for (key, value) in &node.attrs {
        write_str(key, out)?;
        match value {
            Value::Str(s) => write_str(s, out)?,
            Value::Jid(j) => write_jid(j, out)?,
        }
    }
    match &node.content {
        None => {}
        Some(Content::Text(s)) => write_str(s, out)?,
        Some(Content::Jid(j)) => write_jid(j, out)?,
        Some(Content::Bytes(b)) => write_bytes(b, out)?,
        Some(Content::Nodes(children)) => {
            write_list_start(children.len(), out)?;
            for child in children {
                write_node(child, out)?;
            }
        }
    }
    Ok(())
}

fn write_list_start(len: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match len {
        0 => out.push(tag::LIST_EMPTY),
        1..=255 => out.extend_from_slice(&[tag::LIST_8, len as u8]),
        _ => {
            let len16 = u16::try_from(len).map_err(|_| EncodeError::ListTooLong { len })?;
            out.push(tag::LIST_16);
            out.extend_from_slice(&len16.to_be_bytes());
        }
    }
    Ok(())
}

/// A string: its token, else packed, else raw. Never a JID: text that
/// looks like one stays text (use [`Value::infer`] to get Baileys'
/// guessing at build time).
fn write_str(s: &Str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if let Some(code) = s.known_token() {
        tokens::write(code, out);
        return Ok(());
    }
    let text = s.as_str();
    if let Some(code) = tokens::lookup(text) {
        tokens::write(code, out);
    } else if let Some(kind) = packed::classify(text.as_bytes()) {
        packed::write(kind, text.as_bytes(), out);
    } else {
        // Empty strings land here too: Baileys 7 writes "" as BINARY_8 0.
        write_bytes(text.as_bytes(), out)?;
    }
    Ok(())
}

fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = bytes.len();
    if len < 256 {
        out.extend_from_slice(&[tag::BINARY_8, len as u8]);
    } else if len < 1 << 20 {
        let [_, a, b, c] = (len as u32).to_be_bytes();
        out.extend_from_slice(&[tag::BINARY_20, a, b, c]);
    } else {
        let len32 = u32::try_from(len).map_err(|_| EncodeError::BytesTooLong { len })?;
        out.push(tag::BINARY_32);
        out.extend_from_slice(&len32.to_be_bytes());
    }
    out.extend_from_slice(bytes);
    Ok(())
}

fn write_jid(jid: &Jid, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match jid {
        Jid::Pair { user, server } => {
            check_server(jid, server)?;
            out.push(tag::JID_PAIR);
            if user.is_empty() {
                out.push(tag::LIST_EMPTY);
            } else {
                write_str(user, out)?;
            }
            write_str(server, out)?;
        }
        Jid::Device {
            user,
            domain,
            device,
        } => {
            out.extend_from_slice(&[tag::AD_JID, *domain, *device]);
            write_str(user, out)?;
        }
        Jid::Fb {
            user,
            device,
            server,
        } => {
            check_server(jid, server)?;
            out.push(tag::FB_JID);
            write_str(user, out)?;
            out.extend_from_slice(&device.to_be_bytes());
            write_str(server, out)?;
        }
        Jid::Interop {
            user,
            device,
            integrator,
            server,
        } => {
            // The form the server sends (and our decoder reads): with the
            // server string. WA Web's own writer leaves the server out;
            // blacksky never sends interop JIDs, so we stay symmetric.
            check_server(jid, server)?;
            out.push(tag::INTEROP_JID);
            write_str(user, out)?;
            out.extend_from_slice(&device.to_be_bytes());
            out.extend_from_slice(&integrator.to_be_bytes());
            write_str(server, out)?;
        }
    }
    Ok(())
}

fn check_server(jid: &Jid, server: &Str) -> Result<(), EncodeError> {
    if server.is_empty() {
        return Err(EncodeError::EmptyJidServer {
            jid: jid.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(node: &Node) -> Vec<u8> {
        encode(node).unwrap_or_default()
    }

    #[test]
    fn small_shapes() {
        assert_eq!(bytes(&Node::new("iq")), [0, tag::LIST_8, 1, 25]);
        // Text that is nothing special goes raw; "" is BINARY_8 0.
        let n = Node::new("iq").with_attr("id", "x y").with_attr("zq", "");
        assert_eq!(
            bytes(&n),
            [
                0, 248, 5, 25, 8, 252, 3, b'x', b' ', b'y', 252, 2, b'z', b'q', 252, 0
            ]
        );
        let n = Node::new("iq").with_attr("to", Jid::at("s.whatsapp.net"));
        assert_eq!(bytes(&n), [0, 248, 3, 25, 17, 250, 0, 3]);
        let n = Node::new("iq").with_children(vec![]);
        assert_eq!(bytes(&n), [0, 248, 2, 25, 0]);
    }

    #[test]
    fn length_forms() {
        for (len, head) in [
            (255usize, vec![252, 255]),
            (256, vec![253, 0, 1, 0]),
            ((1 << 20) - 1, vec![253, 0x0f, 0xff, 0xff]),
            (1 << 20, vec![254, 0, 0x10, 0, 0]),
        ] {
            let mut out = Vec::new();
            write_bytes(&vec![7; len], &mut out).unwrap_or_default();
            assert_eq!(out.get(..head.len()), Some(&head[..]), "{len}");
            assert_eq!(out.len(), head.len() + len);
        }
    }

    #[test]
    fn errors_leave_the_buffer_alone() {
        let mut out = vec![1, 2, 3];
        let bad = Node::new("iq").with_children(vec![Node::new("")]);
        assert_eq!(encode_into(&bad, &mut out), Err(EncodeError::EmptyTag));
        assert_eq!(out, [1, 2, 3]);
        let many = Node::new("list").with_children(vec![Node::new("x"); 65536]);
        assert_eq!(encode(&many), Err(EncodeError::ListTooLong { len: 65536 }));
        let bad = Node::new("iq").with_attr("to", Jid::new("1", ""));
        assert!(matches!(
            encode(&bad),
            Err(EncodeError::EmptyJidServer { .. })
        ));
    }
}
