//! The real client sends through the fake server to contacts that are
//! real Signal peers: every device of the contact reads the message, our
//! phone reads the device-sent copy, nothing a real server or contact
//! would object to happens, and a stanza sealed before a reconnect goes
//! out again as it was (never sealed a second time with new counters).

use std::time::Instant;

use blacksky_core::client::{Event, Input};
use blacksky_core::session::{Creds, Outbound, Write};
use blacksky_core::time::UnixMillis;
use blacksky_proto::Message as _;
use blacksky_proto::wa;
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::{ConnId, FakeServer, ReceiptKind, ServerConfig, ServerEvent};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);
const CONTACT: &str = "4915112345678";

fn online(seed: u64) -> (Pipe, ConnId) {
    Pipe::online(seed, WALL)
}

fn text(id: &str, to: &str, body: &str) -> Outbound {
    Outbound {
        id: id.to_owned(),
        to: format!("{to}@s.whatsapp.net"),
        message: wa::Message {
            conversation: Some(body.to_owned()),
            ..Default::default()
        }
        .encode_to_vec(),
        stanza: None,
    }
}

fn hand_in(pipe: &mut Pipe, conn: ConnId, rows: Vec<Outbound>) {
    let now = Instant::now();
    pipe.link_mut(conn)
        .client
        .handle_input(now, Input::Outbound { rows, wall: WALL })
        .expect("taken");
    pipe.run();
}

fn texts(pipe: &Pipe, phone: &str) -> Vec<(String, String)> {
    pipe.server
        .received_texts(phone)
        .into_iter()
        .map(|r| (r.id, r.text))
        .collect()
}

#[test]
fn every_device_of_the_contact_reads_it_and_our_phone_gets_the_copy() {
    let (mut pipe, conn) = online(1);
    pipe.server
        .set_contact_devices(CONTACT, &[0, 3])
        .expect("devices");
    hand_in(
        &mut pipe,
        conn,
        vec![text("3EB0000000000000000001", CONTACT, "pong 1")],
    );
    let read = texts(&pipe, CONTACT);
    assert_eq!(read.len(), 2, "both devices: {read:?}");
    assert!(
        read.iter()
            .all(|(id, t)| id == "3EB0000000000000000001" && t == "pong 1")
    );
    assert_eq!(pipe.server.violations(), [], "nothing to object to");
    let link = pipe.link(conn);
    assert!(
        link.events
            .iter()
            .any(|e| matches!(e, Event::MessageSent { id } if id == "3EB0000000000000000001")),
        "{:?}",
        link.events
    );
    // Stored with the stanza, then marked sent once the server acked.
    let sealed = link
        .stores
        .iter()
        .position(|batch| {
            batch
                .iter()
                .any(|w| matches!(w, Write::OutboundSealed { .. }))
        })
        .expect("sealed");
    let sealed_batch = &link.stores[sealed];
    assert!(
        sealed_batch
            .iter()
            .any(|w| matches!(w, Write::SignalSession { .. })),
        "the advanced session is in the stanza's batch"
    );
    assert!(
        link.stores[sealed..]
            .iter()
            .flatten()
            .any(|w| matches!(w, Write::OutboundSent { id, .. } if id == "3EB0000000000000000001"))
    );
}

#[test]
fn messages_go_in_order_and_the_second_continues_the_session() {
    let (mut pipe, conn) = online(2);
    hand_in(
        &mut pipe,
        conn,
        vec![
            text("3EB0000000000000000011", CONTACT, "one"),
            text("3EB0000000000000000012", CONTACT, "two"),
            text("3EB0000000000000000013", CONTACT, "three"),
        ],
    );
    let read: Vec<String> = texts(&pipe, CONTACT).into_iter().map(|(_, t)| t).collect();
    assert_eq!(read, ["one", "two", "three"]);
    assert_eq!(pipe.server.violations(), []);
}

/// `row` sealed and sent on `conn`, then handed as stored (its sealed
/// stanza with it) to the next connection, which is returned.
fn sealed_then_sent_again(pipe: &mut Pipe, conn: ConnId, row: &Outbound) -> ConnId {
    hand_in(pipe, conn, vec![row.clone()]);
    let stanza = pipe
        .link(conn)
        .stores
        .iter()
        .flatten()
        .find_map(|w| match w {
            Write::OutboundSealed { stanza, .. } => Some(stanza.clone()),
            _ => None,
        })
        .expect("sealed");
    let next = pipe.reconnect(conn);
    pipe.run();
    let sealed = Outbound {
        stanza: Some(stanza),
        ..row.clone()
    };
    hand_in(pipe, next, vec![sealed]);
    next
}

#[test]
fn a_stanza_sealed_before_a_reconnect_is_resent_as_it_was() {
    let (mut pipe, conn) = online(3);
    let row = text("3EB0000000000000000021", CONTACT, "once");
    // As if the ack never came: the next connection gets the stored row.
    let next = sealed_then_sent_again(&mut pipe, conn, &row);
    assert!(
        !pipe
            .link(next)
            .stores
            .iter()
            .flatten()
            .any(|w| matches!(w, Write::OutboundSealed { .. })),
        "never sealed again"
    );
    assert_eq!(
        pipe.server.violations(),
        [],
        "the same key with the same bytes is fine"
    );
    assert_eq!(
        texts(&pipe, CONTACT).len(),
        1,
        "read once (a resend is a copy)"
    );
}

