//! An upload: the first pass learns the blob's hash (the token), the
//! second streams the ciphertext to `POST {base}/mms/<type>/<token>?auth&
//! token`. A 401/403 fetches a new `media_conn` and starts the hosts
//! over; other failures go to the next host, up to `attempts_max`.

use std::time::Duration;

use blacksky_core::media::{
    EncryptedMedia, MediaEncryptor, MediaKeys, MediaType, UploadedBlob, blob_len_for,
    upload_path_and_query, uploaded_descriptor,
};
use blacksky_core::message::content::{MediaDescriptor, MediaKey};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::Request;
use hyper::body::{Bytes, Frame};
use tokio::sync::mpsc;

use super::error::MediaTransferError;
use super::source::{MediaSource, measure};
use super::{BodyError, MediaClient, MediaConnSource, ORIGIN, RequestBody, host_of};

/// The upload answer is a small JSON object.
const ANSWER_BYTES_MAX: usize = 64 * 1024;
/// The slowest link an upload is given time for, past its head timeout.
const UPLOAD_BYTES_PER_SEC_MIN: u64 = 32 * 1024;
/// Ciphertext pieces in flight between the encrypting task and hyper.
const PIECES_IN_FLIGHT: usize = 2;

/// A finished upload: what the message must carry.
#[derive(Debug)]
pub struct Uploaded {
    pub media_key: MediaKey,
    pub encrypted: EncryptedMedia,
    pub blob: UploadedBlob,
}

impl Uploaded {
    /// The descriptor for the message (`mimetype`, sizes and thumbnail
    /// are the sender's to add).
    #[must_use]
    pub fn descriptor(self, media_key_timestamp_s: i64) -> MediaDescriptor {
        uploaded_descriptor(
            self.media_key,
            &self.encrypted,
            self.blob,
            media_key_timestamp_s,
        )
    }
}

impl<S: MediaConnSource> MediaClient<S> {
    /// Encrypts `source` under `media_key` (32 random bytes the caller
    /// drew) and uploads it as `media_type`.
    pub async fn upload(
        &self,
        media_type: MediaType,
        source: &MediaSource,
        media_key: MediaKey,
    ) -> Result<Uploaded, MediaTransferError> {
        let keys = MediaKeys::expand(&media_key, media_type)
            .map_err(|e| MediaTransferError::Descriptor(e.into()))?;
        let encrypted = measure(source, &keys, self.config.chunk_bytes).await?;
        let mut conn = self.media_conn(false).await?;
        let mut bases = self.bases(&conn)?;
        let mut next_base = 0;
        let mut refreshed = false;
        let mut last = None;
        for attempt in 0..self.config.attempts_max {
            self.back_off(attempt).await;
            let base = &bases[next_base % bases.len()];
            next_base += 1;
            let url = format!(
                "{base}{}",
                upload_path_and_query(media_type, &encrypted.file_enc_sha256, &conn.auth)
            );
            match self.upload_once(&url, source, &keys, &encrypted).await {
                Ok(blob) => {
                    return Ok(Uploaded {
                        media_key,
                        encrypted,
                        blob,
                    });
                }
                Err(MediaTransferError::Status { host, status })
                    if matches!(status, 401 | 403) && !refreshed =>
                {
                    // The auth is stale: ask again, start the hosts over.
                    tracing::info!(%host, status, "media upload refused its auth; refreshing media_conn");
                    refreshed = true;
                    conn = self.media_conn(true).await?;
                    bases = self.bases(&conn)?;
                    next_base = 0;
                    last = Some(MediaTransferError::Status { host, status });
                }
                Err(err) if err.is_retryable() => {
                    tracing::warn!(error = %err, "media upload failed; trying again");
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

    async fn upload_once(
        &self,
        url: &str,
        source: &MediaSource,
        keys: &MediaKeys,
        expected: &EncryptedMedia,
    ) -> Result<UploadedBlob, MediaTransferError> {
        let host = host_of(url);
        let blob_len = blob_len_for(expected.file_length);
        let request = Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header(hyper::header::CONTENT_LENGTH, blob_len)
            .header(hyper::header::ORIGIN, ORIGIN)
            .body(encrypted_body(
                source.clone(),
                keys.clone(),
                expected.clone(),
                self.config.chunk_bytes,
            ))
            .map_err(|e| MediaTransferError::Request {
                host: host.clone(),
                what: e.to_string(),
            })?;
        let budget =
            self.config.head_timeout + Duration::from_secs(blob_len / UPLOAD_BYTES_PER_SEC_MIN);
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| MediaTransferError::Request {
                        host: host.clone(),
                        what: e.to_string(),
                    })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| MediaTransferError::Request {
                    host: host.clone(),
                    what: format!("reading the answer: {e}"),
                })?
                .to_bytes();
            Ok::<_, MediaTransferError>((status, body))
        };
        let (status, body) = tokio::time::timeout(budget, exchange).await.map_err(|_| {
            MediaTransferError::Timeout {
                host: host.clone(),
                phase: "upload answer",
                secs: budget.as_secs(),
            }
        })??;
        if !status.is_success() {
            return Err(MediaTransferError::Status {
                host,
                status: status.as_u16(),
            });
        }
        read_answer(&host, &body)
    }
}

/// `{"url": …, "direct_path": …}`.
fn read_answer(host: &str, body: &[u8]) -> Result<UploadedBlob, MediaTransferError> {
    let bad = |what: &str| MediaTransferError::BadAnswer {
        host: host.to_owned(),
        what: what.to_owned(),
    };
    let answer: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let field = |name: &str| {
        answer[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("no {name}")))
    };
    Ok(UploadedBlob {
        url: field("url")?,
        direct_path: field("direct_path")?,
    })
}

