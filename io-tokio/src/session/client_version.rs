//! Which WhatsApp client version a connect sends, and how a newer one is
//! found after a 405 ("client outdated"): `WA_VERSION` when set, else the
//! version learnt after an earlier 405 (kept in the store, shared by every
//! session of the database), else the built-in one. After a 405 the web
//! client's service worker (`WA_VERSION_URL`, by default
//! `https://web.whatsapp.com/sw.js`) is read, as the Node.js bots do, and
//! its `client_revision` makes the version `2.3000.<client_revision>`.
//!
//! One lookup per 405, bounded in time and size; a lookup that fails, or
//! finds nothing newer than what was refused, is logged and the keeper
//! backs off as for any other disconnect: a 405 never loops.

use std::fmt;
use std::time::Duration;

use blacksky_core::client::web_version;
use blacksky_core::session::AppVersion;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::host::anti_idle::https_client;
use crate::host::config::Config;
use crate::host::redact::mask_url;

/// One lookup may take this long (connect, answer and body).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// sw.js is a few hundred KiB; more than this is not read.
const DOCUMENT_BYTES_MAX: usize = 8 << 20;
/// What the web client's fetch sends, which the Node.js bots copy: the
/// service worker is not served to clients that look like bots.
const BROWSER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Where the version in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `WA_VERSION`: the operator's; never looked up.
    Pinned,
    /// Learnt after a 405 (by this process or one before it).
    Learnt,
    BuiltIn,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Pinned => "WA_VERSION",
            Source::Learnt => "learnt after a 405",
            Source::BuiltIn => "built in",
        })
    }
}

/// The version a connect sends, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InUse {
    pub version: AppVersion,
    pub source: Source,
}

impl InUse {
    /// `WA_VERSION`, else `learnt` (the store's), else the built-in one.
    pub fn choose(pinned: Option<AppVersion>, learnt: Option<AppVersion>) -> InUse {
        match (pinned, learnt) {
            (Some(version), _) => InUse {
                version,
                source: Source::Pinned,
            },
            (None, Some(version)) => InUse {
                version,
                source: Source::Learnt,
            },
            (None, None) => InUse {
                version: AppVersion::BUILT_IN,
                source: Source::BuiltIn,
            },
        }
    }
}

/// How a newer version is found after a 405.
#[derive(Clone)]
pub enum Lookup {
    /// GET the web client's sw.js (or a test server's stand-in).
    Web(Box<WebLookup>),
    /// None is looked up (the simulation: its network is not the host's).
    Off,
}

/// The document's address and the client that fetches it.
#[derive(Clone)]
pub struct WebLookup {
    uri: Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lookup::Web(web) => write!(f, "Web({web:?})"),
            Lookup::Off => f.write_str("Off"),
        }
    }
}

impl fmt::Debug for WebLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_url(&self.uri.to_string()))
    }
}

/// Why no version was found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("version lookup is off")]
    Off,
    #[error("WA_VERSION_URL is not a usable URL")]
    BadUrl,
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("no answer within {} s", LOOKUP_TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}")]
    Request(String),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("the document has no client_revision")]
    NoRevision,
}

impl Lookup {
    /// The lookup `WA_VERSION_URL` names; off (with the reason logged)
    /// when TLS cannot be set up.
    pub fn from_config(config: &Config) -> Lookup {
        match Lookup::web(config.wa_version_url.expose()) {
            Ok(lookup) => lookup,
            Err(err) => {
                tracing::error!("a 405 will not look up a newer version: {err}");
                Lookup::Off
            }
        }
    }

    fn web(url: &str) -> Result<Lookup, LookupError> {
        let uri: Uri = url.parse().map_err(|_| LookupError::BadUrl)?;
        Ok(Lookup::Web(Box::new(WebLookup {
            uri,
            client: https_client()?,
        })))
    }

    /// Where the lookup goes, for logs (credentials masked).
    pub fn shown(&self) -> String {
        match self {
            Lookup::Web(web) => mask_url(&web.uri.to_string()),
            Lookup::Off => "nowhere (off)".to_owned(),
        }
    }

    /// The version the document announces now.
    pub async fn current(&self) -> Result<AppVersion, LookupError> {
        let Lookup::Web(web) = self else {
            return Err(LookupError::Off);
        };
        let WebLookup { uri, client } = &**web;
        let request = Request::get(uri.clone())
            .header(hyper::header::USER_AGENT, BROWSER_AGENT)
            .header("sec-fetch-site", "none")
            .body(Empty::new())
            .map_err(|err| LookupError::Request(err.to_string()))?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|err| LookupError::Request(err.to_string()))?;
            let status = response.status();
            if !status.is_success() {
                return Err(LookupError::Status(status));
            }
            let body = Limited::new(response.into_body(), DOCUMENT_BYTES_MAX)
                .collect()
                .await
                .map_err(|err| LookupError::Request(err.to_string()))?
                .to_bytes();
            let text = String::from_utf8_lossy(&body);
            web_version::from_service_worker(&text).ok_or(LookupError::NoRevision)
        };
        tokio::time::timeout(LOOKUP_TIMEOUT, exchange)
            .await
            .map_err(|_| LookupError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_version_wins_then_the_learnt_one_then_the_built_in_one() {
        let pinned = AppVersion([2, 3000, 7]);
        let learnt = AppVersion([2, 3000, 9]);
        assert_eq!(
            InUse::choose(Some(pinned), Some(learnt)),
            InUse {
                version: pinned,
                source: Source::Pinned
            }
        );
        assert_eq!(
            InUse::choose(None, Some(learnt)),
            InUse {
                version: learnt,
                source: Source::Learnt
            }
        );
        assert_eq!(InUse::choose(None, None).version, AppVersion::BUILT_IN);
    }

    #[tokio::test]
    async fn an_unreachable_url_fails_inside_the_timeout() {
        // Port 9 on localhost: nothing listens; refused at once.
        let lookup = Lookup::web("http://127.0.0.1:9/sw.js").expect("a URL");
        assert!(matches!(
            lookup.current().await,
            Err(LookupError::Request(_))
        ));
        assert!(matches!(Lookup::Off.current().await, Err(LookupError::Off)));
    }
}
