//! Stanzas from clients after the handshake: their requests (ping,
//! pre-keys, passive mode, code pairing, media_conn), their answers to
//! ours, and their acks.

use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::wire::binary::Node;

use super::account::{SignedPreKey, be_uint};
use super::output::{ConnId, ServerEvent};
use super::pre_keys::ONE_TIME_PRE_KEYS_PER_DEVICE_MAX;
use super::{FakeServer, stanzas};

/// A pre-key upload, read and checked.
struct Upload {
    registration_id: u32,
    identity: [u8; 32],
    /// The one-time keys: id and public key, in order.
    keys: Vec<(u32, [u8; 32])>,
    signed_pre_key: SignedPreKey,
}

pub(crate) fn bytes_of<'a>(node: &'a Node, tag: &'static str) -> Result<&'a [u8], String> {
    node.child(tag)
        .and_then(Node::bytes)
        .ok_or_else(|| format!("<{}> lacks <{tag}> bytes", node.tag))
}

pub(crate) fn key32(node: &Node, tag: &'static str) -> Result<[u8; 32], String> {
    let bytes = bytes_of(node, tag)?;
    bytes
        .try_into()
        .map_err(|_| format!("<{tag}> is {} bytes, expected 32", bytes.len()))
}

/// Reads `<registration><type><identity><list><key>…</list><skey>`.
fn parse_upload(iq: &Node) -> Result<Upload, String> {
    let registration_id = be_uint("registration", bytes_of(iq, "registration")?)?;
    let key_type = bytes_of(iq, "type")?;
    if key_type != [KEY_TYPE_DJB] {
        return Err(format!("pre-key type is {key_type:02x?}, expected [05]"));
    }
    let identity = key32(iq, "identity")?;
    let list = iq.child("list").ok_or("pre-key upload lacks <list>")?;
    let keys = list
        .children_named("key")
        .map(|key| {
            Ok((
                be_uint("key id", bytes_of(key, "id")?)?,
                key32(key, "value")?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let skey = iq.child("skey").ok_or("pre-key upload lacks <skey>")?;
    let signed_pre_key = parse_skey(skey)?;
    signed_pre_key.verify(&identity)?;
    Ok(Upload {
        registration_id,
        identity,
        keys,
        signed_pre_key,
    })
}

/// Reads `<skey><id><value><signature>`; the caller checks the signature.
fn parse_skey(skey: &Node) -> Result<SignedPreKey, String> {
    Ok(SignedPreKey {
        id: be_uint("skey id", bytes_of(skey, "id")?)?,
        public: key32(skey, "value")?,
        signature: bytes_of(skey, "signature")?.to_vec(),
    })
}

impl FakeServer {
    pub(crate) fn on_stanza(&mut self, conn: ConnId, node: Node) {
        match node.tag.as_str() {
            "iq" => self.on_client_iq(conn, &node),
            "ack" if self.on_poison_ack(&node) => {}
            "ack" if node.attr("class") == Some("message") => self.on_message_ack(conn, &node),
            "ack" if node.attr("class") == Some("notification") => {
                self.on_notification_ack(conn, &node);
            }
            "receipt" => self.on_receipt(conn, &node),
            "message" => self.on_bot_message(conn, &node),
            "presence" => {
                let what = format!("presence {}", node.attr("type").unwrap_or("available"));
                self.event(ServerEvent::Presence { conn, what });
            }
            "chatstate" => {
                let state = node.children().first().map_or("", |c| c.tag.as_str());
                let what = format!("chatstate {state}");
                self.event(ServerEvent::Presence { conn, what });
            }
            // Acks of notifications and receipts: nothing to keep.
            _ => {}
        }
    }

    fn on_client_iq(&mut self, conn: ConnId, iq: &Node) {
        let Some(id) = iq.attr("id").map(str::to_owned) else {
            return self.client_error(conn, "iq without an id".into());
        };
        let kind = iq.attr("type").unwrap_or_default();
        if kind == "result" || kind == "error" {
            return self.on_pairing_answer(conn, &id, iq);
        }
        let xmlns = iq.attr("xmlns").unwrap_or_default();
        if (kind, xmlns) == ("get", "w:p")
            && iq.child("ping").is_some()
            && let Some(c) = self.conns.get_mut(&conn)
        {
            c.pings = c.pings.saturating_add(1);
        }
        if self.ignored_iq_xmlns.as_deref() == Some(xmlns) {
            return;
        }
        let device = self.conns.get(&conn).and_then(|c| c.device());
        match (kind, xmlns) {
            ("get", "w:p") if iq.child("ping").is_some() => {
                self.send(conn, &stanzas::iq_result(&id));
            }
            ("set", "md") if iq.child("link_code_companion_reg").is_some() => {
                if let Some(reg) = iq.child("link_code_companion_reg") {
                    self.on_link_code_iq(conn, &id, reg);
                }
            }
            ("get" | "set", "encrypt" | "passive" | "w:g2") if device.is_none() => {
                let what = format!("{xmlns} iq before login");
                self.refuse_iq(conn, &id, 401, "not-authorized", what);
            }
            ("get", "encrypt")
                if iq.child("count").is_some() && self.poison_count_answer(conn, &id) => {}
            ("get", "encrypt") if iq.child("count").is_some() => {
                let count = device
                    .and_then(|d| self.devices.get(&d))
                    .map_or(0, |d| d.one_time_pre_keys.count());
                let reply = stanzas::iq_result_with(
                    &id,
                    vec![Node::new("count").with_attr("value", count.to_string())],
                );
                self.send(conn, &reply);
            }
            ("get" | "set", "w:g2") => self.on_group_iq(conn, &id, kind, iq),
            // Before login a usync is no request the server knows (501).
            ("get", "usync") if device.is_some() => self.on_usync(conn, &id, iq),
            ("get", "encrypt") if iq.child("key").is_some() => {
                if let Some(key) = iq.child("key") {
                    self.on_bundle_fetch(conn, &id, key);
                }
            }
            ("set", "encrypt") if iq.child("list").is_some() => {
                self.on_pre_key_upload(conn, &id, iq, device);
            }
            ("set", "encrypt") if iq.child("rotate").is_some() => {
                self.on_signed_pre_key_rotate(conn, &id, iq, device);
            }
            // Blocks are taken as WhatsApp does (no state is kept here).
            ("set", "blocklist") if iq.child("item").is_some() && device.is_some() => {
                self.send(conn, &stanzas::iq_result(&id));
            }
            ("set", "w:m") if iq.child("media_conn").is_some() && device.is_some() => {
                self.on_media_conn(conn, &id);
            }
            ("set", "passive") if iq.child("active").is_some() => {
                self.send(conn, &stanzas::iq_result(&id));
                self.on_active(conn, device);
            }
            ("set", "passive") if iq.child("passive").is_some() => {
                self.send(conn, &stanzas::iq_result(&id));
                if let Some(d) = device.and_then(|d| self.devices.get_mut(&d)) {
                    d.active = false;
                }
            }
            _ => {
                self.send(
                    conn,
                    &stanzas::iq_error(&id, 501, "feature-not-implemented"),
                );
            }
        }
    }

    fn on_pre_key_upload(&mut self, conn: ConnId, id: &str, iq: &Node, device: Option<u8>) {
        let Some(record) = device.and_then(|d| self.devices.get(&d)) else {
            return;
        };
        let upload = parse_upload(iq).and_then(|u| {
            if u.identity == record.companion.identity_public {
                Ok(u)
            } else {
                Err("pre-key upload names another identity key".into())
            }
        });
        let upload = upload.and_then(|u| {
            let after = record.one_time_pre_keys.count_after(&u.keys);
            if after > ONE_TIME_PRE_KEYS_PER_DEVICE_MAX {
                Err(format!(
                    "pre-key upload would leave {after} one-time keys on the server, at most {ONE_TIME_PRE_KEYS_PER_DEVICE_MAX}"
                ))
            } else {
                Ok(u)
            }
        });
        match upload {
            Ok(upload) => {
                let count = upload.keys.len() as u32;
                let mut reused = Vec::new();
                if let Some(d) = device.and_then(|d| self.devices.get_mut(&d)) {
                    d.one_time_pre_keys.add(&upload.keys);
                    d.companion.signed_pre_key = upload.signed_pre_key;
                    d.companion.registration_id = upload.registration_id;
                    for (key_id, public) in upload.keys.iter().copied() {
                        if d.uploaded_pre_keys
                            .insert(key_id, public)
                            .is_some_and(|p| p != public)
                        {
                            reused.push(key_id);
                        }
                    }
                }
                self.send(conn, &stanzas::iq_result(id));
                self.event(ServerEvent::PreKeysUploaded {
                    conn,
                    count,
                    first_id: upload.keys.first().map_or(0, |k| k.0),
                });
                if let (Some(&first), Some(&last)) = (reused.first(), reused.last()) {
                    // A contact who fetched the earlier key under this id
                    // would start a session we cannot open.
                    self.event(ServerEvent::PreKeyIdsReused {
                        conn,
                        count: reused.len() as u32,
                        first,
                        last,
                    });
                }
            }
            Err(what) => self.refuse_iq(conn, id, 400, "bad-request", what),
        }
    }

    /// `<rotate><skey>`: the device's new signed pre-key, signed by its
    /// identity; contacts get it in every bundle from now on.
    fn on_signed_pre_key_rotate(&mut self, conn: ConnId, id: &str, iq: &Node, device: Option<u8>) {
        let Some(d) = device.and_then(|d| self.devices.get_mut(&d)) else {
            return;
        };
        let rotated = iq
            .child("rotate")
            .and_then(|r| r.child("skey"))
            .ok_or_else(|| "rotate lacks <skey>".to_owned())
            .and_then(parse_skey)
            .and_then(|key| {
                key.verify(&d.companion.identity_public)?;
                Ok(key)
            });
        match rotated {
            Ok(key) => {
                let key_id = key.id;
                d.companion.signed_pre_key = key;
                self.send(conn, &stanzas::iq_result(id));
                self.event(ServerEvent::SignedPreKeyRotated { conn, id: key_id });
            }
            Err(what) => self.refuse_iq(conn, id, 400, "bad-request", what),
        }
    }

    fn on_active(&mut self, conn: ConnId, device: Option<u8>) {
        let Some(d) = device.and_then(|d| self.devices.get_mut(&d)) else {
            return;
        };
        d.active = true;
        let jid = d.jid.to_string();
        self.event(ServerEvent::Active { conn, jid });
        self.deliver_offline(conn);
        self.redeliver_poison(conn);
    }
}
