//! Media a handler asks to send ([`crate::Action::Media`]): what the file
//! is ([`SendKind`]) and where its bytes come from ([`MediaSource`]): a
//! reaction clip shipped in the binary, or the file of a message the bot
//! received (downloaded and checked by the shell; an image made into a
//! sticker on the way). Plain data with a stable JSON form: it is stored
//! with the handled mark of the message that asked, and the shell uploads
//! and sends it once.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use blacksky_core::media::MediaType;
use blacksky_core::message::content::{Media, MediaDescriptor, MediaKey, MediaKind};
use serde::{Deserialize, Serialize};

/// What is sent, and from where.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaSpec {
    pub kind: SendKind,
    pub source: MediaSource,
}

/// The message the file goes out as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendKind {
    Image,
    Video,
    /// An MP4 that plays as a looping GIF (`videoMessage.gifPlayback`).
    Gif,
    /// A 512×512 WebP (`stickerMessage`); `pack` names the sticker pack
    /// (kept in the WebP's metadata, as WhatsApp shows it).
    Sticker {
        pack: String,
    },
    Audio,
    VoiceNote,
    Document {
        file_name: Option<String>,
    },
}

/// Where the bytes come from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum MediaSource {
    /// A reaction clip shipped with blacksky, by name
    /// ([`crate::reactions::Reaction::find`]); with `USE_CDN_MEDIA` the
    /// CDN's copy first.
    Clip { name: String },
    /// The file of a received message. A sticker made from an image is
    /// converted (512×512 WebP) before it is uploaded.
    Received { file: ReceivedFile },
}

/// What a download of a received message's file needs: where it is, its
/// key and hashes. Stored as base64 in JSON; `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedFile {
    /// `image`, `video`, `gif`, `audio`, `voice_note`, `document`, `sticker`.
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_path: Option<String>,
    pub media_key: String,
    pub file_sha256: String,
    pub file_enc_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_length: Option<u64>,
}

impl MediaSpec {
    /// A shipped reaction clip as a GIF.
    #[must_use]
    pub fn reaction_clip(name: &str) -> MediaSpec {
        MediaSpec {
            kind: SendKind::Gif,
            source: MediaSource::Clip {
                name: name.to_owned(),
            },
        }
    }

    /// `image` (a received image) made into a sticker of `pack`.
    #[must_use]
    pub fn sticker_from(image: ReceivedFile, pack: &str) -> MediaSpec {
        MediaSpec {
            kind: SendKind::Sticker {
                pack: pack.to_owned(),
            },
            source: MediaSource::Received { file: image },
        }
    }
}

impl SendKind {
    /// The content view's kind of the message this becomes.
    #[must_use]
    pub fn media_kind(&self) -> MediaKind {
        match self {
            SendKind::Image => MediaKind::Image,
            SendKind::Video => MediaKind::Video {
                gif_playback: false,
            },
            SendKind::Gif => MediaKind::Video { gif_playback: true },
            SendKind::Sticker { .. } => MediaKind::Sticker { animated: false },
            SendKind::Audio => MediaKind::Audio { voice_note: false },
            SendKind::VoiceNote => MediaKind::Audio { voice_note: true },
            SendKind::Document { file_name } => MediaKind::Document {
                file_name: file_name.clone(),
                page_count: None,
            },
        }
    }
}

impl ReceivedFile {
    /// The file of a received media message; `None` when the message
    /// lacks what a download needs (a key, both hashes, a location).
    #[must_use]
    pub fn of(media: &Media) -> Option<ReceivedFile> {
        let d = &media.descriptor;
        if d.url.is_none() && d.direct_path.is_none() {
            return None;
        }
        Some(ReceivedFile {
            media_type: media_type_name(&media.kind).to_owned(),
            url: d.url.clone(),
            direct_path: d.direct_path.clone(),
            media_key: STANDARD.encode(d.media_key.as_ref()?.as_bytes()),
            file_sha256: STANDARD.encode(d.file_sha256.as_ref()?),
            file_enc_sha256: STANDARD.encode(d.file_enc_sha256.as_ref()?),
            file_length: d.file_length,
        })
    }

