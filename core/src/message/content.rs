//! A typed, owned view of a decoded end-to-end `Message`, for a bot's
//! handler: its text, what it quotes and mentions, its media, a reaction,
//! a protocol message (revoke, edit, settings, history sync, app-state
//! keys), a sender key it carries, and what our phone sent elsewhere.
//!
//! Wrappers (disappearing messages, view-once, document with caption,
//! edited) are opened: the view is of what they wrap. Kinds we do not
//! model come out as [`Kind::Empty`] with their field numbers in
//! [`Content::unmodelled_fields`].
//!
//! `Debug` shows the shape only: no text, no keys, no addresses.

use std::fmt;

use blacksky_proto::Message as _;
use blacksky_proto::wa::{self, message as pb};
use thiserror::Error;
use zeroize::Zeroizing;

use super::fields::{field_bytes, top_level_fields};

/// The bytes are not a `Message` protobuf.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Message: the protobuf does not decode: {reason}")]
pub struct ContentError {
    pub reason: String,
}

/// What a message is, and what rides along.
#[derive(Clone, PartialEq, Eq)]
pub struct Content {
    pub kind: Kind,
    /// A member's sender key for a group (the SKDM that precedes its first
    /// group message), to be processed before its skmsgs.
    pub sender_key_distribution: Option<SenderKeyDistribution>,
    /// It came in a view-once wrapper or says `viewOnce`.
    pub view_once: bool,
    /// Top-level field numbers of kinds this view does not model (after
    /// opening wrappers), e.g. `[5]` for a location. Only
    /// [`Content::decode`] fills it: a decoded `Message` has lost them.
    pub unmodelled_fields: Vec<u32>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Kind {
    Text(Text),
    Media(Media),
    Reaction(Reaction),
    Protocol(Protocol),
    /// What our phone sent to `destination`, copied to this device.
    DeviceSent {
        destination: String,
        message: Box<Content>,
    },
    /// Nothing this view models: a message carrying only a sender key,
    /// or a kind listed in [`Content::unmodelled_fields`].
    Empty,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub context: Context,
}

/// Quote, mentions and forwarding, from a message's `contextInfo`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub quoted: Option<Quoted>,
    pub mentions: Vec<String>,
    pub forwarded: bool,
}

/// The message a reply quotes.
#[derive(Clone, PartialEq, Eq)]
pub struct Quoted {
    pub id: String,
    /// Its author, in groups.
    pub sender: Option<String>,
    /// Its chat, when not the reply's.
    pub chat: Option<String>,
    /// Its text or caption, when it had one.
    pub text: Option<String>,
    /// Its media, when it carried a file (`.sticker` in reply to an image
    /// downloads it from here).
    pub media: Option<Box<Media>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    pub descriptor: MediaDescriptor,
    pub caption: Option<String>,
    pub context: Context,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video {
        gif_playback: bool,
    },
    Audio {
        voice_note: bool,
    },
    Document {
        file_name: Option<String>,
        page_count: Option<u32>,
    },
    Sticker {
        animated: bool,
    },
}

/// Where a media file is and how to check and decrypt it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MediaDescriptor {
    pub url: Option<String>,
    pub direct_path: Option<String>,
    pub mimetype: Option<String>,
    pub file_sha256: Option<Vec<u8>>,
    pub file_enc_sha256: Option<Vec<u8>>,
    pub file_length: Option<u64>,
    pub media_key: Option<MediaKey>,
    pub media_key_timestamp: Option<i64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub seconds: Option<u32>,
    /// JPEG (PNG for stickers) preview.
    pub thumbnail: Option<Vec<u8>>,
}

/// The key a media file is encrypted with. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey(Zeroizing<Vec<u8>>);

