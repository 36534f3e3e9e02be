//! The content view over `Message` protobufs that Baileys' own WAProto
//! encoded (`interop/message-fixtures.mjs` made `data/message_fixtures.txt`),
//! some with fields we do not model.

use blacksky_core::message::content::{
    Content, Context, Kind, Media, MediaKind, Protocol, Quoted, Text,
};
use blacksky_core::signal::group::SenderKeyDistributionMessage;

const FIXTURES: &str = include_str!("data/message_fixtures.txt");

fn fixture(name: &str) -> Vec<u8> {
    let line = FIXTURES
        .lines()
        .find(|line| line.split_once(' ').is_some_and(|(n, _)| n == name))
        .unwrap_or_else(|| panic!("no fixture {name}"));
    hex::decode(line.split_once(' ').map_or("", |(_, hex)| hex)).expect("hex")
}

fn content(name: &str) -> Content {
    Content::decode(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn media(name: &str) -> Media {
    match content(name).kind {
        Kind::Media(media) => media,
        other => panic!("{name}: {other:?}"),
    }
}

const ALICE: &str = "491556000001@s.whatsapp.net";
const BOB: &str = "491556000002@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";

#[test]
fn every_fixture_decodes() {
    let names: Vec<&str> = FIXTURES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' ').map(|(n, _)| n))
        .collect();
    assert_eq!(names.len(), 20);
    for name in names {
        content(name);
    }
}

#[test]
fn plain_text() {
    let text = content("text");
    assert_eq!(text.text(), Some("hello"));
    assert_eq!(
        text.kind,
        Kind::Text(Text {
            body: "hello".into(),
            context: Context::default()
        })
    );
    assert!(text.unmodelled_fields.is_empty());
}

#[test]
fn a_reply_with_mentions_skipping_unknown_fields() {
    let reply = content("reply");
    assert_eq!(reply.text(), Some("@491556000002 look"));
    let context = reply.context().expect("context");
    assert_eq!(
        context.quoted,
        Some(Quoted {
            id: "3EB0C0FFEE".into(),
            sender: Some(ALICE.into()),
            chat: None,
            text: Some("the original".into()),
            media: None,
        })
    );
    assert_eq!(context.mentions, [BOB, ALICE]);
    assert!(context.forwarded);
    // previewType and contextInfo.externalAdReply are not modelled.
    assert!(reply.unmodelled_fields.is_empty());
}

#[test]
fn image_with_caption_and_mentions() {
    let image = media("image");
    assert_eq!(image.kind, MediaKind::Image);
    assert_eq!(image.caption.as_deref(), Some("a picture"));
    assert_eq!(image.context.mentions, [BOB]);
    let d = &image.descriptor;
    assert_eq!(
        d.url.as_deref(),
        Some("https://mmg.whatsapp.net/v/t62/abc.enc")
    );
    assert_eq!(d.direct_path.as_deref(), Some("/v/t62/abc.enc"));
    assert_eq!(d.mimetype.as_deref(), Some("image/jpeg"));
    assert_eq!(d.file_sha256.as_deref(), Some(&[0xa1; 32][..]));
    assert_eq!(d.file_enc_sha256.as_deref(), Some(&[0xa2; 32][..]));
    assert_eq!(
        d.media_key.as_ref().map(|k| k.as_bytes()),
        Some(&[0xa3; 32][..])
    );
    assert_eq!(d.media_key_timestamp, Some(1_733_000_000));
    assert_eq!(d.file_length, Some(123_456));
    assert_eq!((d.width, d.height), (Some(480), Some(640)));
    assert_eq!(d.thumbnail.as_deref(), Some(&[0xff; 8][..]));
    assert_eq!(content("image").text(), Some("a picture"));
}

