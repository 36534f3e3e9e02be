use super::*;
use crate::wire::binary::{Decoded, encode};

fn group() -> Jid {
    Jid::new("120363000000000001", "g.us")
}

fn person(user: &'static str) -> Jid {
    Jid::new(user, "s.whatsapp.net")
}

fn no_ids() -> DescriptionIds {
    DescriptionIds {
        new_id: "NEW1".into(),
        previous: None,
    }
}

fn read(
    action: &AdminAction,
    answer: &Node,
) -> Result<Result<AdminAnswer, Refusal>, AdminAnswerError> {
    let bytes = encode(answer).expect("encode");
    let mut decoded = Decoded::new();
    parse_admin_answer(action, decoded.decode(&bytes).expect("decode"))
}

fn result(children: Vec<Node>) -> Node {
    Node::new("iq")
        .with_attr("type", "result")
        .with_attr("id", "x.1")
        .with_children(children)
}

#[test]
fn a_participant_change_names_each_person_to_the_group() {
    let action = AdminAction::Participants {
        change: ParticipantChange::Remove,
        people: vec![person("15550001111"), person("15550002222")],
    };
    let iq = admin_request("x.1", &group(), &action, &no_ids());
    assert_eq!(iq.attr("type"), Some("set"));
    assert_eq!(iq.attr("xmlns"), Some("w:g2"));
    assert_eq!(iq.attr_jid("to"), Some(group()));
    let remove = iq.child("remove").expect("<remove>");
    let named: Vec<Jid> = remove
        .children_named("participant")
        .filter_map(|p| p.attr_jid("jid"))
        .collect();
    assert_eq!(named, vec![person("15550001111"), person("15550002222")]);
}

#[test]
fn each_person_has_an_outcome_of_their_own() {
    let action = AdminAction::Participants {
        change: ParticipantChange::Add,
        people: vec![person("1"), person("2"), person("3")],
    };
    let answer = result(vec![Node::new("add").with_children(vec![
        Node::new("participant").with_attr("jid", person("1")),
        Node::new("participant")
            .with_attr("jid", person("2"))
            .with_attr("error", "403"),
        Node::new("participant")
            .with_attr("jid", person("3"))
            .with_attr("error", "409"),
    ])]);
    let Ok(Ok(AdminAnswer::People(people))) = read(&action, &answer) else {
        panic!("a per-person answer");
    };
    let results: Vec<_> = people.iter().map(|p| p.result).collect();
    assert_eq!(
        results,
        vec![Ok(()), Err(Refusal::Forbidden), Err(Refusal::Conflict)]
    );
    assert_eq!(people[1].person, person("2"));
}

#[test]
fn an_answer_without_its_list_is_named() {
    let action = AdminAction::Participants {
        change: ParticipantChange::Promote,
        people: vec![person("1")],
    };
    assert_eq!(
        read(&action, &result(Vec::new())),
        Err(AdminAnswerError::Missing("promote"))
    );
}

#[test]
fn settings_use_the_tags_whatsapp_web_sends() {
    let tag = |action: AdminAction| {
        admin_request("x.1", &group(), &action, &no_ids()).children()[0]
            .tag
            .to_string()
    };
    assert_eq!(tag(AdminAction::Announce(true)), "announcement");
    assert_eq!(tag(AdminAction::Announce(false)), "not_announcement");
    assert_eq!(tag(AdminAction::Locked(true)), "locked");
    assert_eq!(tag(AdminAction::Locked(false)), "unlocked");
    let subject = admin_request(
        "x.1",
        &group(),
        &AdminAction::Subject("Hi".into()),
        &no_ids(),
    );
    assert_eq!(subject.child("subject").and_then(Node::text), Some("Hi"));
    assert_eq!(
        read(&AdminAction::Locked(true), &result(Vec::new())),
        Ok(Ok(AdminAnswer::Done))
    );
}

#[test]
fn a_description_names_its_new_id_and_the_one_it_replaces() {
    let ids = DescriptionIds {
        new_id: "NEW1".into(),
        previous: Some("OLD1".into()),
    };
    let set = admin_request(
        "x.1",
        &group(),
        &AdminAction::Description(Some("Rules".into())),
        &ids,
    );
    let description = set.child("description").expect("<description>");
    assert_eq!(description.attr("id"), Some("NEW1"));
    assert_eq!(description.attr("prev"), Some("OLD1"));
    assert_eq!(
        description.child("body").and_then(Node::text),
        Some("Rules")
    );
    let delete = admin_request("x.1", &group(), &AdminAction::Description(None), &no_ids());
    let description = delete.child("description").expect("<description>");
    assert_eq!(description.attr("delete"), Some("true"));
    assert_eq!(description.attr("prev"), None);
    assert!(description.child("body").is_none());
}

#[test]
fn the_invite_code_is_read_and_kept_out_of_debug() {
    let get = admin_request("x.1", &group(), &AdminAction::InviteCode, &no_ids());
    assert_eq!(get.attr("type"), Some("get"));
    let revoke = admin_request("x.1", &group(), &AdminAction::RevokeInvite, &no_ids());
    assert_eq!(revoke.attr("type"), Some("set"));
    let answer = result(vec![Node::new("invite").with_attr("code", "AbC123")]);
    let Ok(Ok(AdminAnswer::InviteCode(code))) = read(&AdminAction::RevokeInvite, &answer) else {
        panic!("an invite code");
    };
    assert_eq!(code.link(), "https://chat.whatsapp.com/AbC123");
    assert!(!format!("{code:?}").contains("AbC123"));
    assert_eq!(
        read(&AdminAction::InviteCode, &result(vec![Node::new("invite")])),
        Err(AdminAnswerError::NoInviteCode)
    );
}

#[test]
fn leaving_goes_to_the_groups_server_and_may_be_refused_per_group() {
    let leave = admin_request("x.1", &group(), &AdminAction::Leave, &no_ids());
    assert_eq!(leave.attr_jid("to"), Some(Jid::at("g.us")));
    let named = leave
        .child("leave")
        .and_then(|l| l.child("group"))
        .and_then(|g| g.attr_jid("id"));
    assert_eq!(named, Some(group()));
    let left = result(vec![
        Node::new("leave").with_child(Node::new("group").with_attr("id", group())),
    ]);
    assert_eq!(read(&AdminAction::Leave, &left), Ok(Ok(AdminAnswer::Left)));
    let refused = result(vec![
        Node::new("leave").with_child(
            Node::new("group")
                .with_attr("id", group())
                .with_attr("error", "403"),
        ),
    ]);
    assert_eq!(
        read(&AdminAction::Leave, &refused),
        Ok(Err(Refusal::Forbidden))
    );
}

#[test]
fn codes_map_to_refusals_and_odd_ones_are_kept() {
    assert_eq!(Refusal::from_attr("401"), Refusal::NotAdmin);
    assert_eq!(Refusal::from_attr("404"), Refusal::NotFound);
    assert_eq!(Refusal::from_attr("429"), Refusal::RateLimited);
    assert_eq!(Refusal::from_attr("500"), Refusal::Other(500));
    assert_eq!(Refusal::from_attr("x"), Refusal::Other(0));
}

#[test]
fn debug_names_no_one() {
    let action = AdminAction::Participants {
        change: ParticipantChange::Add,
        people: vec![person("15550001111")],
    };
    let shown = format!(
        "{action:?} {:?}",
        AdminAction::Subject("Secret plans".into())
    );
    assert!(!shown.contains("15550001111"));
    assert!(!shown.contains("Secret"));
}
