//! The media types WhatsApp's media servers know: each has the HKDF info
//! its keys are expanded with and the `/mms/<type>` path it is uploaded
//! to. Facts from Baileys (`MEDIA_HKDF_KEY_MAPPING`, `MEDIA_PATH_MAP`) and
//! whatsmeow (`mediaTypeToMMSType`): a sticker is an image to the server,
//! a GIF a video (an MP4 with `gifPlayback`), a voice note audio.

use crate::message::content::MediaKind;

/// What a media file is, as far as its keys and upload path go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Image,
    Video,
    /// A short looping MP4 (`videoMessage` with `gifPlayback`).
    Gif,
    Audio,
    /// A push-to-talk voice note (`audioMessage` with `ptt`).
    VoiceNote,
    Document,
    /// A WebP (`stickerMessage`).
    Sticker,
    /// A history sync blob our phone uploads for us (download only).
    History,
}

impl MediaType {
    /// Every type, for tests and tables.
    pub const ALL: [MediaType; 8] = [
        MediaType::Image,
        MediaType::Video,
        MediaType::Gif,
        MediaType::Audio,
        MediaType::VoiceNote,
        MediaType::Document,
        MediaType::Sticker,
        MediaType::History,
    ];

    /// The HKDF info the media key is expanded with.
    #[must_use]
    pub fn hkdf_info(self) -> &'static str {
        match self {
            MediaType::Image | MediaType::Sticker => "WhatsApp Image Keys",
            MediaType::Video | MediaType::Gif => "WhatsApp Video Keys",
            MediaType::Audio | MediaType::VoiceNote => "WhatsApp Audio Keys",
            MediaType::Document => "WhatsApp Document Keys",
            MediaType::History => "WhatsApp History Keys",
        }
    }

    /// The server's name for the type: the `<type>` of `/mms/<type>/<token>`.
    #[must_use]
    pub fn mms_type(self) -> &'static str {
        match self {
            MediaType::Image | MediaType::Sticker => "image",
            MediaType::Video | MediaType::Gif => "video",
            MediaType::Audio | MediaType::VoiceNote => "audio",
            MediaType::Document => "document",
            MediaType::History => "md-msg-hist",
        }
    }

    /// Its name in records and JSON (`gif`, `voice_note`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
            MediaType::Gif => "gif",
            MediaType::Audio => "audio",
            MediaType::VoiceNote => "voice_note",
            MediaType::Document => "document",
            MediaType::Sticker => "sticker",
            MediaType::History => "history",
        }
    }

    /// The type [`MediaType::name`] names.
    #[must_use]
    pub fn from_name(name: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The type of a received message's media.
    #[must_use]
    pub fn of_kind(kind: &MediaKind) -> MediaType {
        match kind {
            MediaKind::Image => MediaType::Image,
            MediaKind::Video { gif_playback: true } => MediaType::Gif,
            MediaKind::Video {
                gif_playback: false,
            } => MediaType::Video,
            MediaKind::Audio { voice_note: true } => MediaType::VoiceNote,
            MediaKind::Audio { voice_note: false } => MediaType::Audio,
            MediaKind::Document { .. } => MediaType::Document,
            MediaKind::Sticker { .. } => MediaType::Sticker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticker_and_gif_share_their_carriers_keys_and_paths() {
        assert_eq!(MediaType::Sticker.hkdf_info(), MediaType::Image.hkdf_info());
        assert_eq!(MediaType::Sticker.mms_type(), "image");
        assert_eq!(MediaType::Gif.hkdf_info(), "WhatsApp Video Keys");
        assert_eq!(MediaType::Gif.mms_type(), "video");
        assert_eq!(MediaType::VoiceNote.hkdf_info(), "WhatsApp Audio Keys");
        for media_type in MediaType::ALL {
            assert_eq!(MediaType::from_name(media_type.name()), Some(media_type));
        }
    }

    #[test]
    fn a_gif_playback_video_is_a_gif() {
        assert_eq!(
            MediaType::of_kind(&MediaKind::Video { gif_playback: true }),
            MediaType::Gif
        );
        assert_eq!(
            MediaType::of_kind(&MediaKind::Audio { voice_note: true }),
            MediaType::VoiceNote
        );
        assert_eq!(
            MediaType::of_kind(&MediaKind::Sticker { animated: false }),
            MediaType::Sticker
        );
    }
}
