//! Alerts to the operator's webhook (`ALERT_WEBHOOK_URL`): the core's
//! incident machine decides what to say ([`blacksky_core::alerts`]); here
//! the body is shaped for the receiving service ([`body`]), kept in the
//! store's outbox until delivered ([`dispatch`]) and POSTed ([`webhook`]).

pub mod body;
pub mod dispatch;
pub mod webhook;

pub use dispatch::{AlertLink, Dispatcher, OwnerLine};

/// `ALERT_FORMAT`: the body's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// blacksky's own JSON object.
    Json,
    /// A Slack incoming webhook (`text` with mrkdwn).
    Slack,
    /// A Discord webhook (`content` and an embed).
    Discord,
}

impl AlertFormat {
    pub fn parse(text: &str) -> Option<AlertFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(AlertFormat::Json),
            "slack" => Some(AlertFormat::Slack),
            "discord" => Some(AlertFormat::Discord),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Slack => "slack",
            AlertFormat::Discord => "discord",
        }
    }
}
