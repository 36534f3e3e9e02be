//! The current WhatsApp Web version, read from the web client's service
//! worker script (`https://web.whatsapp.com/sw.js`), the way the Node.js
//! bots learn it after a 405: the script carries the build number as
//! `"client_revision":N` (quotes escaped, `\"client_revision\":N`, where
//! it sits inside a JSON string), and the version is `2.3000.N`.

use crate::session::AppVersion;

/// The version's first two parts, which the web client has kept fixed.
const WEB_PRIMARY_SECONDARY: [u32; 2] = [2, 3000];

/// The name whose number is the build.
const FIELD: &str = "client_revision";

/// The version the document announces: `2.3000.<client_revision>` from
/// the first quoted `client_revision` key followed by `:`, optional white space
/// and digits; `None` when there is none (or its number overflows).
#[must_use]
pub fn from_service_worker(document: &str) -> Option<AppVersion> {
    let mut rest = document;
    while let Some(at) = rest.find(FIELD) {
        let quoted = rest[..at].ends_with('"');
        let after = &rest[at + FIELD.len()..];
        rest = after;
        if !quoted {
            continue;
        }
        // The key's closing quote, escaped or not, then the colon.
        let after = after.strip_prefix('\\').unwrap_or(after);
        let Some(after) = after.strip_prefix("\":") else {
            continue;
        };
        let after = after.trim_start();
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let [primary, secondary] = WEB_PRIMARY_SECONDARY;
        return after[..digits]
            .parse()
            .ok()
            .map(|build| AppVersion([primary, secondary, build]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_build_in_either_quoting() {
        // As sw.js carries it: inside a JSON string, quotes escaped.
        let escaped = r#"self.__swData=JSON.parse(/*BTDS*/"{\"dynamic_data\":{\"SiteData\":{\"server_revision\":1015901307,\"client_revision\":1015901307,\"push_phase\":\"C3\"}}}");"#;
        assert_eq!(
            from_service_worker(escaped),
            Some(AppVersion([2, 3000, 1_015_901_307]))
        );
        let plain = r#"{"client_revision": 1023456789}"#;
        assert_eq!(
            from_service_worker(plain),
            Some(AppVersion([2, 3000, 1_023_456_789]))
        );
    }

    #[test]
    fn skips_what_is_not_the_key_with_a_number() {
        // A mention without a number, then the real one.
        let text = r#"var client_revision; x = {"client_revision":"soon", "client_revision":42}"#;
        assert_eq!(from_service_worker(text), Some(AppVersion([2, 3000, 42])));
        for text in [
            "",
            "<html>blocked</html>",
            r#"{"client_revision":}"#,
            r#"{"server_revision":1015901307}"#,
            r#"{"my_client_revision":7}"#,
            // Over u32: no version rather than a wrong one.
            r#"{"client_revision":99999999999}"#,
        ] {
            assert_eq!(from_service_worker(text), None, "{text}");
        }
    }
}
