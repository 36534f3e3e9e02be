//! What a fake server is configured with: its root of trust, the account
//! it plays, and how it behaves.

use blacksky_core::crypto::KeyPair;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::frame::FRAME_BYTES_MAX_DEFAULT;
use blacksky_core::wire::noise::Validity;

/// The private key of the test root every fake server uses by default.
/// Not a secret: a client trusts it only when told to (`WA_ROOT_PUBKEY`).
pub const TEST_ROOT_PRIVATE: [u8; 32] = *b"blacksky fake-wa test root key..";

/// The account's phone number when none is given.
pub const DEFAULT_PHONE: &str = "491556123456";

const YEAR_SECS: u64 = 365 * 24 * 3600;

/// Everything a [`super::FakeServer`] is built from besides its seed.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The root the certificate chain is signed by; clients must trust its
    /// public half ([`ServerConfig::root_public_key`]).
    pub root: KeyPair,
    /// Validity of both certificates of the chain.
    pub cert_validity: Validity,
    /// The account's phone number (digits only).
    pub phone: String,
    /// The account's LID user part (devices are `<lid_user>:<dev>@lid`).
    pub lid_user: String,
    /// Refs per `<pair-device>` (WhatsApp sends 6).
    pub qr_refs: usize,
    /// Sent in `<ib><edge_routing>` after each `<success>`, if set.
    pub routing_info: Option<Vec<u8>>,
    /// The phone's platform, as `<platform name=…>` in pair-success.
    pub platform: String,
    /// The first device id handed out (the phone itself is 0).
    pub first_device_id: u8,
    /// Largest frame accepted from a client.
    pub frame_bytes_max: usize,
    /// A connection that has not finished its handshake by then is closed.
    pub handshake_timeout_ms: u64,
    /// Logins and registrations with an older app version get 405.
    pub min_app_version: Option<[u32; 3]>,
    /// The push name mock contacts' messages carry (`notify`).
    pub contact_name: String,
    /// The hosts `media_conn` names (a client with `WA_MEDIA_URL` set
    /// goes to the fake's media port instead).
    pub media_hosts: Vec<String>,
    /// How long a `media_conn` answer is good for (its `ttl`).
    pub media_conn_ttl_secs: u32,
}

impl ServerConfig {
    /// The test root, certificates valid a year either side of `wall`,
    /// and WhatsApp's defaults for the rest.
    #[must_use]
    pub fn new(wall: UnixMillis) -> Self {
        let secs = wall.as_secs();
        ServerConfig {
            root: KeyPair::from_private_bytes(TEST_ROOT_PRIVATE),
            cert_validity: Validity {
                not_before_secs: secs.saturating_sub(YEAR_SECS),
                not_after_secs: secs.saturating_add(YEAR_SECS),
            },
            phone: DEFAULT_PHONE.to_owned(),
            lid_user: "236395184570386".to_owned(),
            qr_refs: 6,
            routing_info: None,
            platform: "android".to_owned(),
            first_device_id: 1,
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            handshake_timeout_ms: 20_000,
            min_app_version: None,
            contact_name: "Mock Contact".to_owned(),
            media_hosts: vec![
                "mmg.whatsapp.net".to_owned(),
                "media-fra5-1.cdn.whatsapp.net".to_owned(),
            ],
            media_conn_ttl_secs: 300,
        }
    }

    /// The key clients must trust (`WA_ROOT_PUBKEY`).
    #[must_use]
    pub fn root_public_key(&self) -> [u8; 32] {
        *self.root.public()
    }
}
