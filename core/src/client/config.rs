//! What a client is told before it starts: how to link, and its limits
//! and timings (units last in every name).

use crate::session::AppVersion;
use crate::wire::noise::WA_ROOT_PUBLIC_KEY;

use super::Browser;

/// How a device with no stored session links.
#[derive(Clone, PartialEq, Eq)]
pub enum PairingMethod {
    /// Show QR codes.
    Qr,
    /// Show an 8-character code for this phone number (digits only).
    Code { phone: String },
}

impl std::fmt::Debug for PairingMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Qr => f.write_str("Qr"),
            Self::Code { .. } => f.write_str("Code { phone: <redacted> }"),
        }
    }
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Limits and timings, units last. Defaults follow WhatsApp Web.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The key the server's certificate chain must chain to.
    pub root_public_key: [u8; 32],
    /// Sent in the ClientPayload unless the creds carry a newer one.
    pub app_version: AppVersion,
    pub browser: Browser,
    /// CompanionWebClientType in QR texts and code pairing (Chrome = 1).
    pub platform_id: u8,
    pub pairing: PairingMethod,
    pub frame_bytes_max: usize,
    /// From socket open to `<success>` (or to the first QR).
    pub connect_timeout_ms: u64,
    pub keepalive_interval_ms: u64,
    /// Silence tolerated beyond one keepalive interval before the socket
    /// counts as dead (a partition never resets a TCP connection).
    pub keepalive_grace_ms: u64,
    pub iq_timeout_ms: u64,
    pub qr_first_ttl_ms: u64,
    pub qr_next_ttl_ms: u64,
    /// Pre-keys uploaded when the server has none.
    pub pre_keys_initial: u32,
    /// Upload more when the server's count is at or below this.
    pub pre_keys_low_water: u32,
    /// One-time pre-keys kept in the store at most. A key goes only once
    /// a message used it (one handed out may wait in an undelivered first
    /// message for days), so at this bound fewer or none are uploaded.
    pub pre_keys_stored_max: usize,
    /// A signed pre-key this old (by the wall clock at login) is replaced
    /// at the next login (WhatsApp Web rotates about weekly).
    pub signed_pre_key_rotate_ms: u64,
    /// The replaced signed pre-key still opens pkmsgs built on it until
    /// this long after it was replaced (checked at login).
    pub signed_pre_key_grace_ms: u64,
    /// Message ids remembered per connection to answer a redelivery
    /// without a second write; the oldest are forgotten past this (the
    /// store still drops a duplicate by id).
    pub seen_messages_len_max: usize,
    /// Store batches in flight at once; a message arriving past this is
    /// not stored nor acked (the server delivers it again).
    pub store_ops_in_flight_max: usize,
    /// Outputs queued by one input; past this the client stops reading
    /// frames until the shell drains them (the rest wait in the frame
    /// buffer, and `poll_timeout` asks to be called again at once).
    pub outputs_len_max: usize,
    /// Retry receipts sent for one message before it is recorded as
    /// unreadable (WhatsApp's limit is 5).
    pub retry_receipts_max: u8,
    /// Messages whose retry count is kept at once; past this the oldest
    /// count is forgotten (it only restarts that message's count).
    pub retries_len_max: usize,
    /// Outbound messages queued in this connection at once (the store
    /// keeps the rest; the shell hands them in as room is made).
    pub outbound_len_max: usize,
    /// Users whose device lists are cached.
    pub device_lists_len_max: usize,
    /// A cached device list is asked for again after this long.
    pub device_list_ttl_ms: u64,
    /// A cached group's metadata is read again after this long
    /// (notifications keep it current meanwhile).
    pub group_info_ttl_ms: u64,
    /// Mark what contacts write as read (blue ticks) once it is stored.
    pub send_read_receipts: bool,
    /// Show "typing…" in a chat while an answer to it is sealed.
    pub send_typing: bool,
    /// TEST ONLY, and wrong on purpose: ack a message before it is stored
    /// (what Baileys-based bots do). The chaos harness turns it on to show
    /// it catches the loss this causes; nothing else may.
    #[cfg(feature = "testing")]
    pub broken_ack_before_store: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            root_public_key: WA_ROOT_PUBLIC_KEY,
            app_version: AppVersion::BUILT_IN,
            browser: Browser::default(),
            platform_id: 1,
            pairing: PairingMethod::Qr,
            frame_bytes_max: crate::wire::frame::FRAME_BYTES_MAX_DEFAULT,
            connect_timeout_ms: 20_000,
            keepalive_interval_ms: 25_000,
            keepalive_grace_ms: 10_000,
            iq_timeout_ms: 20_000,
            qr_first_ttl_ms: 60_000,
            qr_next_ttl_ms: 20_000,
            pre_keys_initial: 812,
            pre_keys_low_water: 5,
            pre_keys_stored_max: 2_000,
            signed_pre_key_rotate_ms: 7 * DAY_MS,
            signed_pre_key_grace_ms: 30 * DAY_MS,
            seen_messages_len_max: 4_096,
            store_ops_in_flight_max: 1_024,
            outputs_len_max: 1_024,
            retry_receipts_max: 5,
            retries_len_max: 256,
            outbound_len_max: 1_024,
            send_read_receipts: false,
            send_typing: false,
            device_lists_len_max: 4_096,
            device_list_ttl_ms: DAY_MS,
            group_info_ttl_ms: DAY_MS,
            #[cfg(feature = "testing")]
            broken_ack_before_store: false,
        }
    }
}
