//! A download: the blob is fetched from the message's url and its direct
//! path on each host, decrypted and checked as it arrives
//! (`MediaDecryptor`), into memory (with a size cap) or into a file that
//! only takes its name once every check passed. A failed host gives way
//! to the next, up to `attempts_max`; a blob that fails its checks ends
//! the download (another copy of a wrong blob is as wrong).

use std::path::{Path, PathBuf};

use blacksky_core::media::{BlobLocation, DownloadPlan, MediaDecryptor, blob_len_for};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::error::MediaTransferError;
use super::{DEFAULT_MEDIA_HOST, MediaClient, MediaConnSource, ORIGIN, host_of};

/// Where the plaintext goes while it is unverified.
trait Sink {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), MediaTransferError>;
    /// Drops what a failed attempt wrote.
    async fn reset(&mut self) -> Result<(), MediaTransferError>;
}

impl Sink for Vec<u8> {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), MediaTransferError> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    async fn reset(&mut self) -> Result<(), MediaTransferError> {
        self.clear();
        Ok(())
    }
}

impl Sink for tokio::fs::File {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), MediaTransferError> {
        self.write_all(bytes)
            .await
            .map_err(MediaTransferError::Sink)
    }

    async fn reset(&mut self) -> Result<(), MediaTransferError> {
        self.set_len(0).await.map_err(MediaTransferError::Sink)?;
        self.rewind().await.map_err(MediaTransferError::Sink)?;
        Ok(())
    }
}

impl<S: MediaConnSource> MediaClient<S> {
    /// Downloads and checks the media of `plan` into memory; more than
    /// `plaintext_bytes_max` is refused as it arrives.
    pub async fn download_to_vec(
        &self,
        plan: &DownloadPlan,
        plaintext_bytes_max: u64,
    ) -> Result<Vec<u8>, MediaTransferError> {
        let mut plaintext = Vec::new();
        self.download(plan, plaintext_bytes_max, &mut plaintext)
            .await?;
        Ok(plaintext)
    }

