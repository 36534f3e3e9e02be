//! A media effect ([`blacksky_bot::Action::Media`]) carried out: the file
//! (a shipped clip, the CDN's copy first when configured; or a received
//! file, downloaded and checked, an image made into a sticker), its upload
//! (or the kept upload of the same file and type: no second one while it
//! is reusable), and the message. What comes out are the writes to commit
//! in ONE transaction: the upload kept, the message queued under an id
//! derived from the effect's, the effect marked done. A crash before that
//! commit uploads again and sends once.

use std::future::Future;

use blacksky_bot::commands::builtin::sticker::STICKER_SOURCE_BYTES_MAX;
use blacksky_bot::reactions::Reaction;
use blacksky_bot::{Jid, MediaSource, MediaSpec, Reply, SendKind, chat_of, compose};
use blacksky_core::media::{DownloadPlan, MediaType};
use blacksky_core::message::content::{MediaDescriptor, MediaKey};
use blacksky_core::message::ids;
use blacksky_core::session::{MediaUpload, Outbound, Write};
use blacksky_core::time::UnixMillis;
use hyper::body::Bytes;
use prost::Message as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::reaction_cdn::{ClipOrigin, ReactionCdn, ReactionCdnConfig};
use super::sticker::{STICKER_SIDE_PX, to_sticker_webp};
use super::{MediaClient, MediaConnSource, MediaSource as UploadSource, MediaTransferError};

/// One media effect, as the stored action names it.
#[derive(Debug, Clone)]
pub struct MediaJob {
    pub effect_id: String,
    pub to: Jid,
    pub media: MediaSpec,
    pub caption: Reply,
    pub unusable: Option<Reply>,
}

/// Where reaction clips come from.
#[derive(Debug)]
pub enum Clips {
    /// The clips built into the binary.
    Shipped,
    /// The CDN first (cached on disk), the shipped clip when it fails.
    CdnFirst(Box<ReactionCdn>),
}

/// How a session's media is set up (`WA_MEDIA_URL`, `USE_CDN_MEDIA`,
/// `REACTION_CDN_URL`, `MEDIA_CACHE_MB`).
#[derive(Debug, Clone, Default)]
pub struct MediaSettings {
    pub transfer: super::MediaTransferConfig,
    pub clips: ClipSettings,
}

/// Where reaction clips come from, as configured.
#[derive(Debug, Clone, Default)]
pub enum ClipSettings {
    #[default]
    Shipped,
    CdnFirst(ReactionCdnConfig),
}

/// Why a media effect was not done this time: it stays pending and is
/// tried again (the media host or the session could not be reached).
#[derive(Debug, Error)]
#[error("media send: {0}")]
pub struct MediaRetry(pub MediaTransferError);

/// The media of one session: transfers and clips.
#[derive(Debug)]
pub struct MediaSender<S> {
    client: MediaClient<S>,
    clips: Clips,
}

/// The file to send, before any upload.
struct File {
    bytes: Bytes,
    media_type: MediaType,
    /// What the message says of it (mimetype, size).
    descriptor: MediaDescriptor,
}

/// Why a source gives no file: said in the chat (`unusable`) and done.
#[derive(Debug, Error)]
enum Unusable {
    #[error("no reaction clip is called {name:?}")]
    NoSuchClip { name: String },
    #[error("the received file's stored descriptor does not read")]
    Descriptor,
    #[error("the received file: {0}")]
    Download(MediaTransferError),
    #[error("a sticker is made of an image, not of a {media_type}")]
    NotAnImage { media_type: String },
    #[error("the sticker: {0}")]
    Sticker(super::sticker::StickerError),
}

impl<S: MediaConnSource> MediaSender<S> {
    #[must_use]
    pub fn new(client: MediaClient<S>, clips: Clips) -> MediaSender<S> {
        MediaSender { client, clips }
    }

