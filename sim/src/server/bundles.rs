//! Pre-key bundles for a linked device that starts sessions:
//! `<iq xmlns=encrypt type=get><key><user jid=user:dev@… [reason]/>…</key>`
//! → `<iq type=result><list><user jid><registration>4 bytes BE
//! </registration><type>05</type><identity>32 bytes</identity><skey><id>3
//! bytes</id><value>32</value><signature>64</signature></skey>[<key><id/>
//! <value/></key>]</user>…</list>` (whatsmeow's prekeys.go). A device
//! that does not exist gets `<user jid><error code=404
//! text=item-not-found/></user>`. Each one-time pre-key goes out once.

use blacksky_core::crypto::KEY_TYPE_DJB;
use blacksky_core::signal::PreKeyBundle;
use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::output::ConnId;
use super::stanzas;
use super::users::User;
use super::usync::USERS_PER_QUERY_MAX;

/// A key id as WhatsApp writes it: 3 bytes, big-endian.
pub(crate) fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

/// `<skey><id/><value/><signature/></skey>` of a bundle.
pub(crate) fn skey_node(bundle: &PreKeyBundle) -> Node {
    let spk = &bundle.signed_pre_key;
    Node::new("skey").with_children(vec![
        Node::new("id").with_bytes(id3(spk.id)),
        Node::new("value").with_bytes(spk.key.raw().to_vec()),
        Node::new("signature").with_bytes(spk.signature.to_vec()),
    ])
}

/// `<key><id/><value/></key>` of a bundle's one-time pre-key, if it has one.
pub(crate) fn key_node(bundle: &PreKeyBundle) -> Option<Node> {
    bundle.one_time_pre_key.as_ref().map(|key| {
        Node::new("key").with_children(vec![
            Node::new("id").with_bytes(id3(key.id)),
            Node::new("value").with_bytes(key.key.raw().to_vec()),
        ])
    })
}

/// A `<user>` of the answer.
fn user_node(jid: Jid, bundle: &PreKeyBundle) -> Node {
    let mut children = vec![
        Node::new("registration").with_bytes(bundle.registration_id.to_be_bytes().to_vec()),
        Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
        Node::new("identity").with_bytes(bundle.identity.raw().to_vec()),
        skey_node(bundle),
    ];
    children.extend(key_node(bundle));
    Node::new("user")
        .with_attr("jid", jid)
        .with_children(children)
}

impl FakeServer {
    /// `<iq xmlns=encrypt type=get><key>…`.
    pub(crate) fn on_bundle_fetch(&mut self, conn: ConnId, id: &str, key: &Node) {
        let jids: Vec<Option<Jid>> = key
            .children_named("user")
            .map(|u| u.attr_jid("jid"))
            .collect();
        if jids.len() > USERS_PER_QUERY_MAX {
            let what = format!(
                "pre-key fetch names {} devices, at most {USERS_PER_QUERY_MAX}",
                jids.len()
            );
            return self.refuse_iq(conn, id, 400, "bad-request", what);
        }
        let list = jids
            .into_iter()
            .flatten()
            .map(|jid| match self.bundle_for(&jid) {
                Some(bundle) => user_node(jid, &bundle),
                None => Node::new("user").with_attr("jid", jid).with_children(vec![
                    Node::new("error")
                        .with_attr("code", "404")
                        .with_attr("text", "item-not-found"),
                ]),
            })
            .collect();
        let reply = stanzas::iq_result_with(id, vec![Node::new("list").with_children(list)]);
        self.send(conn, &reply);
    }

    /// The bundle of the device `jid` names, taking one of its one-time
    /// pre-keys; `None` for a device that does not exist.
    fn bundle_for(&mut self, jid: &Jid) -> Option<PreKeyBundle> {
        let plain = Jid::new(jid.user().to_owned(), jid.server().to_owned());
        let (user, _) = self.user_of(&plain)?;
        let device = u8::try_from(jid.device().unwrap_or(0)).ok()?;
        match user {
            User::Own if device == 0 => {
                let FakeServer {
                    own_phone,
                    account_key,
                    rng,
                    ..
                } = self;
                Some(own_phone.peer(account_key, rng).take_bundle(rng))
            }
            User::Own => {
                let record = self.devices.get_mut(&device).filter(|d| d.paired)?;
                let bundle = record.take_bundle().ok()?;
                self.after_bundle_fetch(device);
                Some(bundle)
            }
            User::Contact(phone) => {
                let FakeServer { contacts, rng, .. } = self;
                let peer = contacts.get_mut(&phone)?.device_mut(device)?;
                Some(peer.take_bundle(rng))
            }
        }
    }
}
