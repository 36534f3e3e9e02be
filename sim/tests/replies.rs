//! Promise 7 (`blacksky_sim::chaos::invariants`): every answer goes out
//! once. The chaos harness's handler answers each 1:1 text with one
//! `pong <inbox id>`; the contact's phone reads it once, under the reply
//! id; fake-wa objects to nothing; the outbox drains.
//!
//! And the harness can fail: a pong nobody's handling committed, an answer
//! held back by a partition, and a store that loses the ratchet a seal
//! advanced (the next message reuses a message key) are each caught.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test replies` runs another seed.

use std::time::Duration;

use blacksky_core::message::ids::reply_id;
use blacksky_core::session::{Outbound, Replaces, Session, Write};
use blacksky_core::time::UnixMillis;
use blacksky_io::store::{AnyStore, Store};
use blacksky_proto::{Message as _, wa};
use blacksky_sim::chaos::World;
use blacksky_sim::chaos::world::{SESSION, pong_text};
use futures_util::FutureExt;

const CONTACT: &str = "4915550007777";
const OTHER: &str = "4915550008888";
const LID_CONTACT: &str = "4915550009999";
const GROUP: &str = "120363000000000042";

/// How long the answers may take once the world is calm.
const REPLIES_BOUND: Duration = Duration::from_secs(60);

fn store(world: &World) -> AnyStore {
    world.db.store(SESSION)
}

fn commit(world: &World, writes: &[Write]) {
    store(world)
        .commit(writes)
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("commits");
}

fn stored_session(world: &World) -> Session {
    store(world)
        .load_session()
        .now_or_never()
        .expect("the memory store answers at once")
        .expect("readable")
        .expect("linked")
}

/// A message the bot sends on its own (not an answer), straight into the
/// store's outbox.
fn queue_text(world: &World, id: &str, to_phone: &str, text: &str) {
    let message = wa::Message {
        conversation: Some(text.to_owned()),
        ..Default::default()
    };
    let outbound = Outbound {
        id: id.to_owned(),
        to: format!("{to_phone}@s.whatsapp.net"),
        message: message.encode_to_vec(),
        stanza: None,
    };
    commit(
        world,
        &[Write::Queued {
            at: UnixMillis::EPOCH,
            outbox: vec![outbound],
        }],
    );
}

fn pongs_read(world: &World, phone: &str) -> Vec<(String, String)> {
    world
        .server
        .with_server(|s| s.received_texts(phone))
        .into_iter()
        .filter(|t| t.device == 0 && t.text.starts_with("pong "))
        .map(|t| (t.text, t.id))
        .collect()
}

#[test]
fn every_1to1_text_gets_one_pong_and_groups_get_none() {
    let (mut world, _guard) = World::linked("replies");
    world.answer_texts(true);
    let texts = world.send_messages(CONTACT, 3);
    let in_group = world.send_group_messages(GROUP, OTHER, 2);
    let from_lid = world
        .server
        .with_server(|s| s.send_text_from_lid(LID_CONTACT, "hello from a LID"))
        .expect("the contact sends");
    let all: Vec<String> = texts
        .iter()
        .chain(&in_group)
        .chain(std::iter::once(&from_lid))
        .cloned()
        .collect();
    world.assert_all_kept(&all);
    let owed = world.await_replies(REPLIES_BOUND);
    assert_eq!(owed, Vec::<String>::new(), "seed {}", world.seed);

    let expected: Vec<(String, String)> = texts
        .iter()
        .map(|id| (pong_text(id), reply_id(id, 0)))
        .collect();
    let mut read = pongs_read(&world, CONTACT);
    read.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(read, sorted, "seed {}: one pong per text", world.seed);
    assert_eq!(
        pongs_read(&world, OTHER),
        [],
        "seed {}: group messages get no answer (yet)",
        world.seed
    );
    assert_eq!(
        pongs_read(&world, LID_CONTACT),
        [(pong_text(&from_lid), reply_id(&from_lid, 0))],
        "seed {}: a contact writing from its LID is answered",
        world.seed
    );
    assert_eq!(world.unsent_outbox(), [], "seed {}", world.seed);
    world.assert_invariants();
}

