//! The top-level fields of protobuf bytes, by number: what prost skips
//! without a trace. The content view uses it to say which kinds of
//! message it met but does not model (a location is field 5, a poll 49…).

/// A field's number and, when it is length-delimited, its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u32,
    pub bytes: Option<&'a [u8]>,
}

/// The top-level fields of `bytes` in order, stopping quietly at the
/// first malformed one (the caller has already decoded the bytes with
/// prost; this only names what was there).
#[must_use]
pub fn top_level_fields(mut bytes: &[u8]) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let Some((key, rest)) = varint(bytes) else {
            break;
        };
        let Ok(number) = u32::try_from(key >> 3) else {
            break;
        };
        let (payload, rest) = match key & 0x07 {
            0 => match varint(rest) {
                Some((_, rest)) => (None, rest),
                None => break,
            },
            1 if rest.len() >= 8 => (None, &rest[8..]),
            5 if rest.len() >= 4 => (None, &rest[4..]),
            2 => {
                let Some((len, rest)) = varint(rest) else {
                    break;
                };
                match usize::try_from(len) {
                    Ok(len) if len <= rest.len() => (Some(&rest[..len]), &rest[len..]),
                    _ => break,
                }
            }
            // Groups (3, 4) are not used by WhatsApp; anything else is bad.
            _ => break,
        };
        fields.push(Field {
            number,
            bytes: payload,
        });
        bytes = rest;
    }
    fields
}

/// The bytes of the first length-delimited field `number`, if any.
#[must_use]
pub fn field_bytes(bytes: &[u8], number: u32) -> Option<&[u8]> {
    top_level_fields(bytes)
        .into_iter()
        .find(|f| f.number == number)
        .and_then(|f| f.bytes)
}

fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_type_is_stepped_over() {
        // 1: varint 300, 2: bytes "ab", 3: fixed64, 4: fixed32, 5: bytes.
        let bytes = [
            0x08, 0xAC, 0x02, 0x12, 0x02, b'a', b'b', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3,
            4, 0x2A, 0x00,
        ];
        let fields = top_level_fields(&bytes);
        let numbers: Vec<u32> = fields.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5]);
        assert_eq!(fields[1].bytes, Some(&b"ab"[..]));
        assert_eq!(fields[4].bytes, Some(&b""[..]));
        assert_eq!(field_bytes(&bytes, 2), Some(&b"ab"[..]));
        assert_eq!(field_bytes(&bytes, 1), None);
    }

    #[test]
    fn malformed_bytes_stop_the_scan() {
        assert_eq!(top_level_fields(&[0x0A, 0x05, b'a']), []);
        assert_eq!(top_level_fields(&[0x08]), []);
        assert_eq!(top_level_fields(&[0x0B]).len(), 0);
        assert_eq!(top_level_fields(&[0xFF; 12]), []);
        let fields = top_level_fields(&[0x08, 0x01, 0x12]);
        assert_eq!(fields.len(), 1);
    }
}
