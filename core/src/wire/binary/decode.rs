//! Bytes → nodes. One parser writes the flat storage of [`Decoded`]; the
//! owned [`decode`] converts from it. Every read is bounds-checked; a
//! length prefix is checked against the bytes that are left before
//! anything is reserved for it; list capacities are capped by what the
//! remaining input could hold; nesting and the total of nodes +
//! attributes are limited.
//!
//! Offsets in errors are positions in the frame payload as if it had been
//! sent uncompressed: the flags byte is 0, the node starts at 1. For an
//! uncompressed payload that is the index into the slice given to
//! [`decode`]; for a compressed one, 1 + the index into the inflated
//! bytes (zlib errors give the index into the slice itself).

use std::fmt;

use flate2::{Decompress, FlushDecompress, Status};
use thiserror::Error;

use super::decoded::{
    DATA_LEN_MAX, Decoded, Flat, FlatContent, FlatJid, FlatNode, JidForm, flat_bytes,
};
use super::jid::{self, INTEROP_SERVER};
use super::jid_text;
use super::node::Node;
use super::packed::{self, Packing};
use super::tag;
use super::tokens;

/// Bounds on what one payload may cost to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most bytes a compressed payload may inflate to.
    pub inflated_bytes_max: usize,
    /// The deepest nesting of nodes (the root is depth 1), a JID written
    /// where a string goes counting as one level more. Decoding recurses
    /// once per level, so this also bounds the stack it uses: keep it in
    /// the hundreds, not the millions.
    pub depth_max: usize,
    /// The most nodes, attributes and JIDs written where a string goes in
    /// one payload. Each costs 16–40 bytes in a [`Decoded`] (about 100 in
    /// an owned [`Node`]; a JID's text up to about 130) while the input
    /// spends 2–3 bytes on it.
    pub items_max: usize,
}

impl DecodeLimits {
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        inflated_bytes_max: 16 << 20,
        depth_max: 128,
        items_max: 1 << 18,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::DEFAULT
    }
}

/// Where in a node a string was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The start of a node (a list tag).
    Node,
    Tag,
    AttrKey,
    AttrValue,
    Content,
    JidUser,
    JidServer,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Node => "node",
            Field::Tag => "node tag",
            Field::AttrKey => "attribute key",
            Field::AttrValue => "attribute value",
            Field::Content => "content",
            Field::JidUser => "JID user",
            Field::JidServer => "JID server",
        })
    }
}

/// Bad bytes from the peer. Offsets: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("empty payload: no flags byte")]
    Empty,
    #[error("input ends at byte {offset} where {needed} more byte(s) are needed")]
    Truncated { offset: usize, needed: usize },
    #[error("byte {offset}: a length of {len} runs past the end ({remaining} bytes left)")]
    LengthOverrun {
        offset: usize,
        len: usize,
        remaining: usize,
    },
    #[error("byte {offset}: tag {tag:#04x} cannot start a {field}")]
    UnexpectedTag {
        offset: usize,
        tag: u8,
        field: Field,
    },
    #[error("byte {offset}: tag {tag:#04x} is not defined")]
    UnknownTag { offset: usize, tag: u8 },
    #[error("byte {offset}: a node's list is empty")]
    EmptyNode { offset: usize },
    #[error("byte {offset}: a node tag is empty")]
    EmptyTag { offset: usize },
    #[error("byte {offset}: a JID server is empty")]
    EmptyJidServer { offset: usize },
    #[error("byte {offset}: nibble {nibble} is no character of a nibble-packed string")]
    InvalidNibble { offset: usize, nibble: u8 },
    #[error("byte {offset}: {field} is not UTF-8")]
    InvalidUtf8 { offset: usize, field: Field },
    #[error("byte {offset}: nodes nested deeper than {depth_max}")]
    TooDeep { offset: usize, depth_max: usize },
    #[error("byte {offset}: more than {items_max} nodes and attributes")]
    TooManyItems { offset: usize, items_max: usize },
    #[error("byte {offset}: {count} byte(s) left over after the node")]
    TrailingBytes { offset: usize, count: usize },
    #[error("byte {offset}: the zlib stream is corrupt")]
    Inflate { offset: usize },
    #[error("the zlib stream ends early, at byte {offset}")]
    InflateTruncated { offset: usize },
    #[error("the payload inflates to more than {limit} bytes")]
    InflatedTooLarge { limit: usize },
    #[error("a payload of {len} bytes is over the 1 GiB the decoder indexes")]
    TooLarge { len: usize },
    #[error("byte {offset}: the strings read so far come to over the 4 GiB the decoder indexes")]
    TextTooLarge { offset: usize },
}

