//! A serializable snapshot of everything the server knows, for tests, the
//! control API and the chaos harness's invariants.

use serde::{Deserialize, Serialize};

use super::FakeServer;
use super::output::{ConnId, Tamper};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    /// The account's phone number.
    pub phone: String,
    /// Hex of the root public key clients must trust.
    pub root_public_key: String,
    pub devices: Vec<DeviceState>,
    /// Open connections, in connect order.
    pub connections: Vec<ConnState>,
    pub pending_pairings: Vec<PairingState>,
    pub messages: MessageCounts,
    /// The most authenticated connections of one device the network could
    /// see at once: at each login, the device's previous live connection
    /// (unless cut off by `set_silent`) plus the new one. 2 means a client
    /// logged in again while its old connection still worked; the server
    /// then kicked the old one (`replaced_connections`).
    pub max_live_connections_per_device: u32,
    /// Connections kicked with a conflict because the device logged in again.
    pub replaced_connections: u32,
    pub last_client_error: Option<String>,
    /// Logins still to be refused, and with which code.
    pub refused_logins: Option<(u16, u32)>,
    /// The app version logins must have at least (below: 405).
    pub min_app_version: Option<[u32; 3]>,
    /// Logins and registrations refused with 405 for an old app version.
    pub outdated_logins: u32,
    pub ignored_iq_xmlns: Option<String>,
    /// How the next pair-success will be spoiled, if it will.
    pub tamper_pair_success: Option<Tamper>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub id: u8,
    pub jid: String,
    pub lid: String,
    /// The companion's countersignature verified.
    pub paired: bool,
    /// A live authenticated connection exists.
    pub logged_in: bool,
    pub conn: Option<ConnId>,
    /// That connection left passive mode.
    pub passive_active: bool,
    pub logins: u32,
    /// One-time pre-keys the server holds.
    pub pre_keys: u32,
    /// Hex of the noise key the device must log in with.
    pub noise_public: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnState {
    pub id: ConnId,
    /// `handshake`, `registering`, `logged_in` or `online`.
    pub stage: String,
    pub device: Option<u8>,
    pub silent: bool,
    /// Keepalive pings the client sent on this connection.
    pub pings: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingState {
    pub conn: ConnId,
    pub refs: Vec<String>,
    /// The client answered `<pair-device>`.
    pub refs_acked: bool,
    /// `none`, `code_requested` or `code_entered`.
    pub code: String,
    /// The device record a pair-success was sent for, awaiting the
    /// countersignature.
    pub granted_device: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCounts {
    /// Entries (message × device) not acked yet.
    pub queued: u32,
    /// Deliveries, counting each redelivery.
    pub delivered: u32,
    /// Entries acked.
    pub acked: u32,
    pub list: Vec<MessageState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    pub id: String,
    /// The contact who wrote it (digits).
    pub from: String,
    /// The group's JID user part, for a group message.
    pub group: Option<String>,
    pub device: u8,
    pub delivered: u32,
    pub acked: bool,
    /// Retry receipts answered with a new encryption.
    pub retries: u32,
}

impl FakeServer {
    /// Everything the server knows, as plain data.
    #[must_use]
    pub fn state(&self) -> ServerState {
        let devices = self
            .devices
            .values()
            .map(|d| DeviceState {
                id: d.id,
                jid: d.jid.to_string(),
                lid: d.lid.to_string(),
                paired: d.paired,
                logged_in: d.live.is_some(),
                conn: d.live,
                passive_active: d.active,
                logins: d.logins,
                pre_keys: d.one_time_pre_keys.count(),
                noise_public: hex::encode(d.companion.noise_public),
            })
            .collect();
        let connections = self
            .conns
            .iter()
            .map(|(id, c)| ConnState {
                id: *id,
                stage: c.stage().to_owned(),
                device: c.device(),
                silent: c.silent,
                pings: c.pings,
            })
            .collect();
        let pending_pairings = self
            .conns
            .iter()
            .filter_map(|(id, c)| c.pairing().map(|p| (id, p)))
            .map(|(id, p)| PairingState {
                conn: *id,
                refs: p.refs.clone(),
                refs_acked: p.pair_device_answered,
                code: p.code.name().to_owned(),
                granted_device: p.grant.as_ref().map(|g| g.device),
            })
            .collect();
        let entries = &self.mailbox.entries;
        let count = |f: fn(&super::mailbox::Entry) -> u32| entries.iter().map(f).sum::<u32>();
        let messages = MessageCounts {
            queued: count(|e| u32::from(!e.acked)),
            delivered: count(|e| e.delivered),
            acked: count(|e| u32::from(e.acked)),
            list: entries
                .iter()
                .map(|e| {
                    let chat = self.mailbox.sent.get(&e.id).map(|s| &s.chat);
                    MessageState {
                        id: e.id.clone(),
                        from: chat
                            .map(|c| c.sender_phone().to_owned())
                            .unwrap_or_default(),
                        group: chat.and_then(|c| c.group()).map(str::to_owned),
                        device: e.device,
                        delivered: e.delivered,
                        acked: e.acked,
                        retries: e.retries,
                    }
                })
                .collect(),
        };
        ServerState {
            phone: self.config.phone.clone(),
            root_public_key: hex::encode(self.root_public_key()),
            devices,
            connections,
            pending_pairings,
            messages,
            max_live_connections_per_device: self.max_live_connections_per_device,
            replaced_connections: self.replaced_connections,
            last_client_error: self.last_client_error.clone(),
            refused_logins: self.refused_logins,
            min_app_version: self.config.min_app_version,
            outdated_logins: self.outdated_logins,
            ignored_iq_xmlns: self.ignored_iq_xmlns.clone(),
            tamper_pair_success: self.tamper_pair_success,
        }
    }
}