#[test]
fn video_audio_document_sticker() {
    let gif = media("gif");
    assert_eq!(gif.kind, MediaKind::Video { gif_playback: true });
    assert_eq!(gif.descriptor.seconds, Some(3));
    assert_eq!(gif.descriptor.mimetype.as_deref(), Some("video/mp4"));

    let voice = media("voice_note");
    assert_eq!(voice.kind, MediaKind::Audio { voice_note: true });
    assert_eq!(voice.descriptor.seconds, Some(7));
    assert_eq!(voice.descriptor.file_length, Some(4096));

    let document = content("document_with_caption");
    assert_eq!(document.text(), Some("the report"));
    let Kind::Media(document) = document.kind else {
        panic!("a document");
    };
    assert_eq!(
        document.kind,
        MediaKind::Document {
            file_name: Some("report.pdf".into()),
            page_count: Some(12)
        }
    );
    assert_eq!(
        document.descriptor.mimetype.as_deref(),
        Some("application/pdf")
    );

    let sticker = media("sticker");
    assert_eq!(sticker.kind, MediaKind::Sticker { animated: true });
    assert_eq!(sticker.descriptor.width, Some(512));
}

#[test]
fn reactions() {
    let Kind::Reaction(reaction) = content("reaction").kind else {
        panic!("a reaction");
    };
    assert_eq!(reaction.emoji.as_deref(), Some("👍"));
    assert_eq!(reaction.target.id, "3EB0REACTED");
    assert_eq!(reaction.target.chat.as_deref(), Some(GROUP));
    assert!(reaction.target.from_me);
    assert_eq!(reaction.target.participant.as_deref(), Some(BOB));
    assert_eq!(reaction.sender_timestamp_ms, Some(1_733_000_000_123));

    let Kind::Reaction(removed) = content("reaction_removed").kind else {
        panic!("a reaction");
    };
    assert_eq!(removed.emoji, None);
    assert!(!removed.target.from_me);
}

#[test]
fn protocol_messages() {
    let Kind::Protocol(Protocol::Revoke { target }) = content("revoke").kind else {
        panic!("a revoke");
    };
    assert_eq!(
        (target.id.as_str(), target.chat.as_deref()),
        ("3EB0GONE", Some(BOB))
    );

    assert_eq!(
        content("ephemeral_setting").kind,
        Kind::Protocol(Protocol::EphemeralSetting {
            expiration_seconds: 604_800
        })
    );

    let Kind::Protocol(Protocol::HistorySyncNotification(sync)) = content("history_sync").kind
    else {
        panic!("a history sync notification");
    };
    assert_eq!(sync.sync_type, Some(3));
    assert_eq!((sync.chunk_order, sync.progress), (Some(1), Some(50)));
    assert_eq!(sync.original_message_id.as_deref(), Some("3EB0HIST"));
    assert_eq!(
        sync.descriptor.direct_path.as_deref(),
        Some("/v/t62/history.enc")
    );
    assert_eq!(sync.descriptor.file_length, Some(777));
    assert_eq!(
        sync.descriptor.media_key.as_ref().map(|k| k.as_bytes()),
        Some(&[0xb2; 32][..])
    );

    let Kind::Protocol(Protocol::AppStateSyncKeyShare(keys)) = content("app_state_key_share").kind
    else {
        panic!("a key share");
    };
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, [0, 0, 0, 1, 0, 1]);
    assert_eq!(keys[0].data.as_bytes(), [0xc1; 32]);
    assert_eq!(keys[0].timestamp, Some(1_733_000_000_456));
    let fingerprint = keys[0].fingerprint.as_ref().expect("fingerprint");
    assert_eq!(
        (fingerprint.raw_id, fingerprint.current_index),
        (Some(17), Some(1))
    );
    assert_eq!(fingerprint.device_indexes, [0, 1]);

    let edit = content("edit");
    assert_eq!(edit.text(), Some("fixed"));
    let Kind::Protocol(Protocol::Edit {
        target,
        timestamp_ms,
        ..
    }) = edit.kind
    else {
        panic!("an edit");
    };
    assert_eq!(target.id, "3EB0TYPO");
    assert_eq!(timestamp_ms, Some(1_733_000_000_789));
}

