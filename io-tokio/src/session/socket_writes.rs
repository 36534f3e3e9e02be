//! The frames waiting to go out on a connection's socket, written while
//! the driver goes on reading.
//!
//! A write that waits for room in the socket must not stop the driver
//! from reading: a server that writes to us while it waits for us to read
//! would then wait forever too (both TCP buffers full, each side blocked
//! in its write). Nor may it stop the driver's timers: a peer that reads
//! nothing more is a dead connection the keepalive must see. So frames
//! queue here and [`SocketWrites::write`] is one `select!` branch among
//! the others, cancel-safe: dropping it loses no frame.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Context, Poll, ready};

use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Queued bytes above which the driver reads nothing more (and takes no
/// more asks) until the socket takes them: what the server sends makes
/// us write (acks, receipts), so reading on would queue without bound.
pub const QUEUED_BYTES_MAX: usize = 4 << 20;

/// Frames handed in by the client and not yet flushed to the socket.
#[derive(Debug, Default)]
pub struct SocketWrites {
    frames: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// Frames were given to the sink since its last flush.
    unflushed: bool,
}

impl SocketWrites {
    pub fn push(&mut self, frame: Vec<u8>) {
        self.queued_bytes += frame.len();
        self.frames.push_back(frame);
    }

    /// Whether some frame waits to be written or flushed.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        !self.frames.is_empty() || self.unflushed
    }

    /// Whether the queue is over [`QUEUED_BYTES_MAX`].
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.queued_bytes > QUEUED_BYTES_MAX
    }

    /// Writes every queued frame and flushes; resolves when all are out,
    /// or on the socket's first error. Cancel-safe.
    pub async fn write<S>(&mut self, sink: &mut S) -> Result<(), WsError>
    where
        S: Sink<Message, Error = WsError> + Unpin,
    {
        poll_fn(|cx| self.poll_write(sink, cx)).await
    }

    fn poll_write<S>(&mut self, sink: &mut S, cx: &mut Context<'_>) -> Poll<Result<(), WsError>>
    where
        S: Sink<Message, Error = WsError> + Unpin,
    {
        while !self.frames.is_empty() {
            ready!(sink.poll_ready_unpin(cx))?;
            // Taken only once the sink has room: a frame is never lost.
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.queued_bytes -= frame.len();
            self.unflushed = true;
            sink.start_send_unpin(Message::Binary(frame.into()))?;
        }
        ready!(sink.poll_flush_unpin(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    /// Writes what is queued and closes the socket, within `limit`: a
    /// peer that reads nothing more gets no longer than that.
    pub async fn close<S>(&mut self, sink: &mut S, limit: std::time::Duration)
    where
        S: Sink<Message, Error = WsError> + Unpin,
    {
        let closing = async {
            if self.write(sink).await.is_ok() {
                let _ = sink.close().await;
            }
        };
        if tokio::time::timeout(limit, closing).await.is_err() {
            tracing::debug!(
                frames = self.frames.len(),
                "the socket took nothing more: closed without writing what was queued"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::{Pin, pin};
    use std::task::Waker;

    use super::*;

    /// A sink that takes `room` frames, then waits until given more.
    #[derive(Default)]
    struct SlowSink {
        room: usize,
        taken: Vec<Vec<u8>>,
        flushes: usize,
        closed: bool,
    }

    impl Sink<Message> for SlowSink {
        type Error = WsError;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            if self.room > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }

        fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
            self.room -= 1;
            self.taken.push(item.into_data().to_vec());
            Ok(())
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            self.closed = true;
            Poll::Ready(Ok(()))
        }
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn queued(frames: &[&[u8]]) -> SocketWrites {
        let mut writes = SocketWrites::default();
        for frame in frames {
            writes.push(frame.to_vec());
        }
        writes
    }

    #[test]
    fn frames_go_out_in_order_and_are_flushed() {
        let mut writes = queued(&[b"a", b"bb", b"ccc"]);
        let mut sink = SlowSink {
            room: 10,
            ..SlowSink::default()
        };
        assert!(writes.is_pending());
        let done = poll_once(pin!(writes.write(&mut sink)));
        assert!(matches!(done, Poll::Ready(Ok(()))));
        assert_eq!(sink.taken, [b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
        assert_eq!(sink.flushes, 1);
        assert!(!writes.is_pending());
    }

    #[test]
    fn a_write_dropped_while_the_socket_has_no_room_loses_no_frame() {
        let mut writes = queued(&[b"one", b"two", b"three"]);
        let mut sink = SlowSink {
            room: 1,
            ..SlowSink::default()
        };
        // The sink takes one frame, then has no room: the write waits…
        assert!(poll_once(pin!(writes.write(&mut sink))).is_pending());
        // …and is dropped (another select branch won).
        assert_eq!(sink.taken, [b"one".to_vec()]);
        assert!(writes.is_pending());
        sink.room = 5;
        writes.push(b"four".to_vec());
        assert!(matches!(
            poll_once(pin!(writes.write(&mut sink))),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(
            sink.taken,
            [
                b"one".to_vec(),
                b"two".to_vec(),
                b"three".to_vec(),
                b"four".to_vec()
            ]
        );
        assert!(!writes.is_pending());
    }

    #[test]
    fn the_queue_is_full_over_its_byte_bound() {
        let mut writes = SocketWrites::default();
        writes.push(vec![0; QUEUED_BYTES_MAX]);
        assert!(!writes.is_full());
        writes.push(vec![0; 1]);
        assert!(writes.is_full());
        let mut sink = SlowSink {
            room: 2,
            ..SlowSink::default()
        };
        assert!(poll_once(pin!(writes.write(&mut sink))).is_ready());
        assert!(!writes.is_full());
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_gives_a_peer_that_reads_nothing_no_more_than_its_limit() {
        let mut writes = queued(&[b"ack"]);
        let mut sink = SlowSink::default();
        writes
            .close(&mut sink, std::time::Duration::from_secs(2))
            .await;
        assert!(sink.taken.is_empty());
        assert!(!sink.closed, "closed with a frame still queued");

        let mut sink = SlowSink {
            room: 1,
            ..SlowSink::default()
        };
        writes
            .close(&mut sink, std::time::Duration::from_secs(2))
            .await;
        assert_eq!(sink.taken, [b"ack".to_vec()]);
        assert!(sink.closed);
    }
}
