//! The core's and the worker's settings for one session, read from the
//! process's configuration.

use std::time::Duration;

use blacksky_core::client::{ClientConfig, PairingMethod};
use blacksky_core::keeper::KeeperConfig;

use crate::host::config::{Config, Pairing, ReactionClips};
use crate::media::{ClipSettings, MediaSettings, MediaTransferConfig, ReactionCdnConfig};
use crate::session::grace::GraceBudget;
use crate::session::worker::WorkerConfig;

/// The core's client settings from the shell's config.
pub fn client_config(config: &Config) -> ClientConfig {
    ClientConfig {
        root_public_key: config.root_pubkey,
        frame_bytes_max: config.frame_bytes_max,
        pairing: match &config.pairing {
            Pairing::Qr => PairingMethod::Qr,
            Pairing::Code { phone } => PairingMethod::Code {
                phone: phone.clone(),
            },
        },
        send_read_receipts: config.send_read_receipts,
        send_typing: config.send_typing,
        ..ClientConfig::default()
    }
}

/// The keeper's settings from the shell's config.
pub fn keeper_config(config: &Config, pairing_page_on: bool) -> KeeperConfig {
    KeeperConfig {
        reconnect_base_ms: config.reconnect_base_ms,
        reconnect_max_ms: config.reconnect_max_ms,
        max_reconnect_attempts: config.max_reconnect_attempts,
        exit_on_logout: !pairing_page_on,
        memory_limit_bytes: config
            .memory_optimization
            .then_some(config.memory_limit_mb)
            .flatten()
            .map(|mb| mb * 1024 * 1024),
        // The store worker takes the periodic snapshots itself.
        backup_interval_ms: 0,
        // Its sequence ends at its share; the store worker's stop and the
        // exit get the rest.
        shutdown_grace_ms: GraceBudget::keeper_ms(config.shutdown_grace_ms),
        daily_restart: config.daily_restart,
        ..KeeperConfig::default()
    }
}

/// The worker's settings from the shell's config.
pub fn worker_config(config: &Config) -> WorkerConfig {
    WorkerConfig {
        backup_interval: config
            .session_backup
            .then(|| Duration::from_secs(config.backup_interval_min * 60)),
        backup_keep: config.backup_keep,
        inbox_retention: (config.inbox_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(config.inbox_retention_days) * 24 * 3600)),
        media: media_settings(config),
        ..WorkerConfig::default()
    }
}

/// Where a short CDN fetch gives up and the shipped clip goes instead.
const REACTION_CDN_TIMEOUT: Duration = Duration::from_secs(3);
/// After a CDN failure, the shipped clips for this long.
const REACTION_CDN_PAUSE: Duration = Duration::from_secs(300);

/// The media settings from the shell's config: `WA_MEDIA_URL`, and the
/// reaction CDN with its disk cache in `DATA_DIR/media-cache`.
pub fn media_settings(config: &Config) -> MediaSettings {
    let clips = match &config.reaction_clips {
        ReactionClips::Shipped => ClipSettings::Shipped,
        ReactionClips::CdnFirst(template) => ClipSettings::CdnFirst(ReactionCdnConfig {
            template: template.clone(),
            fetch_timeout: REACTION_CDN_TIMEOUT,
            pause_after_failure: REACTION_CDN_PAUSE,
            cache_dir: config.data_dir.join("media-cache"),
            cache_bytes_max: config.media_cache_mb * 1024 * 1024,
        }),
    };
    MediaSettings {
        transfer: MediaTransferConfig {
            base_url_override: config.media_url.clone(),
            ..MediaTransferConfig::default()
        },
        clips,
    }
}