#[test]
fn a_sender_key_rides_alone() {
    let skdm = content("sender_key");
    assert_eq!(skdm.kind, Kind::Empty);
    // messageContextInfo.deviceListMetadata is not modelled; field 35 is.
    assert!(skdm.unmodelled_fields.is_empty());
    let carried = skdm.sender_key_distribution.expect("an SKDM");
    assert_eq!(carried.group_id, GROUP);
    let parsed = SenderKeyDistributionMessage::parse(&carried.distribution).expect("parses");
    assert_eq!((parsed.key_id(), parsed.iteration()), (7, 0));
    assert_eq!(parsed.chain_key().expose(), &[0x11; 32]);
    assert_eq!(parsed.signing_key().raw(), &[0x22; 32]);
}

#[test]
fn wrappers_are_opened() {
    let sent = content("device_sent");
    assert_eq!(sent.text(), Some("sent from the phone"));
    let Kind::DeviceSent {
        destination,
        message,
    } = sent.kind
    else {
        panic!("device sent");
    };
    assert_eq!(destination, BOB);
    assert!(matches!(message.kind, Kind::Text(_)));

    let ephemeral = content("ephemeral_text");
    assert_eq!(ephemeral.text(), Some("disappearing"));
    assert!(!ephemeral.view_once);

    let view_once = content("view_once_image");
    assert!(view_once.view_once);
    assert!(matches!(
        view_once.kind,
        Kind::Media(Media {
            kind: MediaKind::Image,
            ..
        })
    ));
}

#[test]
fn kinds_we_do_not_model_are_named() {
    let location = content("location");
    assert_eq!(location.kind, Kind::Empty);
    assert_eq!(location.unmodelled_fields, [5]);
    let poll = content("ephemeral_poll");
    assert_eq!(poll.kind, Kind::Empty);
    assert_eq!(poll.unmodelled_fields, [49]);
}

#[test]
fn garbage_is_a_typed_error() {
    let error = Content::decode(&[0x0a, 0x05, b'h']).expect_err("truncated");
    assert!(error.to_string().starts_with("Message: "), "{error}");
    assert!(Content::decode(&[0xff, 0xff, 0xff]).is_err());
}

#[test]
fn debug_shows_no_text_keys_or_numbers() {
    for name in [
        "reply",
        "image",
        "app_state_key_share",
        "sender_key",
        "device_sent",
        "reaction",
    ] {
        let shown = format!("{:?}", content(name));
        for secret in [
            "look",
            "original",
            "picture",
            "491556",
            "a3a3a3",
            "[163, 163",
            "c1c1",
            "[193, 193",
            "sent from",
            "👍",
            "[17, 17, 17",
        ] {
            assert!(!shown.contains(secret), "{name} shows {secret}: {shown}");
        }
    }
    // The raw protobuf types are opaque too.
    let message = <blacksky_proto::wa::Message as blacksky_proto::Message>::decode(
        fixture("image").as_slice(),
    )
    .expect("decode");
    let shown = format!("{message:?} {:?}", message.image_message);
    assert!(
        !shown.contains("picture") && !shown.contains("163"),
        "{shown}"
    );
}

mod properties {
    use blacksky_core::message::content::Content;
    use blacksky_proto::Message as _;
    use blacksky_proto::wa;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_reads_back(body in ".{0,200}", extended: bool) {
            let message = if extended {
                wa::Message {
                    extended_text_message: Some(Box::new(wa::message::ExtendedTextMessage {
                        text: Some(body.clone()),
                        ..Default::default()
                    })),
                    ..Default::default()
                }
            } else {
                wa::Message { conversation: Some(body.clone()), ..Default::default() }
            };
            let content = Content::decode(&message.encode_to_vec()).expect("decode");
            prop_assert_eq!(content.text(), Some(body.as_str()));
        }

        #[test]
        fn any_bytes_decode_or_refuse_without_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            if let Ok(content) = Content::decode(&bytes) {
                let _ = format!("{content:?}");
            }
        }
    }
}
