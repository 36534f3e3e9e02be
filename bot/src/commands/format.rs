//! Numbers as the built-ins show them, the same in every language:
//! `2d 3h`, `4m 5s`, `123.4 MB`, `@491556…` lists.

use blacksky_core::wire::binary::Jid;

/// A duration in its two largest units: `2d 3h`, `3h 4m`, `4m 5s`, `5s`.
#[must_use]
pub fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Bytes as megabytes with one decimal.
#[must_use]
pub fn megabytes(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10) / (1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

/// People as WhatsApp shows mentions: `@491556123456, @1555…`.
#[must_use]
pub fn mentions(people: &[Jid]) -> String {
    people
        .iter()
        .map(|jid| format!("@{}", jid.user()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_their_two_largest_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59_999), "59s");
        assert_eq!(duration(61_000), "1m 1s");
        assert_eq!(duration(3_600_000 * 5 + 60_000 * 7), "5h 7m");
        assert_eq!(duration(86_400_000 * 2 + 3_600_000 * 3 + 1), "2d 3h");
        assert_eq!(megabytes(0), "0.0 MB");
        assert_eq!(megabytes(52_428_800 + 104_858), "50.1 MB");
        assert_eq!(
            mentions(&[Jid::new("1", "s.whatsapp.net"), Jid::new("2", "lid")]),
            "@1, @2"
        );
    }
}
