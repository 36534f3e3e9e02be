//! fake-wa's media host: uploads are checked as WhatsApp's host checks
//! them (auth, type, token = the blob's hash), blobs download back by
//! direct path or url, and a media message the real client sends is
//! fetched and checked for each recipient (hashes, MAC, length, the MP4 or
//! WebP inside), a failure recorded as a `bad_media` violation naming the
//! check.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use blacksky_core::client::Input;
use blacksky_core::media::{
    EncryptedMedia, MediaKeys, MediaType, UploadedBlob, encrypt_media, upload_token,
    uploaded_descriptor,
};
use blacksky_core::message::content::{MediaKey, MediaKind};
use blacksky_core::session::Outbound;
use blacksky_core::time::UnixMillis;
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use blacksky_sim::net::FakeWa;
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{
    ConnId, FakeServer, GroupAddressing, MediaCheck, MediaHostError, NewGroup, Rank, ServerConfig,
    ViolationKind,
};

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";

/// A tiny MP4 head: an `ftyp` box, then filler.
fn mp4(len: usize) -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    bytes.extend((0..len).map(|i| (i % 251) as u8));
    bytes
}

/// A WebP head: `RIFF <size> WEBP`, then filler.
fn webp(len: usize) -> Vec<u8> {
    let mut bytes = b"RIFF\x20\0\0\0WEBPVP8 ".to_vec();
    bytes.extend((0..len).map(|i| (i % 13) as u8));
    bytes
}

/// Encrypts `plaintext` as `media_type` under a key made of `key_byte`.
fn encrypted(
    media_type: MediaType,
    plaintext: &[u8],
    key_byte: u8,
) -> (MediaKey, Vec<u8>, EncryptedMedia) {
    let key = MediaKey::from_bytes(vec![key_byte; 32]);
    let keys = MediaKeys::expand(&key, media_type).expect("32 bytes");
    let (blob, summary) = encrypt_media(&keys, plaintext);
    (key, blob, summary)
}