/// An overlapping dyno may store answers after this process took the
/// session (it handles its last claimed entries, or the entries of a
/// connection it just lost): this process reads the unsent outbox again
/// each lease period and sends them, without a restart.
#[test]
fn answers_another_process_stored_are_sent_without_a_restart() {
    let (mut world, _guard) = World::linked("replies");
    world.answer_texts(true);
    let ids = world.send_messages(CONTACT, 1);
    world.assert_all_kept(&ids);
    let starts = world.bot_starts();
    queue_text(
        &world,
        "3EB0DDDDDDDDDDDDDDDDDD",
        CONTACT,
        "stored by another",
    );
    // The claim lease (30 s) is how often the worker looks again.
    world.run_until("the other's answer sent", Duration::from_secs(45), |w| {
        w.unsent_outbox().is_empty()
    });
    let read = world.server.with_server(|s| s.received_texts(CONTACT));
    assert!(
        read.iter()
            .any(|t| t.device == 0 && t.text == "stored by another"),
        "seed {}: the contact's phone read it",
        world.seed
    );
    assert_eq!(
        world.bot_starts(),
        starts,
        "seed {}: no restart",
        world.seed
    );
    world.assert_invariants();
}

#[test]
fn a_pong_for_a_message_never_handled_is_caught() {
    let (mut world, _guard) = World::linked("replies");
    world.answer_texts(true);
    let ids = world.send_messages(CONTACT, 1);
    world.assert_all_kept(&ids);
    // Someone else's row in the outbox, answering a message that was never
    // stored, let alone handled; the next start sends what it finds.
    let bogus = pong_text("3EB0000000000000000000");
    queue_text(&world, "3EB0FFFFFFFFFFFFFFFFFF", CONTACT, &bogus);
    world.bounce_bot();
    world.run_until("the bogus pong read", REPLIES_BOUND, |w| {
        pongs_read(w, CONTACT)
            .iter()
            .any(|(text, _)| *text == bogus)
    });
    let found = world.violations();
    assert!(
        found
            .iter()
            .any(|v| v.contains("handling was never committed")),
        "seed {}: the pong nobody owed went unnoticed: {found:?}",
        world.seed
    );
}

#[test]
fn an_answer_that_never_goes_out_is_caught() {
    let (mut world, _guard) = World::linked("replies");
    world.answer_texts(true);
    let ids = world.send_messages(CONTACT, 1);
    world.run_until("the message handled", REPLIES_BOUND, |w| {
        w.handled().contains(&ids[0])
    });
    // The answer is committed; its device lists and the send itself need
    // the network, which is gone now.
    world.partition_bot();
    let owed = world.await_replies(Duration::from_secs(30));
    assert!(
        owed.iter().any(|o| o.contains("never read")),
        "seed {}: the unread pong went unnoticed: {owed:?}",
        world.seed
    );
    assert!(
        owed.iter().any(|o| o.contains("never sent")),
        "seed {}: the unsent outbox row went unnoticed: {owed:?}",
        world.seed
    );
    // Healed, the bot sends it after all.
    world.repair_bot();
    let owed = world.await_replies(Duration::from_secs(120));
    assert_eq!(owed, Vec::<String>::new(), "seed {}", world.seed);
    world.assert_invariants();
}

#[test]
fn a_store_that_loses_a_seals_ratchet_is_caught_reusing_a_key() {
    let (mut world, _guard) = World::linked("replies");
    world.answer_texts(true);
    let first = world.send_messages(CONTACT, 1);
    world.assert_all_kept(&first);
    // The bot's Signal sessions (with the contact and our own phone) as
    // they are before the next answer is sealed.
    let before = stored_session(&world).sessions;
    let second = world.send_messages(CONTACT, 1);
    world.assert_all_kept(&second);
    // The store loses what sealing the second pong wrote, then the bot
    // sends a message of its own from there: same sending chain, same
    // counter, other bytes.
    let rollback: Vec<Write> = before
        .into_iter()
        .map(|(address, record)| Write::SignalSession {
            address,
            record,
            replaces: Replaces::Anything,
        })
        .collect();
    commit(&world, &rollback);
    queue_text(&world, "3EB0EEEEEEEEEEEEEEEEEE", CONTACT, "sent on its own");
    world.bounce_bot();
    world.run_until("the message of its own sent", REPLIES_BOUND, |w| {
        w.unsent_outbox().is_empty()
    });
    world.run_for(Duration::from_secs(5));
    let found = world.violations();
    assert!(
        found.iter().any(|v| v.contains("key_reused")),
        "seed {}: the reused message key went unnoticed: {found:?}",
        world.seed
    );
}
