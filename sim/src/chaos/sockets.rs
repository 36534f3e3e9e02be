//! Every turmoil TCP stream the harness's hosts hold, so that a crashed
//! host closes them in one fixed order.
//!
//! Why: each message turmoil sends draws its latency from the simulation's
//! one random source. A crash drops the host's tasks in an order tokio
//! picks from task ids, which are numbered across the whole process; each
//! dropped stream sends its FIN, and so two simulations running at once
//! in one process (or one running after another) drew those latencies in
//! different orders and parted by a few milliseconds after every crash.
//! Here the first stream of a crashing host to be dropped closes all of
//! the host's streams, by address, so a seed replays exactly wherever it
//! runs.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

type Slot = Arc<Mutex<Option<turmoil::net::TcpStream>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Registry {
    streams: BTreeMap<SocketAddr, Slot>,
    crashing: BTreeSet<IpAddr>,
}

/// The registry; clones share it.
#[derive(Debug, Clone, Default)]
pub struct HostSockets(Arc<Mutex<Registry>>);

impl HostSockets {
    /// Registers `stream` (inside a host, where it was made).
    pub fn track(&self, stream: turmoil::net::TcpStream) -> io::Result<SimStream> {
        let local = stream.local_addr()?;
        let slot: Slot = Arc::new(Mutex::new(Some(stream)));
        lock(&self.0).streams.insert(local, slot.clone());
        Ok(SimStream {
            slot,
            local,
            sockets: self.clone(),
        })
    }

    /// Runs `crash` (which drops the software of the host at `ip`) with
    /// that host's streams closing in address order.
    pub fn crash_host(&self, ip: IpAddr, crash: impl FnOnce()) {
        lock(&self.0).crashing.insert(ip);
        crash();
        let mut registry = lock(&self.0);
        registry.crashing.remove(&ip);
        // A stream left behind (owned by no task) is gone with the host.
        let left: Vec<SocketAddr> = registry
            .streams
            .keys()
            .filter(|addr| addr.ip() == ip)
            .copied()
            .collect();
        for addr in left {
            registry.streams.remove(&addr);
        }
    }

    /// The streams to drop now that the stream at `local` is dropped:
    /// all of its host's while the host crashes, else its own.
    fn take_on_drop(&self, local: SocketAddr) -> Vec<Slot> {
        let mut registry = lock(&self.0);
        if registry.crashing.contains(&local.ip()) {
            let host: Vec<SocketAddr> = registry
                .streams
                .keys()
                .filter(|addr| addr.ip() == local.ip())
                .copied()
                .collect();
            host.iter()
                .filter_map(|addr| registry.streams.remove(addr))
                .collect()
        } else {
            registry.streams.remove(&local).into_iter().collect()
        }
    }
}

/// A turmoil TCP stream in [`HostSockets`].
#[derive(Debug)]
pub struct SimStream {
    slot: Slot,
    local: SocketAddr,
    sockets: HostSockets,
}

impl SimStream {
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Polls the stream, or says it is gone (closed by its host's crash).
    fn with<T>(
        &self,
        poll: impl FnOnce(Pin<&mut turmoil::net::TcpStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match lock(&self.slot).as_mut() {
            Some(stream) => poll(Pin::new(stream)),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        // Taken out first, dropped after: a stream's drop talks to turmoil,
        // never with the registry locked.
        let closing = self.sockets.take_on_drop(self.local);
        for slot in closing {
            drop(lock(&slot).take());
        }
        drop(lock(&self.slot).take());
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|stream| stream.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_shutdown(cx))
    }
}