/// The blob as a request body: a task reads and encrypts the source
/// piece by piece (the second pass) and hands the ciphertext over a small
/// channel. If the source no longer gives the blob the first pass
/// measured, the body fails and the request with it.
fn encrypted_body(
    source: MediaSource,
    keys: MediaKeys,
    expected: EncryptedMedia,
    chunk_bytes: usize,
) -> RequestBody {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BodyError>>(PIECES_IN_FLIGHT);
    tokio::spawn(async move {
        let result = async {
            let mut reader = source.open().await?;
            let mut encryptor = MediaEncryptor::new(&keys);
            let mut plain = Vec::with_capacity(chunk_bytes);
            loop {
                reader.next(&mut plain, chunk_bytes).await?;
                if plain.is_empty() {
                    break;
                }
                let mut piece = Vec::with_capacity(plain.len() + 16);
                encryptor.update(&plain, &mut piece);
                if tx.send(Ok(Frame::data(Bytes::from(piece)))).await.is_err() {
                    // The request is gone; nothing to finish.
                    return Ok(());
                }
            }
            let mut tail = Vec::with_capacity(32);
            if encryptor.finish(&mut tail) != expected {
                return Err(MediaTransferError::SourceChanged);
            }
            let _ = tx.send(Ok(Frame::data(Bytes::from(tail)))).await;
            Ok(())
        }
        .await;
        if let Err(err) = result {
            let _ = tx.send(Err(Box::new(err) as BodyError)).await;
        }
    });
    let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    StreamBody::new(pieces).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_needs_url_and_direct_path() {
        let ok = read_answer(
            "h",
            br#"{"url":"https://h/v/1.enc","direct_path":"/v/1.enc"}"#,
        )
        .expect("both");
        assert_eq!(ok.direct_path, "/v/1.enc");
        for bad in [&b"nope"[..], br#"{"url":"x"}"#, br#"{"direct_path":"/v"}"#] {
            assert!(matches!(
                read_answer("h", bad),
                Err(MediaTransferError::BadAnswer { .. })
            ));
        }
    }
}
