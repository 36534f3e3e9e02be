//! The driver: runs one `Client` over one WebSocket. It selects over the
//! socket (reading, and writing what the client queued: a write that
//! waits never stops the reading or the timers), the store worker's
//! results, the client's next deadline and the runner's control signal,
//! carries out the client's outputs in order (bytes to the socket's queue,
//! store ops to the store worker, events to the caller) and returns when
//! the connection ends.
//!
//! The store is never awaited here: a store op is handed to the worker
//! and its completion comes back as an input later, so the socket, pings
//! and timers keep flowing through a database outage while the client
//! holds back the acks that wait on it.
//!
//! Generic over the socket and clock, so the simulation runs this very
//! code over turmoil's network with tokio's paused clock.

use blacksky_core::client::{Client, DisconnectReason, Event, Input, Output};
use futures_util::{Sink, Stream, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::host::clock::Clock;
use crate::session::asks::{Asks, InFlight};
use crate::session::events::EventSender;
use crate::session::socket_writes::SocketWrites;
use crate::session::worker::{Finished, StoreLink};

/// Outbound messages handed to the client at once (it skips the ones it
/// has; the rest follow as those are sent).
const OUTBOUND_HANDED_IN_MAX: usize = 256;
/// After a failed write, frames still read for the server's last words,
/// and for how long at most.
const LAST_WORDS_FRAMES_MAX: usize = 16;
const LAST_WORDS_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a closing connection waits for the socket to take what is
/// queued (acks, mostly) and our Close: a peer that reads nothing more
/// must not hold a shutdown or a reconnect.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The connection closed for this reason.
    Disconnected(DisconnectReason),
    /// The runner asked us to close, and we closed the socket ourselves.
    Closed,
}

/// What the runner wants of a running connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    /// Stop taking work: read nothing more from the socket, but finish
    /// what is in flight (store results still arrive, their acks still go
    /// out), so the server need not deliver those messages again.
    Drain,
    /// Close the socket cleanly and return.
    Close,
}

