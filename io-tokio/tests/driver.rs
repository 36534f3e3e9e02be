//! The driver over a real WebSocket whose socket has almost no room (an
//! in-memory duplex of a few bytes): a write that waits for the peer must
//! never stop the driver from reading, nor from obeying a close.
//!
//! Found by the simulated week: the bot answered in three groups (a burst
//! of frames) while fake-wa delivered messages; each side waited in its
//! write for the other to read, and the connection hung for hours with
//! its keepalive blind.

mod store_support;

use std::time::Duration;

use blacksky_core::client::{Client, ClientConfig};
use blacksky_core::session::Session;
use blacksky_core::session::testing::sample_session;
use blacksky_core::time::UnixMillis;
use blacksky_io::host::clock::SystemClock;
use blacksky_io::host::status::StatusBoard;
use blacksky_io::session::driver::{Control, Ended, run_connection};
use blacksky_io::session::events;
use blacksky_io::session::worker::{StoreHealth, StoreWorker, silent_bot};
use blacksky_io::store::backup::Sealer;
use blacksky_io::store::{MemoryDb, MemoryStore};
use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use store_support::{IN_FLIGHT_MAX, TEST_KDF_ITERATIONS, fast_worker_config};

/// Bytes the in-memory socket holds each way: less than our first frame.
const SOCKET_ROOM: usize = 16;
/// What the server writes before it reads anything: far more than the
/// socket holds, in one Noise frame that never completes (the client
/// buffers it without complaint).
const FLOOD_FRAMES: usize = 64;
const FLOOD_FRAME_BYTES: usize = 1024;
/// The Noise prologue every client's first frame starts with.
const WA_PROLOGUE: &[u8] = b"WA";
/// Simulated time (the clock is paused) after which the test calls a
/// hang a hang.
const HANG: Duration = Duration::from_secs(600);

async fn socket_pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (bot_io, server_io) = tokio::io::duplex(SOCKET_ROOM);
    let (bot, server) = tokio::join!(
        tokio_tungstenite::client_async("ws://wa/ws/chat", bot_io),
        tokio_tungstenite::accept_async(server_io),
    );
    (
        bot.expect("client handshake").0,
        server.expect("server handshake"),
    )
}

fn worker() -> StoreWorker {
    let store = MemoryStore::new(MemoryDb::new(), "s");
    StoreWorker::spawn(
        store,
        Session::new(sample_session(1, 0, 0, 0).creds),
        Sealer::new("s", None, TEST_KDF_ITERATIONS),
        Box::new(silent_bot()),
        fast_worker_config(),
        StoreHealth::new(),
    )
}

/// The driver running a fresh client over `bot_ws`, with its control
/// and its store worker.
fn connect(
    bot_ws: WebSocketStream<DuplexStream>,
) -> (JoinHandle<Ended>, watch::Sender<Control>, StoreWorker) {
    let mut worker = worker();
    let mut link = worker.link(IN_FLIGHT_MAX);
    let board = StatusBoard::new(std::time::Instant::now(), UnixMillis(0));
    let (events, events_rx) = events::channel(16, board);
    let (control, mut control_rx) = watch::channel(Control::Run);
    let mut client = client();
    let connection = tokio::spawn(async move {
        // Kept while the connection runs: its events wait for nobody.
        let _events_rx = events_rx;
        run_connection(
            &mut client,
            bot_ws,
            &mut link,
            &SystemClock,
            &mut control_rx,
            &events,
        )
        .await
    });
    (connection, control, worker)
}

fn client() -> Client {
    Client::new(
        ClientConfig::default(),
        Session::new(sample_session(1, 0, 0, 0).creds),
        [7; 32],
    )
}

/// One Noise frame's worth of WebSocket messages: a 3-byte length far
/// beyond what follows, then zeros.
fn flood() -> Vec<Vec<u8>> {
    let mut frames = vec![vec![0; FLOOD_FRAME_BYTES]; FLOOD_FRAMES];
    frames[0][..3].copy_from_slice(&[0x0f, 0x42, 0x40]); // 1,000,000 bytes
    frames
}

#[tokio::test(start_paused = true)]
async fn a_server_writing_while_our_write_waits_is_read_meanwhile() {
    let (bot_ws, server_ws) = socket_pair().await;
    let server = tokio::spawn(async move {
        let (mut sink, mut source) = server_ws.split();
        // Writes first, reading nothing, as a busy server may.
        for frame in flood() {
            sink.send(Message::Binary(frame.into()))
                .await
                .expect("the bot reads while it waits to write");
        }
        let first = match source.next().await {
            Some(Ok(Message::Binary(first))) => first.to_vec(),
            other => panic!("expected the client's first frame, got {other:?}"),
        };
        // The socket stays open: the bot must still be connected.
        (first, sink, source)
    });
    let (connection, control, worker) = connect(bot_ws);

    let (first, _server_sink, _server_source) = tokio::time::timeout(HANG, server)
        .await
        .expect("the server and the bot each waited in a write for the other to read")
        .expect("server task");
    assert!(
        first.starts_with(WA_PROLOGUE),
        "the bot's first frame, written once the server read: {first:02x?}"
    );
    control
        .send(Control::Close)
        .expect("the connection listens");
    let ended = tokio::time::timeout(HANG, connection)
        .await
        .expect("the connection obeys the close")
        .expect("connection task");
    assert_eq!(ended, Ended::Closed);
    worker.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_close_is_obeyed_while_the_peer_reads_nothing() {
    let (bot_ws, server_ws) = socket_pair().await;
    let (connection, control, worker) = connect(bot_ws);
    // Our first frame cannot go out: the peer holds the socket, reading
    // nothing and writing nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!connection.is_finished());
    control
        .send(Control::Close)
        .expect("the connection listens");
    let ended = tokio::time::timeout(HANG, connection)
        .await
        .expect("a close waits for no write the peer will not read")
        .expect("connection task");
    assert_eq!(ended, Ended::Closed);
    drop(server_ws);
    worker.stop().await;
}
