//! Wrong-token lockout, per client: ten wrong tokens in a minute from one
//! address lock that address out until its minute ends; nobody else.
//!
//! Who the client is: the TCP peer, or on Heroku (whose router is the peer
//! of every request) the address the router appends to `X-Forwarded-For`,
//! the last hop. The first hop is whatever the client wrote itself: keying
//! by it would give a guesser a fresh window per request.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens tolerated per client and window before every try of that
/// client is refused until the window ends: a guess rate low enough that a
/// token of a dozen random characters cannot be found.
pub const FAILURES_PER_WINDOW_MAX: u32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Clients tracked at most; past it (a flood from many addresses), every
/// new client shares one window, so the table never grows beyond this.
pub const CLIENTS_TRACKED_MAX: usize = 4096;

/// The address that stands for every client past [`CLIENTS_TRACKED_MAX`]
/// and for a forwarded hop that is not an address.
const SHARED_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    started: Instant,
    failures: u32,
}

impl FailureWindow {
    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= FAILURE_WINDOW
    }
}

/// Failure windows by client address.
#[derive(Debug, Default)]
pub struct Lockout {
    windows: Mutex<HashMap<IpAddr, FailureWindow>>,
}

impl Lockout {
    /// True while `client` sent too many wrong tokens in its window.
    pub fn locked_out(&self, client: IpAddr, now: Instant) -> bool {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows
            .get(&client)
            .or_else(|| {
                windows
                    .get(&SHARED_CLIENT)
                    .filter(|_| windows.len() >= CLIENTS_TRACKED_MAX)
            })
            .is_some_and(|w| !w.expired(now) && w.failures >= FAILURES_PER_WINDOW_MAX)
    }

    pub fn record_failure(&self, client: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if !windows.contains_key(&client) && windows.len() >= CLIENTS_TRACKED_MAX {
            windows.retain(|_, w| !w.expired(now));
        }
        let key = if windows.contains_key(&client) || windows.len() < CLIENTS_TRACKED_MAX {
            client
        } else {
            SHARED_CLIENT
        };
        let window = windows.entry(key).or_insert(FailureWindow {
            started: now,
            failures: 0,
        });
        if window.expired(now) {
            *window = FailureWindow {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// Clients with a window (expired ones included until pruned).
    #[cfg(test)]
    fn clients_len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The client address Heroku's router vouches for: the last hop of the
/// last `X-Forwarded-For` value (the router appends to what the client
/// sent). `None` without the header; a hop that is not an address counts
/// as the shared client.
pub fn forwarded_client<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<IpAddr> {
    let last = values.into_iter().last()?;
    let hop = last.rsplit(',').next().unwrap_or("").trim();
    Some(parse_hop(hop).unwrap_or(SHARED_CLIENT))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn one_client_locked_out_leaves_the_others_alone() {
        let lockout = Lockout::default();
        let start = Instant::now();
        let (guesser, owner) = (ip("203.0.113.9"), ip("198.51.100.7"));
        for _ in 0..FAILURES_PER_WINDOW_MAX {
            assert!(!lockout.locked_out(guesser, start));
            lockout.record_failure(guesser, start);
        }
        assert!(lockout.locked_out(guesser, start + Duration::from_secs(59)));
        assert!(!lockout.locked_out(owner, start));
        assert!(!lockout.locked_out(guesser, start + FAILURE_WINDOW));
    }

    #[test]
    fn the_table_is_bounded_and_a_flood_shares_one_window() {
        let lockout = Lockout::default();
        let now = Instant::now();
        for n in 0..(CLIENTS_TRACKED_MAX as u32 + 50) {
            lockout.record_failure(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)), now);
        }
        assert!(lockout.clients_len() <= CLIENTS_TRACKED_MAX + 1);
        // The 50 past the bound share a window, so they are locked out.
        assert!(lockout.locked_out(ip("10.200.0.1"), now));
        // A client tracked before the flood keeps its own window.
        assert!(!lockout.locked_out(ip("10.0.0.1"), now));
        // Once the flood's windows expire they make room again.
        let later = now + FAILURE_WINDOW;
        lockout.record_failure(ip("192.0.2.1"), later);
        assert!(lockout.clients_len() <= 2);
        assert!(!lockout.locked_out(ip("192.0.2.2"), later));
    }

    #[test]
    fn the_router_appended_hop_is_the_client() {
        assert_eq!(forwarded_client(["203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(
            forwarded_client(["1.1.1.1, 2.2.2.2", "6.6.6.6, 203.0.113.9"]),
            Some(ip("203.0.113.9")),
            "a spoofed first hop is not the client"
        );
        assert_eq!(
            forwarded_client(["[2001:db8::1]:443"]),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            forwarded_client(["198.51.100.7:5000"]),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(forwarded_client(["unknown"]), Some(SHARED_CLIENT));
        assert_eq!(forwarded_client(Vec::<&str>::new()), None);
    }
}
