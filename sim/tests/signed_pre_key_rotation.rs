//! The signed pre-key rotates on schedule: a login more than
//! `signed_pre_key_rotate_ms` after the key was made stores the next key,
//! then hands it to the server, which gives it to new contacts; a contact
//! that fetched the old bundle before still gets its pkmsg opened (the
//! previous key is kept). And a crash between storing the key and sending
//! it loses nothing: the next login sends the stored key.

use std::time::Duration;

use blacksky_core::client::Event;
use blacksky_core::session::{Creds, SignedPreKeyStatus, Write};
use blacksky_core::signal::PreKeySignalMessage;
use blacksky_core::time::UnixMillis;
use blacksky_core::wire::binary;
use blacksky_sim::pipe::{Pipe, stored_text};
use blacksky_sim::server::{ConnId, ServerEvent};

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const EARLY_CONTACT: &str = "4915112345678";
const LATE_CONTACT: &str = "4915187654321";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn online(seed: u64) -> (Pipe, ConnId) {
    Pipe::online(seed, WALL)
}

fn rotations(pipe: &Pipe) -> Vec<u32> {
    pipe.server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::SignedPreKeyRotated { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn stored_creds(pipe: &Pipe, conn: ConnId) -> Creds {
    pipe.link(conn).stored_session.creds.clone()
}

/// The signed pre-key id each stored pkmsg was built on, by message id.
fn pkmsg_signed_key_ids(pipe: &Pipe, conn: ConnId) -> Vec<(String, u32)> {
    pipe.link(conn)
        .inbox
        .iter()
        .filter_map(|entry| {
            let stanza = binary::decode(&entry.stanza).expect("a stored stanza");
            let enc = stanza
                .children_named("enc")
                .find(|e| e.attr("type") == Some("pkmsg"))?;
            let pkmsg = PreKeySignalMessage::decode(enc.bytes()?).expect("a pkmsg");
            Some((entry.id.clone(), pkmsg.signed_pre_key_id))
        })
        .collect()
}

#[test]
fn a_week_old_key_rotates_and_both_keys_open_pkmsgs() {
    let (mut pipe, first) = online(1);
    let linked = stored_creds(&pipe, first);
    assert_eq!(
        linked.signed_pre_key_status,
        SignedPreKeyStatus::Confirmed { made: WALL },
        "the key registered at linking is confirmed from then"
    );
    assert!(rotations(&pipe).is_empty(), "a fresh key is not rotated");

    // An early contact fetches the bundle (signed pre-key 1) while the bot
    // is away; its pkmsg waits in the server's queue.
    pipe.close(first);
    let early = pipe
        .server
        .send_text(EARLY_CONTACT, "built on the old key")
        .expect("a device");

    pipe.advance(8 * DAY);
    let second = pipe.reconnect(first);
    pipe.run();
    let link = pipe.link(second);
    assert!(link.is_online(), "{:?}", link.events);
    assert_eq!(rotations(&pipe), [2], "the server got the next key");
    assert!(link.events.contains(&Event::SignedPreKeyRotated { id: 2 }));
    let rotated = stored_creds(&pipe, second);
    assert_eq!(rotated.signed_pre_key.id, 2);
    assert_eq!(
        rotated.signed_pre_key_status,
        SignedPreKeyStatus::Confirmed {
            made: WALL.saturating_add_millis(8 * DAY.as_millis() as u64)
        }
    );
    let previous = rotated.previous_signed_pre_key.as_ref().expect("kept");
    assert_eq!(previous.key.id, 1);
    assert_eq!(
        previous.key.key_pair.public(),
        linked.signed_pre_key.key_pair.public()
    );

    // A new contact fetches the bundle now: it carries the new key.
    let late = pipe
        .server
        .send_text(LATE_CONTACT, "built on the new key")
        .expect("a device");
    pipe.run();

    assert_eq!(
        pkmsg_signed_key_ids(&pipe, second),
        [(early.clone(), 1), (late.clone(), 2)],
        "the queued pkmsg names the old key, the new contact's the new one"
    );
    let texts: Vec<Option<String>> = pipe.link(second).inbox.iter().map(stored_text).collect();
    assert_eq!(
        texts,
        [
            Some("built on the old key".to_owned()),
            Some("built on the new key".to_owned())
        ],
        "both opened: {:?}",
        pipe.link(second).events
    );
    assert!(
        !pipe
            .link(second)
            .events
            .iter()
            .any(|e| matches!(e, Event::DecryptFailed { .. })),
        "no retry receipt"
    );

    // A later login within the rotation period changes nothing.
    pipe.close(second);
    pipe.advance(DAY);
    let third = pipe.reconnect(second);
    pipe.run();
    assert!(pipe.link(third).is_online());
    assert_eq!(rotations(&pipe), [2]);
    assert_eq!(stored_creds(&pipe, third).signed_pre_key.id, 2);
}

#[test]
fn the_previous_key_goes_at_the_first_login_after_its_grace() {
    let (mut pipe, first) = online(2);
    pipe.close(first);
    pipe.advance(8 * DAY);
    let second = pipe.reconnect(first);
    pipe.run();
    assert_eq!(rotations(&pipe), [2]);
    // Rotation every 40 days here, so only the grace (30 days) is seen.
    let config = blacksky_core::client::ClientConfig {
        signed_pre_key_rotate_ms: 40 * DAY.as_millis() as u64,
        ..pipe.client_config()
    };
    pipe.link_mut(second).config = config;
    pipe.close(second);
    pipe.advance(30 * DAY - Duration::from_millis(1));
    let third = pipe.reconnect(second);
    pipe.run();
    let kept = stored_creds(&pipe, third);
    assert_eq!(kept.previous_signed_pre_key.map(|p| p.key.id), Some(1));
    pipe.close(third);
    pipe.advance(Duration::from_millis(1));
    let fourth = pipe.reconnect(third);
    pipe.run();
    let dropped = stored_creds(&pipe, fourth);
    assert!(dropped.previous_signed_pre_key.is_none(), "grace over");
    assert_eq!(dropped.signed_pre_key.id, 2);
    assert_eq!(rotations(&pipe), [2], "no rotation while dropping");
}

/// A batch that stores a freshly rotated key (not yet confirmed).
fn stores_a_rotated_key(writes: &[Write]) -> bool {
    writes.iter().filter_map(Write::creds).any(|creds| {
        matches!(
            creds.signed_pre_key_status,
            SignedPreKeyStatus::Unconfirmed { .. }
        )
    })
}

#[test]
fn a_crash_between_storing_and_sending_the_key_loses_nothing() {
    let (mut pipe, first) = online(3);
    let linked = stored_creds(&pipe, first);
    pipe.close(first);
    let early = pipe
        .server
        .send_text(EARLY_CONTACT, "built on the old key")
        .expect("a device");
    pipe.advance(8 * DAY);

    // kill -9 right after the store committed the new key: whatever the
    // client emitted before that batch reached the server, nothing after.
    let second = pipe.reconnect(first);
    pipe.link_mut(second).crash_after_store = Some(stores_a_rotated_key);
    pipe.run();
    assert!(pipe.link(second).crashed, "the rotation was stored");
    assert!(
        rotations(&pipe).is_empty(),
        "the rotate request left only after its key was stored"
    );
    let stored = stored_creds(&pipe, second);
    assert_eq!(stored.signed_pre_key.id, 2);
    assert!(matches!(
        stored.signed_pre_key_status,
        SignedPreKeyStatus::Unconfirmed { .. }
    ));
    assert_eq!(
        stored.previous_signed_pre_key.as_ref().map(|p| p.key.id),
        Some(1)
    );

    // The next login sends the stored key (not yet another one).
    let third = pipe.reconnect(second);
    pipe.run();
    assert!(
        pipe.link(third).is_online(),
        "{:?}",
        pipe.link(third).events
    );
    assert_eq!(rotations(&pipe), [2]);
    let confirmed = stored_creds(&pipe, third);
    assert_eq!(
        confirmed.signed_pre_key.key_pair.public(),
        stored.signed_pre_key.key_pair.public(),
        "the key the store kept is the one the server got"
    );
    assert!(matches!(
        confirmed.signed_pre_key_status,
        SignedPreKeyStatus::Confirmed { .. }
    ));
    assert_eq!(
        confirmed
            .previous_signed_pre_key
            .map(|p| p.key.key_pair.public().to_owned()),
        Some(linked.signed_pre_key.key_pair.public().to_owned())
    );

    let late = pipe
        .server
        .send_text(LATE_CONTACT, "built on the new key")
        .expect("a device");
    pipe.run();
    let mut opened = pkmsg_signed_key_ids(&pipe, third);
    opened.sort();
    let mut expected = vec![(early, 1), (late, 2)];
    expected.sort();
    assert_eq!(opened, expected);
    assert!(
        pipe.link(third)
            .inbox
            .iter()
            .all(|entry| stored_text(entry).is_some()),
        "every pkmsg opened"
    );
}
