//! The two packed string forms: two characters a byte, high nibble first.
//! Nibble: `0-9` = 0..9, `-` = 10, `.` = 11. Hex: `0-9A-F` = 0..15
//! (uppercase only: lowercase hex goes raw). An odd count sets the high
//! bit of the length byte and pads the last byte's low nibble with 15.

use super::tag;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Packing {
    Nibble,
    Hex,
}

impl Packing {
    pub(crate) fn tag(self) -> u8 {
        match self {
            Packing::Nibble => tag::NIBBLE_8,
            Packing::Hex => tag::HEX_8,
        }
    }
}

const NIBBLE_OK: u8 = 1;
const HEX_OK: u8 = 2;
/// Per input byte: which forms can carry it.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = NIBBLE_OK | HEX_OK;
        b += 1;
    }
    t[b'-' as usize] = NIBBLE_OK;
    t[b'.' as usize] = NIBBLE_OK;
    let mut b = b'A';
    while b <= b'F' {
        t[b as usize] = HEX_OK;
        b += 1;
    }
    t
};

/// The padding nibble of an odd-length string.
pub(crate) const PAD: u8 = 15;

/// Characters of nibble values; `0` marks values with no character
/// (15 is the padding).
const NIBBLE_CHARS: [u8; 16] = *b"0123456789-.\0\0\0\0";
const HEX_CHARS: [u8; 16] = *b"0123456789ABCDEF";

/// Which packed form carries `s`, if any: nibble wins over hex, as in
/// Baileys and whatsmeow; empty strings and strings over
/// [`tag::PACKED_MAX`] are never packed.
#[inline]
pub(crate) fn classify(s: &[u8]) -> Option<Packing> {
    if s.is_empty() || s.len() > tag::PACKED_MAX {
        return None;
    }
    let mut ok = NIBBLE_OK | HEX_OK;
    for &b in s {
        ok &= CLASS[usize::from(b)];
        if ok == 0 {
            return None;
        }
    }
    if ok & NIBBLE_OK != 0 {
        Some(Packing::Nibble)
    } else {
        Some(Packing::Hex)
    }
}

/// The nibble value of a character `classify` accepted for `kind`.
#[inline]
fn value(kind: Packing, c: u8) -> u8 {
    match (kind, c) {
        (Packing::Nibble, b'-') => 10,
        (Packing::Nibble, b'.') => 11,
        (Packing::Hex, b'A'..=b'F') => c - b'A' + 10,
        _ => c.wrapping_sub(b'0') & 0x0f,
    }
}

/// Appends `tag, length byte, packed bytes` for `s`, which `classify`
/// accepted for `kind`.
pub(crate) fn write(kind: Packing, s: &[u8], out: &mut Vec<u8>) {
    let odd = s.len() % 2;
    out.push(kind.tag());
    // len <= PACKED_MAX = 127, so len.div_ceil(2) <= 64 fits the 7 bits.
    out.push((s.len().div_ceil(2) as u8) | ((odd as u8) << 7));
    let mut pairs = s.chunks_exact(2);
    for pair in &mut pairs {
        if let [a, b] = pair {
            out.push((value(kind, *a) << 4) | value(kind, *b));
        }
    }
    if let [last] = pairs.remainder() {
        out.push((value(kind, *last) << 4) | PAD);
    }
}

/// Appends the characters of `packed` (at most 64 bytes, as the caller
/// checks) to `out`; an odd string drops its padding nibble. Errors give
/// the index in `packed` and a nibble with no character (for nibble
/// strings: 12..=14 anywhere, 15 anywhere but the padding); `out` is then
/// left as it was.
#[inline]
pub(crate) fn unpack(
    kind: Packing,
    packed: &[u8],
    odd: bool,
    out: &mut Vec<u8>,
) -> Result<(), (usize, u8)> {
    let Some((&last, body)) = packed.split_last() else {
        return Ok(());
    };
    let (pairs, bad) = match kind {
        Packing::Nibble => (&NIBBLE_PAIRS, &NIBBLE_BAD),
        Packing::Hex => (&HEX_PAIRS, &HEX_BAD),
    };
    let pair = |b: u8| u64::from(pairs[usize::from(b)]);
    let flags = |b: u8| bad[usize::from(b)];
    // Eight characters per 8-byte write, straight into `out` (the slack
    // past the end is cut off after), and any nibble without a character
    // noted on the way.
    let start = out.len();
    out.reserve(2 * packed.len() + 8);
    let mut invalid = 0u8;
    let mut quads = body.chunks_exact(4);
    for &[a, b, c, d] in quads.by_ref().filter_map(|q| q.first_chunk::<4>()) {
        invalid |= flags(a) | flags(b) | flags(c) | flags(d);
        let word = pair(a) | pair(b) << 16 | pair(c) << 32 | pair(d) << 48;
        out.extend_from_slice(&word.to_le_bytes());
    }
    // The rest of the body, then the last byte, whose low nibble may be
    // the padding (15) of an odd string.
    let mut word = 0u64;
    let mut shift = 0;
    for &b in quads.remainder() {
        invalid |= flags(b);
        word |= pair(b) << shift;
        shift += 16;
    }
    let pad_ok = odd && last & 0x0f == PAD;
    invalid |= flags(last) & if pad_ok { HI_BAD } else { HI_BAD | LO_BAD };
    word |= pair(last) << shift;
    out.extend_from_slice(&word.to_le_bytes());
    if invalid != 0 {
        out.truncate(start);
        return Err(first_invalid(bad, packed, odd));
    }
    out.truncate(start + 2 * packed.len() - usize::from(odd));
    Ok(())
}

