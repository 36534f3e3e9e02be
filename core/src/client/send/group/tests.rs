use std::collections::BTreeMap;

use prost::Message as _;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::client::send::seal::session_address;
use crate::client::send::test_peer::*;
use crate::message::padding::unpad;
use crate::signal::group::{group_decrypt, process_distribution};

const GROUP: &str = "120363000000000001";

/// A member device: its pairwise end with us, and our sender key as it
/// learnt it.
struct Member {
    peer: Peer,
    jid: Jid,
    our_key: SenderKeyRecord,
}

impl Member {
    fn new(user: &str, device_id: u8, rng: &mut ChaCha20Rng) -> Member {
        Member {
            peer: Peer::new(rng),
            jid: device(user, device_id),
            our_key: SenderKeyRecord::default(),
        }
    }

    /// Reads `stanza` as this member: the SKDM if it got one, then the
    /// skmsg. The text, or why not.
    fn read(&mut self, stanza: &Node, rng: &mut ChaCha20Rng) -> Result<String, String> {
        let named = stanza.child("participants").is_some_and(|participants| {
            participants
                .children_named("to")
                .any(|to| to.attr_jid("jid").as_ref() == Some(&self.jid))
        });
        if named {
            let (_, bytes) = self.peer.open(stanza, &self.jid, rng);
            let message = wa::Message::decode(bytes.as_slice()).expect("a Message");
            let skdm = message.sender_key_distribution_message.expect("an SKDM");
            assert_eq!(
                skdm.group_id.as_deref(),
                Some(format!("{GROUP}@g.us").as_str())
            );
            self.our_key = process_distribution(
                &self.our_key,
                &skdm
                    .axolotl_sender_key_distribution_message
                    .expect("axolotl"),
            )
            .map_err(|e| e.to_string())?;
        }
        let skmsg = stanza
            .children_named("enc")
            .find(|enc| enc.attr("type") == Some("skmsg"))
            .expect("an skmsg")
            .bytes()
            .expect("bytes");
        let (padded, next) = group_decrypt(&self.our_key, skmsg).map_err(|e| e.to_string())?;
        self.our_key = next;
        let message = wa::Message::decode(unpad(&padded).expect("padding")).expect("a Message");
        Ok(message.conversation.unwrap_or_default())
    }
}

fn group() -> Jid {
    Jid::new(GROUP, "g.us")
}

fn seal_for(
    session: &Session,
    id: &str,
    body: &str,
    members: &[&Member],
    bundles: &BTreeMap<String, PreKeyBundle>,
    rng: &mut ChaCha20Rng,
) -> Sealed {
    let devices: Vec<Jid> = members.iter().map(|m| m.jid.clone()).collect();
    let message = text(body);
    let out = GroupOutgoing {
        id,
        group: &group(),
        message: &message,
        devices: &devices,
    };
    seal_group(session, &out, bundles, rng).expect("sealed")
}

fn bundles_of(session: &Session, members: &[&Member]) -> BTreeMap<String, PreKeyBundle> {
    members
        .iter()
        .map(|m| {
            let address = session_address(session, &m.jid).expect("address");
            (address, m.peer.bundle())
        })
        .collect()
}

#[test]
fn every_member_reads_and_the_key_goes_only_to_who_lacks_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut session = bot(&mut rng);
    let mut alice = Member::new("4915550000001", 0, &mut rng);
    let mut bob = Member::new("4915550000002", 3, &mut rng);
    let bundles = bundles_of(&session, &[&alice, &bob]);
    let first = seal_for(
        &session,
        "G1",
        "hello group",
        &[&alice, &bob],
        &bundles,
        &mut rng,
    );
    commit(&mut session, &first);
    assert_eq!(first.stanza.attr_jid("to"), Some(group()));
    assert!(
        first.stanza.child("device-identity").is_some(),
        "pkmsg copies"
    );
    assert_eq!(
        alice.read(&first.stanza, &mut rng).as_deref(),
        Ok("hello group")
    );
    assert_eq!(
        bob.read(&first.stanza, &mut rng).as_deref(),
        Ok("hello group")
    );
    // Both hold the key now: the next message is the skmsg alone.
    let second = seal_for(
        &session,
        "G2",
        "again",
        &[&alice, &bob],
        &BTreeMap::new(),
        &mut rng,
    );
    commit(&mut session, &second);
    assert!(second.stanza.child("participants").is_none());
    assert_eq!(alice.read(&second.stanza, &mut rng).as_deref(), Ok("again"));
    assert_eq!(bob.read(&second.stanza, &mut rng).as_deref(), Ok("again"));
    // A member who joins gets the key (at its current iteration) first.
    let mut carol = Member::new("4915550000003", 0, &mut rng);
    let bundles = bundles_of(&session, &[&carol]);
    let third = seal_for(
        &session,
        "G3",
        "welcome",
        &[&alice, &bob, &carol],
        &bundles,
        &mut rng,
    );
    commit(&mut session, &third);
    let named: Vec<String> = third
        .stanza
        .child("participants")
        .expect("participants")
        .children_named("to")
        .filter_map(|to| to.attr_jid("jid").map(|jid| jid.to_string()))
        .collect();
    assert_eq!(named, [carol.jid.to_string()]);
    for member in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(
            member.read(&third.stanza, &mut rng).as_deref(),
            Ok("welcome")
        );
    }
}

