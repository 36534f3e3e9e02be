//! `media_conn`: where media goes and with what auth. The request is
//! `<iq xmlns=w:m type=set to=s.whatsapp.net><media_conn/></iq>`; the
//! answer `<media_conn auth ttl auth_ttl max_buckets><host hostname/>…`.
//! It is good for `ttl` seconds; [`MediaConnCache`] keeps it that long
//! (and drops it early when a host refuses its auth).

use std::fmt;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::wire::binary::{Jid, Node};

/// Hosts kept from one answer (WhatsApp names a handful).
pub const MEDIA_HOSTS_MAX: usize = 8;
/// A ttl longer than this is taken as this: a server's mistake must not
/// pin a stale auth for days.
pub const MEDIA_CONN_TTL_MAX: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaConnError {
    #[error("media_conn answer: no <media_conn> child")]
    NoMediaConn,
    #[error("media_conn answer: no auth attribute")]
    NoAuth,
    #[error("media_conn answer: ttl {ttl:?} is not a number of seconds")]
    BadTtl { ttl: Option<String> },
    #[error("media_conn answer: no <host hostname> child")]
    NoHosts,
    #[error("media_conn answer: hostname {hostname:?} is not a host name")]
    BadHostname { hostname: String },
}

/// One `media_conn` answer. `Debug` hides the auth.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaConn {
    pub auth: String,
    pub ttl: Duration,
    /// In the server's order of preference.
    pub hosts: Vec<String>,
}

/// The request, with the caller's iq id.
#[must_use]
pub fn media_conn_request(id: &str) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("type", "set")
        .with_attr("xmlns", "w:m")
        .with_attr("to", Jid::at("s.whatsapp.net"))
        .with_child(Node::new("media_conn"))
}

impl MediaConn {
    /// Reads the answer `<iq type=result><media_conn …/></iq>` (or the
    /// `<media_conn>` node itself).
    pub fn parse(answer: &Node) -> Result<MediaConn, MediaConnError> {
        let node = if answer.tag == "media_conn" {
            answer
        } else {
            answer
                .child("media_conn")
                .ok_or(MediaConnError::NoMediaConn)?
        };
        let auth = node.attr("auth").ok_or(MediaConnError::NoAuth)?.to_owned();
        let ttl_secs: u64 = node
            .attr("ttl")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| MediaConnError::BadTtl {
                ttl: node.attr("ttl").map(|t| t.chars().take(20).collect()),
            })?;
        let mut hosts = Vec::new();
        for host in node.children_named("host") {
            let Some(hostname) = host.attr("hostname") else {
                continue;
            };
            let plausible = !hostname.is_empty()
                && hostname.len() <= 253
                && hostname
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if !plausible {
                return Err(MediaConnError::BadHostname {
                    hostname: hostname.chars().take(80).collect(),
                });
            }
            if hosts.len() < MEDIA_HOSTS_MAX && !hosts.iter().any(|h| h == hostname) {
                hosts.push(hostname.to_owned());
            }
        }
        if hosts.is_empty() {
            return Err(MediaConnError::NoHosts);
        }
        Ok(MediaConn {
            auth,
            ttl: Duration::from_secs(ttl_secs).min(MEDIA_CONN_TTL_MAX),
            hosts,
        })
    }
}

impl fmt::Debug for MediaConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaConn")
            .field("ttl", &self.ttl)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// The last answer, until its ttl runs out.
#[derive(Debug, Default)]
pub struct MediaConnCache {
    held: Option<(MediaConn, Instant)>,
}

impl MediaConnCache {
    /// The answer still good at `now`, if any.
    #[must_use]
    pub fn current(&self, now: Instant) -> Option<&MediaConn> {
        self.held
            .as_ref()
            .filter(|(conn, fetched)| now.saturating_duration_since(*fetched) < conn.ttl)
            .map(|(conn, _)| conn)
    }

    /// Keeps `conn`, fetched at `fetched`.
    pub fn store(&mut self, conn: MediaConn, fetched: Instant) {
        self.held = Some((conn, fetched));
    }

    /// Forgets the answer (a host refused its auth): the next use asks
    /// again.
    pub fn invalidate(&mut self) {
        self.held = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ttl: &str, hosts: &[&str]) -> Node {
        Node::new("iq").with_attr("type", "result").with_child(
            Node::new("media_conn")
                .with_attr("auth", "AUTH+/=")
                .with_attr("ttl", ttl.to_owned())
                .with_children(
                    hosts
                        .iter()
                        .map(|h| Node::new("host").with_attr("hostname", (*h).to_owned()))
                        .collect(),
                ),
        )
    }

    #[test]
    fn an_answer_gives_hosts_auth_and_ttl() {
        let conn =
            MediaConn::parse(&answer("300", &["mmg.whatsapp.net", "b.cdn.net"])).expect("valid");
        assert_eq!(conn.auth, "AUTH+/=");
        assert_eq!(conn.ttl, Duration::from_secs(300));
        assert_eq!(conn.hosts, ["mmg.whatsapp.net", "b.cdn.net"]);
        assert!(
            !format!("{conn:?}").contains("AUTH"),
            "Debug hides the auth"
        );
    }

    #[test]
    fn bad_answers_are_named() {
        assert_eq!(
            MediaConn::parse(&Node::new("iq")),
            Err(MediaConnError::NoMediaConn)
        );
        assert_eq!(
            MediaConn::parse(&answer("soon", &["a.net"])),
            Err(MediaConnError::BadTtl {
                ttl: Some("soon".into())
            })
        );
        assert_eq!(
            MediaConn::parse(&answer("30", &[])),
            Err(MediaConnError::NoHosts)
        );
        assert!(matches!(
            MediaConn::parse(&answer("30", &["evil.net/path?x"])),
            Err(MediaConnError::BadHostname { .. })
        ));
        let long = MediaConn::parse(&answer("99999999", &["a.net"])).expect("valid");
        assert_eq!(long.ttl, MEDIA_CONN_TTL_MAX);
    }

    #[test]
    fn the_cache_holds_an_answer_for_its_ttl() {
        let start = Instant::now();
        let mut cache = MediaConnCache::default();
        assert!(cache.current(start).is_none());
        let conn = MediaConn::parse(&answer("60", &["a.net"])).expect("valid");
        cache.store(conn, start);
        assert!(cache.current(start + Duration::from_secs(59)).is_some());
        assert!(cache.current(start + Duration::from_secs(60)).is_none());
        cache.invalidate();
        assert!(cache.current(start).is_none());
    }

    #[test]
    fn the_request_is_a_set_iq_in_w_m() {
        let iq = media_conn_request("abc.1");
        assert_eq!(iq.attr("xmlns"), Some("w:m"));
        assert_eq!(iq.attr("type"), Some("set"));
        assert!(iq.child("media_conn").is_some());
    }
}
