//! Reaction clips from a CDN: a good clip is fetched once and then read
//! from the disk cache; a missing, broken or slow one gives the shipped
//! clip and pauses the CDN; the cache keeps to its budget.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use blacksky_bot::reactions::Reaction;
use blacksky_io::media::{CdnTemplate, ClipOrigin, ReactionCdn, ReactionCdnConfig};

/// A CDN whose `hug` is the shipped `kiss` clip (so a CDN clip is told
/// apart from the shipped one), `slap` is not an MP4, `pat` never
/// answers in time, and anything else is missing. Counts its requests.
async fn cdn() -> (SocketAddr, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    async fn clip(State(hits): State<Arc<AtomicU32>>, Path(file): Path<String>) -> Response {
        hits.fetch_add(1, Ordering::SeqCst);
        match file.as_str() {
            "hug.mp4" => Reaction::find("kiss").expect("kiss").mp4.into_response(),
            "wave.mp4" => Reaction::find("dance").expect("dance").mp4.into_response(),
            "slap.mp4" => "<html>not found</html>".into_response(),
            "pat.mp4" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK.into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = Router::new()
        .route("/clips/{file}", get(clip))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

fn config(addr: SocketAddr, dir: &std::path::Path, cache_bytes_max: u64) -> ReactionCdnConfig {
    ReactionCdnConfig {
        template: CdnTemplate::parse(&format!("http://{addr}/clips/{{name}}.mp4"))
            .expect("template"),
        fetch_timeout: Duration::from_millis(500),
        pause_after_failure: Duration::from_secs(60),
        cache_dir: dir.to_owned(),
        cache_bytes_max,
    }
}

fn reaction(name: &str) -> &'static Reaction {
    Reaction::find(name).expect("ships")
}

#[tokio::test]
async fn a_cdn_clip_is_fetched_once_then_read_from_the_cache() {
    let (addr, hits) = cdn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cdn = ReactionCdn::new(config(addr, dir.path(), 1 << 20)).expect("TLS");
    let (bytes, origin) = cdn.clip(reaction("hug")).await;
    assert_eq!(origin, ClipOrigin::Cdn);
    assert_eq!(
        &bytes[..],
        reaction("kiss").mp4,
        "the CDN's clip, not the shipped one"
    );
    let (bytes, origin) = cdn.clip(reaction("hug")).await;
    assert_eq!(origin, ClipOrigin::Cache);
    assert_eq!(&bytes[..], reaction("kiss").mp4);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_missing_broken_or_slow_clip_gives_the_shipped_one_and_pauses_the_cdn() {
    for name in ["bonk", "slap", "pat"] {
        let (addr, hits) = cdn().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let cdn = ReactionCdn::new(config(addr, dir.path(), 1 << 20)).expect("TLS");
        let started = std::time::Instant::now();
        let (bytes, origin) = cdn.clip(reaction(name)).await;
        assert_eq!(origin, ClipOrigin::Shipped, "{name}");
        assert_eq!(&bytes[..], reaction(name).mp4, "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: one short timeout at most"
        );
        assert!(
            !dir.path().join(format!("{name}.mp4")).exists(),
            "{name}: nothing bad is kept"
        );
        // Paused: the next reaction does not ask the CDN at all.
        let (_, origin) = cdn.clip(reaction("hug")).await;
        assert_eq!(origin, ClipOrigin::Shipped);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "{name}: paused after the failure"
        );
    }
}

#[tokio::test]
async fn the_cache_keeps_to_its_budget_oldest_first() {
    let (addr, _) = cdn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kiss = reaction("kiss").mp4.len() as u64;
    let dance = reaction("dance").mp4.len() as u64;
    // Room for the larger of the two, not both.
    let cdn = ReactionCdn::new(config(addr, dir.path(), kiss.max(dance) + 10)).expect("TLS");
    assert_eq!(cdn.clip(reaction("hug")).await.1, ClipOrigin::Cdn);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(cdn.clip(reaction("wave")).await.1, ClipOrigin::Cdn);
    assert!(!dir.path().join("hug.mp4").exists(), "the older clip went");
    assert!(dir.path().join("wave.mp4").exists());

    // A cached file that went bad is dropped and fetched again.
    std::fs::write(dir.path().join("wave.mp4"), b"garbage").expect("write");
    assert_eq!(cdn.clip(reaction("wave")).await.1, ClipOrigin::Cdn);
    assert_eq!(cdn.clip(reaction("wave")).await.1, ClipOrigin::Cache);
}
