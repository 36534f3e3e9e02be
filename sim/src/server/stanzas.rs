//! The stanzas the server writes, in one place so their shapes can be
//! read against the protocol references (Baileys' socket.ts and
//! messages-recv.ts, whatsmeow's pair.go and connectionevents.go).

use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary::{Jid, Node};

use super::contacts::EncPart;

/// `@s.whatsapp.net`, the `from` of everything the server itself says.
pub fn server_jid() -> Jid {
    Jid::at("s.whatsapp.net")
}

/// The empty answer to a client's iq.
pub fn iq_result(id: &str) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("type", "result")
        .with_attr("id", id.to_owned())
}

/// An answer carrying children.
pub fn iq_result_with(id: &str, children: Vec<Node>) -> Node {
    iq_result(id).with_children(children)
}

/// `<iq type=error><error code text/></iq>`.
pub fn iq_error(id: &str, code: u16, text: &'static str) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("type", "error")
        .with_attr("id", id.to_owned())
        .with_children(vec![
            Node::new("error")
                .with_attr("code", code.to_string())
                .with_attr("text", text),
        ])
}

/// The refs a new device shows as QR codes, one after another.
pub fn pair_device(id: &str, refs: &[String]) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("type", "set")
        .with_attr("id", id.to_owned())
        .with_attr("xmlns", "md")
        .with_children(vec![
            Node::new("pair-device").with_children(
                refs.iter()
                    .map(|r| Node::new("ref").with_bytes(r.as_bytes().to_vec()))
                    .collect(),
            ),
        ])
}

/// The phone linked the device: its signed identity and its JIDs.
pub fn pair_success(
    id: &str,
    wall: UnixMillis,
    device_identity: Vec<u8>,
    key_index: u32,
    jid: Jid,
    lid: Jid,
    platform: &str,
) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("type", "set")
        .with_attr("id", id.to_owned())
        .with_attr("xmlns", "md")
        .with_attr("t", wall.as_secs().to_string())
        .with_children(vec![Node::new("pair-success").with_children(vec![
                Node::new("device-identity")
                    .with_attr("key-index", key_index.to_string())
                    .with_bytes(device_identity),
                Node::new("device")
                    .with_attr("jid", jid)
                    .with_attr("lid", lid),
                Node::new("platform").with_attr("name", platform.to_owned()),
            ])])
}

/// Answer to `companion_hello`: the ref the phone's code prompt is bound to.
pub fn link_code_ref(id: &str, reference: &str) -> Node {
    iq_result_with(
        id,
        vec![Node::new("link_code_companion_reg").with_children(vec![
            Node::new("link_code_pairing_ref").with_bytes(reference.as_bytes().to_vec()),
        ])],
    )
}

/// The phone's answer after the user typed the code (`primary_hello`).
pub fn link_code_primary_hello(
    id: &str,
    wall: UnixMillis,
    reference: &str,
    wrapped_primary_ephemeral: Vec<u8>,
    primary_identity: Vec<u8>,
) -> Node {
    Node::new("notification")
        .with_attr("from", server_jid())
        .with_attr("type", "link_code_companion_reg")
        .with_attr("id", id.to_owned())
        .with_attr("t", wall.as_secs().to_string())
        .with_children(vec![
            Node::new("link_code_companion_reg")
                .with_attr("stage", "primary_hello")
                .with_children(vec![
                    Node::new("link_code_pairing_ref").with_bytes(reference.as_bytes().to_vec()),
                    Node::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .with_bytes(wrapped_primary_ephemeral),
                    Node::new("primary_identity_pub").with_bytes(primary_identity),
                ]),
        ])
}

/// Login accepted.
pub fn success(wall: UnixMillis, lid: Jid, creation: UnixMillis) -> Node {
    Node::new("success")
        .with_attr("t", wall.as_secs().to_string())
        .with_attr("props", "1")
        .with_attr("abprops", "1")
        .with_attr("location", "sim")
        .with_attr("creation", creation.as_secs().to_string())
        .with_attr("lid", lid)
}

/// Routing info for the client's next intro.
pub fn edge_routing(routing_info: &[u8]) -> Node {
    Node::new("ib")
        .with_attr("from", server_jid())
        .with_children(vec![Node::new("edge_routing").with_children(vec![
            Node::new("routing_info").with_bytes(routing_info.to_vec()),
        ])])
}

