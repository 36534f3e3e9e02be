//! The shell's media transfer (`blacksky_io::media`) against fake-wa's
//! media host over real sockets, `WA_MEDIA_URL` pointing at it: uploads
//! stream and land, downloads come back verified (into memory or a file),
//! `media_conn` is asked once per ttl and again when its auth is refused,
//! failures are retried a bounded number of times on the next location,
//! and a blob that fails its checks is refused without leaving a file.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use blacksky_bot::reactions::Reaction;
use blacksky_core::media::{DownloadPlan, MediaConn, MediaDecryptError, MediaType};
use blacksky_core::message::content::MediaKey;
use blacksky_core::time::UnixMillis;
use blacksky_io::media::{
    MediaBaseUrl, MediaClient, MediaConnSource, MediaSource, MediaTransferConfig,
    MediaTransferError,
};
use blacksky_sim::net::FakeWa;
use blacksky_sim::server::{FakeServer, ServerConfig};

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);

/// fake-wa on free ports and a client whose `media_conn` asks it (and
/// counts the asking).
async fn setup() -> (FakeWa, MediaClient<impl MediaConnSource>, Arc<AtomicU32>) {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let fake = FakeWa::start(FakeServer::new(ServerConfig::new(WALL), 5), any, any)
        .await
        .expect("bind");
    let fetches = Arc::new(AtomicU32::new(0));
    let source = {
        let fake = fake.clone();
        let fetches = fetches.clone();
        move || {
            fetches.fetch_add(1, Ordering::SeqCst);
            let auth = fake.with_server(|s| s.media_auth());
            async move {
                Ok::<_, String>(MediaConn {
                    auth,
                    ttl: Duration::from_secs(300),
                    hosts: vec!["mmg.whatsapp.net".into()],
                })
            }
        }
    };
    let config = MediaTransferConfig {
        base_url_override: Some(MediaBaseUrl::parse(&fake.media_url()).expect("a base URL")),
        retry_delay: Duration::from_millis(10),
        chunk_bytes: 16 * 1024,
        ..MediaTransferConfig::default()
    };
    let client = MediaClient::new(source, config).expect("TLS set up");
    (fake, client, fetches)
}

