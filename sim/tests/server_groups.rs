//! fake-wa's groups at the stanza level: the `w:g2` answers (metadata,
//! the groups we are in, admin actions and their refusals), the `w:gp2`
//! notifications a control change sends the bot, and the bot's group
//! messages (sender key distributed 1:1, then one skmsg) as every member
//! reads them, with the violations a real group would show.

mod hand_bot;

use blacksky_core::client::groups::admin::{
    AdminAction, AdminAnswer, DescriptionIds, ParticipantChange, Refusal, admin_request,
    parse_admin_answer,
};
use blacksky_core::client::groups::phash::participant_hash;
use blacksky_core::message::padding::pad;
use blacksky_core::signal::MessageKind;
use blacksky_core::signal::group::{SenderKeyRecord, create_sender_key, group_encrypt};
use blacksky_core::wire::binary::{Decoded, Jid, Node, encode};
use blacksky_proto::Message;
use blacksky_proto::wa;
use blacksky_sim::server::{
    ControlError, FakeServer, GroupAddressing, GroupChange, NewGroup, Owner, Rank, ServerEvent,
    ViolationKind,
};
use hand_bot::{Bot, OWN, device_jid, linked, pn, to_node};

const ALICE: &str = "4915100000001";
const BOB: &str = "4915100000002";
const CAROL: &str = "4915100000003";
const DAVE: &str = "4915100000004";
const GROUP: &str = "120363000000000042";

fn online(seed: u64) -> (FakeServer, Bot) {
    let (mut server, creds) = linked(seed);
    let bot = Bot::login(&mut server, creds, seed + 1000);
    (server, bot)
}

/// Alice made it; Bob is an admin, Carol a member, the bot has `rank`
/// (what the making told the bot is read and dropped).
fn group(
    server: &mut FakeServer,
    bot_device: &mut Bot,
    rank: Option<Rank>,
    addressing: GroupAddressing,
) -> String {
    let id = make_group(server, rank, addressing);
    bot_device.pump(server);
    id
}

fn make_group(server: &mut FakeServer, bot: Option<Rank>, addressing: GroupAddressing) -> String {
    server
        .create_group(&NewGroup {
            id: Some(GROUP.to_owned()),
            subject: "Blacksky fans".to_owned(),
            creator: ALICE.to_owned(),
            admins: vec![BOB.to_owned()],
            members: vec![CAROL.to_owned()],
            bot,
            addressing,
        })
        .expect("made")
}

fn g2(
    server: &mut FakeServer,
    bot: &mut Bot,
    kind: &str,
    to: &str,
    child: Node,
) -> (Node, Vec<Node>) {
    let to = if to.is_empty() {
        Jid::at("g.us")
    } else {
        Jid::new(to.to_owned(), "g.us")
    };
    bot.iq_to(server, kind, "w:g2", to, child)
}

fn error_code(answer: &Node) -> Option<(String, String)> {
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    let error = answer.child("error")?;
    Some((
        error.attr("code")?.to_owned(),
        error.attr("text")?.to_owned(),
    ))
}

fn jid_text(node: &Node, key: &str) -> String {
    node.attr_jid(key)
        .map(|j| j.to_string())
        .unwrap_or_default()
}

fn notifications(nodes: &[Node]) -> Vec<&Node> {
    nodes
        .iter()
        .filter(|n| n.tag == "notification" && n.attr("type") == Some("w:gp2"))
        .collect()
}

fn query(server: &mut FakeServer, bot: &mut Bot, group: &str) -> Node {
    let q = Node::new("query").with_attr("request", "interactive");
    g2(server, bot, "get", group, q).0
}

// ---- metadata ----

#[test]
fn the_metadata_query_names_every_member_with_its_rank_and_the_settings() {
    let (mut server, mut bot) = online(1);
    let id = group(
        &mut server,
        &mut bot,
        Some(Rank::Admin),
        GroupAddressing::Pn,
    );
    server
        .change_group(
            &id,
            ALICE,
            &GroupChange::Description {
                body: Some("we watch the sky".into()),
            },
        )
        .expect("described");
    server
        .change_group(&id, BOB, &GroupChange::Announce { on: true })
        .expect("announce-only");
    let answer = query(&mut server, &mut bot, &id);
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    assert_eq!(jid_text(&answer, "from"), format!("{id}@g.us"));
    let g = answer.child("group").expect("<group>");
    assert_eq!(g.attr("id"), Some(id.as_str()));
    assert_eq!(g.attr("subject"), Some("Blacksky fans"));
    assert_eq!(jid_text(g, "creator"), format!("{ALICE}@s.whatsapp.net"));
    assert_eq!(jid_text(g, "s_o"), format!("{ALICE}@s.whatsapp.net"));
    assert_eq!(g.attr("addressing_mode"), Some("pn"));
    assert_eq!(g.attr("size"), Some("4"));
    assert_eq!(g.attr("creation"), Some("1750000000"));
    let ranks: Vec<(String, Option<&str>, bool)> = g
        .children_named("participant")
        .map(|p| {
            (
                jid_text(p, "jid"),
                p.attr("type"),
                p.attr_jid("lid").is_some_and(|l| l.server() == "lid"),
            )
        })
        .collect();
    assert_eq!(
        ranks,
        vec![
            (format!("{ALICE}@s.whatsapp.net"), Some("superadmin"), true),
            (format!("{BOB}@s.whatsapp.net"), Some("admin"), true),
            (format!("{CAROL}@s.whatsapp.net"), None, true),
            (format!("{OWN}@s.whatsapp.net"), Some("admin"), true),
        ]
    );
    let description = g.child("description").expect("a description");
    assert!(description.attr("id").is_some_and(|i| !i.is_empty()));
    assert_eq!(
        description.child("body").and_then(Node::text),
        Some("we watch the sky")
    );
    assert!(g.child("announcement").is_some());
    assert!(g.child("locked").is_none());
}