#[cold]
fn first_invalid(bad: &[u8; 256], packed: &[u8], odd: bool) -> (usize, u8) {
    for (i, &b) in packed.iter().enumerate() {
        let flags = bad[usize::from(b)];
        if flags & HI_BAD != 0 {
            return (i, b >> 4);
        }
        let is_pad = odd && i + 1 == packed.len() && b & 0x0f == PAD;
        if flags & LO_BAD != 0 && !is_pad {
            return (i, b & 0x0f);
        }
    }
    (0, 0)
}

/// The two characters of each packed byte as a little-endian `u16`
/// (first character in the low byte).
static NIBBLE_PAIRS: [u16; 256] = pairs(&NIBBLE_CHARS);
static HEX_PAIRS: [u16; 256] = pairs(&HEX_CHARS);
/// Per packed byte: which of its nibbles has no character.
static NIBBLE_BAD: [u8; 256] = bad(&NIBBLE_CHARS);
static HEX_BAD: [u8; 256] = bad(&HEX_CHARS);
const HI_BAD: u8 = 1;
const LO_BAD: u8 = 2;

const fn pairs(chars: &[u8; 16]) -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = u16::from_le_bytes([chars[i >> 4], chars[i & 0x0f]]);
        i += 1;
    }
    t
}

const fn bad(chars: &[u8; 16]) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if chars[i >> 4] == 0 {
            t[i] |= HI_BAD;
        }
        if chars[i & 0x0f] == 0 {
            t[i] |= LO_BAD;
        }
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(s: &str) -> Vec<u8> {
        let kind = classify(s.as_bytes()).unwrap_or(Packing::Hex);
        let mut out = Vec::new();
        write(kind, s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn nibble_before_hex_uppercase_only() {
        assert_eq!(classify(b"0123"), Some(Packing::Nibble));
        assert_eq!(classify(b"1.2-3"), Some(Packing::Nibble));
        assert_eq!(classify(b"3EB0"), Some(Packing::Hex));
        assert_eq!(classify(b"3eb0"), None);
        assert_eq!(classify(b"3E.0"), None);
        assert_eq!(classify(b""), None);
        assert_eq!(classify(&[b'1'; 127]), Some(Packing::Nibble));
        assert_eq!(classify(&[b'1'; 128]), None);
    }

    #[test]
    fn known_bytes() {
        // From Baileys' encoding of stanza a: t="1732291200", from user.
        assert_eq!(
            packed("1732291200"),
            [0xff, 0x05, 0x17, 0x32, 0x29, 0x12, 0x00]
        );
        assert_eq!(
            packed("491556123456"),
            [0xff, 0x06, 0x49, 0x15, 0x56, 0x12, 0x34, 0x56]
        );
        assert_eq!(packed("1-2.3"), [0xff, 0x83, 0x1a, 0x2b, 0x3f]);
        assert_eq!(packed("ABC"), [0xfb, 0x82, 0xab, 0xcf]);
    }

    #[test]
    fn unpack_inverts_and_rejects() {
        let mut out = Vec::new();
        assert_eq!(
            unpack(Packing::Nibble, &[0x1a, 0x2b, 0x3f], true, &mut out),
            Ok(())
        );
        assert_eq!(out, b"1-2.3");
        out.clear();
        assert_eq!(unpack(Packing::Hex, &[0xab, 0xcf], true, &mut out), Ok(()));
        assert_eq!(out, b"ABC");
        out.clear();
        assert_eq!(unpack(Packing::Hex, &[0xab, 0xcf], false, &mut out), Ok(()));
        assert_eq!(out, b"ABCF");
        out.clear();
        // The padding may be any character, as every reference reads it.
        assert_eq!(unpack(Packing::Nibble, &[0x13], true, &mut out), Ok(()));
        assert_eq!(out, b"1");
        out.clear();
        assert_eq!(
            unpack(Packing::Nibble, &[0x1c], false, &mut out),
            Err((0, 12))
        );
        assert_eq!(
            unpack(Packing::Nibble, &[0x11, 0xd1], false, &mut out),
            Err((1, 13))
        );
        assert_eq!(
            unpack(Packing::Nibble, &[0xf1], false, &mut out),
            Err((0, 15))
        );
        assert_eq!(
            unpack(Packing::Nibble, &[0x1f], false, &mut out),
            Err((0, 15))
        );
        assert_eq!(
            unpack(Packing::Nibble, &[0x1f, 0x11], true, &mut out),
            Err((0, 15))
        );
        assert_eq!(
            unpack(Packing::Nibble, &[0x11, 0x1e], true, &mut out),
            Err((1, 14))
        );
        assert!(out.is_empty());
    }
}
