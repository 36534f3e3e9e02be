//! A connection's events on their way to the supervise loop: a bounded
//! channel whose sender waits when it is full, so an `Online` or a
//! `Disconnected` (or any other event) is never dropped. A wait is counted
//! on the status board and logged; the connection meanwhile reads nothing
//! more, which is the back-pressure a slow loop should get.

use blacksky_core::client::Event;
use tokio::sync::mpsc;

use crate::host::status::StatusBoard;

/// Events waiting for the supervise loop at most. Each frame yields a few
/// events at most and the loop takes them as they come, so a full channel
/// means the loop is stuck on something (a slow store call), not a burst.
pub const EVENTS_LEN_MAX: usize = 256;

/// The connection's end of the events channel.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::Sender<Event>,
    board: StatusBoard,
}

/// A bounded events channel (`len_max` events) whose waits `board` counts.
pub fn channel(len_max: usize, board: StatusBoard) -> (EventSender, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel(len_max.max(1));
    (EventSender { tx, board }, rx)
}

impl EventSender {
    /// Hands `event` to the loop, waiting for room if the channel is full.
    /// Once the loop is gone there is nobody to tell: the event is dropped.
    pub async fn send(&self, event: Event) {
        match self.tx.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.board.on_event_channel_full();
                // The event itself may hold a QR text or a pairing code.
                tracing::warn!(
                    capacity = self.tx.max_capacity(),
                    "the events channel is full: the connection waits for the supervise loop"
                );
                let _ = self.tx.send(event).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn board() -> StatusBoard {
        StatusBoard::new(
            std::time::Instant::now(),
            blacksky_core::time::UnixMillis(0),
        )
    }

    fn waits(board: &StatusBoard) -> u64 {
        board.metrics(std::time::Instant::now()).channel_waits_total
    }

    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn a_full_channel_makes_the_sender_wait_and_loses_nothing() {
        let board = board();
        let (events, mut rx) = channel(2, board.clone());
        events.send(Event::OfflineDelivered { count: 1 }).await;
        events.send(Event::OfflineDelivered { count: 2 }).await;
        assert_eq!(waits(&board), 0);

        let mut online = pin!(events.send(Event::Online));
        assert!(poll_once(online.as_mut()).is_pending(), "full: it waits");
        assert_eq!(waits(&board), 1);

        assert_eq!(rx.recv().await, Some(Event::OfflineDelivered { count: 1 }));
        assert!(
            poll_once(online.as_mut()).is_ready(),
            "room again: it is sent"
        );
        assert_eq!(rx.recv().await, Some(Event::OfflineDelivered { count: 2 }));
        let disconnected = Event::Disconnected {
            reason: blacksky_core::client::DisconnectReason::ConnectionClosed,
        };
        let mut last = pin!(events.send(disconnected.clone()));
        assert!(poll_once(last.as_mut()).is_ready(), "room: no wait");
        assert_eq!(waits(&board), 1);

        assert_eq!(rx.recv().await, Some(Event::Online));
        assert_eq!(rx.recv().await, Some(disconnected));
    }

    #[tokio::test]
    async fn a_closed_channel_does_not_block_the_connection() {
        let (events, rx) = channel(1, board());
        drop(rx);
        events.send(Event::Online).await;
        events.send(Event::Online).await;
    }
}
