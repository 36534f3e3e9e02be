//! Reaction clips from a CDN first (`USE_CDN_MEDIA=true`,
//! `REACTION_CDN_URL` a template with `{name}`), kept on disk within
//! `MEDIA_CACHE_MB`, the shipped clip whenever the CDN fails: a slow or
//! broken CDN costs one short timeout, then it is left alone for a while,
//! and a reaction always gets a clip. A fetched clip must pass the same
//! check as a shipped one (`check_mp4`) before it is sent or kept.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use blacksky_bot::reactions::{CLIP_BYTES_MAX, Reaction, check_mp4};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper::body::Bytes;
use thiserror::Error;

use super::{HttpClient, host_of};

/// `REACTION_CDN_URL`: an http(s) URL with `{name}` where the reaction's
/// name goes, e.g. `https://cdn.example/reactions/{name}.mp4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnTemplate(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("REACTION_CDN_URL: {problem}")]
pub struct CdnTemplateError {
    pub problem: &'static str,
}

impl CdnTemplate {
    pub fn parse(value: &str) -> Result<CdnTemplate, CdnTemplateError> {
        let value = value.trim();
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            return Err(CdnTemplateError {
                problem: "must start with http:// or https://",
            });
        }
        if !value.contains("{name}") {
            return Err(CdnTemplateError {
                problem: "must contain {name} (where the reaction's name goes)",
            });
        }
        if value.contains(' ') {
            return Err(CdnTemplateError {
                problem: "must not contain spaces",
            });
        }
        Ok(CdnTemplate(value.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn url_for(&self, name: &str) -> String {
        self.0.replace("{name}", name)
    }
}

/// How the CDN path behaves.
#[derive(Debug, Clone)]
pub struct ReactionCdnConfig {
    pub template: CdnTemplate,
    /// One fetch, head and body, may take this long.
    pub fetch_timeout: Duration,
    /// After a failure the CDN is not asked again for this long.
    pub pause_after_failure: Duration,
    /// Where fetched clips are kept.
    pub cache_dir: PathBuf,
    /// `MEDIA_CACHE_MB`, in bytes: past it the oldest clips go.
    pub cache_bytes_max: u64,
}

/// Where a clip came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipOrigin {
    Cache,
    Cdn,
    /// Built into the binary: the CDN failed, is paused, or gave a bad clip.
    Shipped,
}

/// Why the CDN gave no clip (logged; the shipped clip is sent).
#[derive(Debug, Error)]
enum CdnMiss {
    #[error("paused after an earlier failure")]
    Paused,
    #[error("{host}: no clip within {secs} s")]
    Timeout { host: String, secs: u64 },
    #[error("{host}: {what}")]
    Request { host: String, what: String },
    #[error("{host}: answered HTTP {status}")]
    Status { host: String, status: u16 },
    #[error("{host}: not a usable clip: {problem}")]
    BadClip { host: String, problem: String },
}

/// Reaction clips, CDN first.
pub struct ReactionCdn {
    http: HttpClient,
    config: ReactionCdnConfig,
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ReactionCdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactionCdn")
            .field("host", &host_of(&self.config.template.0))
            .field("cache_bytes_max", &self.config.cache_bytes_max)
            .finish_non_exhaustive()
    }
}

impl ReactionCdn {
    pub fn new(config: ReactionCdnConfig) -> Result<ReactionCdn, rustls::Error> {
        Ok(ReactionCdn {
            http: crate::host::anti_idle::https_client()?,
            config,
            paused_until: Mutex::new(None),
        })
    }