    /// Downloads and checks the media of `plan` into the file `path`
    /// (written as `<path>.part`, renamed once verified, removed if not);
    /// returns its length.
    pub async fn download_to_file(
        &self,
        plan: &DownloadPlan,
        path: &Path,
        plaintext_bytes_max: u64,
    ) -> Result<u64, MediaTransferError> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let mut file = tokio::fs::File::create(&part)
            .await
            .map_err(MediaTransferError::Sink)?;
        let result = self.download(plan, plaintext_bytes_max, &mut file).await;
        let finished = match result {
            Ok(length) => async {
                file.flush().await?;
                file.sync_all().await?;
                drop(file);
                tokio::fs::rename(&part, path).await?;
                Ok(length)
            }
            .await
            .map_err(MediaTransferError::Sink),
            Err(err) => Err(err),
        };
        if finished.is_err() {
            let _ = tokio::fs::remove_file(&part).await;
        }
        finished
    }

    async fn download(
        &self,
        plan: &DownloadPlan,
        plaintext_bytes_max: u64,
        sink: &mut impl Sink,
    ) -> Result<u64, MediaTransferError> {
        let urls = self.download_urls(&plan.location).await;
        if urls.is_empty() {
            return Err(MediaTransferError::NoLocation {
                what: "media_conn named no host for the direct path".into(),
            });
        }
        let mut last = None;
        for attempt in 0..self.config.attempts_max {
            self.back_off(attempt).await;
            let url = &urls[attempt as usize % urls.len()];
            match self
                .download_once(url, plan, plaintext_bytes_max, sink)
                .await
            {
                Ok(length) => return Ok(length),
                Err(err) if err.is_retryable() => {
                    tracing::warn!(error = %err, "media download failed; trying again");
                    sink.reset().await?;
                    last = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(MediaTransferError::AttemptsExhausted {
            attempts: self.config.attempts_max,
            last: Box::new(last.unwrap_or(MediaTransferError::NoLocation {
                what: "no attempt was allowed (attempts_max is 0)".into(),
            })),
        })
    }

    /// The URLs to try, in order: the message's url (moved to
    /// `WA_MEDIA_URL` when set), then its direct path on each host.
    async fn download_urls(&self, location: &BlobLocation) -> Vec<String> {
        let (url, direct_path) = match location {
            BlobLocation::Url(url) => (Some(url.as_str()), None),
            BlobLocation::DirectPath(path) => (None, Some(path.as_str())),
            BlobLocation::Both { url, direct_path } => {
                (Some(url.as_str()), Some(direct_path.as_str()))
            }
        };
        let mut urls = Vec::new();
        match &self.config.base_url_override {
            Some(base) => {
                if let Some(url) = url {
                    urls.push(format!("{}{}", base.as_str(), path_and_query(url)));
                }
                if let Some(path) = direct_path {
                    urls.push(format!("{}{path}", base.as_str()));
                }
            }
            None => {
                if let Some(url) = url {
                    urls.push(url.to_owned());
                }
                if let Some(path) = direct_path {
                    let hosts = match self.media_conn(false).await {
                        Ok(conn) => conn.hosts,
                        Err(err) => {
                            tracing::warn!(error = %err, "no media_conn; the direct path goes to the default host");
                            vec![DEFAULT_MEDIA_HOST.to_owned()]
                        }
                    };
                    urls.extend(hosts.iter().map(|host| format!("https://{host}{path}")));
                }
            }
        }
        urls.dedup();
        urls
    }

    async fn download_once(
        &self,
        url: &str,
        plan: &DownloadPlan,
        plaintext_bytes_max: u64,
        sink: &mut impl Sink,
    ) -> Result<u64, MediaTransferError> {
        let host = host_of(url);
        let request = Request::get(url)
            .header(hyper::header::ORIGIN, ORIGIN)
            .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
            .map_err(|e| MediaTransferError::Request {
                host: host.clone(),
                what: e.to_string(),
            })?;
        let head_secs = self.config.head_timeout.as_secs();
        let response = tokio::time::timeout(self.config.head_timeout, self.http.request(request))
            .await
            .map_err(|_| MediaTransferError::Timeout {
                host: host.clone(),
                phase: "answer",
                secs: head_secs,
            })?
            .map_err(|e| MediaTransferError::Request {
                host: host.clone(),
                what: e.to_string(),
            })?;
        if !response.status().is_success() {
            return Err(MediaTransferError::Status {
                host,
                status: response.status().as_u16(),
            });
        }
        let verify = |source| MediaTransferError::Verify {
            host: host.clone(),
            source,
        };
        let mut decryptor = MediaDecryptor::new(
            &plan.keys,
            plan.expected.clone(),
            blob_len_for(plaintext_bytes_max),
        );
        let mut body = response.into_body();
        let mut plain = Vec::new();
        loop {
            let frame = tokio::time::timeout(self.config.idle_timeout, body.frame())
                .await
                .map_err(|_| MediaTransferError::Timeout {
                    host: host.clone(),
                    phase: "next piece of the blob",
                    secs: self.config.idle_timeout.as_secs(),
                })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| MediaTransferError::Request {
                host: host.clone(),
                what: format!("reading the blob: {e}"),
            })?;
            if let Ok(data) = frame.into_data() {
                plain.clear();
                decryptor.update(&data, &mut plain).map_err(verify)?;
                sink.write(&plain).await?;
            }
        }
        plain.clear();
        let verified = decryptor.finish(&mut plain).map_err(verify)?;
        sink.write(&plain).await?;
        Ok(verified.file_length)
    }
}

/// The path and query of a URL (for moving it to `WA_MEDIA_URL`).
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |slash| &rest[slash..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_moves_to_the_override_with_its_path_and_query() {
        assert_eq!(
            path_and_query("https://mmg.whatsapp.net/v/t62/1.enc?ccb=11-4&oh=x"),
            "/v/t62/1.enc?ccb=11-4&oh=x"
        );
        assert_eq!(path_and_query("https://mmg.whatsapp.net"), "/");
    }
}