impl MediaKey {
    /// A key we drew ourselves (32 random bytes for an upload) or read
    /// from a stored descriptor.
    #[must_use]
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> MediaKey {
        MediaKey(Zeroizing::new(bytes.into()))
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageRef,
    /// `None` when a reaction is taken back.
    pub emoji: Option<String>,
    pub sender_timestamp_ms: Option<i64>,
}

/// A `MessageKey`: which message another one is about.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub id: String,
    pub chat: Option<String>,
    pub from_me: bool,
    pub participant: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Protocol {
    Revoke {
        target: MessageRef,
    },
    /// The chat's disappearing-messages timer; 0 turns it off.
    EphemeralSetting {
        expiration_seconds: u32,
    },
    /// Our phone has history for us; WhatsApp wants a receipt for it.
    HistorySyncNotification(HistorySync),
    /// Our phone shares app-state keys.
    AppStateSyncKeyShare(Vec<AppStateSyncKey>),
    Edit {
        target: MessageRef,
        edited: Box<Content>,
        timestamp_ms: Option<i64>,
    },
    /// A protocol message this view does not model (its `type`).
    Other {
        type_code: Option<i32>,
    },
}

#[derive(Clone, PartialEq, Eq)]
pub struct HistorySync {
    /// `Message.HistorySyncType` (0 initial bootstrap, 2 full, 3 recent…).
    pub sync_type: Option<i32>,
    pub chunk_order: Option<u32>,
    pub progress: Option<u32>,
    pub original_message_id: Option<String>,
    pub descriptor: MediaDescriptor,
}

#[derive(Clone, PartialEq, Eq)]
pub struct AppStateSyncKey {
    pub id: Vec<u8>,
    pub data: AppStateKeyData,
    pub timestamp: Option<i64>,
    pub fingerprint: Option<AppStateKeyFingerprint>,
}

/// An app-state key's secret bytes. `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct AppStateKeyData(Zeroizing<Vec<u8>>);

impl AppStateKeyData {
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStateKeyFingerprint {
    pub raw_id: Option<u32>,
    pub current_index: Option<u32>,
    pub device_indexes: Vec<u32>,
}

/// A sender key for `group_id`: the `0x33 ‖ proto` bytes that
/// [`crate::signal::group::process_distribution`] takes. Secret (it holds
/// a chain key): `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyDistribution {
    pub group_id: String,
    pub distribution: Zeroizing<Vec<u8>>,
}

/// `Message` fields a view is built from; any other top-level field is
/// reported in [`Content::unmodelled_fields`].
const MODELLED_FIELDS: [u32; 18] = [
    1, 2, 3, 6, 7, 8, 9, 12, 26, 31, 35, 37, 40, 46, 53, 55, 58, 59,
];
/// Wrapper fields (`FutureProofMessage{message = 1}`) a view opens.
const WRAPPER_FIELDS: [u32; 6] = [37, 40, 53, 55, 58, 59];
const DEVICE_SENT_FIELD: u32 = 31;

impl Content {
    /// A message that says nothing.
    #[must_use]
    pub fn empty() -> Content {
        Content {
            kind: Kind::Empty,
            sender_key_distribution: None,
            view_once: false,
            unmodelled_fields: Vec::new(),
        }
    }

    /// Decodes the (unpadded) plaintext of an end-to-end message.
    pub fn decode(bytes: &[u8]) -> Result<Content, ContentError> {
        let message = wa::Message::decode(bytes).map_err(|e| ContentError {
            reason: e.to_string(),
        })?;
        let mut content = Content::from_message(&message);
        content.unmodelled_fields = unmodelled_fields(bytes);
        Ok(content)
    }

    /// The view of an already-decoded message.
    #[must_use]
    pub fn from_message(message: &wa::Message) -> Content {
        let sender_key_distribution =
            message
                .sender_key_distribution_message
                .as_ref()
                .and_then(|skdm| {
                    Some(SenderKeyDistribution {
                        group_id: skdm.group_id.clone()?,
                        distribution: Zeroizing::new(
                            skdm.axolotl_sender_key_distribution_message.clone()?,
                        ),
                    })
                });
        let mut content = match wrapped(message) {
            Some((inner, view_once)) => {
                let mut content = Content::from_message(inner);
                content.view_once |= view_once;
                content
            }
            None => Content {
                kind: kind(message),
                sender_key_distribution: None,
                view_once: media_view_once(message),
                unmodelled_fields: Vec::new(),
            },
        };
        if content.sender_key_distribution.is_none() {
            content.sender_key_distribution = sender_key_distribution;
        }
        content
    }

    /// The text a bot reads: the message's text or its media's caption
    /// (for device-sent and edits, the inner message's).
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Text(text) => Some(&text.body),
            Kind::Media(media) => media.caption.as_deref(),
            Kind::DeviceSent { message, .. } => message.text(),
            Kind::Protocol(Protocol::Edit { edited, .. }) => edited.text(),
            Kind::Reaction(_) | Kind::Protocol(_) | Kind::Empty => None,
        }
    }

    /// What kind of message it is, in a word (for logs and counts).
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Text(_) => "text",
            Kind::Media(_) => "media",
            Kind::Reaction(_) => "reaction",
            Kind::Protocol(_) => "protocol",
            Kind::DeviceSent { .. } => "device-sent",
            Kind::Empty => "empty",
        }
    }

    /// Quote, mentions and forwarding, for text and media.
    #[must_use]
    pub fn context(&self) -> Option<&Context> {
        match &self.kind {
            Kind::Text(text) => Some(&text.context),
            Kind::Media(media) => Some(&media.context),
            _ => None,
        }
    }
}

