//! Anti-idle pings `<HEROKU_APP_URL>/health` on its interval, survives a
//! dead target, and stops on shutdown. Against a local server only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use blacksky_io::host::anti_idle;
use tokio::sync::oneshot;

/// A /health that counts its callers.
async fn counting_server() -> (String, Arc<AtomicU64>, oneshot::Sender<()>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new().route(
        "/health",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (url, hits, stop)
}

async fn wait_for(hits: &AtomicU64, at_least: u64) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while hits.load(Ordering::SeqCst) < at_least {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "only {} pings", hits.load(Ordering::SeqCst));
}

#[tokio::test]
async fn pings_health_on_its_interval_until_shutdown() {
    let (url, hits, _server) = counting_server().await;
    let (stop, stopped) = oneshot::channel::<()>();
    // A trailing slash, as people paste it.
    let task = anti_idle::spawn(&format!("{url}/"), Duration::from_millis(50), async {
        let _ = stopped.await;
    })
    .expect("starts");
    wait_for(&hits, 3).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
    let after_stop = hits.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        after_stop,
        "no ping after shutdown"
    );
}

#[tokio::test]
async fn a_dead_target_is_survived_and_pinged_again() {
    // Bind, learn the port, close: nothing listens there now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = anti_idle::spawn(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(20),
        async {
            let _ = stopped.await;
        },
    )
    .expect("starts");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!task.is_finished(), "failures do not stop the pings");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}

#[tokio::test]
async fn a_non_http_url_does_not_start() {
    let err = anti_idle::spawn("my-bot.herokuapp.com", Duration::from_secs(60), async {})
        .expect_err("refused");
    assert!(err.to_string().contains("my-bot.herokuapp.com"), "{err}");
}
