//! What a finished handshake leads to: the ClientPayload says whether a
//! new device registers (→ `<pair-device>` refs) or a linked device logs
//! in (→ `<success>` or `<failure>`).

use blacksky_proto::Message;
use blacksky_proto::wa::ClientPayload;

use super::account::Companion;
use super::conn::Role;
use super::output::{ConnId, HandshakeKind, ServerEvent};
use super::phone::{CodeStage, Pairing};
use super::{FakeServer, stanzas};

/// Why a login is refused with 401 (logged out / unknown device).
const LOGGED_OUT: u16 = 401;
/// Client too old.
const OUTDATED: u16 = 405;

impl FakeServer {
    pub(crate) fn on_client_payload(&mut self, conn: ConnId, payload: &[u8]) {
        let payload = match ClientPayload::decode(payload) {
            Ok(payload) => payload,
            Err(err) => return self.client_error(conn, format!("ClientPayload: {err}")),
        };
        if let Some(min) = self.config.min_app_version {
            let version = payload
                .user_agent
                .as_ref()
                .and_then(|ua| ua.app_version.as_ref())
                .map(|v| {
                    [
                        v.primary.unwrap_or(0),
                        v.secondary.unwrap_or(0),
                        v.tertiary.unwrap_or(0),
                    ]
                })
                .unwrap_or_default();
            if version < min {
                self.outdated_logins += 1;
                self.send(conn, &stanzas::failure(OUTDATED));
                self.event(ServerEvent::LoginRefused {
                    conn,
                    code: OUTDATED,
                });
                return self.close(conn);
            }
        }
        match (&payload.username, &payload.device_pairing_data) {
            (Some(_), _) => {
                self.event(ServerEvent::HandshakeDone {
                    conn,
                    kind: HandshakeKind::Login,
                });
                self.on_login(conn, &payload);
            }
            (None, Some(data)) => {
                self.event(ServerEvent::HandshakeDone {
                    conn,
                    kind: HandshakeKind::Registration,
                });
                let Some(noise) = self.conns.get(&conn).and_then(|c| c.client_static) else {
                    return;
                };
                match Companion::from_registration(noise, data) {
                    Ok(companion) => self.start_pairing(conn, companion),
                    Err(what) => self.client_error(conn, what),
                }
            }
            (None, None) => self.client_error(
                conn,
                "ClientPayload is neither a login nor a registration".into(),
            ),
        }
    }

    fn start_pairing(&mut self, conn: ConnId, companion: Companion) {
        let refs: Vec<String> = (0..self.config.qr_refs).map(|_| self.new_ref()).collect();
        let id = self.next_stanza_id();
        let node = stanzas::pair_device(&id, &refs);
        let count = refs.len();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.role = Role::Registering(Box::new(Pairing {
                companion,
                refs,
                pair_device_id: id,
                pair_device_answered: false,
                code: CodeStage::None,
                grant: None,
            }));
        }
        self.send(conn, &node);
        self.event(ServerEvent::QrRefsIssued { conn, count });
    }

    fn refuse_login(&mut self, conn: ConnId, code: u16) {
        self.send(conn, &stanzas::failure(code));
        self.event(ServerEvent::LoginRefused { conn, code });
        self.close(conn);
    }

    fn on_login(&mut self, conn: ConnId, payload: &ClientPayload) {
        if let Some((code, left)) = self.refused_logins {
            self.refused_logins = (left > 1).then_some((code, left - 1));
            return self.refuse_login(conn, code);
        }
        let noise = self.conns.get(&conn).and_then(|c| c.client_static);
        let phone_matches =
            payload.username.map(|u| u.to_string()) == Some(self.config.phone.clone());
        let device = payload
            .device
            .and_then(|d| u8::try_from(d).ok())
            .and_then(|d| self.devices.get(&d))
            .filter(|d| phone_matches && d.paired && Some(d.companion.noise_public) == noise);
        let Some(device) = device else {
            return self.refuse_login(conn, LOGGED_OUT);
        };
        let (id, old, jid, lid, paired_at) = (
            device.id,
            device.live,
            device.jid.clone(),
            device.lid.clone(),
            device.paired_at,
        );
        // Count what the network could see at this moment: the old
        // connection (unless it is cut off) and this one.
        let old_audible = old.is_some_and(|o| self.conns.get(&o).is_some_and(|c| !c.silent));
        let live_now = 1 + u32::from(old_audible);
        self.max_live_connections_per_device = self.max_live_connections_per_device.max(live_now);
        if let Some(old) = old {
            // The real server keeps one connection per device: the newer wins.
            self.send(old, &stanzas::stream_error(440));
            self.close(old);
            self.replaced_connections += 1;
            self.event(ServerEvent::Replaced { old, new: conn });
        }
        if let Some(device) = self.devices.get_mut(&id) {
            device.live = Some(conn);
            device.active = false;
            device.logins += 1;
        }
        let passive = payload.passive.unwrap_or(false);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.role = Role::Device(id);
            c.passive = passive;
        }
        self.send(conn, &stanzas::success(self.wall, lid, paired_at));
        if let Some(routing) = self.config.routing_info.clone() {
            self.send(conn, &stanzas::edge_routing(&routing));
        }
        self.event(ServerEvent::LoggedIn {
            conn,
            jid: jid.to_string(),
        });
        // A passive login gets its offline queue when it goes active.
        if !passive {
            self.deliver_offline(conn);
        }
    }
}
