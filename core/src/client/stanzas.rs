//! The stanzas the client writes, built in one place so their shapes can
//! be read against the protocol references side by side.

use crate::crypto::KEY_TYPE_DJB;
use crate::session::{Creds, PreKey, SignedPreKey};
use crate::wire::binary::{Jid, Node, NodeRef, Str, Value, ValueRef};

/// The server's JID, `@s.whatsapp.net`.
pub fn server_jid() -> Jid {
    Jid::at("s.whatsapp.net")
}

/// An iq to the server.
pub fn iq(id: &str, kind: &'static str, xmlns: &'static str, children: Vec<Node>) -> Node {
    Node::new("iq")
        .with_attr("id", id.to_owned())
        .with_attr("to", server_jid())
        .with_attr("type", kind)
        .with_attr("xmlns", xmlns)
        .with_children(children)
}

/// The empty answer to a server's iq.
pub fn iq_result(id: &str) -> Node {
    Node::new("iq")
        .with_attr("to", server_jid())
        .with_attr("type", "result")
        .with_attr("id", id.to_owned())
}

pub fn ping(id: &str) -> Node {
    iq(id, "get", "w:p", vec![Node::new("ping")])
}

pub fn pre_key_count(id: &str) -> Node {
    iq(id, "get", "encrypt", vec![Node::new("count")])
}

pub fn set_active(id: &str) -> Node {
    iq(id, "set", "passive", vec![Node::new("active")])
}

/// Signal ids travel as 3 big-endian bytes.
fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

/// `<id>` and `<value>` of a public key, as key lists carry them.
fn key_fields(key_id: u32, public: &[u8; 32]) -> Vec<Node> {
    vec![
        Node::new("id").with_bytes(id3(key_id)),
        Node::new("value").with_bytes(public.to_vec()),
    ]
}

/// `<key>`: a one-time pre-key's public half.
fn one_time_key(key: &PreKey) -> Node {
    Node::new("key").with_children(key_fields(key.id, key.key_pair.public()))
}

/// `<skey>`: the signed pre-key with its signature.
fn signed_key(spk: &SignedPreKey) -> Node {
    let mut skey = key_fields(spk.id, spk.key_pair.public());
    skey.push(Node::new("signature").with_bytes(spk.signature.to_vec()));
    Node::new("skey").with_children(skey)
}

/// `<registration>`: our registration id, 4 bytes big-endian.
fn registration(creds: &Creds) -> Node {
    Node::new("registration").with_bytes(u32::from(creds.registration_id).to_be_bytes().to_vec())
}

/// Uploads one-time pre-keys with the signed pre-key and our identity.
pub fn pre_key_upload(id: &str, creds: &Creds, keys: &[PreKey]) -> Node {
    iq(
        id,
        "set",
        "encrypt",
        vec![
            registration(creds),
            Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
            Node::new("identity").with_bytes(creds.identity_key.public().to_vec()),
            Node::new("list").with_children(keys.iter().map(one_time_key).collect()),
            signed_key(&creds.signed_pre_key),
        ],
    )
}

/// Hands the server a new signed pre-key, which it gives contacts from
/// then on in place of the one before.
pub fn signed_pre_key_rotate(id: &str, key: &SignedPreKey) -> Node {
    iq(
        id,
        "set",
        "encrypt",
        vec![Node::new("rotate").with_children(vec![signed_key(key)])],
    )
}

/// The ack that tells the server a stanza arrived (for a `message`: that
/// it is committed), so it stops redelivering it.
pub fn ack_for(stanza: NodeRef<'_>) -> Node {
    let tag = stanza.tag();
    let mut ack = reply_to(
        stanza,
        Node::new("ack").with_attr("class", Value::infer(tag)),
    );
    if tag != "message"
        && let Some(kind) = stanza.attr_value("type")
    {
        ack = ack.with_attr("type", owned(kind));
    }
    ack
}

/// The same ack, saying the stanza cannot be used (`code` names why), so
/// the server stops sending it.
pub fn nack_for(stanza: NodeRef<'_>, code: u16) -> Node {
    ack_for(stanza).with_attr("error", code.to_string())
}

/// The delivery receipt for a stored `<message>`: its sender learns it
/// reached this device.
pub fn delivery_receipt(message: NodeRef<'_>) -> Node {
    reply_to(message, Node::new("receipt"))
}

/// The read receipt (blue ticks) for a stored message.
pub fn read_receipt(message: NodeRef<'_>) -> Node {
    reply_to(message, Node::new("receipt").with_attr("type", "read"))
}

/// `<presence type=available [name]/>`: online, under our push name.
pub fn presence_available(push_name: Option<&str>) -> Node {
    let presence = Node::new("presence").with_attr("type", "available");
    match push_name {
        Some(name) => presence.with_attr("name", name.to_owned()),
        None => presence,
    }
}