    /// Transfers asking `conn_source` for `media_conn`, clips as
    /// `settings` say.
    pub fn from_settings(
        conn_source: S,
        settings: &MediaSettings,
    ) -> Result<MediaSender<S>, rustls::Error> {
        let clips = match &settings.clips {
            ClipSettings::Shipped => Clips::Shipped,
            ClipSettings::CdnFirst(cdn) => {
                Clips::CdnFirst(Box::new(ReactionCdn::new(cdn.clone())?))
            }
        };
        Ok(MediaSender {
            client: MediaClient::new(conn_source, settings.transfer.clone())?,
            clips,
        })
    }

    /// The transfers (for downloads a bot asks for itself).
    #[must_use]
    pub fn client(&self) -> &MediaClient<S> {
        &self.client
    }

    /// Carries `job` out up to its commit: the writes to commit together,
    /// or why it must be tried again. `kept` looks up an earlier upload by
    /// the file's SHA-256 and type name; `now` stamps the upload.
    pub async fn perform<K, F>(
        &self,
        job: &MediaJob,
        kept: K,
        now: UnixMillis,
    ) -> Result<Vec<Write>, MediaRetry>
    where
        K: FnOnce([u8; 32], &'static str) -> F,
        F: Future<Output = Option<MediaUpload>>,
    {
        let done = Write::EffectDone {
            id: job.effect_id.clone(),
            at: now,
        };
        let file = match self.file(&job.media).await {
            Ok(file) => file,
            Err(Err(retry)) => return Err(retry),
            Err(Ok(unusable)) => {
                tracing::warn!(effect = %job.effect_id, reason = %unusable, "a media send's file cannot be used");
                let mut writes = Vec::new();
                if let Some(answer) = &job.unusable {
                    let to = chat_of(&job.to);
                    writes.push(Write::Queued {
                        at: now,
                        outbox: vec![Outbound {
                            id: ids::reply_id(&job.effect_id, 0),
                            to: to.to_string(),
                            message: compose::text(answer, None, &to).encode_to_vec(),
                            stanza: None,
                        }],
                    });
                }
                writes.push(done);
                return Ok(writes);
            }
        };
        let file_sha256: [u8; 32] = Sha256::digest(&file.bytes).into();
        let type_name = file.media_type.name();
        let mut writes = Vec::with_capacity(3);
        let uploaded = match kept(file_sha256, type_name)
            .await
            .filter(|upload| upload.reusable_at(now))
        {
            Some(upload) => {
                tracing::debug!(effect = %job.effect_id, "media sent again from its kept upload");
                upload
            }
            None => {
                let upload = self.upload(&file, file_sha256, now).await?;
                writes.push(Write::MediaUploaded(upload.clone()));
                upload
            }
        };
        let descriptor = MediaDescriptor {
            url: Some(uploaded.url.clone()),
            direct_path: Some(uploaded.direct_path.clone()),
            file_sha256: Some(uploaded.file_sha256.to_vec()),
            file_enc_sha256: Some(uploaded.file_enc_sha256.to_vec()),
            file_length: Some(uploaded.file_length),
            media_key: Some(MediaKey::from_bytes(uploaded.media_key.clone())),
            media_key_timestamp: i64::try_from(uploaded.uploaded_at.as_secs()).ok(),
            ..file.descriptor
        };
        let to = chat_of(&job.to);
        let message = compose::media(&job.media.kind.media_kind(), descriptor, &job.caption);
        writes.push(Write::Queued {
            at: now,
            outbox: vec![Outbound {
                id: ids::reply_id(&job.effect_id, 0),
                to: to.to_string(),
                message: message.encode_to_vec(),
                stanza: None,
            }],
        });
        writes.push(done);
        Ok(writes)
    }

    async fn upload(
        &self,
        file: &File,
        file_sha256: [u8; 32],
        now: UnixMillis,
    ) -> Result<MediaUpload, MediaRetry> {
        let mut key = vec![0u8; 32];
        OsRng.fill_bytes(&mut key);
        let uploaded = self
            .client
            .upload(
                file.media_type,
                &UploadSource::Bytes(file.bytes.clone()),
                MediaKey::from_bytes(key.clone()),
            )
            .await
            .map_err(MediaRetry)?;
        Ok(MediaUpload {
            file_sha256,
            media_type: file.media_type.name().to_owned(),
            media_key: key,
            file_enc_sha256: uploaded.encrypted.file_enc_sha256,
            file_length: uploaded.encrypted.file_length,
            url: uploaded.blob.url,
            direct_path: uploaded.blob.direct_path,
            uploaded_at: now,
        })
    }

    /// The file `media` names: `Err(Ok)` when it cannot be had at all,
    /// `Err(Err)` when it may be had later.
    async fn file(&self, media: &MediaSpec) -> Result<File, Result<Unusable, MediaRetry>> {
        let media_type = media_type_of(&media.kind);
        match &media.source {
            MediaSource::Clip { name } => {
                let reaction = Reaction::find(name)
                    .ok_or_else(|| Ok(Unusable::NoSuchClip { name: name.clone() }))?;
                let bytes = match &self.clips {
                    Clips::Shipped => Bytes::from_static(reaction.mp4),
                    Clips::CdnFirst(cdn) => {
                        let (bytes, origin) = cdn.clip(reaction).await;
                        if origin != ClipOrigin::Shipped {
                            tracing::debug!(reaction = reaction.name, ?origin, "reaction clip");
                        }
                        bytes
                    }
                };
                Ok(File {
                    bytes,
                    media_type,
                    descriptor: MediaDescriptor {
                        mimetype: Some("video/mp4".into()),
                        ..MediaDescriptor::default()
                    },
                })
            }
            MediaSource::Received { file } => {
                let descriptor = file.descriptor().ok_or(Ok(Unusable::Descriptor))?;
                let received_type =
                    MediaType::from_name(&file.media_type).ok_or(Ok(Unusable::Descriptor))?;
                let plan = DownloadPlan::from_descriptor(&descriptor, received_type)
                    .map_err(|_| Ok(Unusable::Descriptor))?;
                let bytes = self
                    .client
                    .download_to_vec(&plan, STICKER_SOURCE_BYTES_MAX)
                    .await
                    .map_err(|err| {
                        if err.is_retryable() {
                            Err(MediaRetry(err))
                        } else {
                            Ok(Unusable::Download(err))
                        }
                    })?;
                match &media.kind {
                    SendKind::Sticker { pack } => {
                        if !file.is_image() {
                            return Err(Ok(Unusable::NotAnImage {
                                media_type: file.media_type.clone(),
                            }));
                        }
                        let pack = pack.clone();
                        let webp =
                            tokio::task::spawn_blocking(move || to_sticker_webp(&bytes, &pack))
                                .await
                                .map_err(|e| {
                                    Ok(Unusable::Sticker(super::sticker::StickerError::Encode(
                                        e.to_string(),
                                    )))
                                })?
                                .map_err(|e| Ok(Unusable::Sticker(e)))?;
                        Ok(File {
                            bytes: Bytes::from(webp),
                            media_type,
                            descriptor: MediaDescriptor {
                                mimetype: Some("image/webp".into()),
                                width: Some(STICKER_SIDE_PX),
                                height: Some(STICKER_SIDE_PX),
                                ..MediaDescriptor::default()
                            },
                        })
                    }
                    _ => Ok(File {
                        bytes: Bytes::from(bytes),
                        media_type,
                        descriptor: MediaDescriptor::default(),
                    }),
                }
            }
        }
    }
}

/// The media type a send kind is uploaded and keyed as.
#[must_use]
pub fn media_type_of(kind: &SendKind) -> MediaType {
    match kind {
        SendKind::Image => MediaType::Image,
        SendKind::Video => MediaType::Video,
        SendKind::Gif => MediaType::Gif,
        SendKind::Sticker { .. } => MediaType::Sticker,
        SendKind::Audio => MediaType::Audio,
        SendKind::VoiceNote => MediaType::VoiceNote,
        SendKind::Document { .. } => MediaType::Document,
    }
}