fn key(byte: u8) -> MediaKey {
    MediaKey::from_bytes(vec![byte; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_clip_uploads_and_downloads_back_verified() {
    let (fake, client, fetches) = setup().await;
    let clip = Reaction::find("hug").expect("hug").mp4;
    let uploaded = client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(1))
        .await
        .expect("uploaded");
    assert_eq!(uploaded.encrypted.file_length, clip.len() as u64);
    assert!(uploaded.blob.url.starts_with(&fake.media_url()));
    let descriptor = uploaded.descriptor(1_750_000_000);
    let plan = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect("complete");
    let back = client
        .download_to_vec(&plan, 1 << 20)
        .await
        .expect("downloaded");
    assert_eq!(back, clip);
    // One media_conn for both.
    client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(2))
        .await
        .expect("second upload");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "media_conn kept for its ttl"
    );
    let stats = fake.with_server(|s| s.media_stats());
    assert_eq!((stats.uploads, stats.downloads), (2, 1));

    // Over the cap: refused as it arrives.
    let err = client
        .download_to_vec(&plan, 100)
        .await
        .expect_err("too big");
    assert!(
        matches!(
            err,
            MediaTransferError::Verify {
                source: MediaDecryptError::BlobTooLarge { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_streams_up_and_down_and_only_a_verified_one_keeps_its_name() {
    let (_fake, client, _) = setup().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("video.mp4");
    let plaintext: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&input, &plaintext).expect("written");
    let uploaded = client
        .upload(MediaType::Video, &MediaSource::File(input), key(3))
        .await
        .expect("uploaded");
    let descriptor = uploaded.descriptor(1_750_000_000);
    let plan = DownloadPlan::from_descriptor(&descriptor, MediaType::Video).expect("complete");

    let output = dir.path().join("back.mp4");
    let length = client
        .download_to_file(&plan, &output, 10 << 20)
        .await
        .expect("downloaded");
    assert_eq!(length, plaintext.len() as u64);
    assert_eq!(std::fs::read(&output).expect("there"), plaintext);
    assert!(!dir.path().join("back.mp4.part").exists());

    // A wrong fileSha256: refused by name, and no file is left.
    let mut wrong = plan.clone();
    wrong.expected.file_sha256[0] ^= 1;
    let refused = dir.path().join("refused.mp4");
    let err = client
        .download_to_file(&wrong, &refused, 10 << 20)
        .await
        .expect_err("wrong hash");
    assert!(
        matches!(
            err,
            MediaTransferError::Verify {
                source: MediaDecryptError::FileSha256Mismatch,
                ..
            }
        ),
        "{err}"
    );
    assert!(!refused.exists());
    assert!(!dir.path().join("refused.mp4.part").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_auth_asks_media_conn_again_and_failures_are_retried_within_bounds() {
    let (fake, client, fetches) = setup().await;
    let clip = Reaction::find("bonk").expect("bonk").mp4;
    client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(4))
        .await
        .expect("uploaded");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    fake.with_server(|s| s.rotate_media_auth());
    client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(5))
        .await
        .expect("uploaded after a refresh");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "asked again after the 401"
    );

    // Two 503s, then through (4 attempts allowed).
    fake.with_server(|s| s.fail_media_requests(2));
    let uploaded = client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(6))
        .await
        .expect("through on the third attempt");

    // Always failing: gives up after attempts_max, naming the last failure.
    fake.with_server(|s| s.fail_media_requests(100));
    let err = client
        .upload(MediaType::Gif, &MediaSource::from_static(clip), key(7))
        .await
        .expect_err("gives up");
    match err {
        MediaTransferError::AttemptsExhausted { attempts, last } => {
            assert_eq!(attempts, 4);
            assert!(
                matches!(*last, MediaTransferError::Status { status: 503, .. }),
                "{last}"
            );
            assert!(
                !last.to_string().contains("auth="),
                "no query in errors: {last}"
            );
        }
        other => panic!("expected AttemptsExhausted, got {other}"),
    }
    fake.with_server(|s| s.fail_media_requests(0));

    // A url that is gone: the direct path is tried next.
    let mut descriptor = uploaded.descriptor(1_750_000_000);
    descriptor.url = Some("https://mmg.whatsapp.net/v/t62.7118-24/gone.enc?x=1".into());
    let plan = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect("complete");
    let back = client
        .download_to_vec(&plan, 1 << 20)
        .await
        .expect("by direct path");
    assert_eq!(back, clip);
}

/// A media effect performed: the clip uploaded, then the writes of one
/// commit (the upload kept, the GIF message under an id derived from the
/// effect's, the done mark); performed again with the kept upload found,
/// no second upload and the same message id. A received image made into
/// a sticker downloads, converts and uploads as a WebP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_effect_gives_one_commit_and_reuses_its_upload() {
    use blacksky_bot::{Jid, MediaSpec, Reply};
    use blacksky_core::session::{MediaUpload, Write};
    use blacksky_io::media::{Clips, MediaJob, MediaSender};
    use blacksky_proto::Message as _;

    let (fake, client, _) = setup().await;
    let sender = MediaSender::new(client, Clips::Shipped);
    let job = MediaJob {
        effect_id: "MSG1:e0".into(),
        to: Jid::new("4915112345678", "s.whatsapp.net"),
        media: MediaSpec::reaction_clip("hug"),
        caption: Reply::text("*Ana hugs Ben*"),
        unusable: None,
    };
    let uploads = || fake.with_server(|s| s.media_stats().uploads);
    let first = sender
        .perform(&job, |_, _| async { None }, WALL)
        .await
        .expect("performed");
    assert_eq!(uploads(), 1);
    let [
        Write::MediaUploaded(kept),
        Write::Queued { outbox, .. },
        Write::EffectDone { id, .. },
    ] = first.as_slice()
    else {
        panic!("one commit's writes: {first:?}");
    };
    assert_eq!(id, "MSG1:e0");
    assert_eq!(kept.media_type, "gif");
    let message = blacksky_proto::wa::Message::decode(outbox[0].message.as_slice()).expect("proto");
    let video = message.video_message.expect("a video");
    assert_eq!(video.gif_playback, Some(true));
    assert_eq!(video.caption.as_deref(), Some("*Ana hugs Ben*"));
    // What a recipient's phone would check, as fake-wa checks it.
    let content = blacksky_core::message::Content::from_message(&blacksky_proto::wa::Message {
        video_message: Some(video),
        ..Default::default()
    });
    let blacksky_core::message::Kind::Media(media) = content.kind else {
        panic!("media");
    };
    let plan = DownloadPlan::from_descriptor(&media.descriptor, MediaType::Gif).expect("complete");
    let back = sender
        .client()
        .download_to_vec(&plan, 1 << 20)
        .await
        .expect("verified");
    assert_eq!(back, Reaction::find("hug").expect("hug").mp4);

    // Again, the kept upload found: no upload, the same message id.
    let kept: MediaUpload = kept.clone();
    let again = sender
        .perform(
            &job,
            |sha, media_type| {
                let kept = kept.clone();
                async move { (sha == kept.file_sha256 && media_type == "gif").then_some(kept) }
            },
            UnixMillis(WALL.as_millis() + 60_000),
        )
        .await
        .expect("performed");
    assert_eq!(uploads(), 1, "no second upload");
    let [
        Write::Queued { outbox: again, .. },
        Write::EffectDone { .. },
    ] = again.as_slice()
    else {
        panic!("no upload kept twice: {again:?}");
    };
    assert_eq!(again[0].id, outbox[0].id);
}