    /// The clip for `reaction`: from the disk cache, else the CDN (then
    /// kept), else the shipped one. Never fails.
    pub async fn clip(&self, reaction: &'static Reaction) -> (Bytes, ClipOrigin) {
        let cached = self.cache_path(reaction.name);
        if let Ok(bytes) = tokio::fs::read(&cached).await {
            if check_mp4(&bytes).is_ok() {
                return (Bytes::from(bytes), ClipOrigin::Cache);
            }
            let _ = tokio::fs::remove_file(&cached).await;
        }
        match self.fetch(reaction.name).await {
            Ok(bytes) => {
                if let Err(err) = self.keep(reaction.name, &bytes).await {
                    tracing::warn!(reaction = reaction.name, error = %err, "reaction clip not cached");
                }
                (bytes, ClipOrigin::Cdn)
            }
            Err(miss) => {
                if !matches!(miss, CdnMiss::Paused) {
                    tracing::warn!(reaction = reaction.name, reason = %miss, "reaction CDN failed; sending the shipped clip");
                    self.pause();
                }
                (Bytes::from_static(reaction.mp4), ClipOrigin::Shipped)
            }
        }
    }

    fn pause(&self) {
        let until = Instant::now() + self.config.pause_after_failure;
        *self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(until);
    }

    fn paused(&self) -> bool {
        self.paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until)
    }

    async fn fetch(&self, name: &str) -> Result<Bytes, CdnMiss> {
        if self.paused() {
            return Err(CdnMiss::Paused);
        }
        let url = self.config.template.url_for(name);
        let host = host_of(&url);
        let request = Request::get(&url)
            .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
            .map_err(|e| CdnMiss::Request {
                host: host.clone(),
                what: e.to_string(),
            })?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| CdnMiss::Request {
                    host: host.clone(),
                    what: e.to_string(),
                })?;
            if !response.status().is_success() {
                return Err(CdnMiss::Status {
                    host: host.clone(),
                    status: response.status().as_u16(),
                });
            }
            Limited::new(response.into_body(), CLIP_BYTES_MAX)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|e| CdnMiss::BadClip {
                    host: host.clone(),
                    problem: e.to_string(),
                })
        };
        let bytes = tokio::time::timeout(self.config.fetch_timeout, exchange)
            .await
            .map_err(|_| CdnMiss::Timeout {
                host: host.clone(),
                secs: self.config.fetch_timeout.as_secs(),
            })??;
        check_mp4(&bytes).map_err(|problem| CdnMiss::BadClip {
            host,
            problem: problem.to_string(),
        })?;
        Ok(bytes)
    }

    fn cache_path(&self, name: &str) -> PathBuf {
        self.config.cache_dir.join(format!("{name}.mp4"))
    }

    /// Writes the clip (temp file, then rename) and trims the cache to its
    /// budget, oldest first.
    async fn keep(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.len() as u64 > self.config.cache_bytes_max {
            return Ok(());
        }
        tokio::fs::create_dir_all(&self.config.cache_dir).await?;
        let path = self.cache_path(name);
        let temp = self.config.cache_dir.join(format!(".{name}.mp4.tmp"));
        tokio::fs::write(&temp, bytes).await?;
        tokio::fs::rename(&temp, &path).await?;
        trim(&self.config.cache_dir, self.config.cache_bytes_max, &path).await
    }
}

/// Removes the oldest `.mp4` files of `dir` until they fit `bytes_max`,
/// never `keep`.
async fn trim(dir: &Path, bytes_max: u64, keep: &Path) -> std::io::Result<()> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "mp4") {
            let meta = entry.metadata().await?;
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            files.push((modified, meta.len(), path));
        }
    }
    let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= bytes_max {
            break;
        }
        if path == keep {
            continue;
        }
        tokio::fs::remove_file(&path).await?;
        total -= len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_needs_a_scheme_and_a_name_slot() {
        let template = CdnTemplate::parse("https://cdn.example/r/{name}.mp4").expect("valid");
        assert_eq!(template.url_for("hug"), "https://cdn.example/r/hug.mp4");
        for bad in [
            "cdn.example/{name}",
            "https://cdn.example/hug.mp4",
            "https://x/{name} y",
        ] {
            let err = CdnTemplate::parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("REACTION_CDN_URL"), "{err}");
        }
    }
}
