//! Keys a message needs are never missing for a reason of our own: keys
//! another process of this session stored after this one read the
//! session are read back before a retry receipt is sent, and a one-time
//! pre-key handed out to a contact is never deleted to make room.

use std::time::Duration;

use blacksky_core::client::{Event, Limit};
use blacksky_core::session::Session;
use blacksky_core::time::UnixMillis;
use blacksky_sim::pipe::{Pipe, stored_text};
use blacksky_sim::server::ConnId;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";
const GROUP: &str = "120363012345678901";

fn online(seed: u64) -> (Pipe, ConnId) {
    Pipe::online(seed, WALL)
}

fn count(pipe: &Pipe, conn: ConnId, what: impl Fn(&Event) -> bool) -> usize {
    pipe.link(conn).events.iter().filter(|e| what(e)).count()
}

/// A connection that starts from `ours` while the store holds `stored`
/// (what another process of the session wrote after this one read it).
fn connect_behind(pipe: &mut Pipe, ours: Session, stored: Session) -> ConnId {
    let conn = pipe.connect_session(pipe.client_config(), ours);
    pipe.link_mut(conn).stored_session = stored;
    pipe.run();
    assert!(pipe.link(conn).is_online(), "{:?}", pipe.link(conn).events);
    conn
}

#[test]
fn a_sender_key_another_process_stored_is_read_back_not_asked_for_again() {
    let (mut pipe, first) = online(1);
    let before = pipe.link(first).stored_session.clone();
    pipe.server
        .send_group_text(GROUP, CONTACT, "first")
        .expect("a device");
    pipe.run();
    let after = pipe.link(first).stored_session.clone();
    assert!(
        after.sender_keys.len() > before.sender_keys.len(),
        "the first group message brought the sender key"
    );
    pipe.close(first);

    let conn = connect_behind(&mut pipe, before, after);
    let id = pipe
        .server
        .send_group_text(GROUP, CONTACT, "second")
        .expect("a device");
    pipe.run();

    let link = pipe.link(conn);
    let stored: Vec<_> = link.inbox.iter().filter(|entry| entry.id == id).collect();
    assert_eq!(stored.len(), 1, "{:?}", link.events);
    assert_eq!(stored_text(stored[0]).as_deref(), Some("second"));
    assert_eq!(
        count(&pipe, conn, |e| matches!(e, Event::DecryptFailed { .. })),
        0
    );
    assert!(
        count(
            &pipe,
            conn,
            |e| matches!(e, Event::KeysTakenFromStore { count } if *count > 0)
        ) == 1
    );
}

#[test]
fn keys_the_store_does_not_have_either_are_asked_for_once() {
    let (mut pipe, first) = online(2);
    let before = pipe.link(first).stored_session.clone();
    pipe.server
        .send_group_text(GROUP, CONTACT, "first")
        .expect("a device");
    pipe.run();
    pipe.close(first);

    // The store lost the sender key too: only the sender can help.
    let conn = connect_behind(&mut pipe, before.clone(), before);
    pipe.server
        .send_group_text(GROUP, CONTACT, "second")
        .expect("a device");
    pipe.run();
    assert_eq!(
        count(&pipe, conn, |e| matches!(
            e,
            Event::DecryptFailed { count: 1, .. }
        )),
        1,
        "{:?}",
        pipe.link(conn).events
    );
    assert_eq!(
        count(&pipe, conn, |e| matches!(
            e,
            Event::KeysTakenFromStore { .. }
        )),
        0
    );
}

#[test]
fn a_handed_out_pre_key_is_never_deleted_to_make_room() {
    let (mut pipe, first) = online(3);
    let uploaded = pipe.link(first).stored_session.pre_keys.len();
    assert!(uploaded > 0);
    // The store is at its bound: every key uploaded so far was handed out
    // to contacts whose first messages have not arrived yet.
    let mut config = pipe.client_config();
    config.pre_keys_stored_max = uploaded;
    let session = pipe.link(first).stored_session.clone();
    pipe.close(first);
    let conn = pipe.connect_session(config, session);
    pipe.run();
    pipe.server.use_pre_keys(0);
    pipe.run();
    pipe.advance(Duration::from_secs(1));

    let link = pipe.link(conn);
    assert!(link.is_online());
    assert_eq!(link.stored_session.pre_keys.len(), uploaded, "none deleted");
    assert!(
        link.events
            .iter()
            .any(|e| matches!(e, Event::LimitReached { limit } if *limit == Limit::PreKeysStored)),
        "{:?}",
        link.events
    );
    assert_eq!(
        count(&pipe, conn, |e| matches!(e, Event::PreKeysUploaded { .. })),
        0
    );
    // A contact still starts a session, with the signed pre-key alone.
    let id = pipe
        .server
        .send_text(CONTACT, "no one-time key")
        .expect("a device");
    pipe.run();
    let link = pipe.link(conn);
    let entry = link.inbox.iter().find(|e| e.id == id).expect("stored");
    assert_eq!(stored_text(entry).as_deref(), Some("no one-time key"));
}
