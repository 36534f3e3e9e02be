//! `sticker`: the image replied to (or sent with `.sticker` as its
//! caption) as a 512×512 WebP sticker of the bot's pack. The shell
//! downloads and converts it (a media effect); what it cannot read or
//! what is too large gets the answer stored here, in the chat's language.

use blacksky_core::message::content::{Kind, Media, MediaKind};

use crate::commands::{Call, Category, Command, Cooldown, Spec};
use crate::{Action, Context, MediaSpec, ReceivedFile, Reply};

/// The pack name stickers carry.
pub const STICKER_PACK: &str = "blacksky";
/// The largest image made into a sticker (WhatsApp sends photos
/// compressed far below this).
pub const STICKER_SOURCE_BYTES_MAX: u64 = 8 * 1024 * 1024;

#[derive(Debug)]
pub struct Sticker;

const SPEC: Spec = Spec {
    aliases: &["s", "stiker"],
    cooldown: Cooldown::PerChatPerMinute(4),
    ..Spec::new("sticker", Category::Fun, "sticker.help", "sticker.usage")
};

impl Command for Sticker {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, call: &Call<'_>, ctx: &mut Context) {
        let Some(media) = image_of(call) else {
            return call.answer(ctx, "sticker.no_image", &[]);
        };
        if media.kind != MediaKind::Image {
            return call.answer(ctx, "sticker.not_image", &[]);
        }
        let too_large = || {
            let max = crate::commands::format::megabytes(STICKER_SOURCE_BYTES_MAX);
            call.render("sticker.too_large", &[("max", &max)])
        };
        if media
            .descriptor
            .file_length
            .is_some_and(|len| len > STICKER_SOURCE_BYTES_MAX)
        {
            return ctx.reply(Reply::text(too_large()).quoting());
        }
        let Some(file) = ReceivedFile::of(media) else {
            return call.answer(ctx, "sticker.unreadable", &[]);
        };
        ctx.perform(Action::Media {
            to: call.chat(),
            media: Box::new(MediaSpec::sticker_from(file, STICKER_PACK)),
            caption: Reply::text(String::new()),
            unusable: Some(Reply::text(call.text("sticker.unreadable"))),
        });
    }
}

/// The message's own media (an image sent with `.sticker` as caption),
/// else the media of the message it replies to.
fn image_of<'a>(call: &'a Call<'_>) -> Option<&'a Media> {
    let content = &call.message.content;
    if let Kind::Media(media) = &content.kind {
        return Some(media);
    }
    content
        .context()
        .and_then(|context| context.quoted.as_ref())
        .and_then(|quoted| quoted.media.as_deref())
}
