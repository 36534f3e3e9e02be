//! A 16 MB video through the shell's media transfer costs the process
//! little memory: the upload reads its file twice in 64 KiB pieces and the
//! download decrypts as it arrives into a file. fake-wa runs as its own
//! process (its store holds the blob, not ours); this file has one test so
//! the process's peak RSS (`VmHWM`) is this transfer's alone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use blacksky_core::media::{DownloadPlan, MediaConn, MediaType};
use blacksky_core::message::content::MediaKey;
use blacksky_io::media::{MediaBaseUrl, MediaClient, MediaSource, MediaTransferConfig};

const VIDEO_BYTES: usize = 16 * 1024 * 1024;
/// The budget for sending and receiving one 16 MB video.
const EXTRA_RSS_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// The process's peak resident set so far, in bytes.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kib * 1024
}

/// GET a JSON answer by plain HTTP/1.1.
fn get_json(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http");
    let (addr, path) = rest.split_once('/').expect("a path");
    let mut stream = std::net::TcpStream::connect(addr).expect("control port");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).expect("JSON")
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_mb_video_goes_up_and_down_in_little_memory() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-wa"))
        .args(["--port", "0", "--control-port", "0", "--media-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fake-wa starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let (mut control, mut media) = (None, None);
    while control.is_none() || media.is_none() {
        let line = lines.next().and_then(Result::ok).expect("announcements");
        control = control.or_else(|| line.strip_prefix("control: ").map(str::to_owned));
        media = media.or_else(|| line.strip_prefix("media: ").map(str::to_owned));
    }
    let (control, media) = (control.unwrap_or_default(), media.unwrap_or_default());

    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("video.mp4");
    {
        // Written in pieces: the test itself never holds the video.
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
        let piece: Vec<u8> = (0..65_536u32).map(|i| (i * 31 % 251) as u8).collect();
        for _ in 0..VIDEO_BYTES / piece.len() {
            file.write_all(&piece).expect("write");
        }
    }
    let conn_json = {
        let url = format!("{control}/media/conn");
        tokio::task::spawn_blocking(move || get_json(&url))
            .await
            .expect("join")
    };
    let auth = conn_json["auth"].as_str().expect("auth").to_owned();
    let source = move || {
        let auth = auth.clone();
        async move {
            Ok::<_, String>(MediaConn {
                auth,
                ttl: Duration::from_secs(300),
                hosts: vec!["mmg.whatsapp.net".into()],
            })
        }
    };
    let config = MediaTransferConfig {
        base_url_override: Some(MediaBaseUrl::parse(&media).expect("base")),
        ..MediaTransferConfig::default()
    };
    let client = MediaClient::new(source, config).expect("TLS");

    // Warm up (runtime, TLS set-up, connection pool) with a small file.
    let small = client
        .upload(
            MediaType::Video,
            &MediaSource::from_vec(vec![7; 100_000]),
            MediaKey::from_bytes(vec![1; 32]),
        )
        .await
        .expect("small upload");
    let plan = DownloadPlan::from_descriptor(&small.descriptor(1), MediaType::Video).expect("plan");
    client
        .download_to_file(&plan, &dir.path().join("small"), 1 << 20)
        .await
        .expect("small download");

    let before = peak_rss_bytes();
    let uploaded = client
        .upload(
            MediaType::Video,
            &MediaSource::File(input),
            MediaKey::from_bytes(vec![2; 32]),
        )
        .await
        .expect("16 MB upload");
    let plan =
        DownloadPlan::from_descriptor(&uploaded.descriptor(1), MediaType::Video).expect("plan");
    let output = dir.path().join("back.mp4");
    let length = client
        .download_to_file(&plan, &output, 64 << 20)
        .await
        .expect("16 MB download");
    let after = peak_rss_bytes();
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(length, VIDEO_BYTES as u64);
    let extra = after.saturating_sub(before);
    eprintln!(
        "16 MB video up and down: peak RSS {} KiB → {} KiB (+{} KiB)",
        before / 1024,
        after / 1024,
        extra / 1024
    );
    assert!(
        extra < EXTRA_RSS_BYTES_MAX,
        "sending and receiving 16 MB took {} KiB of extra memory",
        extra / 1024
    );
}