#[test]
fn a_lid_group_names_members_by_lid_with_their_numbers() {
    let (mut server, mut bot) = online(2);
    let id = group(
        &mut server,
        &mut bot,
        Some(Rank::Member),
        GroupAddressing::Lid,
    );
    let answer = query(&mut server, &mut bot, &id);
    let g = answer.child("group").expect("<group>");
    assert_eq!(g.attr("addressing_mode"), Some("lid"));
    assert_eq!(
        g.attr_jid("creator")
            .map(|j| j.server().to_owned())
            .as_deref(),
        Some("lid")
    );
    assert_eq!(jid_text(g, "creator_pn"), format!("{ALICE}@s.whatsapp.net"));
    let carol_lid = server.contact_lid(CAROL).expect("a lid");
    assert!(
        g.children_named("participant").any(|p| {
            jid_text(p, "jid") == format!("{carol_lid}@lid")
                && jid_text(p, "phone_number") == format!("{CAROL}@s.whatsapp.net")
        }),
        "{g:?}"
    );
}

#[test]
fn unknown_groups_are_404_and_groups_without_us_are_403() {
    let (mut server, mut bot) = online(3);
    let id = group(&mut server, &mut bot, None, GroupAddressing::Pn);
    assert_eq!(
        error_code(&query(&mut server, &mut bot, &id)),
        Some(("403".into(), "forbidden".into()))
    );
    assert_eq!(
        error_code(&query(&mut server, &mut bot, "120363999999999999")),
        Some(("404".into(), "item-not-found".into()))
    );
}

#[test]
fn participating_lists_the_groups_we_are_in_and_only_those() {
    let (mut server, mut bot) = online(4);
    let ours = group(
        &mut server,
        &mut bot,
        Some(Rank::Member),
        GroupAddressing::Pn,
    );
    let theirs = server
        .create_group(&NewGroup {
            subject: "not ours".into(),
            creator: DAVE.into(),
            ..NewGroup::default()
        })
        .expect("made");
    assert_ne!(ours, theirs);
    let participating = Node::new("participating")
        .with_children(vec![Node::new("participants"), Node::new("description")]);
    let (answer, _) = g2(&mut server, &mut bot, "get", "", participating);
    let groups = answer.child("groups").expect("<groups>");
    let ids: Vec<&str> = groups
        .children_named("group")
        .filter_map(|g| g.attr("id"))
        .collect();
    assert_eq!(ids, [ours.as_str()]);
    let only = groups.child("group").expect("one");
    assert_eq!(only.children_named("participant").count(), 4);
}

// ---- admin actions ----

#[test]
fn a_member_bot_is_refused_admin_actions_with_401() {
    let (mut server, mut bot) = online(5);
    let id = group(
        &mut server,
        &mut bot,
        Some(Rank::Member),
        GroupAddressing::Pn,
    );
    let add =
        Node::new("add").with_children(vec![Node::new("participant").with_attr("jid", pn(DAVE))]);
    for child in [
        add,
        Node::new("invite"),
        Node::new("announcement"),
        Node::new("locked"),
    ] {
        let kind = if child.tag == "invite" { "get" } else { "set" };
        let (answer, others) = g2(&mut server, &mut bot, kind, &id, child);
        assert_eq!(
            error_code(&answer),
            Some(("401".into(), "not-authorized".into()))
        );
        assert!(notifications(&others).is_empty());
    }
    let state = server.group_state(&id).expect("kept");
    assert!(!state.members.contains_key(DAVE) && !state.announce && !state.locked);
    // Unlocked: any member may set the subject; locked: admins only.
    let subject = || Node::new("subject").with_bytes(b"renamed".to_vec());
    let (answer, _) = g2(&mut server, &mut bot, "set", &id, subject());
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    server
        .change_group(&id, ALICE, &GroupChange::Locked { on: true })
        .expect("locked");
    let (answer, _) = g2(&mut server, &mut bot, "set", &id, subject());
    assert_eq!(
        error_code(&answer),
        Some(("401".into(), "not-authorized".into()))
    );
}

