//! One outgoing group message sealed, as a pure function on the session:
//! encrypted once under our sender key for the group (`skmsg`), with the
//! key itself (a sender key distribution message, SKDM) sealed 1:1 for
//! each member device that does not have it yet. The writes (the sender
//! key's next iteration, sessions advanced or started, the devices that
//! now hold the key) are committed with the stanza before it leaves.

use std::collections::{BTreeMap, BTreeSet};

use blacksky_proto::Message as _;
use blacksky_proto::wa;
use rand_core::CryptoRngCore;

use super::seal::{SealError, Sealed, Sender, is_pkmsg, message_type, with_device_identity};
use crate::client::groups::phash::participant_hash;
use crate::message::padding::pad;
use crate::session::{GivenKey, RecordDigest, Replaces, Session, Write};
use crate::signal::PreKeyBundle;
use crate::signal::group::{self, SenderKeyRecord};
use crate::wire::binary::{Jid, Node};

/// What one group message is and who gets it.
#[derive(Debug)]
pub struct GroupOutgoing<'a> {
    pub id: &'a str,
    /// `…@g.us`.
    pub group: &'a Jid,
    /// The `Message` protobuf.
    pub message: &'a [u8],
    /// Every device of every member (ours included), as the group
    /// addresses them.
    pub devices: &'a [Jid],
}

/// The name our own sender key for `group` is stored under.
#[must_use]
pub fn own_sender_key_name(session: &Session, group: &Jid) -> Option<(String, String)> {
    let me = session.creds.me.as_ref()?;
    let sender = crate::signal::address::device_address(&me.jid)?;
    Some((group.to_string(), sender))
}

/// The devices of `devices` that need our sender key before they can read
/// the next message to `group` (all of them when we have no key yet).
#[must_use]
pub fn devices_without_key<'d>(session: &Session, group: &Jid, devices: &'d [Jid]) -> Vec<&'d Jid> {
    let has_key = own_sender_key_name(session, group)
        .is_some_and(|name| session.sender_keys.contains_key(&name));
    let shared = session.sender_key_shared.get(&group.to_string());
    devices
        .iter()
        .filter(|device| {
            !has_key || !shared.is_some_and(|shared| shared.contains(&device.to_string()))
        })
        .collect()
}

/// `message` (a `Message`'s bytes) with our current sender key for
/// `group` added as its `senderKeyDistributionMessage` (field 2; appended,
/// which protobuf reads as set): what a member device that asked again
/// gets 1:1, and which record of our key that is. `None` without a key
/// of ours.
#[must_use]
pub fn with_own_distribution(
    session: &Session,
    group: &Jid,
    message: &[u8],
) -> Option<(Vec<u8>, GivenKey)> {
    let name = own_sender_key_name(session, group)?;
    let stored = session.sender_keys.get(&name)?;
    let given = GivenKey {
        sender: name.1.clone(),
        record: RecordDigest::of(stored),
    };
    let record = SenderKeyRecord::decode(stored).ok()?;
    let distribution = group::distribution_message(&record).ok()?;
    let skdm = wa::message::SenderKeyDistributionMessage {
        group_id: Some(name.0),
        axolotl_sender_key_distribution_message: Some(distribution.to_bytes()),
    }
    .encode_to_vec();
    let mut out = message.to_vec();
    prost::encoding::encode_key(2, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(skdm.len() as u64, &mut out);
    out.extend_from_slice(&skdm);
    Some((out, given))
}

/// Seals `out`: `<message id to=group type phash><participants><to jid><enc
/// type=pkmsg|msg/></to>…</participants><enc v=2 type=skmsg/>
/// [<device-identity/>]</message>`, starting a session from `bundles`
/// (by session address) for a device that needs the key and has none.
pub fn seal_group(
    session: &Session,
    out: &GroupOutgoing<'_>,
    bundles: &BTreeMap<String, PreKeyBundle>,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, SealError> {
    let sender = Sender::of(session)?;
    let (group_name, own_name) =
        own_sender_key_name(session, out.group).ok_or(SealError::NotLinked)?;
    let stored = session
        .sender_keys
        .get(&(group_name.clone(), own_name.clone()))
        .and_then(|bytes| SenderKeyRecord::decode(bytes).ok())
        .filter(|record| group::distribution_message(record).is_ok());
    let mut writes = Vec::new();
    let (record, distribution, fresh) = match stored {
        Some(record) => {
            let distribution =
                group::distribution_message(&record).map_err(SealError::SenderKey)?;
            (record, distribution, false)
        }
        None => {
            let (record, distribution) = group::create_sender_key(rng);
            // A new key: whoever had the old one must get this one.
            writes.push(Write::ForgetSenderKeyShared {
                group: group_name.clone(),
            });
            (record, distribution, true)
        }
    };
    let skdm = wa::Message {
        sender_key_distribution_message: Some(wa::message::SenderKeyDistributionMessage {
            group_id: Some(group_name.clone()),
            axolotl_sender_key_distribution_message: Some(distribution.to_bytes()),
        }),
        ..wa::Message::default()
    }
    .encode_to_vec();
    let mut participants = Vec::new();
    let mut left_out = Vec::new();
    let mut reached = Vec::new();
    let mut any_pkmsg = false;
    let needing: BTreeSet<String> = devices_without_key(session, out.group, out.devices)
        .into_iter()
        .map(Jid::to_string)
        .collect();
    for device in out.devices {
        if sender.is_this_device(device) || !(fresh || needing.contains(&device.to_string())) {
            continue;
        }
        match sender.copy_for(session, device, &skdm, bundles, &mut writes, rng) {
            Some(copy) => {
                any_pkmsg |= is_pkmsg(&copy);
                reached.push(device.to_string());
                participants.push(copy);
            }
            None => left_out.push(device.clone()),
        }
    }
    let (skmsg, advanced) =
        group::group_encrypt(&record, &pad(out.message, rng), rng).map_err(SealError::SenderKey)?;
    let advanced = advanced.encode_stamped(rng.next_u64());
    let given = GivenKey {
        sender: own_name.clone(),
        record: RecordDigest::of(&advanced),
    };
    writes.push(Write::SenderKey {
        replaces: Replaces::current_sender_key(session, &group_name, &own_name),
        group: group_name.clone(),
        sender: own_name,
        record: advanced,
    });
    if !reached.is_empty() {
        writes.push(Write::SenderKeyShared {
            group: group_name,
            devices: reached,
            given,
        });
    }
    let mut stanza = Node::new("message")
        .with_attr("id", out.id.to_owned())
        .with_attr("to", out.group.clone())
        .with_attr("type", message_type(out.message))
        .with_attr("phash", participant_hash(out.devices));
    if !participants.is_empty() {
        stanza = stanza.with_child(Node::new("participants").with_children(participants));
    }
    let stanza = stanza.with_child(
        Node::new("enc")
            .with_attr("v", "2")
            .with_attr("type", "skmsg")
            .with_bytes(skmsg),
    );
    Ok(Sealed {
        stanza: with_device_identity(stanza, session, any_pkmsg),
        writes,
        left_out,
    })
}

#[cfg(test)]
mod tests;
