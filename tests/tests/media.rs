//! Media end to end with the real binary: a reaction command in a 1:1
//! chat and in a group makes each recipient receive a GIF (an MP4 video
//! with `gifPlayback`) whose blob fake-wa's media host serves, and which
//! fake-wa downloaded, checked (`fileEncSha256`, the MAC, the padding,
//! `fileLength`, `fileSha256`) and opened as an MP4 for each recipient
//! (a failure would be a `bad_media` violation); the same clip sent again
//! is not uploaded again. And `.sticker`: a contact sends an image with
//! that caption and gets a WebP sticker back, checked the same way; what
//! is no image gets the answer that says so.

use std::time::{Duration, Instant};

use blacksky_bot::reactions::Reaction;
use blacksky_tests::{FakeWa, Proc, assert_no_violations, create_group, linked_bot};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const ALICE: &str = "4915112345678";
const BOB: &str = "4915187654321";

/// Waits until `phone`'s phone (device 0) read a message with media of
/// `media_type` (in `group`, or 1:1), not among `seen`; returns it.
fn wait_media(
    wa: &FakeWa,
    bot: &Proc,
    phone: &str,
    group: Option<&str>,
    media_type: &str,
    seen: &[String],
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let received = wa.get(&format!("/received?from={phone}"));
        let found = received.as_array().and_then(|all| {
            all.iter()
                .find(|m| {
                    m["device"] == 0
                        && m["group"].as_str() == group
                        && m["media"]["media_type"] == media_type
                        && !seen.iter().any(|id| m["id"] == id.as_str())
                })
                .cloned()
        });
        if let Some(message) = found {
            return message;
        }
        assert!(
            Instant::now() < deadline,
            "{phone} read no {media_type} in {group:?}: {received:#}\nviolations: {:#}\n{}",
            wa.get("/violations"),
            bot.transcript()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn uploads(wa: &FakeWa) -> u64 {
    wa.get("/media/stats")["uploads"].as_u64().expect("uploads")
}

#[test]
fn a_reaction_sends_a_gif_every_recipient_opens_in_a_chat_and_a_group() {
    let (wa, _home, bot) = linked_bot(&[("RATE_LIMIT_PER_MIN", "0")]);
    let hug = Reaction::find("hug").expect("hug ships");

    // 1:1: Alice hugs Bob.
    wa.post(&format!("/send?from={ALICE}"), &format!(".hug @{BOB}"));
    let gif = wait_media(&wa, &bot, ALICE, None, "gif", &[]);
    let media = &gif["media"];
    assert_eq!(media["mimetype"], "video/mp4");
    assert_eq!(media["file_sha256"], hug.sha256, "the shipped clip");
    assert_eq!(media["file_length"], hug.mp4.len());
    // "*<Alice's push name> hugs @<Bob>*"
    let caption_len = media["caption_len"].as_u64().expect("a caption") as usize;
    assert!(
        caption_len > format!(" hugs @{BOB}*").len() + 1,
        "the phrase as caption: {caption_len}"
    );
    assert_eq!(uploads(&wa), 1);

    // In a group: every member's phone opens it.
    let group = create_group(
        &wa,
        &json!({"subject": "reactions", "creator": ALICE, "members": [BOB], "bot": "member"}),
    );
    wa.post(&format!("/send?from={BOB}&group={group}"), ".wave");
    let wave = Reaction::find("wave").expect("wave ships");
    for member in [ALICE, BOB] {
        let read = wait_media(&wa, &bot, member, Some(&group), "gif", &[]);
        assert_eq!(read["media"]["file_sha256"], wave.sha256, "{member}");
    }
    assert_eq!(uploads(&wa), 2);

    // The hug clip again, in the group: sent from its kept upload.
    wa.post(&format!("/send?from={BOB}&group={group}"), ".hug");
    let first_gif = wait_media(&wa, &bot, ALICE, Some(&group), "gif", &[]);
    let again = wait_media(
        &wa,
        &bot,
        ALICE,
        Some(&group),
        "gif",
        &[first_gif["id"].as_str().expect("id").to_owned()],
    );
    assert_eq!(again["media"]["file_sha256"], hug.sha256);
    assert_eq!(uploads(&wa), 2, "no second upload of one file");
    assert_no_violations(&wa);
}

#[test]
fn sticker_turns_a_contacts_image_into_a_webp_sticker() {
    let (wa, _home, bot) = linked_bot(&[("RATE_LIMIT_PER_MIN", "0")]);
    let png = include_bytes!("red-40x20.png");
    let url = format!(
        "{}/send-image?from={ALICE}&caption=.sticker",
        wa.control_url
    );
    let response = ureq::post(&url)
        .send(&png[..])
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    assert_eq!(response.status(), 200);
    let sticker = wait_media(&wa, &bot, ALICE, None, "sticker", &[]);
    assert_eq!(sticker["media"]["mimetype"], "image/webp");
    assert!(
        sticker["media"]["file_length"].as_u64().expect("length") > 0,
        "{sticker:#}"
    );

    // Bytes that are no image: the answer says so.
    let url = format!(
        "{}/send-image?from={ALICE}&caption=.sticker",
        wa.control_url
    );
    ureq::post(&url)
        .send(&b"not a picture at all"[..])
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    let deadline = Instant::now() + WAIT;
    while !wa
        .get(&format!("/received?from={ALICE}"))
        .as_array()
        .expect("a list")
        .iter()
        .any(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("I could not read that image"))
        })
    {
        assert!(Instant::now() < deadline, "no answer\n{}", bot.transcript());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_no_violations(&wa);
}
