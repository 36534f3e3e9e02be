//! How media moves: where to (`WA_MEDIA_URL` or the `media_conn` hosts),
//! how long each step may take, how often to try.

use std::time::Duration;

use thiserror::Error;

/// `WA_MEDIA_URL`: uploads and downloads go to this base instead of
/// `https://<host>` (tests point it at fake-wa's media port, as
/// `WA_WS_URL` points the socket at fake-wa).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaBaseUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("WA_MEDIA_URL: {problem}")]
pub struct MediaBaseUrlError {
    pub problem: &'static str,
}

impl MediaBaseUrl {
    /// Checks a `WA_MEDIA_URL` value: `http(s)://host[:port][/prefix]`,
    /// no query, no credentials.
    pub fn parse(value: &str) -> Result<MediaBaseUrl, MediaBaseUrlError> {
        let value = value.trim().trim_end_matches('/');
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or(MediaBaseUrlError {
                problem: "must start with http:// or https://",
            })?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(MediaBaseUrlError {
                problem: "names no host",
            });
        }
        if authority.contains('@') {
            return Err(MediaBaseUrlError {
                problem: "must not carry credentials",
            });
        }
        if value.contains(['?', '#', ' ']) {
            return Err(MediaBaseUrlError {
                problem: "must not carry a query, a fragment or spaces",
            });
        }
        Ok(MediaBaseUrl(value.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Limits and timeouts of one [`super::MediaClient`].
#[derive(Debug, Clone)]
pub struct MediaTransferConfig {
    pub base_url_override: Option<MediaBaseUrl>,
    /// Until a host answers a request's head.
    pub head_timeout: Duration,
    /// Between two pieces of a body, either way.
    pub idle_timeout: Duration,
    /// Requests per transfer, over all hosts.
    pub attempts_max: u32,
    /// Wait before the n-th retry: n × this.
    pub retry_delay: Duration,
    /// Plaintext read (and ciphertext sent) per piece.
    pub chunk_bytes: usize,
}

impl Default for MediaTransferConfig {
    fn default() -> Self {
        MediaTransferConfig {
            base_url_override: None,
            head_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(30),
            attempts_max: 4,
            retry_delay: Duration::from_millis(500),
            chunk_bytes: 64 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_media_url_takes_http_bases_only() {
        assert_eq!(
            MediaBaseUrl::parse("http://127.0.0.1:8789/").map(|u| u.0),
            Ok("http://127.0.0.1:8789".to_owned())
        );
        assert!(MediaBaseUrl::parse("https://media.example/prefix").is_ok());
        for bad in [
            "ws://x",
            "http://",
            "https://u:p@x",
            "http://x/?auth=1",
            "x.net",
        ] {
            assert!(MediaBaseUrl::parse(bad).is_err(), "{bad}");
        }
        let err = MediaBaseUrl::parse("https://u:p@x").expect_err("credentials");
        assert!(err.to_string().starts_with("WA_MEDIA_URL"));
        assert!(!err.to_string().contains("u:p"), "the value stays out");
    }
}