#[test]
fn an_admin_bot_changes_participants_each_answered_on_its_own() {
    let (mut server, mut bot) = online(6);
    let id = group(
        &mut server,
        &mut bot,
        Some(Rank::Admin),
        GroupAddressing::Pn,
    );
    let participants = |tag: &str, phones: &[&str]| {
        Node::new(tag.to_owned()).with_children(
            phones
                .iter()
                .map(|p| Node::new("participant").with_attr("jid", pn(p)))
                .collect(),
        )
    };
    let (answer, others) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        participants("add", &[DAVE, CAROL]),
    );
    let add = answer.child("add").expect("<add>");
    let outcome: Vec<(String, Option<&str>)> = add
        .children_named("participant")
        .map(|p| (jid_text(p, "jid"), p.attr("error")))
        .collect();
    assert_eq!(
        outcome,
        vec![
            (format!("{DAVE}@s.whatsapp.net"), None),
            (format!("{CAROL}@s.whatsapp.net"), Some("409")),
        ]
    );
    let told = notifications(&others);
    assert_eq!(told.len(), 1, "{others:?}");
    assert_eq!(
        jid_text(told[0], "participant"),
        format!("{OWN}@s.whatsapp.net")
    );
    let added = told[0].child("add").expect("<add>");
    assert_eq!(added.children_named("participant").count(), 1, "only Dave");

    let (answer, _) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        participants("remove", &["4915100000009"]),
    );
    let p = answer
        .child("remove")
        .and_then(|r| r.child("participant"))
        .expect("one");
    assert_eq!(p.attr("error"), Some("404"));
    let (answer, _) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        participants("promote", &[CAROL]),
    );
    assert!(
        answer
            .child("promote")
            .and_then(|r| r.child("participant"))
            .is_some_and(|p| p.attr("error").is_none())
    );
    assert_eq!(
        server.group_state(&id).expect("kept").members[CAROL],
        Rank::Admin
    );

    // The invite code, then a new one.
    let (answer, _) = g2(&mut server, &mut bot, "get", &id, Node::new("invite"));
    let code = answer
        .child("invite")
        .and_then(|i| i.attr("code"))
        .expect("a code")
        .to_owned();
    assert_eq!(code.len(), 22);
    let (answer, _) = g2(&mut server, &mut bot, "set", &id, Node::new("invite"));
    let fresh = answer
        .child("invite")
        .and_then(|i| i.attr("code"))
        .expect("a code");
    assert_ne!(fresh, code);

    // Leaving: told as a remove by ourselves; then the group is not ours.
    let leave = Node::new("leave").with_children(vec![
        Node::new("group").with_attr("id", format!("{id}@g.us")),
    ]);
    let (answer, others) = g2(&mut server, &mut bot, "set", "", leave);
    assert_eq!(answer.attr("type"), Some("result"));
    let told = notifications(&others);
    assert_eq!(told.len(), 1);
    let removed = told[0].child("remove").expect("<remove>");
    assert_eq!(
        removed.child("participant").map(|p| jid_text(p, "jid")),
        Some(format!("{OWN}@s.whatsapp.net"))
    );
    assert_eq!(
        error_code(&query(&mut server, &mut bot, &id)),
        Some(("403".into(), "forbidden".into()))
    );
}

#[test]
fn a_description_set_on_a_stale_prev_is_a_conflict() {
    let (mut server, mut bot) = online(7);
    let id = group(
        &mut server,
        &mut bot,
        Some(Rank::Admin),
        GroupAddressing::Pn,
    );
    let description = |desc_id: &str, prev: Option<&str>, body: &str| {
        let mut node = Node::new("description").with_attr("id", desc_id.to_owned());
        if let Some(prev) = prev {
            node = node.with_attr("prev", prev.to_owned());
        }
        node.with_children(vec![Node::new("body").with_bytes(body.as_bytes().to_vec())])
    };
    let (answer, others) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        description("D1", None, "one"),
    );
    assert_eq!(answer.attr("type"), Some("result"));
    let told = notifications(&others);
    let desc = told
        .first()
        .and_then(|n| n.child("description"))
        .expect("told");
    assert_eq!(desc.attr("id"), Some("D1"));
    let (answer, _) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        description("D2", Some("D0"), "two"),
    );
    assert_eq!(error_code(&answer), Some(("409".into(), "conflict".into())));
    let (answer, _) = g2(
        &mut server,
        &mut bot,
        "set",
        &id,
        description("D2", Some("D1"), "two"),
    );
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(
        server
            .group_state(&id)
            .and_then(|g| g.description)
            .as_deref(),
        Some("two")
    );
}

// ---- notifications from control changes ----

#[test]
fn every_control_change_reaches_the_bot_as_the_notification_whatsapp_sends() {
    let (mut server, mut bot) = online(8);
    let id = make_group(&mut server, Some(Rank::Member), GroupAddressing::Pn);
    let created = bot.pump(&mut server);
    let create = notifications(&created);
    assert_eq!(create.len(), 1);
    assert!(
        create[0]
            .child("create")
            .and_then(|c| c.child("group"))
            .is_some()
    );

    let cases: Vec<(&str, GroupChange, &str)> = vec![
        (
            ALICE,
            GroupChange::Add {
                phones: vec![DAVE.into()],
            },
            "add",
        ),
        (
            BOB,
            GroupChange::Promote {
                phones: vec![DAVE.into()],
            },
            "promote",
        ),
        (
            BOB,
            GroupChange::Demote {
                phones: vec![DAVE.into()],
            },
            "demote",
        ),
        (
            ALICE,
            GroupChange::Remove {
                phones: vec![DAVE.into()],
            },
            "remove",
        ),
        (
            CAROL,
            GroupChange::Subject {
                subject: "new name".into(),
            },
            "subject",
        ),
        (
            BOB,
            GroupChange::Description {
                body: Some("about".into()),
            },
            "description",
        ),
        (BOB, GroupChange::Announce { on: true }, "announcement"),
        (BOB, GroupChange::Announce { on: false }, "not_announcement"),
        (BOB, GroupChange::Locked { on: true }, "locked"),
        (BOB, GroupChange::Locked { on: false }, "unlocked"),
        (ALICE, GroupChange::RevokeInvite, "invite"),
        (CAROL, GroupChange::Leave, "remove"),
    ];
    for (actor, change, tag) in cases {
        server.change_group(&id, actor, &change).expect("done");
        let got = bot.pump(&mut server);
        let told = notifications(&got);
        assert_eq!(told.len(), 1, "{tag}: {got:?}");
        let n = told[0];
        assert_eq!(jid_text(n, "from"), format!("{id}@g.us"));
        assert_eq!(
            jid_text(n, "participant"),
            format!("{actor}@s.whatsapp.net")
        );
        assert!(n.attr("id").is_some() && n.attr("t").is_some());
        let child = n.children().first().expect("one child");
        assert_eq!(child.tag.as_str(), tag, "{change:?}");
        assert!(
            matches!(bot.events.last(), Some(ServerEvent::GroupNotified { group, change })
                if *group == id && change == tag),
            "{:?}",
            bot.events.last()
        );
        match tag {
            "add" | "promote" | "demote" => assert_eq!(
                child.child("participant").map(|p| jid_text(p, "jid")),
                Some(format!("{DAVE}@s.whatsapp.net"))
            ),
            "subject" => assert_eq!(child.attr("subject"), Some("new name")),
            "description" => {
                assert_eq!(child.child("body").and_then(Node::text), Some("about"));
            }
            "invite" => assert_eq!(
                child.attr("code").map(str::to_owned),
                server.group_state(&id).map(|g| g.invite_code)
            ),
            _ => {}
        }
    }
    let state = server.group_state(&id).expect("kept");
    assert!(!state.members.contains_key(CAROL) && !state.members.contains_key(DAVE));
}