#[test]
fn a_stanza_sealed_by_an_earlier_connection_can_be_asked_for_again() {
    let (mut pipe, conn) = online(5);
    let row = text("3EB0000000000000000041", CONTACT, "from before");
    // The next connection (or another process) sends the stored stanza;
    // a device that cannot read it asks that connection again.
    let next = sealed_then_sent_again(&mut pipe, conn, &row);
    pipe.server.request_retry(CONTACT, &row.id).expect("asks");
    pipe.run();
    assert_eq!(
        retry_events(&pipe, next),
        ["answered fresh=false", "answered fresh=true"]
    );
    let read = pipe.server.received_texts(CONTACT);
    assert_eq!(read.len(), 1, "one message: {read:?}");
    assert!(read[0].copies >= 2, "read again after the retry: {read:?}");
    assert_eq!(pipe.server.violations(), []);
}

fn retry_events(pipe: &Pipe, conn: ConnId) -> Vec<String> {
    pipe.link(conn)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RetryAnswered { fresh_session, .. } => {
                Some(format!("answered fresh={fresh_session}"))
            }
            Event::RetryNotAnswered { reason, .. } => Some(format!("not answered: {reason}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_device_that_lost_its_session_asks_again_and_reads_the_message() {
    let (mut pipe, conn) = online(4);
    let id = "3EB0000000000000000031";
    hand_in(&mut pipe, conn, vec![text(id, CONTACT, "say again")]);
    assert_eq!(texts(&pipe, CONTACT).len(), 1);
    // The contact's phone throws its session away and asks (count 1, no
    // keys): the bot answers on the session it has, which the phone can
    // no longer open, so it asks again with its keys (count 2) and reads
    // the answer on a new session.
    let asked = pipe.server.request_retry(CONTACT, id).expect("asks");
    assert_eq!(asked, 1);
    pipe.run();
    assert_eq!(
        retry_events(&pipe, conn),
        ["answered fresh=false", "answered fresh=true"]
    );
    let read = pipe.server.received_texts(CONTACT);
    assert_eq!(read.len(), 1, "one message: {read:?}");
    assert_eq!(read[0].text, "say again");
    assert!(read[0].copies >= 2, "read again after the retry: {read:?}");
    assert_eq!(pipe.server.violations(), [], "nothing to object to");
    // Every answer's session advance was committed before it left.
    let resent_sessions = pipe
        .link(conn)
        .stores
        .iter()
        .filter(|batch| {
            batch
                .iter()
                .any(|w| matches!(w, Write::SignalSession { .. }))
                && !batch
                    .iter()
                    .any(|w| matches!(w, Write::OutboundSealed { .. }))
        })
        .count();
    assert!(resent_sessions >= 2, "{resent_sessions} batches");
}

#[test]
fn read_receipts_and_typing_only_when_asked_for() {
    for asked in [false, true] {
        let server = FakeServer::new(ServerConfig::new(WALL), 6);
        let mut pipe = Pipe::new(server, Instant::now(), WALL, 106);
        let creds = Creds::generate(&mut ChaCha20Rng::seed_from_u64(1006));
        let mut config = pipe.client_config();
        config.send_read_receipts = asked;
        config.send_typing = asked;
        let conn = pipe
            .pair_and_login(config, creds)
            .expect("pairs and logs in");
        pipe.server.send_text(CONTACT, "hello").expect("sent");
        pipe.run();
        hand_in(
            &mut pipe,
            conn,
            vec![text("3EB0000000000000000051", CONTACT, "hi")],
        );
        let said: Vec<String> = pipe
            .server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Presence { what, .. } => Some(what.clone()),
                ServerEvent::Receipt {
                    kind: ReceiptKind::Read,
                    ..
                } => Some("read".to_owned()),
                _ => None,
            })
            .collect();
        let count = |what: &str| said.iter().filter(|s| s.as_str() == what).count();
        let (read, typing, presence) = (
            count("read"),
            count("chatstate composing"),
            count("presence available"),
        );
        let sent = &said;
        assert_eq!(presence, 1, "online once: {sent:?}");
        assert_eq!(
            (read, typing),
            if asked { (1, 1) } else { (0, 0) },
            "{sent:?}"
        );
    }
}

#[test]
fn a_contact_with_a_new_device_gets_it_covered_after_the_devices_notification() {
    let (mut pipe, conn) = online(7);
    hand_in(
        &mut pipe,
        conn,
        vec![text("3EB0000000000000000061", CONTACT, "before")],
    );
    // The contact links a second device: the server tells the bot, which
    // asks for the list again before the next message.
    pipe.server
        .set_contact_devices(CONTACT, &[0, 4])
        .expect("devices");
    pipe.run();
    hand_in(
        &mut pipe,
        conn,
        vec![text("3EB0000000000000000062", CONTACT, "after")],
    );
    let after: Vec<u8> = pipe
        .server
        .received_texts(CONTACT)
        .into_iter()
        .filter(|r| r.text == "after")
        .map(|r| r.device)
        .collect();
    assert_eq!(after, [0, 4], "both devices read it");
    assert_eq!(pipe.server.violations(), []);
}
