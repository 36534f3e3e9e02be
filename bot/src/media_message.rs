//! A media `Message` from what was uploaded: the inverse of the content
//! view (`blacksky_core::message::content`), which reads these fields back.
//! The kind decides the protobuf (`imageMessage`, `videoMessage` with
//! `gifPlayback` for a GIF, `audioMessage` with `ptt` for a voice note,
//! `documentMessage`, `stickerMessage`); the descriptor fills the fields
//! every media message has; the caption and the context (a quote, the
//! mentions) go where the kind has them.

use blacksky_core::message::content::{MediaDescriptor, MediaKind};
use blacksky_proto::wa::{self, message as pb};

/// The message carrying one uploaded file. A caption on a kind that has
/// none (audio, sticker) is dropped: WhatsApp shows none there.
#[must_use]
pub fn media_message(
    kind: &MediaKind,
    descriptor: MediaDescriptor,
    caption: Option<String>,
    context: Option<wa::ContextInfo>,
) -> wa::Message {
    let d = descriptor;
    let media_key = d.media_key.as_ref().map(|k| k.as_bytes().to_vec());
    let context = context.map(Box::new);
    match kind {
        MediaKind::Image => wa::Message {
            image_message: Some(Box::new(pb::ImageMessage {
                url: d.url,
                mimetype: Some(d.mimetype.unwrap_or_else(|| "image/jpeg".into())),
                caption,
                file_sha256: d.file_sha256,
                file_length: d.file_length,
                height: d.height,
                width: d.width,
                media_key,
                file_enc_sha256: d.file_enc_sha256,
                direct_path: d.direct_path,
                media_key_timestamp: d.media_key_timestamp,
                jpeg_thumbnail: d.thumbnail,
                context_info: context,
                ..Default::default()
            })),
            ..Default::default()
        },
        MediaKind::Video { gif_playback } => wa::Message {
            video_message: Some(Box::new(pb::VideoMessage {
                url: d.url,
                mimetype: Some(d.mimetype.unwrap_or_else(|| "video/mp4".into())),
                file_sha256: d.file_sha256,
                file_length: d.file_length,
                seconds: d.seconds,
                media_key,
                caption,
                gif_playback: Some(*gif_playback),
                height: d.height,
                width: d.width,
                file_enc_sha256: d.file_enc_sha256,
                direct_path: d.direct_path,
                media_key_timestamp: d.media_key_timestamp,
                jpeg_thumbnail: d.thumbnail,
                context_info: context,
                ..Default::default()
            })),
            ..Default::default()
        },
        MediaKind::Audio { voice_note } => wa::Message {
            audio_message: Some(Box::new(pb::AudioMessage {
                url: d.url,
                mimetype: Some(d.mimetype.unwrap_or_else(|| {
                    if *voice_note {
                        "audio/ogg; codecs=opus".into()
                    } else {
                        "audio/mpeg".into()
                    }
                })),
                file_sha256: d.file_sha256,
                file_length: d.file_length,
                seconds: d.seconds,
                ptt: Some(*voice_note),
                media_key,
                file_enc_sha256: d.file_enc_sha256,
                direct_path: d.direct_path,
                media_key_timestamp: d.media_key_timestamp,
                context_info: context,
                ..Default::default()
            })),
            ..Default::default()
        },
        MediaKind::Document {
            file_name,
            page_count,
        } => wa::Message {
            document_message: Some(Box::new(pb::DocumentMessage {
                url: d.url,
                mimetype: Some(
                    d.mimetype
                        .unwrap_or_else(|| "application/octet-stream".into()),
                ),
                title: file_name.clone(),
                file_sha256: d.file_sha256,
                file_length: d.file_length,
                page_count: *page_count,
                media_key,
                file_name: file_name.clone(),
                file_enc_sha256: d.file_enc_sha256,
                direct_path: d.direct_path,
                media_key_timestamp: d.media_key_timestamp,
                jpeg_thumbnail: d.thumbnail,
                context_info: context,
                caption,
            })),
            ..Default::default()
        },
        MediaKind::Sticker { animated } => wa::Message {
            sticker_message: Some(Box::new(pb::StickerMessage {
                url: d.url,
                file_sha256: d.file_sha256,
                file_enc_sha256: d.file_enc_sha256,
                media_key,
                mimetype: Some(d.mimetype.unwrap_or_else(|| "image/webp".into())),
                height: d.height,
                width: d.width,
                direct_path: d.direct_path,
                file_length: d.file_length,
                media_key_timestamp: d.media_key_timestamp,
                is_animated: Some(*animated),
                png_thumbnail: d.thumbnail,
                context_info: context,
            })),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use blacksky_core::message::content::{Content, Kind, MediaKey};
    use blacksky_proto::Message as _;

    use super::*;

    fn descriptor() -> MediaDescriptor {
        MediaDescriptor {
            url: Some("https://mmg.whatsapp.net/v/t62/1.enc?ccb=11-4".into()),
            direct_path: Some("/v/t62/1.enc?ccb=11-4".into()),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![2; 32]),
            file_length: Some(4321),
            media_key: Some(MediaKey::from_bytes(vec![3; 32])),
            media_key_timestamp: Some(1_750_000_000),
            width: Some(160),
            height: Some(160),
            seconds: Some(2),
            ..MediaDescriptor::default()
        }
    }

    #[test]
    fn every_kind_reads_back_as_itself() {
        let kinds = [
            MediaKind::Image,
            MediaKind::Video { gif_playback: true },
            MediaKind::Video {
                gif_playback: false,
            },
            MediaKind::Audio { voice_note: true },
            MediaKind::Document {
                file_name: Some("notes.pdf".into()),
                page_count: Some(3),
            },
            MediaKind::Sticker { animated: false },
        ];
        for kind in kinds {
            let context = wa::ContextInfo {
                mentioned_jid: vec!["491511111111@s.whatsapp.net".into()],
                ..Default::default()
            };
            let caption = Some("Ana hugs Ben".to_owned());
            let message = media_message(&kind, descriptor(), caption.clone(), Some(context));
            let content = Content::decode(&message.encode_to_vec()).expect("decodes");
            let Kind::Media(media) = content.kind else {
                panic!("{kind:?} reads back as {:?}", content.kind);
            };
            assert_eq!(media.kind, kind);
            let has_caption = !matches!(kind, MediaKind::Audio { .. } | MediaKind::Sticker { .. });
            assert_eq!(
                media.caption,
                caption.clone().filter(|_| has_caption),
                "{kind:?}"
            );
            assert_eq!(
                media.context.mentions,
                ["491511111111@s.whatsapp.net"],
                "{kind:?}"
            );
            let d = media.descriptor;
            let sent = descriptor();
            assert_eq!(d.url, sent.url, "{kind:?}");
            assert_eq!(d.direct_path, sent.direct_path, "{kind:?}");
            assert_eq!(d.file_sha256, sent.file_sha256, "{kind:?}");
            assert_eq!(d.file_enc_sha256, sent.file_enc_sha256, "{kind:?}");
            assert_eq!(d.file_length, sent.file_length, "{kind:?}");
            assert_eq!(d.media_key, sent.media_key, "{kind:?}");
            assert!(d.mimetype.is_some(), "{kind:?} has a mimetype");
        }
    }

    #[test]
    fn a_gif_is_an_mp4_video_with_gif_playback() {
        let message = media_message(
            &MediaKind::Video { gif_playback: true },
            descriptor(),
            None,
            None,
        );
        let video = message.video_message.expect("a video");
        assert_eq!(video.gif_playback, Some(true));
        assert_eq!(video.mimetype.as_deref(), Some("video/mp4"));
    }
}
