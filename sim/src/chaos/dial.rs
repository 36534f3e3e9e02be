//! The production WebSocket handshake over turmoil's TCP.

use std::time::Duration;

use blacksky_io::transport::{DialError, Dialer};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// What the bot's driver talks to in the simulation.
pub type SimSocket = WebSocketStream<turmoil::net::TcpStream>;

/// Dials `ws://host:port/...` through the simulated network (host names
/// are turmoil's), with the same Origin header and timeout handling as
/// [`blacksky_io::transport::WsDialer`].
#[derive(Debug, Clone, Copy)]
pub struct TurmoilDialer {
    pub timeout: Duration,
}

impl Default for TurmoilDialer {
    fn default() -> Self {
        TurmoilDialer {
            timeout: Duration::from_secs(20),
        }
    }
}

impl TurmoilDialer {
    async fn open(&self, url: &str) -> Result<SimSocket, DialError> {
        let bad_url = |detail: String| DialError::BadUrl {
            url: url.to_owned(),
            detail,
        };
        let mut request = url
            .into_client_request()
            .map_err(|err| bad_url(err.to_string()))?;
        request.headers_mut().insert(
            "Origin",
            HeaderValue::from_static("https://web.whatsapp.com"),
        );
        let uri = request.uri();
        let host = uri
            .host()
            .ok_or_else(|| bad_url("no host".into()))?
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let stream = turmoil::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|err| DialError::Connect {
                url: url.to_owned(),
                source: Box::new(err.into()),
            })?;
        let (ws, _response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|err| DialError::Connect {
                url: url.to_owned(),
                source: Box::new(err),
            })?;
        Ok(ws)
    }
}

impl Dialer for TurmoilDialer {
    type Socket = SimSocket;

    async fn dial(&self, url: &str) -> Result<SimSocket, DialError> {
        match tokio::time::timeout(self.timeout, self.open(url)).await {
            Ok(result) => result,
            Err(_) => Err(DialError::Timeout {
                url: url.to_owned(),
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}