/// Runs `client` over `ws` until the connection ends. Every event (QR
/// codes, Online, …) goes to `events` as it happens; when that channel is
/// full the connection waits (see [`crate::session::events`]).
pub async fn run_connection<S, C>(
    client: &mut Client,
    ws: S,
    store: &mut StoreLink,
    clock: &C,
    control: &mut watch::Receiver<Control>,
    events: &EventSender,
) -> Ended
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
    C: Clock,
{
    feed(client, clock, Input::Connected { wall: clock.wall() });
    // Read and written at once: see `socket_writes`.
    let (mut sink, mut source) = ws.split();
    let mut writes = SocketWrites::default();
    // Requests for the server from the shell's other tasks (group admin
    // actions, media_conn): handed in once online, answered back.
    let asks = store.asks().clone();
    let mut in_flight = InFlight::default();
    let mut asks_left = false;
    // What waits to go out goes once the client is online.
    let rows = store.outbound(OUTBOUND_HANDED_IN_MAX);
    feed(
        client,
        clock,
        Input::Outbound {
            rows,
            wall: clock.wall(),
        },
    );
    loop {
        while let Some(output) = client.poll_output() {
            match output {
                Output::Transmit(bytes) => writes.push(bytes),
                Output::Store(op, store_writes) => {
                    if let Err(full) = store.submit(op, store_writes) {
                        // Refused at once: the client treats it as a failed
                        // write (a message stays un-acked, to come again).
                        tracing::warn!(%full, "store write refused");
                        let result = Err(full.into());
                        feed(client, clock, Input::StoreDone { op, result });
                    }
                }
                Output::ReadBack(op) => store.read_back(op),
                Output::Event(Event::Answered(answered)) => in_flight.answered(answered),
                Output::Event(event) => {
                    events.send(event.clone()).await;
                    if let Event::Disconnected { reason } = event {
                        writes.close(&mut sink, CLOSE_WAIT).await;
                        return Ended::Disconnected(reason);
                    }
                }
            }
        }
        let wanted = *control.borrow_and_update();
        if wanted == Control::Close {
            writes.close(&mut sink, CLOSE_WAIT).await;
            return Ended::Closed;
        }
        // A queue the socket does not take stops what would add to it.
        let room = !writes.is_full();
        let reading = wanted == Control::Run && room;
        let deadline = client.poll_timeout().map(tokio::time::Instant::from_std);
        // `biased`, in this order: the runner's orders, then finished
        // writes (their acks), then our frames out, then the socket (bytes
        // already here must be read before a silence deadline is judged),
        // then timers. A fixed order also keeps the simulation replayable.
        tokio::select! {
            biased;
            changed = control.changed() => {
                if changed.is_err() {
                    // The runner is gone: close as if asked.
                    writes.close(&mut sink, CLOSE_WAIT).await;
                    return Ended::Closed;
                }
            }
            Some(finished) = store.next_finished() => match finished {
                Finished::Write(done) => {
                    if let Err(err) = &done.result {
                        tracing::error!(%err, "store write failed");
                    }
                    feed(client, clock, Input::StoreDone { op: done.op, result: done.result });
                }
                Finished::ReadBack { op, stored } => {
                    feed(client, clock, Input::ReadBack { op, stored });
                }
                Finished::OutboundChanged => {
                    let rows = store.outbound(OUTBOUND_HANDED_IN_MAX);
                    feed(client, clock, Input::Outbound { rows, wall: clock.wall() });
                }
            },
            written = writes.write(&mut sink), if writes.is_pending() => {
                if let Err(err) = written {
                    tracing::debug!(%err, "socket write failed");
                    read_last_words(&mut source, client, clock).await;
                    feed(client, clock, Input::Closed);
                }
            }
            message = source.next(), if reading => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    feed(client, clock, Input::Received { bytes: &bytes, wall: clock.wall() });
                }
                Some(Ok(Message::Close(_))) | None => feed(client, clock, Input::Closed),
                Some(Err(err)) => {
                    tracing::debug!(%err, "socket read failed");
                    feed(client, clock, Input::Closed);
                }
                // Pings are answered by tungstenite; text is not part of the protocol.
                Some(Ok(_)) => {}
            },
            () = sleep_until(deadline) => client.handle_timeout(clock.now()),
            () = next_ask(&asks, asks_left), if client.is_online() && in_flight.has_room() && room => {
                while let Some((id, request)) = in_flight.take(&asks) {
                    feed(client, clock, Input::Ask { id, request });
                }
                // Out of room with some maybe still waiting: look again
                // as soon as an answer makes room.
                asks_left = !in_flight.has_room();
            }
        }
    }
}

/// Resolves when requests may wait: at once when some were left for want
/// of room, else when one arrives.
async fn next_ask(asks: &Asks, left: bool) {
    if !left {
        asks.arrived().await;
    }
}

/// A write failed, maybe because the server closed the socket after
/// saying why (a `<stream:error code=401>` for a logout): what the socket
/// still holds is read first, so a logout is never taken for a lost
/// connection (and fought with reconnects). Bounded in frames and time.
async fn read_last_words<S, C>(ws: &mut S, client: &mut Client, clock: &C)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    C: Clock,
{
    let deadline = tokio::time::Instant::now() + LAST_WORDS_WAIT;
    for _ in 0..LAST_WORDS_FRAMES_MAX {
        if client.is_closed() {
            return;
        }
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => {
                feed(
                    client,
                    clock,
                    Input::Received {
                        bytes: &bytes,
                        wall: clock.wall(),
                    },
                );
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) | Err(_) => return,
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn feed<C: Clock>(client: &mut Client, clock: &C, input: Input<'_>) {
    if let Err(err) = client.handle_input(clock.now(), input) {
        // A driver bug, not a server fault: say so loudly, keep going.
        tracing::error!(%err, "client refused an input");
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
