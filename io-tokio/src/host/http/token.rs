//! The QR_TOKEN check. Both sides are hashed to 32 bytes before a
//! constant-time comparison, so neither the token's bytes nor its length
//! leak through timing. After the first good token the browser holds a
//! cookie derived from the token (never the token itself), so the page can
//! refresh without the token in its URL: Heroku's router logs every path
//! with its query string. Guessing is slowed per client by [`super::lockout`].

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::host::config::Secret;

/// The cookie that stands for a good token.
pub const COOKIE_NAME: &str = "blacksky_qr";

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The token, kept only as digests.
pub struct TokenCheck {
    token_digest: [u8; 32],
    /// What the cookie carries: hex of a digest of the token under its
    /// own label, so the cookie cannot be replayed as the token.
    cookie_value: String,
    cookie_digest: [u8; 32],
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(<redacted>)")
    }
}

impl TokenCheck {
    pub fn new(token: &Secret) -> TokenCheck {
        let cookie_value = hex::encode(digest(&[
            b"blacksky qr page cookie v1\0",
            token.expose().as_bytes(),
        ]));
        TokenCheck {
            token_digest: digest(&[token.expose().as_bytes()]),
            cookie_digest: digest(&[cookie_value.as_bytes()]),
            cookie_value,
        }
    }

    pub fn matches_token(&self, candidate: &str) -> bool {
        bool::from(digest(&[candidate.as_bytes()]).ct_eq(&self.token_digest))
    }

    pub fn matches_cookie(&self, candidate: &str) -> bool {
        bool::from(digest(&[candidate.as_bytes()]).ct_eq(&self.cookie_digest))
    }

    pub fn cookie_value(&self) -> &str {
        &self.cookie_value
    }
}

/// The value of one cookie in a `Cookie:` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value.trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let check = TokenCheck::new(&Secret::new("correct horse"));
        assert!(check.matches_token("correct horse"));
        for wrong in ["", "correct hors", "correct horse ", "Correct horse"] {
            assert!(!check.matches_token(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn the_cookie_is_not_the_token_and_the_token_is_not_the_cookie() {
        let check = TokenCheck::new(&Secret::new("tok-123456"));
        assert!(!check.cookie_value().contains("tok-123456"));
        assert!(check.matches_cookie(check.cookie_value()));
        assert!(!check.matches_cookie("tok-123456"));
        assert!(!check.matches_token(check.cookie_value()));
        assert_eq!(format!("{check:?}"), "TokenCheck(<redacted>)");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "a=1; blacksky_qr=abc; b=\"2\"";
        assert_eq!(cookie(header, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie(header, "b"), Some("2"));
        assert_eq!(cookie(header, "blacksky"), None);
    }
}