fn inner(wrapper: &Option<Box<pb::FutureProofMessage>>) -> Option<&wa::Message> {
    wrapper.as_ref()?.message.as_deref()
}

/// The message a wrapper holds, and whether the wrapper is view-once.
fn wrapped(message: &wa::Message) -> Option<(&wa::Message, bool)> {
    let view_once = [
        &message.view_once_message,
        &message.view_once_message_v2,
        &message.view_once_message_v2_extension,
    ];
    let other = [
        &message.ephemeral_message,
        &message.document_with_caption_message,
        &message.edited_message,
    ];
    if let Some(inner) = view_once.into_iter().find_map(inner) {
        return Some((inner, true));
    }
    other
        .into_iter()
        .find_map(inner)
        .map(|inner| (inner, false))
}

fn kind(message: &wa::Message) -> Kind {
    if let Some(sent) = &message.device_sent_message
        && let Some(inner) = sent.message.as_deref()
    {
        return Kind::DeviceSent {
            destination: sent.destination_jid.clone().unwrap_or_default(),
            message: Box::new(Content::from_message(inner)),
        };
    }
    if let Some(protocol) = &message.protocol_message {
        return Kind::Protocol(protocol_of(protocol));
    }
    if let Some(reaction) = &message.reaction_message
        && let Some(target) = reaction.key.as_ref().and_then(message_ref)
    {
        return Kind::Reaction(Reaction {
            target,
            emoji: reaction.text.clone().filter(|t| !t.is_empty()),
            sender_timestamp_ms: reaction.sender_timestamp_ms,
        });
    }
    if let Some(media) = media(message) {
        return Kind::Media(media);
    }
    if let Some(extended) = &message.extended_text_message
        && let Some(body) = &extended.text
    {
        return Kind::Text(Text {
            body: body.clone(),
            context: context(extended.context_info.as_deref()),
        });
    }
    if let Some(body) = &message.conversation {
        return Kind::Text(Text {
            body: body.clone(),
            context: Context::default(),
        });
    }
    Kind::Empty
}

/// The descriptor fields every media message has, plus `extra` ones.
macro_rules! descriptor {
    ($m:expr, { $($extra:tt)* }) => {
        MediaDescriptor {
            url: $m.url.clone(),
            direct_path: $m.direct_path.clone(),
            mimetype: $m.mimetype.clone(),
            file_sha256: $m.file_sha256.clone(),
            file_enc_sha256: $m.file_enc_sha256.clone(),
            file_length: $m.file_length,
            media_key: $m.media_key.clone().map(|k| MediaKey(Zeroizing::new(k))),
            media_key_timestamp: $m.media_key_timestamp,
            $($extra)*
            ..MediaDescriptor::default()
        }
    };
}

// A video fills every field, so its `..default()` is needless there.
#[allow(clippy::needless_update)]
fn media(message: &wa::Message) -> Option<Media> {
    let media = |kind, descriptor, caption, info: Option<&wa::ContextInfo>| Media {
        kind,
        descriptor,
        caption,
        context: context(info),
    };
    if let Some(m) = &message.image_message {
        return Some(media(
            MediaKind::Image,
            descriptor!(m, { width: m.width, height: m.height, thumbnail: m.jpeg_thumbnail.clone(), }),
            m.caption.clone(),
            m.context_info.as_deref(),
        ));
    }
    if let Some(m) = &message.video_message {
        return Some(media(
            MediaKind::Video {
                gif_playback: m.gif_playback.unwrap_or(false),
            },
            descriptor!(m, {
                width: m.width,
                height: m.height,
                seconds: m.seconds,
                thumbnail: m.jpeg_thumbnail.clone(),
            }),
            m.caption.clone(),
            m.context_info.as_deref(),
        ));
    }
    if let Some(m) = &message.audio_message {
        return Some(media(
            MediaKind::Audio {
                voice_note: m.ptt.unwrap_or(false),
            },
            descriptor!(m, { seconds: m.seconds, }),
            None,
            m.context_info.as_deref(),
        ));
    }
    if let Some(m) = &message.document_message {
        return Some(media(
            MediaKind::Document {
                file_name: m.file_name.clone(),
                page_count: m.page_count,
            },
            descriptor!(m, { thumbnail: m.jpeg_thumbnail.clone(), }),
            m.caption.clone(),
            m.context_info.as_deref(),
        ));
    }
    if let Some(m) = &message.sticker_message {
        return Some(media(
            MediaKind::Sticker {
                animated: m.is_animated.unwrap_or(false),
            },
            descriptor!(m, { width: m.width, height: m.height, thumbnail: m.png_thumbnail.clone(), }),
            None,
            m.context_info.as_deref(),
        ));
    }
    None
}

