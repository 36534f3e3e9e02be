//! Poison from the server (`server::poison`): stanzas the client cannot
//! use. Each is answered the way WhatsApp expects where it can be (a nack
//! for a message that can never be read, an ack for a notification),
//! reported as `StanzaIgnored` and skipped; the connection stays, so the
//! server's resending at the next login never turns into a reconnect loop.
//! The real `Client` against the fake server through the in-memory `Pipe`.

use std::time::Duration;

use blacksky_core::client::{CountSource, Event, Ignored};
use blacksky_core::session::InboxContent;
use blacksky_core::time::UnixMillis;
use blacksky_sim::pipe::Pipe;
use blacksky_sim::server::poison::PoisonKind;
use blacksky_sim::server::{ConnId, Target};

const WALL: UnixMillis = UnixMillis::from_secs(1_750_000_000);

fn online(seed: u64) -> (Pipe, ConnId) {
    Pipe::online(seed, WALL)
}

fn ignored(pipe: &Pipe, conn: ConnId) -> Vec<Ignored> {
    pipe.link(conn)
        .events
        .iter()
        .filter_map(|event| match event {
            Event::StanzaIgnored { what } => Some(what.clone()),
            _ => None,
        })
        .collect()
}

/// The answer the server got for each poison stanza of `kind`.
fn answers(pipe: &Pipe, kind: PoisonKind) -> Vec<Option<String>> {
    pipe.server
        .poison()
        .sent
        .iter()
        .filter(|sent| sent.kind == kind)
        .map(|sent| sent.answer.clone())
        .collect()
}

const SENT_ONCE: [PoisonKind; 4] = [
    PoisonKind::MessageWithoutId,
    PoisonKind::Undecodable,
    PoisonKind::MessageUnreadable,
    PoisonKind::CountNotification,
];

#[test]
fn each_poison_stanza_is_answered_or_skipped_and_the_connection_stays() {
    let (mut pipe, conn) = online(700);
    for kind in SENT_ONCE {
        assert_eq!(pipe.server.send_poison(kind, Target::AllLive), vec![conn]);
        pipe.run();
        let link = pipe.link(conn);
        assert_eq!(
            link.disconnect_reason(),
            None,
            "{kind:?}: {:?}",
            link.events
        );
    }
    // Ten virtual minutes of keepalive on the same connection.
    pipe.run_until(Duration::from_secs(600), |_| false);
    let link = pipe.link(conn);
    assert!(link.is_online(), "{:?}", link.events);
    assert!(pipe.server.is_open(conn));

    let kinds: Vec<&str> = ignored(&pipe, conn).iter().map(Ignored::kind).collect();
    assert_eq!(
        kinds,
        [
            "message_without_id",
            "undecodable_stanza",
            "pre_key_count_notification_without_value"
        ]
    );
    // The message that can never be read is recorded and nacked; the
    // notification acked; the two without an id cannot be answered.
    assert_eq!(
        answers(&pipe, PoisonKind::MessageUnreadable),
        [Some("nack 487".to_owned())]
    );
    assert_eq!(
        answers(&pipe, PoisonKind::CountNotification),
        [Some("ack".to_owned())]
    );
    assert_eq!(answers(&pipe, PoisonKind::MessageWithoutId), [None]);
    assert_eq!(answers(&pipe, PoisonKind::Undecodable), [None]);
    let unreadable_id = pipe.server.poison().sent[2].id.clone();
    let recorded = link
        .inbox
        .iter()
        .find(|entry| Some(&entry.id) == unreadable_id.as_ref())
        .expect("the unreadable message is recorded");
    assert!(
        matches!(&recorded.content, InboxContent::Unreadable(why) if why.contains("unknown type")),
        "{:?}",
        recorded.content
    );
}

#[test]
fn poison_that_cannot_be_answered_comes_again_at_each_login_and_each_login_stays() {
    let (mut pipe, mut conn) = online(701);
    for kind in SENT_ONCE {
        pipe.server.send_poison(kind, Target::AllLive);
    }
    pipe.run();
    for login in 1..=3 {
        pipe.close(conn);
        conn = pipe.reconnect(conn);
        pipe.run();
        pipe.run_until(Duration::from_secs(120), |_| false);
        let link = pipe.link(conn);
        assert!(link.is_online(), "login {login}: {:?}", link.events);
        assert_eq!(link.disconnect_reason(), None, "login {login}");
        // Only the two that have no id to answer by come again.
        let kinds: Vec<&str> = ignored(&pipe, conn).iter().map(Ignored::kind).collect();
        assert_eq!(
            kinds,
            ["message_without_id", "undecodable_stanza"],
            "login {login}"
        );
    }
    let deliveries: Vec<(PoisonKind, u32)> = pipe
        .server
        .poison()
        .sent
        .iter()
        .map(|sent| (sent.kind, sent.deliveries))
        .collect();
    assert_eq!(
        deliveries,
        [
            (PoisonKind::MessageWithoutId, 4),
            (PoisonKind::Undecodable, 4),
            (PoisonKind::MessageUnreadable, 1),
            (PoisonKind::CountNotification, 1),
        ]
    );
}

#[test]
fn a_pre_key_count_answer_without_a_value_is_skipped_and_the_login_completes() {
    let (mut pipe, conn) = online(702);
    // Armed for every count answer from now on; the live connection is
    // dropped so the client asks again.
    assert_eq!(
        pipe.server
            .send_poison(PoisonKind::CountAnswer, Target::AllLive),
        vec![conn]
    );
    pipe.run();
    assert!(!pipe.server.is_open(conn));
    pipe.close(conn);
    let mut conn = conn;
    for login in 1..=2 {
        conn = pipe.reconnect(conn);
        pipe.run();
        pipe.run_until(Duration::from_secs(120), |_| false);
        let link = pipe.link(conn);
        assert!(link.is_online(), "login {login}: {:?}", link.events);
        assert_eq!(
            ignored(&pipe, conn),
            [Ignored::PreKeyCountWithoutValue(CountSource::Answer)],
            "login {login}"
        );
        pipe.close(conn);
    }
    assert_eq!(pipe.server.poison().count_answers_sent, 2);
}
