//! One POST to `ALERT_WEBHOOK_URL`: hyper's client on rustls with ring
//! (the anti-idle ping's stack), a bounded wait, a 2xx is delivered. The
//! URL carries the receiver's token: errors and logs never show it (see
//! [`mask_webhook_url`]).

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::host::redact::mask_webhook_url;

/// One delivery may take this long.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// A receiver's answer is a word or two; more is not read.
const RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// Why a delivery failed (no URL in it).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("no answer within {} s", POST_TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}")]
    Request(String),
    #[error("answered {0}")]
    Status(StatusCode),
}

/// Why the webhook cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("ALERT_WEBHOOK_URL ({url}) is not a usable http(s) URL")]
    BadUrl { url: String },
    #[error("cannot set up TLS for the alert webhook: {0}")]
    Tls(#[from] rustls::Error),
}

/// The configured receiver.
#[derive(Clone)]
pub struct Webhook {
    uri: Uri,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.shown())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(url: &str) -> Result<Webhook, WebhookError> {
        let uri: Uri = url.trim().parse().map_err(|_| WebhookError::BadUrl {
            url: mask_webhook_url(url),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(WebhookError::BadUrl {
                url: mask_webhook_url(url),
            });
        }
        Ok(Webhook {
            uri,
            client: crate::host::anti_idle::https_client()?,
        })
    }

    /// The URL as logs show it.
    pub fn shown(&self) -> String {
        mask_webhook_url(&self.uri.to_string())
    }

    /// POSTs `body` as JSON; a 2xx answer is a delivery.
    pub async fn post(&self, body: &serde_json::Value) -> Result<(), PostError> {
        let request = Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("blacksky/", env!("CARGO_PKG_VERSION"), " alerts"),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|err| PostError::Request(err.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                // hyper's error names no URL, only what failed.
                .map_err(|err| PostError::Request(err.to_string()))?;
            let status = response.status();
            Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
                .collect()
                .await
                .map_err(|err| PostError::Request(err.to_string()))?;
            Ok::<_, PostError>(status)
        };
        let status = tokio::time::timeout(POST_TIMEOUT, exchange)
            .await
            .map_err(|_| PostError::Timeout)??;
        if status.is_success() {
            Ok(())
        } else {
            Err(PostError::Status(status))
        }
    }
}
