//! usync device queries from a linked device, answered as WhatsApp does:
//!
//! `<iq xmlns=usync type=get><usync sid mode context …><query><devices
//! version=2/>[<lid/>]</query><list><user jid/>…</list></usync></iq>` →
//! `<iq type=result><usync sid mode context index=0 last=true><result>
//! <devices/>[<lid/>]</result><list><user jid><devices><device-list>
//! <device id=0/><device id=N key-index=K/>…</device-list></devices>
//! [<lid val=…@lid/>]</user>…</list></usync></iq>` (whatsmeow's user.go,
//! Baileys' USyncDeviceProtocol). A user the server does not know gets
//! `<devices><error code=404 text=not-found/></devices>`.

use blacksky_core::wire::binary::{Jid, Node};

use super::FakeServer;
use super::output::ConnId;
use super::stanzas;
use super::users::Addressing;

/// Users one query (usync or pre-keys) may name.
pub const USERS_PER_QUERY_MAX: usize = 512;

/// What a usync query asks of each user.
struct Asked {
    devices: bool,
    lid: bool,
}

impl FakeServer {
    /// `<iq xmlns=usync type=get>`.
    pub(crate) fn on_usync(&mut self, conn: ConnId, id: &str, iq: &Node) {
        let Some(usync) = iq.child("usync") else {
            let what = "usync iq lacks <usync>".to_owned();
            return self.refuse_iq(conn, id, 400, "bad-request", what);
        };
        let query = usync.child("query");
        let asked = Asked {
            devices: query.is_some_and(|q| q.child("devices").is_some()),
            lid: query.is_some_and(|q| q.child("lid").is_some()),
        };
        let users: Vec<Option<Jid>> = usync
            .child("list")
            .map(|list| {
                list.children_named("user")
                    .map(|u| u.attr_jid("jid"))
                    .collect()
            })
            .unwrap_or_default();
        if users.len() > USERS_PER_QUERY_MAX {
            let what = format!(
                "usync names {} users, at most {USERS_PER_QUERY_MAX}",
                users.len()
            );
            return self.refuse_iq(conn, id, 400, "bad-request", what);
        }
        let list = users
            .iter()
            .flatten()
            .map(|jid| self.usync_user(jid, &asked))
            .collect();
        let mut result = Vec::new();
        if asked.devices {
            result.push(Node::new("devices"));
        }
        if asked.lid {
            result.push(Node::new("lid"));
        }
        let mut answer = Node::new("usync");
        for key in ["sid", "mode", "context"] {
            if let Some(value) = usync.attr_value(key) {
                answer = answer.with_attr(key, value.clone());
            }
        }
        let answer = answer
            .with_attr("index", "0")
            .with_attr("last", "true")
            .with_children(vec![
                Node::new("result").with_children(result),
                Node::new("list").with_children(list),
            ]);
        self.send(conn, &stanzas::iq_result_with(id, vec![answer]));
    }

    /// One `<user>` of the answer, named as the query named it.
    fn usync_user(&mut self, jid: &Jid, asked: &Asked) -> Node {
        let plain = Jid::new(jid.user().to_owned(), jid.server().to_owned());
        let mut children = Vec::new();
        let Some((user, addressing)) = self.user_of(&plain) else {
            if asked.devices {
                children.push(Node::new("devices").with_children(vec![
                    Node::new("error")
                        .with_attr("code", "404")
                        .with_attr("text", "not-found"),
                ]));
            }
            return Node::new("user")
                .with_attr("jid", plain)
                .with_children(children);
        };
        if asked.devices {
            let devices = self
                .devices_of(&user)
                .into_iter()
                .map(|(device, key_index)| {
                    let node = Node::new("device").with_attr("id", device.to_string());
                    if device == 0 {
                        node
                    } else {
                        node.with_attr("key-index", key_index.to_string())
                    }
                })
                .collect();
            children.push(
                Node::new("devices")
                    .with_children(vec![Node::new("device-list").with_children(devices)]),
            );
        }
        if asked.lid && addressing == Addressing::Pn {
            let lid = self.device_jid(&user, Addressing::Lid, 0);
            children.push(Node::new("lid").with_attr("val", lid));
        }
        Node::new("user")
            .with_attr("jid", plain)
            .with_children(children)
    }
}