fn media_view_once(message: &wa::Message) -> bool {
    [
        message.image_message.as_ref().and_then(|m| m.view_once),
        message.video_message.as_ref().and_then(|m| m.view_once),
        message.audio_message.as_ref().and_then(|m| m.view_once),
    ]
    .contains(&Some(true))
}

fn context(info: Option<&wa::ContextInfo>) -> Context {
    let Some(info) = info else {
        return Context::default();
    };
    let quoted = info.quoted_message.as_deref().map(Content::from_message);
    Context {
        quoted: info.stanza_id.as_ref().map(|id| Quoted {
            id: id.clone(),
            sender: info.participant.clone(),
            chat: info.remote_jid.clone(),
            text: quoted.as_ref().and_then(|q| q.text().map(str::to_owned)),
            media: quoted.and_then(|q| match q.kind {
                Kind::Media(media) => Some(Box::new(media)),
                _ => None,
            }),
        }),
        mentions: info.mentioned_jid.clone(),
        forwarded: info.is_forwarded.unwrap_or(false),
    }
}

fn message_ref(key: &wa::MessageKey) -> Option<MessageRef> {
    Some(MessageRef {
        id: key.id.clone()?,
        chat: key.remote_jid.clone(),
        from_me: key.from_me.unwrap_or(false),
        participant: key.participant.clone(),
    })
}

fn protocol_of(protocol: &pb::ProtocolMessage) -> Protocol {
    use pb::protocol_message::Type;
    let other = Protocol::Other {
        type_code: protocol.r#type,
    };
    let Some(kind) = protocol.r#type.and_then(|t| Type::try_from(t).ok()) else {
        return other;
    };
    let target = protocol.key.as_ref().and_then(message_ref);
    match (kind, target) {
        (Type::Revoke, Some(target)) => Protocol::Revoke { target },
        (Type::EphemeralSetting, _) => Protocol::EphemeralSetting {
            expiration_seconds: protocol.ephemeral_expiration.unwrap_or(0),
        },
        (Type::HistorySyncNotification, _) => match &protocol.history_sync_notification {
            Some(n) => Protocol::HistorySyncNotification(HistorySync {
                sync_type: n.sync_type,
                chunk_order: n.chunk_order,
                progress: n.progress,
                original_message_id: n.original_message_id.clone(),
                descriptor: MediaDescriptor {
                    direct_path: n.direct_path.clone(),
                    file_sha256: n.file_sha256.clone(),
                    file_enc_sha256: n.file_enc_sha256.clone(),
                    file_length: n.file_length,
                    media_key: n.media_key.clone().map(|k| MediaKey(Zeroizing::new(k))),
                    ..MediaDescriptor::default()
                },
            }),
            None => other,
        },
        (Type::AppStateSyncKeyShare, _) => match &protocol.app_state_sync_key_share {
            Some(share) => Protocol::AppStateSyncKeyShare(
                share.keys.iter().filter_map(app_state_key).collect(),
            ),
            None => other,
        },
        (Type::MessageEdit, Some(target)) => match protocol.edited_message.as_deref() {
            Some(edited) => Protocol::Edit {
                target,
                edited: Box::new(Content::from_message(edited)),
                timestamp_ms: protocol.timestamp_ms,
            },
            None => other,
        },
        _ => other,
    }
}

fn app_state_key(key: &pb::AppStateSyncKey) -> Option<AppStateSyncKey> {
    let data = key.key_data.as_ref()?;
    Some(AppStateSyncKey {
        id: key.key_id.as_ref()?.key_id.clone()?,
        data: AppStateKeyData(Zeroizing::new(data.key_data.clone()?)),
        timestamp: data.timestamp,
        fingerprint: data.fingerprint.as_ref().map(|f| AppStateKeyFingerprint {
            raw_id: f.raw_id,
            current_index: f.current_index,
            device_indexes: f.device_indexes.clone(),
        }),
    })
}