/// Decodes a frame payload (flags byte first) with the default limits
/// into an owned node. The receive path should rather keep a [`Decoded`]
/// and read [`NodeRef`](super::NodeRef)s from it: no allocation per
/// stanza.
pub fn decode(payload: &[u8]) -> Result<Node, DecodeError> {
    decode_with_limits(payload, &DecodeLimits::DEFAULT)
}

/// Decodes a frame payload (flags byte first) into an owned node: bit
/// `0x02` of the flags means the rest is zlib-deflated; other bits are
/// ignored, as every reference does. The node must fill the payload.
pub fn decode_with_limits(payload: &[u8], limits: &DecodeLimits) -> Result<Node, DecodeError> {
    let mut decoded = Decoded::sized_for(payload.len());
    let root = decoded.decode_with_limits(payload, limits)?;
    Ok(root.to_node())
}

/// Offset of the node bytes within the (uncompressed) payload.
const BASE: usize = 1;

/// Fills `out` from `payload`; on error `out` holds no node.
pub(super) fn decode_into(
    out: &mut Decoded,
    payload: &[u8],
    limits: &DecodeLimits,
) -> Result<(), DecodeError> {
    out.clear();
    let result = fill(out, payload, limits);
    if result.is_err() {
        out.clear();
    }
    result
}

fn fill(out: &mut Decoded, payload: &[u8], limits: &DecodeLimits) -> Result<(), DecodeError> {
    let (&flags, body) = payload.split_first().ok_or(DecodeError::Empty)?;
    let Decoded {
        data,
        text,
        nodes,
        attrs,
        jids,
    } = out;
    if flags & 0x02 != 0 {
        inflate(body, limits.inflated_bytes_max, data)?;
    } else {
        data.extend_from_slice(body);
    }
    // Offsets are stored in 30 bits; frames are at most 16 MiB.
    if data.len() > DATA_LEN_MAX {
        return Err(DecodeError::TooLarge { len: data.len() });
    }
    // Packed strings unpack to at most twice their bytes, and there are
    // seldom more than a few KiB of them: reserve once for the common case.
    text.reserve((2 * data.len()).min(4096));
    let mut p = Parser {
        buf: data,
        pos: 0,
        text,
        nodes,
        attrs,
        jids,
        limits,
        items: 0,
        error: None,
    };
    if p.node(0).is_err() {
        return Err(p.error.take().unwrap_or(DecodeError::Empty));
    }
    let count = p.remaining();
    if count != 0 {
        return Err(DecodeError::TrailingBytes {
            offset: BASE + p.pos,
            count,
        });
    }
    Ok(())
}

