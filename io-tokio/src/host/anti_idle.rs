//! Anti-idle: when HEROKU_APP_URL is set, GET `<url>/health` every
//! ANTI_IDLE_MINUTES. An eco web dyno sleeps after 30 minutes without
//! incoming HTTP traffic; a request through the router counts as traffic.
//! Nothing else: a failed ping is logged and the next one is tried on time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;

use crate::host::redact::mask_url;

/// One ping may take this long before it counts as failed.
pub const PING_TIMEOUT: Duration = Duration::from_secs(30);
/// A /health answer is a word; more than this is not read.
const RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// Why anti-idle could not start.
#[derive(Debug, thiserror::Error)]
pub enum AntiIdleError {
    #[error("{url}: not a usable http(s) URL for the anti-idle ping")]
    BadUrl { url: String },
    #[error("cannot set up TLS for the anti-idle ping: {0}")]
    Tls(#[from] rustls::Error),
}

/// Why one ping failed.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("no answer within {} s", PING_TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}")]
    Request(#[from] hyper_util::client::legacy::Error),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("reading the answer: {0}")]
    Body(String),
}

type PingClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// `<app_url>/health` as a URI (the app URL may or may not end in `/`).
pub fn health_url(app_url: &str) -> Result<Uri, AntiIdleError> {
    let bad = || AntiIdleError::BadUrl {
        url: mask_url(app_url),
    };
    let base = app_url.trim().trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(bad());
    }
    let uri: Uri = format!("{base}/health").parse().map_err(|_| bad())?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(uri)
}

/// An HTTP(S) client on rustls with ring and the webpki roots: the same
/// TLS stack as the WebSocket, and no dependence on a process-wide
/// default crypto provider. The alert webhook uses it too.
pub(crate) fn https_client<B>() -> Result<Client<HttpsConnector<HttpConnector>, B>, rustls::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// One GET; a 2xx answer is a success.
async fn ping(client: &PingClient, uri: &Uri) -> Result<StatusCode, PingError> {
    let request = Request::get(uri.clone())
        .header(
            hyper::header::USER_AGENT,
            concat!("blacksky/", env!("CARGO_PKG_VERSION"), " anti-idle"),
        )
        .body(Empty::new())
        .map_err(|err| PingError::Body(err.to_string()))?;
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status();
        // Read the (small) body so the connection can be reused.
        Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|err| PingError::Body(err.to_string()))?;
        Ok::<_, PingError>(status)
    };
    let status = tokio::time::timeout(PING_TIMEOUT, exchange)
        .await
        .map_err(|_| PingError::Timeout)??;
    if status.is_success() {
        Ok(status)
    } else {
        Err(PingError::Status(status))
    }
}

/// Pings `<app_url>/health` now and then every `interval` until
/// `shutdown` resolves. The first ping is immediate, so a wrong
/// HEROKU_APP_URL shows in the log at start, not 20 minutes later.
pub fn spawn(
    app_url: &str,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, AntiIdleError> {
    let uri = health_url(app_url)?;
    let client = https_client()?;
    // The URL is config, not a secret, but a userinfo part would be one.
    let shown = mask_url(&uri.to_string());
    tracing::info!(url = %shown, every_s = interval.as_secs(), "anti-idle ping active");
    Ok(tokio::spawn(async move {
        // A zero period would panic in tokio; config never gives one.
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
        // After a stall, ping once, not once per missed tick.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                () = &mut shutdown => break,
                result = ping(&client, &uri) => match result {
                    Ok(status) => tracing::debug!(url = %shown, %status, "anti-idle ping answered"),
                    Err(err) => tracing::warn!(url = %shown, %err, "anti-idle ping failed"),
                },
            }
        }
        tracing::debug!("anti-idle ping stopped");
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_url_is_built_from_the_app_url() {
        for app in [
            "https://my-bot.herokuapp.com",
            "https://my-bot.herokuapp.com/",
        ] {
            let uri = health_url(app).expect("valid");
            assert_eq!(uri.to_string(), "https://my-bot.herokuapp.com/health");
        }
        assert_eq!(
            health_url("http://127.0.0.1:8080")
                .expect("valid")
                .to_string(),
            "http://127.0.0.1:8080/health"
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_showing_credentials() {
        for bad in ["my-bot.herokuapp.com", "ftp://x", "https://", "https://a b"] {
            assert!(health_url(bad).is_err(), "{bad}");
        }
        for secret in ["ftp://user:hunter2@x", "user:hunter2@x"] {
            let err = health_url(secret).expect_err("bad scheme");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
