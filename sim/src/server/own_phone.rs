//! The account's phone as a Signal device: its identity is the account
//! key (the key that signs linked devices in), with a registration id and
//! pre-keys made on first use. It reads the copies of what the bot sends
//! (`deviceSentMessage`, DSM), and keeps them in a ring.

use std::collections::VecDeque;

use blacksky_core::crypto::KeyPair;
use rand_core::CryptoRngCore;

use super::peer::Peer;
use super::received::{ReceivedText, record_received};

#[derive(Debug, Default)]
pub(crate) struct OwnPhone {
    /// Made when the bot first fetches its bundle or writes to it.
    peer: Option<Peer>,
    /// DSM copies the phone read, oldest first (a ring).
    received: VecDeque<ReceivedText>,
}

impl OwnPhone {
    /// The phone's Signal device, made on first use.
    pub(crate) fn peer(
        &mut self,
        account_key: &KeyPair,
        rng: &mut impl CryptoRngCore,
    ) -> &mut Peer {
        self.peer.get_or_insert_with(|| {
            // 14 bits, never 0, as every device's.
            let registration_id = rng.next_u32() % 16380 + 1;
            Peer::with_identity(account_key.clone(), registration_id)
        })
    }

    pub(crate) fn received(&self) -> &VecDeque<ReceivedText> {
        &self.received
    }

    pub(crate) fn record_received(&mut self, text: ReceivedText) {
        record_received(&mut self.received, text);
    }
}