/// Inflates a zlib stream into at most `limit` bytes. The output buffer
/// grows by doubling up to `limit + 1`, so a bomb costs at most that.
fn inflate(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let cap_max = limit.saturating_add(1);
    if out.capacity() > cap_max {
        // A buffer kept from a bigger payload must not lift the limit.
        *out = Vec::new();
    }
    out.reserve_exact(
        input
            .len()
            .saturating_mul(4)
            .clamp(64, 64 << 10)
            .min(cap_max),
    );
    let mut z = Decompress::new(true);
    loop {
        if out.len() == out.capacity() {
            if out.capacity() >= cap_max {
                return Err(DecodeError::InflatedTooLarge { limit });
            }
            let target = out.capacity().saturating_mul(2).clamp(64, cap_max);
            out.reserve_exact(target - out.len());
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let rest = input.get(in_before as usize..).unwrap_or_default();
        let status = z
            // Not `Finish`: with miniz that means "all in one call", and
            // the output grows over several.
            .decompress_vec(rest, out, FlushDecompress::None)
            .map_err(|_| DecodeError::Inflate {
                offset: BASE + z.total_in() as usize,
            })?;
        if out.len() > limit {
            return Err(DecodeError::InflatedTooLarge { limit });
        }
        if status == Status::StreamEnd {
            // Bytes after the end of the zlib stream are ignored, as Go's
            // and Node's zlib readers do.
            return Ok(());
        }
        let stuck = z.total_in() == in_before && z.total_out() == out_before;
        if stuck && out.len() < out.capacity() {
            return Err(DecodeError::InflateTruncated {
                offset: BASE + input.len(),
            });
        }
    }
}

/// The hot path returns this empty error and parks the real one in the
/// parser: results stay small, so the common case moves less.
struct Fail;

type Read<T> = Result<T, Fail>;

struct Parser<'a, 'o> {
    buf: &'a [u8],
    pos: usize,
    text: &'o mut Vec<u8>,
    nodes: &'o mut Vec<FlatNode>,
    attrs: &'o mut Vec<(Flat, Flat)>,
    jids: &'o mut Vec<FlatJid>,
    limits: &'o DecodeLimits,
    items: usize,
    error: Option<DecodeError>,
}

impl Parser<'_, '_> {
    #[cold]
    fn fail(&mut self, error: DecodeError) -> Fail {
        self.error = Some(error);
        Fail
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    fn offset(&self, pos: usize) -> usize {
        BASE + pos
    }

    #[inline]
    fn byte(&mut self) -> Read<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(1)),
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        match self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(&bytes) => {
                self.pos += N;
                Ok(bytes)
            }
            None => Err(self.truncated(N)),
        }
    }

    #[cold]
    fn truncated(&mut self, needed: usize) -> Fail {
        let error = DecodeError::Truncated {
            offset: self.offset(self.buf.len()),
            needed: needed.saturating_sub(self.remaining()),
        };
        self.fail(error)
    }

    /// Skips `len` bytes of an item whose tag is at `start` and returns
    /// where they begin.
    #[inline]
    fn skip(&mut self, len: usize, start: usize) -> Read<usize> {
        let remaining = self.remaining();
        if len > remaining {
            let offset = self.offset(start);
            return Err(self.fail(DecodeError::LengthOverrun {
                offset,
                len,
                remaining,
            }));
        }
        let at = self.pos;
        self.pos += len;
        Ok(at)
    }

    /// The length that follows a `BINARY_*` tag.
    #[inline]
    fn binary_len(&mut self, t: u8) -> Read<usize> {
        Ok(match t {
            tag::BINARY_8 => usize::from(self.byte()?),
            tag::BINARY_20 => {
                let [a, b, c] = self.array::<3>()?;
                u32::from_be_bytes([0, a & 0x0f, b, c]) as usize
            }
            _ => u32::from_be_bytes(self.array::<4>()?) as usize,
        })
    }

    #[inline]
    fn count_item(&mut self, start: usize) -> Read<()> {
        self.items += 1;
        if self.items > self.limits.items_max {
            let error = DecodeError::TooManyItems {
                offset: self.offset(start),
                items_max: self.limits.items_max,
            };
            return Err(self.fail(error));
        }
        Ok(())
    }

    /// Refuses to go `depth` levels down (nodes, or JIDs written where a
    /// string goes): decoding recurses once per level.
    #[inline]
    fn check_depth(&mut self, start: usize, depth: usize) -> Read<()> {
        if depth >= self.limits.depth_max {
            let error = DecodeError::TooDeep {
                offset: self.offset(start),
                depth_max: self.limits.depth_max,
            };
            return Err(self.fail(error));
        }
        Ok(())
    }

    fn node(&mut self, depth: usize) -> Read<()> {
        let start = self.pos;
        self.check_depth(start, depth)?;
        self.count_item(start)?;
        let size = match self.byte()? {
            tag::LIST_EMPTY => 0,
            tag::LIST_8 => usize::from(self.byte()?),
            tag::LIST_16 => usize::from(u16::from_be_bytes(self.array::<2>()?)),
            t => return Err(self.bad_tag(start, t, Field::Node)),
        };
        if size == 0 {
            let offset = self.offset(start);
            return Err(self.fail(DecodeError::EmptyNode { offset }));
        }
        let tag_start = self.pos;
        let tag = self.plain(Field::Tag, depth)?;
        if tag.is_empty() {
            let offset = self.offset(tag_start);
            return Err(self.fail(DecodeError::EmptyTag { offset }));
        }
        let attr_count = (size - 1) / 2;
        let index = self.nodes.len();
        self.nodes.push(FlatNode {
            tag,
            attrs_start: self.attrs.len() as u32,
            attrs_len: attr_count as u32,
            content: FlatContent::None,
            end: 0,
        });
        // A lying count cannot reserve more than the input could hold:
        // every attribute takes at least 2 bytes.
        self.attrs.reserve(attr_count.min(self.remaining() / 2));
        for _ in 0..attr_count {
            self.count_item(self.pos)?;
            let key = self.plain(Field::AttrKey, depth)?;
            let value = self.value(depth)?;
            self.attrs.push((key, value));
        }
        let content = if size % 2 == 0 {
            self.content(depth)?
        } else {
            FlatContent::None
        };
        let end = self.nodes.len() as u32;
        if let Some(n) = self.nodes.get_mut(index) {
            n.content = content;
            n.end = end;
        }
        Ok(())
    }

    #[inline]
    fn value(&mut self, depth: usize) -> Read<Flat> {
        let start = self.pos;
        let t = self.byte()?;
        if is_jid(t) {
            self.jid_value(t, depth)
        } else {
            self.plain_from(start, t, Field::AttrValue, depth)
        }
    }

    fn content(&mut self, depth: usize) -> Read<FlatContent> {
        let start = self.pos;
        let t = self.byte()?;
        match t {
            tag::LIST_EMPTY => Ok(FlatContent::Nodes(0)),
            tag::LIST_8 | tag::LIST_16 => {
                let len = if t == tag::LIST_8 {
                    usize::from(self.byte()?)
                } else {
                    usize::from(u16::from_be_bytes(self.array::<2>()?))
                };
                // Every child takes at least 3 bytes.
                self.nodes.reserve(len.min(self.remaining() / 3));
                for _ in 0..len {
                    self.node(depth + 1)?;
                }
                Ok(FlatContent::Nodes(len as u32))
            }
            tag::BINARY_8 | tag::BINARY_20 | tag::BINARY_32 => {
                let len = self.binary_len(t)?;
                let at = self.skip(len, start)?;
                Ok(FlatContent::Value(Flat::data(at, len)))
            }
            _ if is_jid(t) => Ok(FlatContent::Value(self.jid_value(t, depth)?)),
            _ => {
                let text = self.plain_from(start, t, Field::Content, depth)?;
                // Packed text our encoder would write raw is kept as the
                // bytes it re-encodes to (see `FlatContent::TextAsBytes`).
                let raw = !text.is_token()
                    && packed::classify(flat_bytes(text, self.buf, self.text)).is_none();
                Ok(if raw {
                    FlatContent::TextAsBytes(text)
                } else {
                    FlatContent::Value(text)
                })
            }
        }
    }

    /// A JID value (an attribute value or content) whose tag `t` was just
    /// read, stored out of line.
    fn jid_value(&mut self, t: u8, depth: usize) -> Read<Flat> {
        let j = self.jid(t, depth)?;
        self.jids.push(j);
        Ok(Flat::jid(self.jids.len() - 1))
    }

    /// The parts of a JID whose tag `t` was just read. Its user may be a
    /// JID itself (read as text, one level down); what a part needs in
    /// the text buffer is appended in wire order, user first.
    fn jid(&mut self, t: u8, depth: usize) -> Read<FlatJid> {
        let mut j = FlatJid {
            form: JidForm::Pair,
            domain: 0,
            device: 0,
            integrator: 0,
            user: Flat::EMPTY,
            server: Flat::EMPTY,
        };
        match t {
            tag::JID_PAIR => {
                j.user = self.plain(Field::JidUser, depth)?;
                j.server = self.server()?;
            }
            tag::AD_JID => {
                let [domain, device] = self.array::<2>()?;
                j.user = self.plain(Field::JidUser, depth)?;
                match jid::domain_name(domain) {
                    // Device 0 is the phone itself: every reference reads
                    // it as the bare user JID, and so must we, or one
                    // device would go by two names.
                    Some(server) if device == 0 => j.server = self.static_str(server)?,
                    _ => {
                        j.form = JidForm::Device;
                        j.domain = domain;
                        j.device = u16::from(device);
                    }
                }
            }
            tag::FB_JID => {
                j.form = JidForm::Fb;
                j.user = self.plain(Field::JidUser, depth)?;
                j.device = u16::from_be_bytes(self.array::<2>()?);
                j.server = self.server()?;
            }
            _ => {
                j.form = JidForm::Interop;
                j.user = self.plain(Field::JidUser, depth)?;
                j.device = u16::from_be_bytes(self.array::<2>()?);
                j.integrator = u16::from_be_bytes(self.array::<2>()?);
                j.server = self.interop_server()?;
            }
        }
        Ok(j)
    }

    /// A JID server: a string, never empty, never a JID.
    #[inline]
    fn server(&mut self) -> Read<Flat> {
        let start = self.pos;
        let t = self.byte()?;
        if is_jid(t) {
            return Err(self.bad_tag(start, t, Field::JidServer));
        }
        let server = self.plain_from(start, t, Field::JidServer, 0)?;
        if server.is_empty() {
            let offset = self.offset(start);
            return Err(self.fail(DecodeError::EmptyJidServer { offset }));
        }
        Ok(server)
    }

    /// The server of an interop JID, which WA Web's writer leaves out.
    /// Baileys reads one when what follows reads as a string and goes
    /// back when it does not; so do we (and also when that string is
    /// empty: an empty child list, most likely).
    fn interop_server(&mut self) -> Read<Flat> {
        let (pos, text_len) = (self.pos, self.text.len());
        if let Ok(server) = self.server() {
            return Ok(server);
        }
        self.pos = pos;
        self.text.truncate(text_len);
        self.error = None;
        self.static_str(INTEROP_SERVER)
    }

    /// A string the decoder supplies itself (a server the wire implies):
    /// its token, else its text appended to the text buffer.
    fn static_str(&mut self, s: &'static str) -> Read<Flat> {
        match tokens::lookup(s) {
            Some(code) => Ok(Flat::token(code)),
            None => {
                let at = self.text.len();
                self.text.extend_from_slice(s.as_bytes());
                self.text_flat(at)
            }
        }
    }

    /// The text appended since the text buffer held `at` bytes, if a
    /// `Flat` can index it. Packed strings unpack to twice their bytes at
    /// most, but a JID's text may cost more than its bytes, so this is
    /// checked rather than proved.
    #[inline]
    fn text_flat(&mut self, at: usize) -> Read<Flat> {
        let len = self.text.len().saturating_sub(at);
        if at > u32::MAX as usize || len > DATA_LEN_MAX {
            let offset = self.offset(self.pos);
            return Err(self.fail(DecodeError::TextTooLarge { offset }));
        }
        Ok(Flat::text(at, len))
    }

    /// A string: a token, packed, raw UTF-8, `LIST_EMPTY` for "", or a
    /// JID as its text (every reference reads one wherever a string goes).
    #[inline]
    fn plain(&mut self, field: Field, depth: usize) -> Read<Flat> {
        let start = self.pos;
        let t = self.byte()?;
        self.plain_from(start, t, field, depth)
    }

    #[inline]
    fn plain_from(&mut self, start: usize, t: u8, field: Field, depth: usize) -> Read<Flat> {
        // Tokens first: most strings are. Every byte 1..=235 and every
        // index of the four dictionaries names a token (build.rs checks).
        if (1..tag::DICTIONARY_0).contains(&t) {
            return Ok(Flat::token(tokens::Code::from(t)));
        }
        if (tag::DICTIONARY_0..=tag::DICTIONARY_3).contains(&t) {
            let index = self.byte()?;
            return match tokens::double_code(t - tag::DICTIONARY_0, index) {
                Some(code) => Ok(Flat::token(code)),
                None => Err(self.bad_tag(start, t, field)),
            };
        }
        match t {
            tag::NIBBLE_8 => self.packed(start, Packing::Nibble),
            tag::HEX_8 => self.packed(start, Packing::Hex),
            tag::BINARY_8 | tag::BINARY_20 | tag::BINARY_32 => self.raw(start, t, field),
            tag::LIST_EMPTY => Ok(Flat::EMPTY),
            _ if is_jid(t) => self.jid_text(start, t, depth + 1),
            _ => Err(self.bad_tag(start, t, field)),
        }
    }

    /// A JID whose tag `t` (at `start`) was just read, where a string
    /// goes: its text form, appended to the text buffer.
    #[cold]
    fn jid_text(&mut self, start: usize, t: u8, depth: usize) -> Read<Flat> {
        self.check_depth(start, depth)?;
        // Its text costs more than its bytes (the server, separators):
        // counted like a node, so that the total stays bounded.
        self.count_item(start)?;
        let at = self.text.len();
        let j = self.jid(t, depth)?;
        jid_text::render(&j, at, self.buf, self.text);
        self.text_flat(at)
    }

    /// A raw string whose `BINARY_*` tag `t` (at `start`) was just read.
    fn raw(&mut self, start: usize, t: u8, field: Field) -> Read<Flat> {
        let len = self.binary_len(t)?;
        let at = self.skip(len, start)?;
        let bytes = self.buf.get(at..self.pos).unwrap_or_default();
        // Short wire strings are nearly always ASCII: the word-wise check
        // is cheaper than full UTF-8 validation.
        if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
            Ok(Flat::data(at, len))
        } else {
            let offset = self.offset(at);
            Err(self.fail(DecodeError::InvalidUtf8 { offset, field }))
        }
    }

    /// A packed string (any length the length byte can give, "" too, as
    /// every reference reads them).
    fn packed(&mut self, start: usize, kind: Packing) -> Read<Flat> {
        let head = self.byte()?;
        let len = usize::from(head & 0x7f);
        let odd = head & 0x80 != 0;
        let at = self.skip(len, start)?;
        let data = self.buf.get(at..self.pos).unwrap_or_default();
        let text_start = self.text.len();
        match packed::unpack(kind, data, odd, self.text) {
            Ok(()) => self.text_flat(text_start),
            Err((i, nibble)) => {
                let offset = self.offset(at + i);
                Err(self.fail(DecodeError::InvalidNibble { offset, nibble }))
            }
        }
    }

    #[cold]
    fn bad_tag(&mut self, start: usize, t: u8, field: Field) -> Fail {
        let offset = self.offset(start);
        let error = if (240..=244).contains(&t) {
            DecodeError::UnknownTag { offset, tag: t }
        } else {
            DecodeError::UnexpectedTag {
                offset,
                tag: t,
                field,
            }
        };
        self.fail(error)
    }
}