    /// Back to a descriptor a download reads; `None` if the stored base64
    /// does not decode.
    #[must_use]
    pub fn descriptor(&self) -> Option<MediaDescriptor> {
        Some(MediaDescriptor {
            url: self.url.clone(),
            direct_path: self.direct_path.clone(),
            file_sha256: Some(STANDARD.decode(&self.file_sha256).ok()?),
            file_enc_sha256: Some(STANDARD.decode(&self.file_enc_sha256).ok()?),
            file_length: self.file_length,
            media_key: Some(MediaKey::from_bytes(STANDARD.decode(&self.media_key).ok()?)),
            ..MediaDescriptor::default()
        })
    }

    #[must_use]
    pub fn is_image(&self) -> bool {
        self.media_type == "image"
    }
}

fn media_type_name(kind: &MediaKind) -> &'static str {
    MediaType::of_kind(kind).name()
}

// Keys and locations stay out of logs.
impl fmt::Debug for MediaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaSpec")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaSource::Clip { name } => f.debug_struct("Clip").field("name", name).finish(),
            MediaSource::Received { file } => f.debug_tuple("Received").field(file).finish(),
        }
    }
}

impl fmt::Debug for ReceivedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedFile")
            .field("media_type", &self.media_type)
            .field("file_length", &self.file_length)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use blacksky_core::message::content::Context;

    use super::*;

    fn image() -> Media {
        Media {
            kind: MediaKind::Image,
            descriptor: MediaDescriptor {
                url: Some("https://mmg.whatsapp.net/v/t62/1.enc?x=SECRETQUERY".into()),
                direct_path: Some("/v/t62/1.enc".into()),
                file_sha256: Some(vec![1; 32]),
                file_enc_sha256: Some(vec![2; 32]),
                file_length: Some(1234),
                media_key: Some(MediaKey::from_bytes(vec![7; 32])),
                ..MediaDescriptor::default()
            },
            caption: None,
            context: Context::default(),
        }
    }

    #[test]
    fn a_received_file_keeps_what_a_download_needs() {
        let file = ReceivedFile::of(&image()).expect("complete");
        assert!(file.is_image());
        let back = file.descriptor().expect("decodes");
        let sent = image().descriptor;
        assert_eq!(back.media_key, sent.media_key);
        assert_eq!(back.file_sha256, sent.file_sha256);
        assert_eq!(back.file_enc_sha256, sent.file_enc_sha256);
        assert_eq!(back.direct_path, sent.direct_path);
        assert_eq!(back.file_length, Some(1234));

        let mut keyless = image();
        keyless.descriptor.media_key = None;
        assert!(ReceivedFile::of(&keyless).is_none());
        let mut nowhere = image();
        nowhere.descriptor.url = None;
        nowhere.descriptor.direct_path = None;
        assert!(ReceivedFile::of(&nowhere).is_none());
    }

    #[test]
    fn the_json_is_stable_and_debug_is_quiet() {
        let clip = MediaSpec::reaction_clip("hug");
        let json = serde_json::to_string(&clip).expect("json");
        assert_eq!(
            json,
            r#"{"kind":{"kind":"gif"},"source":{"from":"clip","name":"hug"}}"#
        );
        let sticker = MediaSpec::sticker_from(ReceivedFile::of(&image()).expect("file"), "pack");
        let json = serde_json::to_string(&sticker).expect("json");
        let back: MediaSpec = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, sticker);
        let debug = format!("{sticker:?}");
        assert!(
            !debug.contains("SECRETQUERY") && !debug.contains("BwcH"),
            "{debug}"
        );
        assert_eq!(
            SendKind::Gif.media_kind(),
            MediaKind::Video { gif_playback: true }
        );
    }
}
