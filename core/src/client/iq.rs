//! Requests (iq stanzas) we sent and await an answer to, each with its
//! own deadline. Ids are a per-connection random prefix and a counter, as
//! WhatsApp Web makes them, so they never repeat within a connection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What an outstanding request was for: decides what its answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IqPurpose {
    Ping,
    PreKeyCount,
    /// Uploading pre-keys with ids below `up_to`.
    PreKeyUpload {
        up_to: u32,
        count: u32,
    },
    SetActive,
    /// Handing the server the signed pre-key with this id (a rotation,
    /// or one it never confirmed).
    SignedPreKeyRotate {
        id: u32,
    },
    LinkCodeHello,
    LinkCodeFinish,
    /// The device lists of the users an outbound message goes to.
    DeviceLists,
    /// Pre-key bundles of devices we have no session with.
    Bundles,
    /// A group's metadata, before a message to it.
    GroupInfo,
    /// Every group we are in (at login).
    Participating,
    /// A group we were just added to (nothing waits on it).
    GroupRefresh,
    /// A request the shell asked for (`client::ask`).
    Ask {
        id: super::ask::AskId,
        request: Box<super::ask::Request>,
    },
}

#[derive(Debug)]
pub(crate) struct IqTracker {
    prefix: String,
    counter: u64,
    pending: HashMap<String, (IqPurpose, Instant)>,
}

impl IqTracker {
    pub(crate) fn new(prefix: String) -> Self {
        IqTracker {
            prefix,
            counter: 0,
            pending: HashMap::new(),
        }
    }

    /// A fresh id for any stanza we send.
    pub(crate) fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{}.{}", self.prefix, self.counter)
    }

    /// Registers a request and returns its id.
    pub(crate) fn start(&mut self, purpose: IqPurpose, now: Instant, timeout: Duration) -> String {
        let id = self.next_id();
        self.pending.insert(id.clone(), (purpose, now + timeout));
        id
    }

    /// The answer to `id` arrived: what it was for, if we asked.
    pub(crate) fn finish(&mut self, id: &str) -> Option<IqPurpose> {
        self.pending.remove(id).map(|(purpose, _)| purpose)
    }

    /// True while a request matching `which` awaits its answer.
    pub(crate) fn awaits(&self, which: impl Fn(&IqPurpose) -> bool) -> bool {
        self.pending.values().any(|(purpose, _)| which(purpose))
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|(_, deadline)| *deadline).min()
    }

    /// Removes and returns the requests whose deadline has passed, oldest
    /// id first (deterministic order).
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<IqPurpose> {
        let mut expired: Vec<(String, IqPurpose)> = Vec::new();
        self.pending.retain(|id, (purpose, deadline)| {
            let keep = *deadline > now;
            if !keep {
                expired.push((id.clone(), purpose.clone()));
            }
            keep
        });
        expired.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
        expired.into_iter().map(|(_, purpose)| purpose).collect()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_and_deadlines_expire_in_order() {
        let t0 = Instant::now();
        let mut iqs = IqTracker::new("ab".into());
        let ping = iqs.start(IqPurpose::Ping, t0, Duration::from_secs(10));
        let count = iqs.start(IqPurpose::PreKeyCount, t0, Duration::from_secs(5));
        assert_eq!((ping.as_str(), count.as_str()), ("ab.1", "ab.2"));
        assert_eq!(iqs.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(iqs.finish("nope"), None);
        assert_eq!(
            iqs.expire(t0 + Duration::from_secs(5)),
            vec![IqPurpose::PreKeyCount]
        );
        assert_eq!(iqs.finish(&ping), Some(IqPurpose::Ping));
        assert!(iqs.is_empty());
    }
}