/// The end of the offline batch: `count` stanzas were delivered.
pub fn offline(count: usize) -> Node {
    Node::new("ib")
        .with_attr("from", server_jid())
        .with_children(vec![
            Node::new("offline").with_attr("count", count.to_string()),
        ])
}

/// `<failure reason=N/>`: a login refused (401 logged out, 405 outdated, …).
pub fn failure(reason: u16) -> Node {
    Node::new("failure").with_attr("reason", reason.to_string())
}

/// `<stream:error code=N/>`, or for 440 the form the real server uses for
/// a session taken over: `<stream:error><conflict type="replaced"/>`.
pub fn stream_error(code: u16) -> Node {
    if code == 440 {
        Node::new("stream:error")
            .with_children(vec![Node::new("conflict").with_attr("type", "replaced")])
    } else {
        Node::new("stream:error").with_attr("code", code.to_string())
    }
}

/// An end-to-end message from a contact (or from a contact in a group),
/// as the server relays it.
pub struct IncomingMessage<'a> {
    pub id: &'a str,
    /// The contact, or the group.
    pub from: Jid,
    /// The writer, in a group.
    pub participant: Option<Jid>,
    /// The writer's number, when `participant` is its LID.
    pub participant_pn: Option<Jid>,
    /// The contact's number, in a 1:1 chat written from its LID.
    pub sender_pn: Option<Jid>,
    pub t: UnixMillis,
    pub notify: &'a str,
    /// `<enc v=2 type=…>` children, in order (a group's first message to
    /// a device: the sender key 1:1, then the skmsg).
    pub encs: &'a [EncPart],
    /// Delivered from the offline queue (WhatsApp marks those).
    pub offline: bool,
}

pub fn message(m: &IncomingMessage<'_>) -> Node {
    let mut node = Node::new("message")
        .with_attr("from", m.from.clone())
        .with_attr("type", "text")
        .with_attr("id", m.id.to_owned())
        .with_attr("t", m.t.as_secs().to_string())
        .with_attr("notify", m.notify.to_owned());
    if let Some(participant) = &m.participant {
        node = node.with_attr("participant", participant.clone());
    }
    if let Some(pn) = &m.participant_pn {
        node = node
            .with_attr("participant_pn", pn.clone())
            .with_attr("addressing_mode", "lid");
    }
    if let Some(pn) = &m.sender_pn {
        node = node
            .with_attr("sender_pn", pn.clone())
            .with_attr("addressing_mode", "lid");
    }
    if m.offline {
        node = node.with_attr("offline", "1");
    }
    node.with_children(
        m.encs
            .iter()
            .map(|enc| {
                Node::new("enc")
                    .with_attr("v", "2")
                    .with_attr("type", enc.kind.enc_type())
                    .with_bytes(enc.bytes.clone())
            })
            .collect(),
    )
}

/// A contact's devices changed: `<notification type=devices from=user>
/// <update/>` (the client asks for the list again).
pub fn devices_changed(id: &str, wall: UnixMillis, phone: &str) -> Node {
    Node::new("notification")
        .with_attr("from", Jid::new(phone.to_owned(), "s.whatsapp.net"))
        .with_attr("type", "devices")
        .with_attr("id", id.to_owned())
        .with_attr("t", wall.as_secs().to_string())
        .with_children(vec![Node::new("update")])
}

/// The device's one-time pre-keys on the server ran low: `count` left.
pub fn pre_key_count_notification(id: &str, wall: UnixMillis, count: u32) -> Node {
    Node::new("notification")
        .with_attr("from", server_jid())
        .with_attr("type", "encrypt")
        .with_attr("id", id.to_owned())
        .with_attr("t", wall.as_secs().to_string())
        .with_children(vec![
            Node::new("count").with_attr("value", count.to_string()),
        ])
}

/// The server got a receipt: `<ack class="receipt" id from [participant] [type]>`.
pub fn receipt_ack(receipt: &Node) -> Node {
    let mut ack = Node::new("ack").with_attr("class", "receipt");
    for (key, as_key) in [
        ("id", "id"),
        ("to", "from"),
        ("participant", "participant"),
        ("type", "type"),
    ] {
        if let Some(value) = receipt.attr_value(key) {
            ack = ack.with_attr(as_key, value.clone());
        }
    }
    ack
}
