//! The WebSocket to WhatsApp (or to fake-wa in tests): dialled with the
//! Origin header WhatsApp Web sends, binary messages only.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::host::redact::mask_url;

/// The socket type the production dialer returns.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a dial failed. The URL is config, but a userinfo or query in it may
/// be a credential: it is kept masked ([`mask_url`]).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("{url}: not a usable WebSocket URL: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("{url}: no answer within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("{url}: {source}")]
    Connect {
        url: String,
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
}

/// Opens the WebSocket, giving up after `timeout`.
pub async fn dial(url: &str, timeout: Duration) -> Result<WsStream, DialError> {
    let mut request = url.into_client_request().map_err(|err| DialError::BadUrl {
        url: mask_url(url),
        detail: err.to_string(),
    })?;
    request.headers_mut().insert(
        "Origin",
        HeaderValue::from_static("https://web.whatsapp.com"),
    );
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    match tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(request, Some(config), true),
    )
    .await
    {
        Err(_) => Err(DialError::Timeout {
            url: mask_url(url),
            timeout_ms: timeout.as_millis() as u64,
        }),
        Ok(Err(source)) => Err(DialError::Connect {
            url: mask_url(url),
            source: Box::new(source),
        }),
        Ok(Ok((ws, _response))) => Ok(ws),
    }
}

/// Opens WebSockets: the real network in production, turmoil's in the
/// simulation.
pub trait Dialer: Clone + Send + Sync + 'static {
    type Socket: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + futures_util::Sink<
            tokio_tungstenite::tungstenite::Message,
            Error = tokio_tungstenite::tungstenite::Error,
        > + Unpin
        + Send
        + 'static;

    fn dial(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<Self::Socket, DialError>> + Send;
}

/// The production dialer: TCP (+TLS for wss) with a connect timeout.
#[derive(Debug, Clone, Copy)]
pub struct WsDialer {
    pub timeout: Duration,
}

impl Default for WsDialer {
    fn default() -> Self {
        WsDialer {
            timeout: Duration::from_secs(20),
        }
    }
}

impl Dialer for WsDialer {
    type Socket = WsStream;

    async fn dial(&self, url: &str) -> Result<WsStream, DialError> {
        dial(url, self.timeout).await
    }
}