/// `<chatstate to><composing/></chatstate>`: "typing…" in chat `to`.
pub fn composing(to: &Jid) -> Node {
    Node::new("chatstate")
        .with_attr("to", to.clone())
        .with_child(Node::new("composing"))
}

/// The receipt our phone waits for after a history-sync notice.
pub fn history_sync_receipt(message: NodeRef<'_>) -> Node {
    reply_to(message, Node::new("receipt").with_attr("type", "hist_sync"))
}

/// The retry receipt for a `<message>` that did not decrypt: asks its
/// sender to encrypt it again, the `count`th time. From the second time
/// on it carries [`retry_keys`], with which the sender starts a new
/// session.
pub fn retry_receipt(message: NodeRef<'_>, count: u8, creds: &Creds) -> Node {
    let mut retry = Node::new("retry")
        .with_attr("count", count.to_string())
        .with_attr("v", "1");
    for key in ["id", "t"] {
        if let Some(value) = message.attr_value(key) {
            retry = retry.with_attr(key, owned(value));
        }
    }
    reply_to(message, Node::new("receipt").with_attr("type", "retry"))
        .with_children(vec![retry, registration(creds)])
}

/// `<keys>` of a retry receipt: our identity, a fresh one-time pre-key,
/// the signed pre-key and our signed device identity.
pub fn retry_keys(creds: &Creds, key: &PreKey) -> Node {
    let mut bundle = vec![
        Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
        Node::new("identity").with_bytes(creds.identity_key.public().to_vec()),
        one_time_key(key),
        signed_key(&creds.signed_pre_key),
    ];
    if let Some(account) = &creds.account {
        bundle.push(Node::new("device-identity").with_bytes(account.clone()));
    }
    Node::new("keys").with_children(bundle)
}

/// `node` addressed back to the sender of `message`, about it.
fn reply_to(message: NodeRef<'_>, mut node: Node) -> Node {
    for key in ["id", "from", "participant", "recipient"] {
        if let Some(value) = message.attr_value(key) {
            node = node.with_attr(if key == "from" { "to" } else { key }, owned(value));
        }
    }
    node
}

/// An attribute value read in place, as an owned one for a reply.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Str(text) => Value::Str(Str::from(text.to_owned())),
        ValueRef::Jid(jid) => Value::Jid(jid),
    }
}

pub fn pair_device_sign(id: &str, key_index: u32, reply_identity: Vec<u8>) -> Node {
    Node::new("iq")
        .with_attr("to", server_jid())
        .with_attr("type", "result")
        .with_attr("id", id.to_owned())
        .with_children(vec![Node::new("pair-device-sign").with_children(vec![
                Node::new("device-identity")
                    .with_attr("key-index", key_index.to_string())
                    .with_bytes(reply_identity),
            ])])
}

/// Tells the phone (through the server) that we refused its pair-success.
pub fn pair_error(id: &str, code: u16, text: &'static str) -> Node {
    Node::new("iq")
        .with_attr("to", server_jid())
        .with_attr("type", "error")
        .with_attr("id", id.to_owned())
        .with_children(vec![
            Node::new("error")
                .with_attr("code", code.to_string())
                .with_attr("text", text),
        ])
}

/// Stage 1 of code pairing: asks the server for a pairing ref and tells it
/// which phone will type the code.
pub fn link_code_hello(
    id: &str,
    phone: &str,
    wrapped_ephemeral: &[u8],
    noise_public: &[u8; 32],
    platform_id: u8,
) -> Node {
    iq(
        id,
        "set",
        "md",
        vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", Jid::new(phone.to_owned(), "s.whatsapp.net"))
                .with_attr("stage", "companion_hello")
                .with_attr("should_show_push_notification", "true")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_companion_ephemeral_pub")
                        .with_bytes(wrapped_ephemeral.to_vec()),
                    Node::new("companion_server_auth_key_pub").with_bytes(noise_public.to_vec()),
                    Node::new("companion_platform_id").with_text(platform_id.to_string()),
                    Node::new("companion_platform_display").with_text("Chrome (Linux)"),
                    Node::new("link_code_pairing_nonce").with_bytes(vec![0]),
                ]),
        ],
    )
}

/// Stage 2 of code pairing: our wrapped key bundle, after the phone's hello.
pub fn link_code_finish(
    id: &str,
    phone: &str,
    bundle: Vec<u8>,
    identity_public: &[u8; 32],
    reference: Vec<u8>,
) -> Node {
    iq(
        id,
        "set",
        "md",
        vec![
            Node::new("link_code_companion_reg")
                .with_attr("jid", Jid::new(phone.to_owned(), "s.whatsapp.net"))
                .with_attr("stage", "companion_finish")
                .with_children(vec![
                    Node::new("link_code_pairing_wrapped_key_bundle").with_bytes(bundle),
                    Node::new("companion_identity_public").with_bytes(identity_public.to_vec()),
                    Node::new("link_code_pairing_ref").with_bytes(reference),
                ]),
        ],
    )
}