/// The top-level fields the view did not model, at the level the view
/// describes (inside wrappers and device-sent messages).
fn unmodelled_fields(bytes: &[u8]) -> Vec<u32> {
    let fields = top_level_fields(bytes);
    let inner = fields.iter().find_map(|field| {
        let payload = field.bytes?;
        if WRAPPER_FIELDS.contains(&field.number) {
            field_bytes(payload, 1)
        } else if field.number == DEVICE_SENT_FIELD {
            field_bytes(payload, 2)
        } else {
            None
        }
    });
    match inner {
        Some(inner) => unmodelled_fields(inner),
        None => fields
            .iter()
            .map(|f| f.number)
            .filter(|n| !MODELLED_FIELDS.contains(n))
            .collect(),
    }
}

// Debug: shapes only. No text, no keys, no JIDs (they are phone numbers).

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Content")
            .field("kind", &self.kind)
            .field(
                "sender_key_distribution",
                &self.sender_key_distribution.as_ref().map(|_| "<redacted>"),
            )
            .field("view_once", &self.view_once)
            .field("unmodelled_fields", &self.unmodelled_fields)
            .finish()
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Kind::Media(media) => f.debug_tuple("Media").field(media).finish(),
            Kind::Reaction(reaction) => f.debug_tuple("Reaction").field(reaction).finish(),
            Kind::Protocol(protocol) => f.debug_tuple("Protocol").field(protocol).finish(),
            Kind::DeviceSent { message, .. } => f
                .debug_struct("DeviceSent")
                .field("message", message)
                .finish_non_exhaustive(),
            Kind::Empty => f.write_str("Empty"),
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Text")
            .field("body_len", &self.body.len())
            .field("context", &self.context)
            .finish()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("quoted", &self.quoted)
            .field("mentions", &self.mentions.len())
            .field("forwarded", &self.forwarded)
            .finish()
    }
}

impl fmt::Debug for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quoted")
            .field("id", &self.id)
            .field("text_len", &self.text.as_ref().map(String::len))
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("kind", &self.kind)
            .field("descriptor", &self.descriptor)
            .field("caption_len", &self.caption.as_ref().map(String::len))
            .field("context", &self.context)
            .finish()
    }
}

impl fmt::Debug for MediaDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaDescriptor")
            .field("mimetype", &self.mimetype)
            .field("file_length", &self.file_length)
            .field("media_key", &self.media_key)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seconds", &self.seconds)
            .field("thumbnail_len", &self.thumbnail.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKey(<redacted>)")
    }
}

impl fmt::Debug for Reaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaction")
            .field("target", &self.target)
            .field("removed", &self.emoji.is_none())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageRef")
            .field("id", &self.id)
            .field("from_me", &self.from_me)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Revoke { target } => {
                f.debug_struct("Revoke").field("target", target).finish()
            }
            Protocol::EphemeralSetting { expiration_seconds } => f
                .debug_struct("EphemeralSetting")
                .field("expiration_seconds", expiration_seconds)
                .finish(),
            Protocol::HistorySyncNotification(sync) => f
                .debug_struct("HistorySyncNotification")
                .field("sync_type", &sync.sync_type)
                .field("chunk_order", &sync.chunk_order)
                .field("descriptor", &sync.descriptor)
                .finish_non_exhaustive(),
            Protocol::AppStateSyncKeyShare(keys) => f
                .debug_struct("AppStateSyncKeyShare")
                .field("keys", &keys.len())
                .finish(),
            Protocol::Edit { target, edited, .. } => f
                .debug_struct("Edit")
                .field("target", target)
                .field("edited", edited)
                .finish_non_exhaustive(),
            Protocol::Other { type_code } => f
                .debug_struct("Other")
                .field("type_code", type_code)
                .finish(),
        }
    }
}

impl fmt::Debug for HistorySync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistorySync")
            .field("sync_type", &self.sync_type)
            .field("chunk_order", &self.chunk_order)
            .field("descriptor", &self.descriptor)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AppStateSyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppStateSyncKey")
            .field("id_len", &self.id.len())
            .field("data", &self.data)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AppStateKeyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppStateKeyData(<redacted>)")
    }
}

impl fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SenderKeyDistribution(<redacted>)")
    }
}