#[test]
fn a_notification_missed_offline_comes_in_the_next_offline_batch_until_acked() {
    let (mut server, bot) = online(16);
    let creds = bot.creds.clone();
    let id = make_group(&mut server, Some(Rank::Member), GroupAddressing::Pn);
    server.handle_closed(bot.conn);
    server
        .change_group(
            &id,
            ALICE,
            &GroupChange::Remove {
                phones: vec![CAROL.into()],
            },
        )
        .expect("removed");
    // The create and the remove, both unacked.
    assert_eq!(server.pending_group_notices(), 2);
    let mut bot = Bot::login(&mut server, creds.clone(), 1601);
    let told: Vec<Node> = notifications(&bot.at_login).into_iter().cloned().collect();
    let tags: Vec<&str> = told
        .iter()
        .filter_map(|n| n.children().first().map(|c| c.tag.as_str()))
        .collect();
    assert_eq!(tags, ["create", "remove"]);
    assert!(told.iter().all(|n| n.attr("offline") == Some("1")));
    let offline = bot
        .at_login
        .iter()
        .find_map(|n| n.child("offline"))
        .and_then(|o| o.attr("count"))
        .map(str::to_owned);
    assert_eq!(offline.as_deref(), Some("2"), "counted in the batch");
    // Acked: not again.
    for notice in &told {
        let ack = Node::new("ack")
            .with_attr("class", "notification")
            .with_attr("id", notice.attr("id").unwrap_or_default().to_owned())
            .with_attr("to", Jid::new(id.clone(), "g.us"))
            .with_attr("type", "w:gp2");
        bot.send(&mut server, &ack);
    }
    assert_eq!(server.pending_group_notices(), 0);
    server.handle_closed(bot.conn);
    let again = Bot::login(&mut server, creds, 1602);
    assert!(notifications(&again.at_login).is_empty());
}

#[test]
fn changes_need_an_admin_and_groups_without_the_bot_tell_it_nothing() {
    let (mut server, mut bot) = online(9);
    let id = group(&mut server, &mut bot, None, GroupAddressing::Pn);
    assert_eq!(
        server.change_group(
            &id,
            CAROL,
            &GroupChange::Add {
                phones: vec![DAVE.into()]
            }
        ),
        Err(ControlError::NotAdmin { role: "actor" })
    );
    assert_eq!(
        server.change_group(
            &id,
            DAVE,
            &GroupChange::Subject {
                subject: "x".into()
            }
        ),
        Err(ControlError::NotAMember { role: "actor" })
    );
    server
        .change_group(
            &id,
            ALICE,
            &GroupChange::Add {
                phones: vec![DAVE.into()],
            },
        )
        .expect("added");
    assert!(notifications(&bot.pump(&mut server)).is_empty());
    // Adding the bot tells it.
    server
        .change_group(
            &id,
            ALICE,
            &GroupChange::Add {
                phones: vec![OWN.into()],
            },
        )
        .expect("added");
    assert_eq!(notifications(&bot.pump(&mut server)).len(), 1);
    // Only members write in a group the server keeps.
    assert_eq!(
        server.send_group_text(&id, "4915100000077", "hi"),
        Err(ControlError::NotAMember { role: "writer" })
    );
}

// ---- the bot's group messages ----

/// The bot's sender key for one group, and how it sends with it.
struct SenderKey {
    record: SenderKeyRecord,
    distribution: Vec<u8>,
}

impl SenderKey {
    fn new(bot: &mut Bot) -> SenderKey {
        let (record, distribution) = create_sender_key(&mut bot.rng);
        SenderKey {
            record,
            distribution: distribution.to_bytes(),
        }
    }

    fn skmsg(&mut self, bot: &mut Bot, text: &str) -> Vec<u8> {
        let content = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        let padded = pad(&content.encode_to_vec(), &mut bot.rng);
        let (bytes, record) = group_encrypt(&self.record, &padded, &mut bot.rng).expect("encrypts");
        self.record = record;
        bytes
    }
}

