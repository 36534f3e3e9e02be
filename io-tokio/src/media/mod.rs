//! Media transfer: `media_conn` kept for its ttl, uploads to
//! `POST {base}/mms/<type>/<token>?auth&token`, downloads by url or direct
//! path, each with bounded attempts and timeouts, over rustls (the same
//! client as the anti-idle ping). Both stream: an upload reads its source
//! twice (the blob's hash is the upload's token, known only at the end)
//! and a download decrypts and checks as it arrives, so no file is ever
//! held whole. The crypto and the checks are the core's
//! (`blacksky_core::media`).
//!
//! `base` is `WA_MEDIA_URL` when set ([`MediaBaseUrl`]), else
//! `https://<host>` for each host `media_conn` names, in its order.
//!
//! [`ReactionCdn`]: reaction clips from a CDN first, cached on disk, the
//! shipped clip whenever it fails.
//!
//! The session wires a [`MediaConnSource`]: how to ask the server
//! (`blacksky_core::media::media_conn_request`, answer read by
//! `MediaConn::parse`).

mod config;
mod download;
mod error;
pub mod reaction_cdn;
pub mod send;
mod source;
pub mod sticker;
mod upload;

use std::future::Future;
use std::time::Instant;

use blacksky_core::media::{MediaConn, MediaConnCache};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

pub use config::{MediaBaseUrl, MediaBaseUrlError, MediaTransferConfig};
pub use error::MediaTransferError;
pub use reaction_cdn::{CdnTemplate, CdnTemplateError, ClipOrigin, ReactionCdn, ReactionCdnConfig};
pub use send::{ClipSettings, Clips, MediaJob, MediaRetry, MediaSender, MediaSettings};
pub use source::MediaSource;
pub use upload::Uploaded;

/// WhatsApp's media servers expect the web client's origin.
const ORIGIN: &str = "https://web.whatsapp.com";
/// Where a direct path goes when no `media_conn` could be had (Baileys'
/// default host).
const DEFAULT_MEDIA_HOST: &str = "mmg.whatsapp.net";

type BodyError = Box<dyn std::error::Error + Send + Sync>;
type RequestBody = UnsyncBoxBody<Bytes, BodyError>;
type HttpClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// Asks the server for `media_conn` (an iq over the session's socket).
pub trait MediaConnSource: Send + Sync {
    fn fetch_media_conn(&self) -> impl Future<Output = Result<MediaConn, String>> + Send;
}

impl<F, Fut> MediaConnSource for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<MediaConn, String>> + Send,
{
    fn fetch_media_conn(&self) -> impl Future<Output = Result<MediaConn, String>> + Send {
        self()
    }
}

/// Uploads and downloads for one session.
pub struct MediaClient<S> {
    http: HttpClient,
    conn_source: S,
    /// An async lock: concurrent transfers wait for one fetch.
    conn_cache: tokio::sync::Mutex<MediaConnCache>,
    config: MediaTransferConfig,
}

impl<S> std::fmt::Debug for MediaClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: MediaConnSource> MediaClient<S> {
    pub fn new(conn_source: S, config: MediaTransferConfig) -> Result<Self, rustls::Error> {
        Ok(MediaClient {
            http: crate::host::anti_idle::https_client()?,
            conn_source,
            conn_cache: tokio::sync::Mutex::new(MediaConnCache::default()),
            config,
        })
    }

    /// The `media_conn` still good, or a fresh one (`refresh`: a host
    /// refused the one we had).
    async fn media_conn(&self, refresh: bool) -> Result<MediaConn, MediaTransferError> {
        let mut cache = self.conn_cache.lock().await;
        if refresh {
            cache.invalidate();
        }
        if let Some(conn) = cache.current(Instant::now()) {
            return Ok(conn.clone());
        }
        let conn = self
            .conn_source
            .fetch_media_conn()
            .await
            .map_err(MediaTransferError::MediaConn)?;
        cache.store(conn.clone(), Instant::now());
        Ok(conn)
    }

    /// The base URLs to try, in order (never none).
    fn bases(&self, conn: &MediaConn) -> Result<Vec<String>, MediaTransferError> {
        let bases: Vec<String> = match &self.config.base_url_override {
            Some(base) => vec![base.as_str().to_owned()],
            None => conn.hosts.iter().map(|h| format!("https://{h}")).collect(),
        };
        if bases.is_empty() {
            return Err(MediaTransferError::NoLocation {
                what: "media_conn named no host".into(),
            });
        }
        Ok(bases)
    }

    /// Waits before the `attempt`-th try (1-based retries).
    async fn back_off(&self, attempt: u32) {
        if attempt > 0 {
            tokio::time::sleep(self.config.retry_delay * attempt).await;
        }
    }
}

/// `host[:port]` of a URL, for errors and logs (never its query: an
/// upload's holds the auth).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_without_paths_queries_or_credentials() {
        assert_eq!(
            host_of("https://mmg.whatsapp.net/mms/image/x?auth=SECRET"),
            "mmg.whatsapp.net"
        );
        assert_eq!(host_of("http://127.0.0.1:9/v/1.enc"), "127.0.0.1:9");
        assert_eq!(host_of("https://u:p@h.net/x"), "h.net");
    }
}
