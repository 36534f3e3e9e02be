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

/// Characters of nibble values; [`NONE`] marks values with none. 15, the
/// padding, reads as NUL where it is not dropped, as every reference
/// reads it.
const NIBBLE_CHARS: [u8; 16] = *b"0123456789-.\xff\xff\xff\0";
/// No character: not ASCII, so never one of the tables' characters.
const NONE: u8 = 0xff;
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

/// Appends the characters of `packed` (at most 127 bytes, as the length
/// byte allows) to `out`; an odd string drops its last character, whatever
/// it is. Errors give the index in `packed` and a nibble with no character
/// (for nibble strings 12..=14; every reference refuses those, even in the
/// dropped half); `out` is then left as it was.
#[inline]
pub(crate) fn unpack(
    kind: Packing,
    packed: &[u8],
    odd: bool,
    out: &mut Vec<u8>,
) -> Result<(), (usize, u8)> {
    let (pairs, bad) = match kind {
        Packing::Nibble => (&NIBBLE_PAIRS, &NIBBLE_BAD),
        Packing::Hex => (&HEX_PAIRS, &HEX_BAD),
    };
    let pair = |b: u8| u64::from(pairs[usize::from(b)]);
    // Eight characters per 8-byte write, straight into `out` (the slack
    // past the end is cut off after), and any nibble without a character
    // noted on the way.
    let start = out.len();
    out.reserve(2 * packed.len() + 8);
    let mut invalid = false;
    let mut quads = packed.chunks_exact(4);
    for &[a, b, c, d] in quads.by_ref().filter_map(|q| q.first_chunk::<4>()) {
        invalid |=
            bad[usize::from(a)] | bad[usize::from(b)] | bad[usize::from(c)] | bad[usize::from(d)];
        let word = pair(a) | pair(b) << 16 | pair(c) << 32 | pair(d) << 48;
        out.extend_from_slice(&word.to_le_bytes());
    }
    let mut word = 0u64;
    for (shift, &b) in (0..).step_by(16).zip(quads.remainder()) {
        invalid |= bad[usize::from(b)];
        word |= pair(b) << shift;
    }
    out.extend_from_slice(&word.to_le_bytes());
    if invalid {
        out.truncate(start);
        return Err(first_invalid(kind, packed));
    }
    let chars = (2 * packed.len()).saturating_sub(usize::from(odd));
    out.truncate(start + chars);
    Ok(())
}

#[cold]
fn first_invalid(kind: Packing, packed: &[u8]) -> (usize, u8) {
    let chars = match kind {
        Packing::Nibble => &NIBBLE_CHARS,
        Packing::Hex => &HEX_CHARS,
    };
    for (i, &b) in packed.iter().enumerate() {
        for nibble in [b >> 4, b & 0x0f] {
            if chars[usize::from(nibble)] == NONE {
                return (i, nibble);
            }
        }
    }
    (0, 0)
}

/// The two characters of each packed byte as a little-endian `u16`
/// (first character in the low byte).
static NIBBLE_PAIRS: [u16; 256] = pairs(&NIBBLE_CHARS);
static HEX_PAIRS: [u16; 256] = pairs(&HEX_CHARS);
/// Per packed byte: whether a nibble of it has no character.
static NIBBLE_BAD: [bool; 256] = bad(&NIBBLE_CHARS);
static HEX_BAD: [bool; 256] = bad(&HEX_CHARS);

const fn pairs(chars: &[u8; 16]) -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = u16::from_le_bytes([chars[i >> 4], chars[i & 0x0f]]);
        i += 1;
    }
    t
}

const fn bad(chars: &[u8; 16]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = chars[i >> 4] == NONE || chars[i & 0x0f] == NONE;
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
        let unpacked = |kind, packed: &[u8], odd| {
            let mut out = Vec::new();
            unpack(kind, packed, odd, &mut out).map(|()| out)
        };
        assert_eq!(
            unpacked(Packing::Nibble, &[0x1a, 0x2b, 0x3f], true),
            Ok(b"1-2.3".to_vec())
        );
        assert_eq!(
            unpacked(Packing::Hex, &[0xab, 0xcf], true),
            Ok(b"ABC".to_vec())
        );
        assert_eq!(
            unpacked(Packing::Hex, &[0xab, 0xcf], false),
            Ok(b"ABCF".to_vec())
        );
        // The dropped character of an odd string may be any one.
        assert_eq!(unpacked(Packing::Nibble, &[0x13], true), Ok(b"1".to_vec()));
        // Nibble 15 where it is not dropped reads as NUL; nothing is "".
        assert_eq!(
            unpacked(Packing::Nibble, &[0xf1], false),
            Ok(b"\x001".to_vec())
        );
        assert_eq!(
            unpacked(Packing::Nibble, &[0x1f], false),
            Ok(b"1\0".to_vec())
        );
        assert_eq!(
            unpacked(Packing::Nibble, &[0x1f, 0x11], true),
            Ok(b"1\x001".to_vec())
        );
        assert_eq!(unpacked(Packing::Nibble, &[], true), Ok(Vec::new()));
        assert_eq!(unpacked(Packing::Hex, &[], false), Ok(Vec::new()));
        // 12..=14 are no characters, even in the dropped half.
        assert_eq!(unpacked(Packing::Nibble, &[0x1c], false), Err((0, 12)));
        assert_eq!(
            unpacked(Packing::Nibble, &[0x11, 0xd1], false),
            Err((1, 13))
        );
        assert_eq!(unpacked(Packing::Nibble, &[0x11, 0x1e], true), Err((1, 14)));
        let mut long = vec![0x12; 9];
        long.push(0x1c);
        assert_eq!(unpacked(Packing::Nibble, &long, false), Err((9, 12)));
        // Up to the 127 bytes the length byte counts.
        assert_eq!(
            unpacked(Packing::Hex, &[0xab; 127], true).map(|v| v.len()),
            Ok(253)
        );
        // A failed unpack leaves the buffer as it was.
        let mut out = b"kept".to_vec();
        assert!(unpack(Packing::Nibble, &long, false, &mut out).is_err());
        assert_eq!(out, b"kept");
    }
}