/// Every device of `phones` (by usync, our own sending device left out,
/// our other linked devices too since the server does not play them).
fn member_devices(server: &mut FakeServer, bot: &mut Bot, users: &[Jid]) -> Vec<Jid> {
    let lists = bot.devices(server, users);
    let me = bot.device();
    let own_lid = bot
        .creds
        .me
        .as_ref()
        .and_then(|m| m.lid.as_ref())
        .map(|l| l.user().to_owned())
        .expect("our lid");
    users
        .iter()
        .zip(lists)
        .flat_map(|(user, devices)| {
            let ours = user.user() == OWN || user.user() == own_lid;
            devices
                .into_iter()
                .filter(|&d| !(ours && d == me))
                .map(|d| device_jid(user, d))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `<message to=G@g.us>`: the SKDM 1:1 to `skdm_to`, then the skmsg.
fn group_message(
    bot: &mut Bot,
    id: &str,
    group: &str,
    key: &SenderKey,
    skdm_to: &[Jid],
    skmsg: Vec<u8>,
) -> Node {
    let content = wa::Message {
        sender_key_distribution_message: Some(wa::message::SenderKeyDistributionMessage {
            group_id: Some(format!("{group}@g.us")),
            axolotl_sender_key_distribution_message: Some(key.distribution.clone()),
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let mut any_pkmsg = false;
    let participants: Vec<Node> = skdm_to
        .iter()
        .map(|device| {
            let (kind, bytes) = bot.encrypt(device, &content);
            any_pkmsg |= kind == MessageKind::PreKeyMsg;
            to_node(device, kind, bytes)
        })
        .collect();
    let mut children = Vec::new();
    if !participants.is_empty() {
        children.push(Node::new("participants").with_children(participants));
    }
    children.push(
        Node::new("enc")
            .with_attr("v", "2")
            .with_attr("type", "skmsg")
            .with_bytes(skmsg),
    );
    if any_pkmsg {
        children.push(Node::new("device-identity").with_bytes(bot.account()));
    }
    Node::new("message")
        .with_attr("id", id.to_owned())
        .with_attr("to", Jid::new(group.to_owned(), "g.us"))
        .with_attr("type", "text")
        .with_children(children)
}

fn read_by(server: &FakeServer, phone: &str, id: &str) -> Vec<(u8, String)> {
    server
        .received_texts(phone)
        .into_iter()
        .filter(|r| r.id == id)
        .map(|r| {
            assert_eq!(r.group.as_deref(), Some(GROUP));
            (r.device, r.text)
        })
        .collect()
}

/// A group with Alice (devices 0, 2), Bob, Carol and the bot; sessions
/// with every member device.
fn group_with_sessions(seed: u64, addressing: GroupAddressing) -> (FakeServer, Bot, Vec<Jid>) {
    let (mut server, mut bot) = online(seed);
    server.set_contact_devices(ALICE, &[2]).expect("devices");
    group(&mut server, &mut bot, Some(Rank::Member), addressing);
    let users: Vec<Jid> = match addressing {
        GroupAddressing::Pn => [OWN, ALICE, BOB, CAROL].iter().map(|p| pn(p)).collect(),
        GroupAddressing::Lid => {
            let query = query(&mut server, &mut bot, GROUP);
            let g = query.child("group").expect("<group>");
            g.children_named("participant")
                .filter_map(|p| p.attr_jid("jid"))
                .collect()
        }
    };
    let devices = member_devices(&mut server, &mut bot, &users);
    bot.start_sessions(&mut server, &devices);
    bot.pump(&mut server);
    (server, bot, devices)
}

#[test]
fn every_member_device_reads_the_skmsg_after_taking_the_sender_key() {
    let (mut server, mut bot, devices) = group_with_sessions(10, GroupAddressing::Pn);
    assert_eq!(
        devices.len(),
        5,
        "our phone, Alice's two, Bob, Carol: {devices:?}"
    );
    let mut key = SenderKey::new(&mut bot);
    let skmsg = key.skmsg(&mut bot, "hello group");
    let message = group_message(&mut bot, "3EB0G1", GROUP, &key, &devices, skmsg);
    let got = bot.send(&mut server, &message);
    assert_eq!(server.violations(), [], "nothing to object to");
    assert_eq!(
        read_by(&server, ALICE, "3EB0G1"),
        vec![(0, "hello group".into()), (2, "hello group".into())]
    );
    assert_eq!(
        read_by(&server, BOB, "3EB0G1"),
        vec![(0, "hello group".into())]
    );
    assert_eq!(
        read_by(&server, CAROL, "3EB0G1"),
        vec![(0, "hello group".into())]
    );
    assert_eq!(
        read_by(&server, OWN, "3EB0G1"),
        vec![(0, "hello group".into())]
    );
    let ack = got.iter().find(|n| n.tag == "ack").expect("acked");
    assert_eq!(ack.attr("error"), None);
    assert_eq!(jid_text(ack, "from"), format!("{GROUP}@g.us"));
    let receipts: Vec<String> = got
        .iter()
        .filter(|n| n.tag == "receipt" && n.attr("id") == Some("3EB0G1"))
        .map(|n| {
            assert_eq!(jid_text(n, "from"), format!("{GROUP}@g.us"));
            jid_text(n, "participant")
        })
        .collect();
    assert_eq!(receipts.len(), 5, "{receipts:?}");
    assert!(
        receipts.contains(&format!("{ALICE}:2@s.whatsapp.net")),
        "{receipts:?}"
    );

    // The next message needs no key: every device holds it.
    let skmsg = key.skmsg(&mut bot, "second");
    let message = group_message(&mut bot, "3EB0G2", GROUP, &key, &[], skmsg);
    bot.send(&mut server, &message);
    assert_eq!(server.violations(), []);
    assert_eq!(
        read_by(&server, CAROL, "3EB0G2"),
        vec![(0, "second".into())]
    );
}

#[test]
fn a_lid_group_message_reaches_devices_named_by_lid() {
    let (mut server, mut bot, devices) = group_with_sessions(11, GroupAddressing::Lid);
    assert!(devices.iter().all(|d| d.server() == "lid"), "{devices:?}");
    let mut key = SenderKey::new(&mut bot);
    let skmsg = key.skmsg(&mut bot, "hi lid");
    let message = group_message(&mut bot, "3EB0L1", GROUP, &key, &devices, skmsg);
    bot.send(&mut server, &message);
    assert_eq!(server.violations(), []);
    let alice = server.received_texts(ALICE);
    assert_eq!(alice.len(), 2);
    assert!(alice.iter().all(|r| r.via_lid && r.text == "hi lid"));
}

#[test]
fn a_member_left_without_the_key_cannot_read_and_a_stranger_given_it_is_a_violation() {
    let (mut server, mut bot, devices) = group_with_sessions(12, GroupAddressing::Pn);
    let carol = pn(CAROL);
    let mut skdm_to: Vec<Jid> = devices.iter().filter(|d| **d != carol).cloned().collect();
    let stranger = pn(DAVE);
    bot.start_sessions(&mut server, std::slice::from_ref(&stranger));
    skdm_to.push(stranger);
    let mut key = SenderKey::new(&mut bot);
    let skmsg = key.skmsg(&mut bot, "not for Dave");
    let message = group_message(&mut bot, "3EB0V1", GROUP, &key, &skdm_to, skmsg);
    let got = bot.send(&mut server, &message);
    let retry = got
        .iter()
        .find(|n| n.tag == "receipt" && n.attr("type") == Some("retry"))
        .expect("Carol asks again");
    assert_eq!(jid_text(retry, "from"), format!("{GROUP}@g.us"));
    assert_eq!(
        jid_text(retry, "participant"),
        format!("{CAROL}@s.whatsapp.net")
    );
    assert_eq!(
        retry.child("retry").and_then(|r| r.attr("id")),
        Some("3EB0V1")
    );
    let violations = server.violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations.iter().any(|v| matches!(
        v.kind,
        ViolationKind::SenderKeyToNonMember { device: 0 }
    ) && v.owner == Some(Owner::Contact)));
    assert!(violations.iter().any(|v| matches!(&v.kind, ViolationKind::MemberCannotRead { device: 0, what } if what.contains("no sender key"))));
    assert!(read_by(&server, CAROL, "3EB0V1").is_empty());
    assert!(server.received_texts(DAVE).is_empty());
    assert_eq!(read_by(&server, BOB, "3EB0V1").len(), 1);

    // The retry answered as Baileys does: the same id, the key to Carol
    // on a new session (she dropped hers), the next skmsg.
    bot.start_sessions(&mut server, std::slice::from_ref(&carol));
    let skmsg = key.skmsg(&mut bot, "not for Dave");
    let resend = group_message(
        &mut bot,
        "3EB0V1",
        GROUP,
        &key,
        std::slice::from_ref(&carol),
        skmsg,
    );
    bot.send(&mut server, &resend);
    assert_eq!(
        server.violations_total(),
        2,
        "nothing new: {:?}",
        server.violations()
    );
    assert_eq!(
        read_by(&server, CAROL, "3EB0V1"),
        vec![(0, "not for Dave".into())]
    );
    let bob = server.received_texts(BOB);
    assert_eq!(
        bob.iter().map(|r| r.copies).collect::<Vec<_>>(),
        [2],
        "a copy for Bob"
    );
}

#[test]
fn a_removed_member_reading_the_next_message_shows_the_key_was_not_rotated() {
    let (mut server, mut bot, devices) = group_with_sessions(13, GroupAddressing::Pn);
    let mut key = SenderKey::new(&mut bot);
    let skmsg = key.skmsg(&mut bot, "all of us");
    let message = group_message(&mut bot, "3EB0R1", GROUP, &key, &devices, skmsg);
    bot.send(&mut server, &message);
    assert_eq!(server.violations(), []);
    server
        .change_group(
            GROUP,
            ALICE,
            &GroupChange::Remove {
                phones: vec![CAROL.into()],
            },
        )
        .expect("removed");
    // The same key again: Carol could still read it.
    let skmsg = key.skmsg(&mut bot, "after carol");
    let message = group_message(&mut bot, "3EB0R2", GROUP, &key, &[], skmsg);
    bot.send(&mut server, &message);
    let kinds: Vec<ViolationKind> = server.violations().into_iter().map(|v| v.kind).collect();
    assert_eq!(kinds, [ViolationKind::FormerMemberCouldRead { device: 0 }]);
    // A new key for those who stay: nobody objects.
    let carol = pn(CAROL);
    let remaining: Vec<Jid> = devices.iter().filter(|d| **d != carol).cloned().collect();
    let mut rotated = SenderKey::new(&mut bot);
    let skmsg = rotated.skmsg(&mut bot, "rotated");
    let message = group_message(&mut bot, "3EB0R3", GROUP, &rotated, &remaining, skmsg);
    bot.send(&mut server, &message);
    assert_eq!(server.violations_total(), 1, "{:?}", server.violations());
    assert_eq!(read_by(&server, BOB, "3EB0R3"), vec![(0, "rotated".into())]);
}

#[test]
fn a_message_to_a_group_we_left_is_refused() {
    let (mut server, mut bot, devices) = group_with_sessions(14, GroupAddressing::Pn);
    server
        .change_group(
            GROUP,
            ALICE,
            &GroupChange::Remove {
                phones: vec![OWN.into()],
            },
        )
        .expect("removed");
    let mut key = SenderKey::new(&mut bot);
    let skmsg = key.skmsg(&mut bot, "still here?");
    let message = group_message(&mut bot, "3EB0X1", GROUP, &key, &devices, skmsg);
    let got = bot.send(&mut server, &message);
    let ack = got.iter().find(|n| n.tag == "ack").expect("acked");
    assert_eq!(ack.attr("error"), Some("403"));
    let kinds: Vec<ViolationKind> = server.violations().into_iter().map(|v| v.kind).collect();
    assert_eq!(kinds, [ViolationKind::NotInGroup]);
    assert!(read_by(&server, BOB, "3EB0X1").is_empty());
}

// ---- members writing ----

#[test]
fn a_member_writing_in_a_lid_group_is_named_by_lid_with_its_number() {
    let (mut server, mut bot) = online(15);
    group(
        &mut server,
        &mut bot,
        Some(Rank::Member),
        GroupAddressing::Lid,
    );
    server.send_group_text(GROUP, BOB, "hi all").expect("sent");
    let got = bot.pump(&mut server);
    let message = got.iter().find(|n| n.tag == "message").expect("delivered");
    let bob_lid = server.contact_lid(BOB).expect("a lid");
    assert_eq!(jid_text(message, "from"), format!("{GROUP}@g.us"));
    assert_eq!(jid_text(message, "participant"), format!("{bob_lid}@lid"));
    assert_eq!(
        jid_text(message, "participant_pn"),
        format!("{BOB}@s.whatsapp.net")
    );
    assert_eq!(message.attr("addressing_mode"), Some("lid"));
    // A PN group names the writer by number, as before.
    let pn_group = server
        .create_group(&NewGroup {
            subject: "by number".into(),
            creator: ALICE.into(),
            members: vec![BOB.into()],
            bot: Some(Rank::Member),
            ..NewGroup::default()
        })
        .expect("made");
    bot.pump(&mut server);
    server.send_group_text(&pn_group, BOB, "hi").expect("sent");
    let got = bot.pump(&mut server);
    let message = got.iter().find(|n| n.tag == "message").expect("delivered");
    assert_eq!(
        jid_text(message, "participant"),
        format!("{BOB}@s.whatsapp.net")
    );
    assert!(message.attr("participant_pn").is_none());
}

#[test]
fn a_group_the_bot_creates_makes_it_superadmin_and_it_may_still_leave() {
    let (mut server, mut bot) = online(17);
    let create = Node::new("create")
        .with_attr("subject", "made by the bot")
        .with_attr("key", "ABCDEF")
        .with_children(vec![
            Node::new("participant").with_attr("jid", pn(ALICE)),
            Node::new("participant").with_attr("jid", pn(BOB)),
        ]);
    let (answer, others) = g2(&mut server, &mut bot, "set", "", create);
    let g = answer.child("group").expect("<group>");
    let id = g.attr("id").expect("an id").to_owned();
    assert!(id.starts_with("120363"), "{id}");
    assert_eq!(jid_text(g, "creator"), format!("{OWN}@s.whatsapp.net"));
    assert_eq!(g.children_named("participant").count(), 3);
    assert_eq!(notifications(&others).len(), 1, "the create notification");
    let state = server.group_state(&id).expect("kept");
    assert_eq!(state.members[OWN], Rank::Superadmin);
    let leave =
        Node::new("leave").with_children(vec![Node::new("group").with_attr("id", id.clone())]);
    let (answer, _) = g2(&mut server, &mut bot, "set", "", leave);
    let left = answer
        .child("leave")
        .and_then(|l| l.child("group"))
        .expect("answered");
    assert_eq!(left.attr("error"), None);
    assert!(
        !server
            .group_state(&id)
            .expect("kept")
            .members
            .contains_key(OWN)
    );
}

/// Sends core's own request for `action` (what the bot's client sends)
/// and reads fake-wa's answer with core's own reader.
fn admin(
    server: &mut FakeServer,
    bot: &mut Bot,
    action: &AdminAction,
) -> Result<AdminAnswer, Refusal> {
    let group = Jid::new(GROUP, "g.us");
    let ids = DescriptionIds {
        new_id: "3EB0D1".to_owned(),
        previous: None,
    };
    let iq = admin_request("core.1", &group, action, &ids);
    let mut got = bot.send(server, &iq);
    let at = got
        .iter()
        .position(|n| n.tag == "iq" && n.attr("id") == Some("core.1"))
        .expect("an answer");
    let answer = got.remove(at);
    if answer.attr("type") == Some("error") {
        let code = answer
            .child("error")
            .and_then(|e| e.attr("code"))
            .unwrap_or_default();
        return Err(Refusal::from_attr(code));
    }
    let bytes = encode(&answer).expect("encode");
    let mut decoded = Decoded::new();
    parse_admin_answer(action, decoded.decode(&bytes).expect("decode"))
        .expect("an answer core reads")
}

#[test]
fn the_clients_own_admin_requests_are_taken_and_their_answers_read() {
    let (mut server, mut bot) = online(77);
    group(
        &mut server,
        &mut bot,
        Some(Rank::Admin),
        GroupAddressing::Pn,
    );
    let people = |change, who: &[&str]| AdminAction::Participants {
        change,
        people: who.iter().map(|p| pn(p)).collect(),
    };
    let Ok(AdminAnswer::People(removed)) = admin(
        &mut server,
        &mut bot,
        &people(ParticipantChange::Remove, &[CAROL, DAVE]),
    ) else {
        panic!("a per-person answer");
    };
    let results: Vec<_> = removed.iter().map(|p| p.result).collect();
    assert_eq!(results, vec![Ok(()), Err(Refusal::NotFound)]);
    let state = server.group_state(GROUP).expect("the group");
    assert!(!state.members.contains_key(CAROL));
    let Ok(AdminAnswer::People(promoted)) = admin(
        &mut server,
        &mut bot,
        &people(ParticipantChange::Promote, &[ALICE]),
    ) else {
        panic!("a per-person answer");
    };
    assert_eq!(promoted.len(), 1);
    for action in [
        AdminAction::Subject("Fans".into()),
        AdminAction::Description(Some("Be kind".into())),
        AdminAction::Announce(true),
        AdminAction::Locked(true),
    ] {
        assert_eq!(admin(&mut server, &mut bot, &action), Ok(AdminAnswer::Done));
    }
    let state = server.group_state(GROUP).expect("the group");
    assert!(state.announce && state.locked);
    assert_eq!(state.subject, "Fans");
    assert_eq!(state.description.as_deref(), Some("Be kind"));
    let Ok(AdminAnswer::InviteCode(code)) = admin(&mut server, &mut bot, &AdminAction::InviteCode)
    else {
        panic!("an invite code");
    };
    assert_eq!(code.0, state.invite_code);
    let Ok(AdminAnswer::InviteCode(new)) = admin(&mut server, &mut bot, &AdminAction::RevokeInvite)
    else {
        panic!("a new invite code");
    };
    assert_ne!(new, code);
    assert_eq!(
        admin(&mut server, &mut bot, &AdminAction::Leave),
        Ok(AdminAnswer::Left)
    );
    assert_eq!(
        admin(&mut server, &mut bot, &AdminAction::Announce(false)),
        Err(Refusal::Forbidden),
        "no longer a member"
    );
}

#[test]
fn a_member_bots_admin_requests_are_refused_as_not_admin() {
    let (mut server, mut bot) = online(78);
    group(
        &mut server,
        &mut bot,
        Some(Rank::Member),
        GroupAddressing::Pn,
    );
    let kick = AdminAction::Participants {
        change: ParticipantChange::Remove,
        people: vec![pn(CAROL)],
    };
    assert_eq!(admin(&mut server, &mut bot, &kick), Err(Refusal::NotAdmin));
    assert_eq!(
        admin(&mut server, &mut bot, &AdminAction::InviteCode),
        Err(Refusal::NotAdmin)
    );
}

/// The bot's answer to a member device's retry, as whatsmeow sends it:
/// the message 1:1 with the sender key inside, to the group, naming the
/// device.
fn group_resend(bot: &mut Bot, id: &str, key: &SenderKey, device: &Jid, text: &str) -> Node {
    let content = wa::Message {
        conversation: Some(text.to_owned()),
        sender_key_distribution_message: Some(wa::message::SenderKeyDistributionMessage {
            group_id: Some(format!("{GROUP}@g.us")),
            axolotl_sender_key_distribution_message: Some(key.distribution.clone()),
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let (kind, bytes) = bot.encrypt(device, &content);
    let mut message = Node::new("message")
        .with_attr("id", id.to_owned())
        .with_attr("to", Jid::new(GROUP.to_owned(), "g.us"))
        .with_attr("participant", device.clone())
        .with_attr("type", "text")
        .with_child(
            Node::new("enc")
                .with_attr("v", "2")
                .with_attr("type", kind.enc_type())
                .with_bytes(bytes),
        );
    if kind == MessageKind::PreKeyMsg {
        message = message.with_child(Node::new("device-identity").with_bytes(bot.account()));
    }
    message
}

#[test]
fn a_member_added_after_the_seal_asks_again_and_reads_the_answer_to_its_retry() {
    let (mut server, mut bot, devices) = group_with_sessions(14, GroupAddressing::Pn);
    // Sealed for the members as they were: every device, ours included.
    let mut sealed_for = devices.clone();
    sealed_for.push(device_jid(&pn(OWN), bot.device()));
    let phash = participant_hash(&sealed_for);
    server
        .change_group(
            GROUP,
            ALICE,
            &GroupChange::Add {
                phones: vec![DAVE.into()],
            },
        )
        .expect("added");
    let mut key = SenderKey::new(&mut bot);

    // Without a phash the server judges by the members now: Dave's device
    // could not read it.
    let skmsg = key.skmsg(&mut bot, "no phash");
    let message = group_message(&mut bot, "3EB0P1", GROUP, &key, &devices, skmsg);
    bot.send(&mut server, &message);
    let kinds: Vec<ViolationKind> = server.violations().into_iter().map(|v| v.kind).collect();
    assert!(
        matches!(
            &kinds[..],
            [ViolationKind::MemberCannotRead { device: 0, .. }]
        ),
        "{kinds:?}"
    );

    // With the phash of the list before Dave: he asks again, no fault.
    let skmsg = key.skmsg(&mut bot, "before dave");
    let message =
        group_message(&mut bot, "3EB0P2", GROUP, &key, &devices, skmsg).with_attr("phash", phash);
    let got = bot.send(&mut server, &message);
    assert_eq!(server.violations_total(), 1, "{:?}", server.violations());
    let retry = got
        .iter()
        .find(|n| {
            n.tag == "receipt" && n.attr("id") == Some("3EB0P2") && n.attr("type") == Some("retry")
        })
        .expect("Dave asks again");
    assert_eq!(
        jid_text(retry, "participant"),
        format!("{DAVE}@s.whatsapp.net")
    );
    assert!(read_by(&server, DAVE, "3EB0P2").is_empty());
    assert_eq!(read_by(&server, BOB, "3EB0P2").len(), 1);

    // The answer, 1:1 on a new session: Dave reads it and keeps the key.
    let dave = pn(DAVE);
    bot.start_sessions(&mut server, std::slice::from_ref(&dave));
    let resend = group_resend(&mut bot, "3EB0P2", &key, &dave, "before dave");
    let got = bot.send(&mut server, &resend);
    assert_eq!(server.violations_total(), 1, "{:?}", server.violations());
    assert_eq!(
        read_by(&server, DAVE, "3EB0P2"),
        vec![(0, "before dave".into())]
    );
    assert!(
        got.iter().any(|n| n.tag == "receipt"
            && n.attr("id") == Some("3EB0P2")
            && n.attr("type").is_none()),
        "a read receipt: {got:?}"
    );
    let skmsg = key.skmsg(&mut bot, "now all");
    let message = group_message(&mut bot, "3EB0P3", GROUP, &key, &[], skmsg);
    bot.send(&mut server, &message);
    assert_eq!(server.violations_total(), 1, "{:?}", server.violations());
    assert_eq!(
        read_by(&server, DAVE, "3EB0P3"),
        vec![(0, "now all".into())]
    );
}
