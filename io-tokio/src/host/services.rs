//! The process's own services, started beside the session: the HTTP
//! server (health, status, the pairing page) and the anti-idle pinger, as
//! configured. Both stop when their `stop` switch turns true.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::host::anti_idle;
use crate::host::config::Config;
use crate::host::http::{self, PairingPhone, QrPageConfig};
use crate::host::status::StatusBoard;

/// What the web pairing page hands the session.
#[derive(Debug)]
pub struct WebPairing {
    /// Phone numbers from the page's "pair by code" form (`None` without
    /// an HTTP server).
    pub code_requests: Option<mpsc::Receiver<PairingPhone>>,
    /// True when a person can link again through the page.
    pub page_on: bool,
}

/// Starts the HTTP server and the anti-idle pinger the configuration asks
/// for. Fails only when the HTTP port cannot be bound.
pub async fn start(
    config: &Config,
    board: &StatusBoard,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<WebPairing> {
    let until_stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let mut pairing = WebPairing {
        code_requests: None,
        page_on: false,
    };
    if config.health_check {
        let listener = http::bind(config.port)
            .await
            .map_err(|err| anyhow::anyhow!("PORT {}: cannot listen: {err}", config.port))?;
        let (tx, rx) = mpsc::channel(1);
        let qr = QrPageConfig::from_config(config, Some(tx));
        pairing.page_on = qr.access_kind() != "off";
        pairing.code_requests = Some(rx);
        tracing::info!(
            port = listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(config.port),
            pairing_page = qr.access_kind(),
            "HTTP server listening (/health /ready /status /stats /metrics /qr)"
        );
        let board = board.clone();
        let stopped = until_stopped(stop.clone());
        tokio::spawn(async move {
            if let Err(err) = http::serve(listener, board, qr, stopped).await {
                tracing::error!(%err, "the HTTP server stopped");
            }
        });
    }
    if let Some(url) = &config.heroku_app_url {
        let interval = Duration::from_secs(config.anti_idle_min * 60);
        match anti_idle::spawn(url.expose(), interval, until_stopped(stop.clone())) {
            Ok(_) => tracing::info!(every_min = config.anti_idle_min, "anti-idle pings on"),
            Err(err) => tracing::warn!(%err, "anti-idle pings off"),
        }
    }
    Ok(pairing)
}