#[test]
fn after_a_new_key_a_removed_member_cannot_read() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let mut session = bot(&mut rng);
    let mut alice = Member::new("4915550000001", 0, &mut rng);
    let mut mallory = Member::new("4915550000009", 0, &mut rng);
    let bundles = bundles_of(&session, &[&alice, &mallory]);
    let first = seal_for(
        &session,
        "G1",
        "before",
        &[&alice, &mallory],
        &bundles,
        &mut rng,
    );
    commit(&mut session, &first);
    alice.read(&first.stanza, &mut rng).expect("alice reads");
    mallory
        .read(&first.stanza, &mut rng)
        .expect("mallory reads");
    // Mallory is removed: our key is dropped (what the client does on
    // the notification) and the next message brings a new one to Alice.
    let (group_name, sender) = own_sender_key_name(&session, &group()).expect("linked");
    session.apply(&Write::RemoveSenderKey {
        group: group_name.clone(),
        sender,
    });
    session.apply(&Write::ForgetSenderKeyShared { group: group_name });
    let second = seal_for(
        &session,
        "G2",
        "after",
        &[&alice],
        &BTreeMap::new(),
        &mut rng,
    );
    commit(&mut session, &second);
    assert_eq!(alice.read(&second.stanza, &mut rng).as_deref(), Ok("after"));
    assert!(
        mallory.read(&second.stanza, &mut rng).is_err(),
        "the old key does not open the new one's messages"
    );
}

#[test]
fn a_member_without_session_or_bundle_is_left_out_and_not_marked() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut session = bot(&mut rng);
    let alice = Member::new("4915550000001", 0, &mut rng);
    let bob = Member::new("4915550000002", 0, &mut rng);
    let bundles = bundles_of(&session, &[&alice]);
    let sealed = seal_for(&session, "G1", "hi", &[&alice, &bob], &bundles, &mut rng);
    assert_eq!(sealed.left_out, std::slice::from_ref(&bob.jid));
    commit(&mut session, &sealed);
    let shared = &session.sender_key_shared[&format!("{GROUP}@g.us")];
    assert!(shared.contains(&alice.jid.to_string()) && !shared.contains(&bob.jid.to_string()));
    assert_eq!(
        devices_without_key(&session, &group(), &[alice.jid.clone(), bob.jid.clone()]),
        [&bob.jid]
    );
}

#[test]
fn a_member_that_asks_again_gets_the_message_and_the_key_one_to_one() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let mut session = bot(&mut rng);
    let mut alice = Member::new("4915550000001", 0, &mut rng);
    let bundles = bundles_of(&session, &[&alice]);
    let message = text("missed");
    let devices = [alice.jid.clone()];
    let out = GroupOutgoing {
        id: "G1",
        group: &group(),
        message: &message,
        devices: &devices,
    };
    let sealed = seal_group(&session, &out, &bundles, &mut rng).expect("sealed");
    commit(&mut session, &sealed);
    // Alice lost it all (say her device was restored): she asks again.
    let (with_key, _given) = with_own_distribution(&session, &group(), &message).expect("our key");
    let resend = super::super::seal::Resend {
        id: "G1",
        chat: &group(),
        device: &alice.jid,
        message: &with_key,
        count: 1,
    };
    let answer =
        super::super::seal::seal_resend(&session, &resend, None, &mut rng).expect("sealed");
    commit(&mut session, &answer);
    assert_eq!(answer.stanza.attr_jid("to"), Some(group()));
    assert_eq!(
        answer.stanza.attr_jid("participant"),
        Some(alice.jid.clone())
    );
    let enc = answer.stanza.child("enc").expect("one enc");
    assert_eq!(enc.attr("count"), Some("1"));
    // Alice's session with us was started by the first message's pkmsg;
    // she opens this copy like a 1:1 message and finds text and key.
    alice.read(&sealed.stanza, &mut rng).expect("first read");
    let direct = Node::new("message").with_child(
        Node::new("participants").with_child(
            Node::new("to")
                .with_attr("jid", alice.jid.clone())
                .with_child(enc.clone()),
        ),
    );
    let (_, bytes) = alice.peer.open(&direct, &alice.jid, &mut rng);
    let read = wa::Message::decode(bytes.as_slice()).expect("a Message");
    assert_eq!(read.conversation.as_deref(), Some("missed"));
    assert!(
        read.sender_key_distribution_message.is_some(),
        "with our key"
    );
}
