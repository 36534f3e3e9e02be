//! The chaos world's contacts send real Signal texts, 1:1 and in a group:
//! the bot (the real driver and store) stores and acks every one, and
//! the stored stanzas carry the ciphertext the server made (a group's
//! first message with the sender key before the skmsg).
//!
//! `SEED=<n> cargo test -p blacksky-sim --test contact_texts` replays a run.

use std::time::Duration;

use blacksky_core::wire::binary;
use blacksky_sim::chaos::world::DEFAULT_SEED;
use blacksky_sim::chaos::{SeedGuard, World, WorldConfig, seed_from_env};

const CONTACT: &str = "4915550009999";
const GROUP: &str = "120363000000000001";

#[test]
fn texts_and_group_texts_are_stored_and_acked() {
    let seed = seed_from_env(DEFAULT_SEED);
    let _guard = SeedGuard {
        seed,
        scenario: "contact_texts",
    };
    let mut world = World::new(&WorldConfig::new(seed));
    world.link_by_qr(Duration::from_secs(60));
    let mut ids = world.send_messages(CONTACT, 2);
    ids.extend(world.send_group_messages(GROUP, CONTACT, 2));
    world.run_until("every text acked", Duration::from_secs(30), |w| {
        w.server_state().messages.acked as usize == ids.len()
    });
    world.assert_invariants();

    let stored = world.stored_inbox();
    let stored_ids: Vec<&str> = stored.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(stored_ids, ids, "seed {seed}");
    let encs: Vec<Vec<String>> = stored
        .iter()
        .map(|r| {
            let stanza = binary::decode(&r.stanza).expect("a stored stanza");
            stanza
                .children_named("enc")
                .map(|e| e.attr("type").unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        encs,
        [
            vec!["pkmsg"],
            vec!["pkmsg"],
            vec!["pkmsg", "skmsg"],
            vec!["skmsg"]
        ],
        "seed {seed}"
    );
    let texts: Vec<Option<String>> = ids
        .iter()
        .map(|id| {
            world
                .server
                .with_server(|s| s.sent_text(id).map(str::to_owned))
        })
        .collect();
    assert_eq!(
        texts,
        ["hello 0", "hello 1", "group hello 0", "group hello 1"].map(|t| Some(t.to_owned()))
    );
    let state = world.server_state();
    assert_eq!(
        state.messages.list[2].group.as_deref(),
        Some(GROUP),
        "seed {seed}"
    );
}