/// Uploads `blob` as the client would, under `/mms/<mms_type>`.
fn upload(server: &mut FakeServer, mms_type: &str, blob: &[u8]) -> UploadedBlob {
    let hash: [u8; 32] = sha256(blob);
    let token = upload_token(&hash);
    let auth = server.media_auth();
    let answer = server
        .media_upload(mms_type, &token, &auth, &token, blob.to_vec())
        .expect("the host takes it");
    UploadedBlob {
        url: answer.url,
        direct_path: answer.direct_path,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// A message carrying `descriptor` as `media_type`, as the bot makes it.
fn media_message(
    media_type: MediaType,
    descriptor: &blacksky_core::message::content::MediaDescriptor,
) -> wa::Message {
    let kind = match media_type {
        MediaType::Gif => MediaKind::Video { gif_playback: true },
        MediaType::Video => MediaKind::Video {
            gif_playback: false,
        },
        MediaType::Sticker => MediaKind::Sticker { animated: false },
        MediaType::Image => MediaKind::Image,
        other => panic!("no message built for {other:?} here"),
    };
    blacksky_bot::media_message::media_message(
        &kind,
        descriptor.clone(),
        Some("Ana hugs Ben".into()),
        None,
    )
}

/// Encrypts, uploads (as `mms_type`) and describes `plaintext`.
fn uploaded_message(
    server: &mut FakeServer,
    media_type: MediaType,
    mms_type: &str,
    plaintext: &[u8],
) -> (
    blacksky_core::message::content::MediaDescriptor,
    wa::Message,
) {
    let (key, blob, summary) = encrypted(media_type, plaintext, 7);
    let where_ = upload(server, mms_type, &blob);
    let descriptor = uploaded_descriptor(key, &summary, where_, 1_750_000_000);
    let message = media_message(media_type, &descriptor);
    (descriptor, message)
}

fn send(pipe: &mut Pipe, conn: ConnId, id: &str, message: &wa::Message) {
    send_to(
        pipe,
        conn,
        &format!("{CONTACT}@s.whatsapp.net"),
        id,
        message,
    );
}

fn send_to(pipe: &mut Pipe, conn: ConnId, to: &str, id: &str, message: &wa::Message) {
    let row = Outbound {
        id: id.to_owned(),
        to: to.to_owned(),
        message: message.encode_to_vec(),
        stanza: None,
    };
    pipe.link_mut(conn)
        .client
        .handle_input(
            Instant::now(),
            Input::Outbound {
                rows: vec![row],
                wall: WALL,
            },
        )
        .expect("taken");
    pipe.run();
}

fn bad_media_checks(server: &FakeServer, id: &str) -> Vec<MediaCheck> {
    server
        .violations()
        .into_iter()
        .filter(|v| v.id == id)
        .filter_map(|v| match v.kind {
            ViolationKind::BadMedia { check, .. } => Some(check),
            _ => None,
        })
        .collect()
}

#[test]
fn uploads_are_checked_like_whatsapps_host_and_download_back() {
    let mut server = FakeServer::new(ServerConfig::new(WALL), 1);
    let (_, blob, _) = encrypted(MediaType::Gif, &mp4(100), 1);
    let token = upload_token(&sha256(&blob));
    let auth = server.media_auth();

    let refused = |server: &mut FakeServer,
                   mms: &str,
                   path_token: &str,
                   auth: &str,
                   query_token: &str,
                   body: Vec<u8>| {
        server
            .media_upload(mms, path_token, auth, query_token, body)
            .expect_err("refused")
    };
    assert_eq!(
        refused(
            &mut server,
            "video",
            &token,
            "not-the-auth",
            &token,
            blob.clone()
        ),
        MediaHostError::BadAuth
    );
    assert_eq!(
        refused(&mut server, "gif", &token, &auth, &token, blob.clone()),
        MediaHostError::UnknownType {
            mms_type: "gif".into()
        }
    );
    assert_eq!(
        refused(&mut server, "video", &token, &auth, "other", blob.clone()),
        MediaHostError::TokensDiffer
    );
    let mut altered = blob.clone();
    altered[0] ^= 1;
    assert_eq!(
        refused(&mut server, "video", &token, &auth, &token, altered),
        MediaHostError::TokenNotBlobHash
    );
    assert_eq!(
        refused(&mut server, "video", &token, &auth, &token, Vec::new()),
        MediaHostError::EmptyBody
    );
    assert_eq!(server.media_stats().uploads, 0);

    let answer = server
        .media_upload("video", &token, &auth, &token, blob.clone())
        .expect("taken");
    assert!(answer.direct_path.starts_with("/v/"), "{answer:?}");
    assert!(
        answer.url.starts_with("https://mmg.whatsapp.net/v/"),
        "{answer:?}"
    );
    assert_eq!(
        server.media_download(&answer.direct_path).expect("by path"),
        blob
    );
    assert_eq!(server.media_download(&answer.url).expect("by url"), blob);
    let missing = server
        .media_download("/v/t62.7118-24/nothing.enc")
        .expect_err("none");
    assert_eq!(missing.status(), 404);

    // whatsmeow pads its token; the host takes both.
    let padded = format!("{token}=");
    server
        .media_upload("video", &padded, &auth, &padded, blob.clone())
        .expect("padded token");

    // A new auth: the old one is refused.
    server.rotate_media_auth();
    assert_ne!(server.media_auth(), auth);
    assert_eq!(
        refused(&mut server, "video", &token, &auth, &token, blob.clone()),
        MediaHostError::BadAuth
    );

    // Injected failures: the next two requests, then normal again.
    server.fail_media_requests(2);
    assert_eq!(
        server
            .media_download(&answer.direct_path)
            .expect_err("503")
            .status(),
        503
    );
    let auth = server.media_auth();
    assert_eq!(
        refused(&mut server, "video", &token, &auth, &token, blob.clone()).status(),
        503
    );
    assert_eq!(
        server.media_download(&answer.direct_path).expect("back"),
        blob
    );
}

#[test]
fn a_gif_the_bot_sends_is_fetched_checked_and_read_as_an_mp4_by_every_device() {
    let (mut pipe, conn) = Pipe::online(1, WALL);
    pipe.server
        .set_contact_devices(CONTACT, &[0, 3])
        .expect("devices");
    // The shipped hug clip, as a reaction command sends it.
    let plaintext = blacksky_bot::reactions::Reaction::find("hug")
        .expect("hug ships")
        .mp4
        .to_vec();
    let (_, message) = uploaded_message(&mut pipe.server, MediaType::Gif, "video", &plaintext);
    send(&mut pipe, conn, "3EB0000000000000000M01", &message);

    assert_eq!(pipe.server.violations(), [], "nothing to object to");
    let read = pipe.server.received_texts(CONTACT);
    assert_eq!(read.len(), 2, "both devices read it: {read:?}");
    for received in &read {
        let media = received.media.as_ref().expect("checked media");
        assert_eq!(media.media_type, "gif");
        assert_eq!(media.file_length, plaintext.len() as u64);
        assert_eq!(media.file_sha256, hex::encode(sha256(&plaintext)));
        assert_eq!(media.caption_len, "Ana hugs Ben".len());
    }
    // Our phone's device-sent copy carries the same media.
    let own = pipe
        .server
        .received_texts(blacksky_sim::server::DEFAULT_PHONE);
    assert!(own.iter().any(|r| r.media.is_some()), "{own:?}");
    let check = pipe
        .server
        .media_check("3EB0000000000000000M01")
        .expect("checked");
    assert_eq!(check.expect("passed").media_type, "gif");
}

#[test]
fn media_the_bot_sends_to_a_group_is_checked_for_every_member_device() {
    const OTHER: &str = "4915100000002";
    let (mut pipe, conn) = Pipe::online(3, WALL);
    pipe.server
        .set_contact_devices(CONTACT, &[0, 3])
        .expect("devices");
    let group = pipe
        .server
        .create_group(&NewGroup {
            id: Some("120363000000000777".to_owned()),
            subject: "media".to_owned(),
            creator: CONTACT.to_owned(),
            admins: Vec::new(),
            members: vec![OTHER.to_owned()],
            bot: Some(Rank::Member),
            addressing: GroupAddressing::Pn,
        })
        .expect("made");
    pipe.run();
    let to = format!("{group}@g.us");
    let clip = blacksky_bot::reactions::Reaction::find("hug")
        .expect("hug ships")
        .mp4
        .to_vec();
    let (_, gif) = uploaded_message(&mut pipe.server, MediaType::Gif, "video", &clip);
    send_to(&mut pipe, conn, &to, "3EB0000000000000000G01", &gif);
    assert_eq!(pipe.server.violations(), [], "nothing to object to");
    for phone in [CONTACT, OTHER] {
        let read = pipe.server.received_texts(phone);
        assert!(!read.is_empty(), "{phone} read it");
        for received in &read {
            assert_eq!(received.group.as_deref(), Some(group.as_str()));
            let media = received.media.as_ref().expect("checked media");
            assert_eq!(media.media_type, "gif");
            assert_eq!(media.file_sha256, hex::encode(sha256(&clip)));
        }
    }
    assert_eq!(
        pipe.server.received_texts(CONTACT).len(),
        2,
        "both of the contact's devices"
    );

    // A sticker whose file is an MP4 is caught in a group as in a chat.
    let (_, sticker) = uploaded_message(&mut pipe.server, MediaType::Sticker, "image", &mp4(64));
    send_to(&mut pipe, conn, &to, "3EB0000000000000000G02", &sticker);
    assert_eq!(
        bad_media_checks(&pipe.server, "3EB0000000000000000G02"),
        [MediaCheck::Container],
        "one violation, however many members read it"
    );
}

#[test]
fn a_sticker_must_be_a_webp_and_a_video_an_mp4() {
    let (mut pipe, conn) = Pipe::online(2, WALL);
    let (_, sticker) = uploaded_message(&mut pipe.server, MediaType::Sticker, "image", &webp(300));
    send(&mut pipe, conn, "3EB00000000000000000S1", &sticker);
    assert_eq!(bad_media_checks(&pipe.server, "3EB00000000000000000S1"), []);
    let read = pipe.server.received_texts(CONTACT);
    assert_eq!(
        read[0].media.as_ref().map(|m| m.media_type.as_str()),
        Some("sticker")
    );

    let (_, png_sticker) = uploaded_message(
        &mut pipe.server,
        MediaType::Sticker,
        "image",
        b"\x89PNG\r\n\x1a\n0000",
    );
    send(&mut pipe, conn, "3EB00000000000000000S2", &png_sticker);
    assert_eq!(
        bad_media_checks(&pipe.server, "3EB00000000000000000S2"),
        [MediaCheck::Container]
    );

    let (_, webm) = uploaded_message(
        &mut pipe.server,
        MediaType::Video,
        "video",
        b"\x1a\x45\xdf\xa3webm....",
    );
    send(&mut pipe, conn, "3EB00000000000000000V1", &webm);
    assert_eq!(
        bad_media_checks(&pipe.server, "3EB00000000000000000V1"),
        [MediaCheck::Container]
    );
}

/// Each fault of the message or the blob fails its own check, once per
/// message however many devices read it.
#[test]
fn each_broken_media_message_is_one_violation_naming_its_check() {
    let (mut pipe, conn) = Pipe::online(3, WALL);
    pipe.server
        .set_contact_devices(CONTACT, &[0, 3])
        .expect("devices");
    type Break = fn(&mut blacksky_core::message::content::MediaDescriptor);
    let cases: [(&str, Break, MediaCheck); 6] = [
        (
            "3EB0000000000000000B01",
            |d| d.file_sha256.as_mut().expect("set")[0] ^= 1,
            MediaCheck::FileSha256,
        ),
        (
            "3EB0000000000000000B02",
            |d| d.file_enc_sha256.as_mut().expect("set")[0] ^= 1,
            MediaCheck::FileEncSha256,
        ),
        (
            "3EB0000000000000000B03",
            |d| d.media_key = Some(MediaKey::from_bytes(vec![9; 32])),
            MediaCheck::Mac,
        ),
        (
            "3EB0000000000000000B04",
            |d| d.file_length = Some(1),
            MediaCheck::FileLength,
        ),
        (
            "3EB0000000000000000B05",
            |d| d.direct_path = Some("/v/t62.7118-24/gone.enc".into()),
            MediaCheck::BlobMissing,
        ),
        (
            "3EB0000000000000000B06",
            |d| d.media_key = None,
            MediaCheck::Descriptor,
        ),
    ];
    for (id, break_it, check) in cases {
        let (mut descriptor, _) =
            uploaded_message(&mut pipe.server, MediaType::Gif, "video", &mp4(64));
        break_it(&mut descriptor);
        send(
            &mut pipe,
            conn,
            id,
            &media_message(MediaType::Gif, &descriptor),
        );
        assert_eq!(bad_media_checks(&pipe.server, id), [check], "{id}");
        let read = pipe.server.received_texts(CONTACT);
        assert!(
            read.iter()
                .filter(|r| r.id == id)
                .all(|r| r.media.is_none()),
            "{id}: failed media is not recorded as read media"
        );
    }

    // A GIF whose blob went up as an image: keys and path of another type.
    let (_, message) = uploaded_message(&mut pipe.server, MediaType::Gif, "image", &mp4(64));
    send(&mut pipe, conn, "3EB0000000000000000B07", &message);
    assert_eq!(
        bad_media_checks(&pipe.server, "3EB0000000000000000B07"),
        [MediaCheck::UploadType]
    );
    let violation = pipe
        .server
        .violations()
        .into_iter()
        .find(|v| v.id == "3EB0000000000000000B07")
        .expect("recorded");
    let json = serde_json::to_value(&violation).expect("JSON");
    assert_eq!(json["kind"], "bad_media");
    assert_eq!(json["check"], "upload_type");
}

/// A blocking HTTP/1.1 request with a binary body; status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("port");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: fake-wa\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("head");
    stream.write_all(body).expect("body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_port_takes_uploads_and_serves_them_over_http() {
    let server = FakeServer::new(ServerConfig::new(WALL), 4);
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let fake = FakeWa::start(server, any, any).await.expect("bind");
    let media = fake.media_addr;
    let control = fake.control_addr;
    let auth = fake.with_server(|s| s.media_auth());
    // A blob bigger than axum's default body limit (2 MB).
    let (_, blob, _) = encrypted(MediaType::Video, &mp4(3 << 20), 2);
    let token = upload_token(&sha256(&blob));
    let escaped: String = auth
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            b => char::from(b).to_string(),
        })
        .collect();
    let path = format!("/mms/video/{token}?auth={escaped}&token={token}");
    let sent = blob.clone();
    let (status, body) = tokio::task::spawn_blocking(move || http(media, "POST", &path, &sent))
        .await
        .expect("join");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let direct_path = answer["direct_path"]
        .as_str()
        .expect("direct_path")
        .to_owned();
    let url = answer["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&fake.media_url()),
        "{url} is served by the media port"
    );

    let (status, got) = tokio::task::spawn_blocking(move || http(media, "GET", &direct_path, b""))
        .await
        .expect("join");
    assert_eq!(status, 200);
    assert_eq!(got, blob);
    let url_path = url[fake.media_url().len()..].to_owned();
    let (status, got) = tokio::task::spawn_blocking(move || http(media, "GET", &url_path, b""))
        .await
        .expect("join");
    assert_eq!(status, 200);
    assert_eq!(got.len(), blob.len());

    let (status, body) = tokio::task::spawn_blocking(move || {
        http(media, "POST", "/mms/video/x?auth=wrong&token=x", b"abc")
    })
    .await
    .expect("join");
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(error["error"], "bad_auth");

    let (status, body) =
        tokio::task::spawn_blocking(move || http(control, "GET", "/media/stats", b""))
            .await
            .expect("join");
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(stats["uploads"], 1);
    assert_eq!(stats["downloads"], 2);
}
