//! Pre-key bundles of devices we have no session with: the `encrypt` key
//! query and its answer, each bundle's signed pre-key checked against
//! the device's identity before any session is started from it.

use thiserror::Error;

use super::super::stanzas;
use crate::signal::{
    IdentityKey, KeyError, OneTimePreKeyPublic, PreKeyBundle, PublicKey, SignedPreKeyPublic,
};
use crate::wire::binary::{Jid, Node, NodeRef};

/// Why a device's bundle could not be used: that device gets no copy of
/// the message this time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BundleError {
    #[error("the server answered with an error ({0})")]
    Refused(String),
    #[error("<{0}> missing or malformed")]
    Field(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the signed pre-key's signature does not verify")]
    BadSignature,
}

/// Asks the server for the bundles of `devices` (device JIDs).
pub fn bundle_query(id: &str, devices: &[Jid]) -> Node {
    let users = devices
        .iter()
        .map(|device| {
            Node::new("user")
                .with_attr("jid", device.clone())
                .with_attr("reason", "identity")
        })
        .collect();
    stanzas::iq(
        id,
        "get",
        "encrypt",
        vec![Node::new("key").with_children(users)],
    )
}

/// Each device's bundle in a key query's answer (`<list><user jid>…`), in
/// the order the answer lists them.
pub fn parse_bundles(answer: NodeRef<'_>) -> Vec<(Jid, Result<PreKeyBundle, BundleError>)> {
    let Some(list) = answer.child("list") else {
        return Vec::new();
    };
    list.children_named("user")
        .filter_map(|user| Some((user.attr_jid("jid")?, bundle_of(user))))
        .collect()
}

pub(super) fn bundle_of(user: NodeRef<'_>) -> Result<PreKeyBundle, BundleError> {
    if let Some(error) = user.child("error") {
        return Err(BundleError::Refused(
            error.attr("code").unwrap_or("no code").to_owned(),
        ));
    }
    let registration: [u8; 4] = bytes(user, "registration")?
        .try_into()
        .map_err(|_| BundleError::Field("registration"))?;
    // Some answers put the keys in a <keys> wrapper.
    let keys = user.child("keys").unwrap_or(user);
    let identity = IdentityKey::from_raw(bytes(keys, "identity")?, "identity")?;
    let skey = keys.child("skey").ok_or(BundleError::Field("skey"))?;
    let signed_pre_key = SignedPreKeyPublic::from_raw(
        id3(skey, "skey")?,
        bytes(skey, "value")?,
        bytes(skey, "signature")?,
    )?;
    let one_time_pre_key = match keys.child("key") {
        Some(key) => Some(OneTimePreKeyPublic {
            id: id3(key, "key")?,
            key: PublicKey::from_raw(bytes(key, "value")?, "key.value")?,
        }),
        None => None,
    };
    let bundle = PreKeyBundle {
        registration_id: u32::from_be_bytes(registration),
        identity,
        signed_pre_key,
        one_time_pre_key,
    };
    bundle.verify().map_err(|_| BundleError::BadSignature)?;
    Ok(bundle)
}

fn bytes<'a>(node: NodeRef<'a>, tag: &'static str) -> Result<&'a [u8], BundleError> {
    node.child(tag)
        .and_then(|child| child.bytes())
        .ok_or(BundleError::Field(tag))
}

/// A key id: three bytes, big-endian.
fn id3(node: NodeRef<'_>, what: &'static str) -> Result<u32, BundleError> {
    match bytes(node, "id")? {
        [a, b, c] => Ok(u32::from_be_bytes([0, *a, *b, *c])),
        _ => Err(BundleError::Field(what)),
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::crypto::KEY_TYPE_DJB;
    use crate::session::{Creds, PreKey};
    use crate::wire::binary::{Decoded, encode};

    fn answer_for(creds: &Creds, one_time: Option<&PreKey>) -> Node {
        let spk = &creds.signed_pre_key;
        let mut user = vec![
            Node::new("registration")
                .with_bytes(u32::from(creds.registration_id).to_be_bytes().to_vec()),
            Node::new("type").with_bytes(vec![KEY_TYPE_DJB]),
            Node::new("identity").with_bytes(creds.identity_key.public().to_vec()),
            Node::new("skey").with_children(vec![
                Node::new("id").with_bytes(spk.id.to_be_bytes()[1..].to_vec()),
                Node::new("value").with_bytes(spk.key_pair.public().to_vec()),
                Node::new("signature").with_bytes(spk.signature.to_vec()),
            ]),
        ];
        if let Some(key) = one_time {
            user.push(Node::new("key").with_children(vec![
                Node::new("id").with_bytes(key.id.to_be_bytes()[1..].to_vec()),
                Node::new("value").with_bytes(key.key_pair.public().to_vec()),
            ]));
        }
        Node::new("iq").with_child(
            Node::new("list").with_child(
                Node::new("user")
                    .with_attr("jid", Jid::ad("4915", Jid::DOMAIN_WHATSAPP, 2))
                    .with_children(user),
            ),
        )
    }

    fn parse(node: &Node) -> Vec<(Jid, Result<PreKeyBundle, BundleError>)> {
        let bytes = encode(node).expect("encodes");
        let mut decoded = Decoded::new();
        parse_bundles(decoded.decode(&bytes).expect("decodes"))
    }

    #[test]
    fn a_bundle_reads_back_as_the_device_made_it() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let creds = Creds::generate(&mut rng);
        let key = PreKey {
            id: 70_000,
            key_pair: crate::crypto::KeyPair::generate(&mut rng),
        };
        let parsed = parse(&answer_for(&creds, Some(&key)));
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, Jid::ad("4915", Jid::DOMAIN_WHATSAPP, 2));
        assert_eq!(
            parsed[0].1.as_ref().expect("a bundle"),
            &PreKeyBundle::of_own(&creds, Some(&key))
        );
        let without = parse(&answer_for(&creds, None));
        assert_eq!(without[0].1, Ok(PreKeyBundle::of_own(&creds, None)));
    }

    #[test]
    fn a_signed_pre_key_its_identity_did_not_sign_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut creds = Creds::generate(&mut rng);
        creds.signed_pre_key.signature[5] ^= 1;
        assert_eq!(
            parse(&answer_for(&creds, None))[0].1,
            Err(BundleError::BadSignature)
        );
    }

    #[test]
    fn an_error_or_a_short_field_names_what_was_wrong() {
        let error = Node::new("iq").with_child(
            Node::new("list").with_child(
                Node::new("user")
                    .with_attr("jid", Jid::ad("4915", Jid::DOMAIN_WHATSAPP, 0))
                    .with_child(Node::new("error").with_attr("code", "404")),
            ),
        );
        assert_eq!(parse(&error)[0].1, Err(BundleError::Refused("404".into())));
        let short = Node::new("iq").with_child(
            Node::new("list").with_child(
                Node::new("user")
                    .with_attr("jid", Jid::ad("4915", Jid::DOMAIN_WHATSAPP, 0))
                    .with_child(Node::new("registration").with_bytes(vec![1, 2])),
            ),
        );
        assert_eq!(parse(&short)[0].1, Err(BundleError::Field("registration")));
    }
}