/// Whether tag `t` starts a JID.
#[inline]
fn is_jid(t: u8) -> bool {
    matches!(
        t,
        tag::JID_PAIR | tag::AD_JID | tag::FB_JID | tag::INTEROP_JID
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::binary::Jid;

    #[test]
    fn smallest_nodes() {
        assert_eq!(decode(&[0, 248, 1, 25]), Ok(Node::new("iq")));
        assert_eq!(
            decode(&[0, 248, 2, 25, 0]),
            Ok(Node::new("iq").with_children(vec![]))
        );
        assert_eq!(
            decode(&[0, 248, 3, 25, 17, 250, 0, 3]),
            Ok(Node::new("iq").with_attr("to", Jid::at("s.whatsapp.net")))
        );
        // The plain token is a string, not a JID.
        assert_eq!(
            decode(&[0, 248, 3, 25, 17, 3]),
            Ok(Node::new("iq").with_attr("to", "s.whatsapp.net"))
        );
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            decode(&[0, 248]),
            Err(DecodeError::Truncated {
                offset: 2,
                needed: 1
            })
        );
        assert_eq!(
            decode(&[0, 248, 1, 25, 9]),
            Err(DecodeError::TrailingBytes {
                offset: 4,
                count: 1
            })
        );
        assert_eq!(
            decode(&[0, 248, 2, 25, 252, 9, 1]),
            Err(DecodeError::LengthOverrun {
                offset: 4,
                len: 9,
                remaining: 1
            })
        );
    }
}
