//! The production WebSocket handshake over turmoil's TCP, with a registry
//! of the bot's open sockets (what "a live connection" means to the
//! invariants: the server's view alone cannot tell a crashed process's
//! socket from a live one).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use blacksky_io::session::transport::{DialError, Dialer};
use tokio_tungstenite::WebSocketStream;

use super::sockets::{HostSockets, SimStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// What the bot's driver talks to in the simulation.
pub type SimSocket = WebSocketStream<TrackedStream>;

/// The client addresses (`ip:port`) of every socket a bot process holds
/// open, with the number of the process's start (starts are numbered
/// across all bot hosts, so a higher number is a newer process). A socket
/// leaves it when dropped, and a crashed host drops all.
#[derive(Debug, Clone, Default)]
pub struct OpenSockets(Arc<Mutex<BTreeMap<String, u32>>>);

impl OpenSockets {
    /// The start that holds the socket at `addr` open, if one does.
    #[must_use]
    pub fn holder(&self, addr: &str) -> Option<u32> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(addr)
            .copied()
    }

    fn insert(&self, addr: String, start: u32) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr, start);
    }

    fn remove(&self, addr: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(addr);
    }
}

/// A turmoil TCP stream that is in [`OpenSockets`] while it lives.
#[derive(Debug)]
pub struct TrackedStream {
    inner: SimStream,
    addr: String,
    open: OpenSockets,
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        self.open.remove(&self.addr);
    }
}

impl tokio::io::AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Dials `ws://host:port/...` through the simulated network (host names
/// are turmoil's), with the same Origin header and timeout handling as
/// [`blacksky_io::session::transport::WsDialer`].
#[derive(Debug, Clone)]
pub struct TurmoilDialer {
    pub timeout: Duration,
    pub open: OpenSockets,
    pub sockets: HostSockets,
    /// The dialing process's start number.
    pub start: u32,
}

impl TurmoilDialer {
    #[must_use]
    pub fn new(open: OpenSockets, sockets: HostSockets, start: u32) -> TurmoilDialer {
        TurmoilDialer {
            timeout: Duration::from_secs(20),
            open,
            sockets,
            start,
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
        let stream = self
            .sockets
            .track(stream)
            .map_err(|err| DialError::Connect {
                url: url.to_owned(),
                source: Box::new(err.into()),
            })?;
        let addr = stream.local_addr().to_string();
        self.open.insert(addr.clone(), self.start);
        let stream = TrackedStream {
            inner: stream,
            addr,
            open: self.open.clone(),
        };
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
