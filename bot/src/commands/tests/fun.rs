//! The reactions and `.sticker`: what each asks the shell to send.

use blacksky_core::message::content::{
    Context as MessageContext, Media, MediaDescriptor, MediaKey, MediaKind,
};

use super::*;
use crate::{MediaSource, MediaSpec, ReceivedFile, SendKind};

/// The one media effect `actions` hold.
fn media(actions: &[Action]) -> (&Jid, &MediaSpec, &crate::Reply, Option<&crate::Reply>) {
    let found: Vec<_> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Media {
                to,
                media,
                caption,
                unusable,
            } => Some((to, &**media, caption, unusable.as_ref())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "one media send: {actions:?}");
    found[0]
}

#[test]
fn a_reaction_at_someone_sends_its_clip_naming_both() {
    let fake = Fake::with_group(false);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &in_group(MEMBER, ".hug").mentioning(OTHER));
    assert_json_round_trips(&actions);
    let (to, spec, caption, _) = media(&actions);
    assert_eq!(to, &group_jid());
    assert_eq!(spec, &MediaSpec::reaction_clip("hug"));
    assert_eq!(spec.kind, SendKind::Gif);
    assert_eq!(caption.text, format!("*@{MEMBER} hugs @{OTHER}*"));
    assert_eq!(caption.mentions, [pn(MEMBER), pn(OTHER)]);

    // By reply, in German, in a 1:1 chat.
    let mut german = commands_with(&fake, Language::De, Settings::default());
    let actions = run(&mut german, &private(MEMBER, ".slap").quoting(OTHER));
    let (to, spec, caption, _) = media(&actions);
    assert_eq!(to, &pn(MEMBER));
    assert_eq!(
        spec.source,
        MediaSource::Clip {
            name: "slap".into()
        }
    );
    assert_eq!(caption.text, format!("*@{MEMBER} ohrfeigt @{OTHER}*"));
}

#[test]
fn a_reaction_alone_names_the_sender_and_kick_stays_the_admins() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = run(&mut bot, &private(MEMBER, ".cry"));
    let (_, _, caption, _) = media(&actions);
    assert!(
        caption.text.starts_with(&format!("*@{MEMBER} ")),
        "{caption:?}"
    );
    assert!(!caption.text.contains("{b}"));
    // `kick` is a clip too, but the name is the group admins' command.
    let actions = run(&mut bot, &in_group(ADMIN, ".kick").mentioning(MEMBER));
    assert!(
        actions.iter().all(|a| !matches!(a, Action::Media { .. })),
        "{actions:?}"
    );
    let count = builtin::all()
        .iter()
        .filter(|c| c.spec().category == Category::Fun && c.spec().name != "sticker")
        .count();
    assert!(count >= 24, "{count} reactions");
    // They share one line of the menu.
    let menu = answer(&mut bot, &private(MEMBER, ".menu"));
    let line = menu
        .lines()
        .find(|l| l.starts_with(".hug "))
        .expect("a reactions line");
    assert!(
        line.contains(".kiss") && line.contains(" — A reaction GIF"),
        "{line}"
    );
    let help = answer(&mut bot, &private(MEMBER, ".help wave"));
    assert!(help.starts_with(".wave [@someone]"), "{help}");
}

fn image(file_length: u64) -> Media {
    Media {
        kind: MediaKind::Image,
        descriptor: MediaDescriptor {
            url: Some("https://mmg.whatsapp.net/v/t62/1.enc".into()),
            direct_path: Some("/v/t62/1.enc".into()),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![2; 32]),
            file_length: Some(file_length),
            media_key: Some(MediaKey::from_bytes(vec![3; 32])),
            ..MediaDescriptor::default()
        },
        caption: Some(".sticker".into()),
        context: MessageContext::default(),
    }
}

/// `.sticker` as an image's caption.
fn sticker_run(bot: &mut Commands, media: Media) -> Vec<Action> {
    let mut incoming = private(MEMBER, ".sticker").incoming();
    incoming.content.kind = Kind::Media(media);
    let mut ctx = Context::new(&incoming, NOW);
    bot.on_message(&incoming, &mut ctx);
    ctx.into_actions()
}

#[test]
fn sticker_takes_the_image_it_captions_or_replies_to() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let actions = sticker_run(&mut bot, image(20_000));
    assert_json_round_trips(&actions);
    let (to, spec, _, unusable) = media(&actions);
    assert_eq!(to, &pn(MEMBER));
    let file = ReceivedFile::of(&image(20_000)).expect("file");
    assert_eq!(spec, &MediaSpec::sticker_from(file, "blacksky"));
    assert!(unusable.is_some_and(|r| r.text.contains("could not read")));

    // In reply to an image.
    let mut incoming = private(MEMBER, ".sticker").incoming();
    if let Kind::Text(text) = &mut incoming.content.kind {
        text.context.quoted = Some(Quoted {
            id: "3EB0IMAGE".into(),
            sender: None,
            chat: None,
            text: None,
            media: Some(Box::new(image(20_000))),
        });
    }
    let mut ctx = Context::new(&incoming, NOW);
    bot.on_message(&incoming, &mut ctx);
    let actions = ctx.into_actions();
    let (_, spec, _, _) = media(&actions);
    assert!(matches!(spec.kind, SendKind::Sticker { .. }));
}

#[test]
fn sticker_without_an_image_or_with_a_large_one_says_why() {
    let fake = Fake::with_group(true);
    let mut bot = commands(&fake);
    let text = answer(&mut bot, &private(MEMBER, ".sticker"));
    assert!(text.starts_with("Reply to an image"), "{text}");
    let actions = sticker_run(&mut bot, image(50 * 1024 * 1024));
    assert_eq!(
        texts(&actions),
        ["That image is too large for a sticker: at most 8.0 MB."]
    );
    let mut video = image(1_000);
    video.kind = MediaKind::Video {
        gif_playback: false,
    };
    let actions = sticker_run(&mut bot, video);
    assert_eq!(texts(&actions), ["Only images can become stickers."]);
    let mut german = commands_with(&fake, Language::De, Settings::default());
    let text = answer(&mut german, &private(MEMBER, ".sticker"));
    assert!(text.starts_with("Antworte"), "{text}");
}
