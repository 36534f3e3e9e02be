//! Groups end to end with the real binary and `fake-wa`'s groups, whose
//! members are mock contacts with Signal stacks and sender keys of their
//! own: a member writes `ping n` in the group, the auto-reply answers
//! `pong n` there, and every member's devices decrypt it (fake-wa records
//! a violation for a member that cannot, and for one that could read
//! after leaving). Across SIGTERM (pings queued while the bot is down),
//! a member added later (it gets our sender key before our next message)
//! and a member removed (our key is made anew; it reads nothing more);
//! across kill -9 at random moments; and the group commands that need to
//! know who is an admin.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use blacksky_tests::{
    FakeWa, Moments, Proc, assert_no_violations, change_group, create_group, group_read_by,
    group_state, linked_ping_pong, start_blacksky,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const ALICE: &str = "4915112345678";
const BOB: &str = "4915187654321";
const CAROL: &str = "4915100000003";

fn group_ping(wa: &FakeWa, from: &str, group: &str, n: u64) {
    wa.post(
        &format!("/send?from={from}&group={group}"),
        &format!("ping {n}"),
    );
}

/// A linked bot that read its groups at login, and a group made after
/// (the bot learns it from the `create` notification): `spec` as
/// [`create_group`] takes it.
fn linked_with_group(home: &std::path::Path, spec: &serde_json::Value) -> (FakeWa, Proc, String) {
    let (wa, mut bot) = linked_ping_pong(home, &[]);
    bot.expect_line(WAIT, "the groups read at login", |_, line| {
        line.contains("groups the bot is in, read")
    });
    let group = create_group(&wa, spec);
    (wa, bot, group)
}

/// Waits until each of `members` read `text` in `group` on its phone.
fn wait_read(wa: &FakeWa, bot: &Proc, group: &str, members: &[&str], text: &str) {
    wait_read_matching(wa, bot, group, members, text, |read| read == text);
}

/// Waits until each of `members` read a text `matches` accepts.
fn wait_read_matching(
    wa: &FakeWa,
    bot: &Proc,
    group: &str,
    members: &[&str],
    text: &str,
    matches: impl Fn(&str) -> bool,
) {
    wait_until(bot, || {
        let missing: Vec<&str> = members
            .iter()
            .copied()
            .filter(|member| {
                !group_read_by(wa, member, group)
                    .iter()
                    .any(|(read, devices)| matches(read) && devices.contains(&0))
            })
            .collect();
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "{missing:?} never read {text:?} in the group; violations: {}",
            wa.get("/violations")
        ))
    });
}

/// Polls `pending` until it says nothing is missing (`None`), at most
/// `WAIT`; then fails with what it said last and the bot's transcript.
fn wait_until(bot: &Proc, mut pending: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + WAIT;
    while let Some(missing) = pending() {
        assert!(Instant::now() < deadline, "{missing}\n{}", bot.transcript());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_member_reads_the_answers_across_restarts_joins_and_removals() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot) = linked_ping_pong(home.path(), &[]);
    let group = create_group(
        &wa,
        &json!({"subject": "Weekend", "creator": ALICE, "members": [BOB], "bot": "member"}),
    );
    group_ping(&wa, ALICE, &group, 1);
    wait_read(&wa, &bot, &group, &[ALICE, BOB], "pong 1");

    // Pings while the bot is down are answered after it is back.
    bot.stop_cleanly(WAIT);
    group_ping(&wa, BOB, &group, 2);
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    wait_read(&wa, &bot, &group, &[ALICE, BOB], "pong 2");

    // A member added later gets our key before our next message.
    let added = change_group(
        &wa,
        &group,
        ALICE,
        &json!({"kind": "add", "phones": [CAROL]}),
    );
    assert_eq!(added, [CAROL]);
    group_ping(&wa, ALICE, &group, 3);
    wait_read(&wa, &bot, &group, &[ALICE, BOB, CAROL], "pong 3");

    // A member removed does not read our next one.
    let removed = change_group(
        &wa,
        &group,
        ALICE,
        &json!({"kind": "remove", "phones": [BOB]}),
    );
    assert_eq!(removed, [BOB]);
    group_ping(&wa, CAROL, &group, 4);
    wait_read(&wa, &bot, &group, &[ALICE, CAROL], "pong 4");
    let bob_read: BTreeSet<String> = group_read_by(&wa, BOB, &group).into_keys().collect();
    assert!(
        !bob_read.contains("pong 4"),
        "the removed member read {bob_read:?}"
    );
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}

/// The group's members and admins as the bot read them serve its
/// commands: an admin's `.tagall` mentions every member, a member's is
/// refused, both answers read by every member.
#[test]
fn group_commands_know_who_is_admin() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot, group) = linked_with_group(
        home.path(),
        &json!({"subject": "Club", "creator": ALICE, "members": [BOB], "bot": "admin"}),
    );
    tagall_refused_to_bob_done_for_alice(&wa, &bot, &group, "dinner at 8");
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}

/// In a group of Alice (its admin) and Bob: Bob's `.tagall` is refused,
/// Alice's `.tagall <header>` is read by both, mentioning both.
fn tagall_refused_to_bob_done_for_alice(wa: &FakeWa, bot: &Proc, group: &str, header: &str) {
    wa.post(&format!("/send?from={BOB}&group={group}"), ".tagall");
    wait_read(
        wa,
        bot,
        group,
        &[ALICE, BOB],
        "Only group admins may use .tagall.",
    );
    wa.post(
        &format!("/send?from={ALICE}&group={group}"),
        &format!(".tagall {header}"),
    );
    let mentions_both = |text: &str| {
        text.starts_with(&format!("{header}\n\n"))
            && text.contains(&format!("@{ALICE}"))
            && text.contains(&format!("@{BOB}"))
    };
    wait_read_matching(wa, bot, group, &[ALICE, BOB], "the tagall", mentions_both);
}

/// The groups are kept in the store: after a restart, with WhatsApp not
/// answering any group query (no list at login, no metadata on a miss),
/// the bot still knows who the admins are and whom to seal its answer for.
#[test]
fn groups_are_known_after_a_restart_before_whatsapp_describes_them() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot, group) = linked_with_group(
        home.path(),
        &json!({"subject": "Club", "creator": ALICE, "members": [BOB], "bot": "admin"}),
    );
    // The bot answered in the group once: it has read and kept it.
    group_ping(&wa, BOB, &group, 1);
    wait_read(&wa, &bot, &group, &[ALICE, BOB], "pong 1");
    bot.stop_cleanly(WAIT);
    wa.post("/ignore-iqs?xmlns=w:g2", "");
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    tagall_refused_to_bob_done_for_alice(&wa, &bot, &group, "tea");
    assert_no_violations(&wa);
    wa.post("/ignore-iqs", "");
    bot.stop_cleanly(WAIT);
}

/// Waits until fake-wa's group satisfies `holds`.
fn wait_group(
    wa: &FakeWa,
    bot: &Proc,
    group: &str,
    what: &str,
    holds: impl Fn(&serde_json::Value) -> bool,
) {
    wait_until(bot, || {
        let state = group_state(wa, group);
        (!holds(&state)).then(|| format!("the group never got to {what}: {state:#}"))
    });
}

/// An admin's commands are done by WhatsApp (fake-wa's `w:g2` answers):
/// a member kicked is gone, one promoted is an admin, the group muted
/// takes only admins' messages, the invite link is the group's own, and
/// after a revoke the new one; across a SIGTERM between asking and doing
/// (the effect is pending in the store and done by the next process).
#[test]
fn group_admin_commands_are_done_by_whatsapp() {
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot, group) = linked_with_group(
        home.path(),
        &json!({"subject": "Club", "creator": ALICE, "members": [BOB, CAROL], "bot": "admin"}),
    );
    let admin_says = |text: &str| {
        wa.post(&format!("/send?from={ALICE}&group={group}"), text);
    };
    // A member may not; the admin may, and the text comes once it is done.
    wa.post(
        &format!("/send?from={BOB}&group={group}"),
        &format!(".kick {CAROL}"),
    );
    wait_read(
        &wa,
        &bot,
        &group,
        &[ALICE, BOB, CAROL],
        "Only group admins may use .kick.",
    );
    admin_says(&format!(".kick {CAROL}"));
    wait_group(&wa, &bot, &group, "Carol removed", |state| {
        state["members"].get(CAROL).is_none()
    });
    wait_read(
        &wa,
        &bot,
        &group,
        &[ALICE, BOB],
        &format!("Removing @{CAROL}."),
    );
    assert!(
        !group_read_by(&wa, CAROL, &group).contains_key(&format!("Removing @{CAROL}.")),
        "the one removed does not read what follows"
    );
    admin_says(&format!(".promote {BOB}"));
    wait_group(&wa, &bot, &group, "Bob an admin", |state| {
        state["members"][BOB] == "admin"
    });
    admin_says(".mute");
    wait_group(&wa, &bot, &group, "announce on", |state| {
        state["announce"] == true
    });
    admin_says(".link");
    let code = group_state(&wa, &group)["invite_code"]
        .as_str()
        .expect("an invite code")
        .to_owned();
    let link = format!("Invite link: https://chat.whatsapp.com/{code}");
    wait_read(&wa, &bot, &group, &[ALICE, BOB], &link);
    // Asked, then the bot stops before or after doing it: the next
    // process does what is still pending, once.
    admin_says(".revoke");
    bot.stop_cleanly(WAIT);
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    wait_group(&wa, &bot, &group, "a new invite code", |state| {
        state["invite_code"].as_str() != Some(code.as_str())
    });
    let new_code = group_state(&wa, &group)["invite_code"]
        .as_str()
        .expect("an invite code")
        .to_owned();
    wait_read_matching(&wa, &bot, &group, &[ALICE, BOB], "the new link", |text| {
        text.contains(&format!("https://chat.whatsapp.com/{new_code}"))
    });
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}

/// `.welcome on` and `.goodbye on`: a member added is welcomed and one
/// removed is said goodbye to, once each, in the group's own words; the
/// notification is kept in the inbox and acked once stored, so a SIGTERM
/// right after it loses no greeting.
#[test]
fn new_members_are_welcomed_and_leavers_said_goodbye_once() {
    const DAVE: &str = "4915100000004";
    let home = tempfile::tempdir().expect("temp dir");
    let (wa, mut bot, group) = linked_with_group(
        home.path(),
        &json!({"subject": "Club", "creator": ALICE, "members": [BOB], "bot": "admin"}),
    );
    for command in [".welcome on", ".goodbye on"] {
        wa.post(&format!("/send?from={ALICE}&group={group}"), command);
    }
    wait_read(
        &wa,
        &bot,
        &group,
        &[ALICE, BOB],
        "I will say goodbye to members who leave.",
    );
    assert_eq!(
        change_group(
            &wa,
            &group,
            ALICE,
            &json!({"kind": "add", "phones": [DAVE]})
        ),
        vec![DAVE.to_owned()]
    );
    bot.stop_cleanly(WAIT);
    let mut bot = start_blacksky(&wa, home.path(), &[]);
    let welcome = format!("Welcome to Club, @{DAVE}!");
    wait_read(&wa, &bot, &group, &[ALICE, BOB, DAVE], &welcome);
    change_group(
        &wa,
        &group,
        ALICE,
        &json!({"kind": "remove", "phones": [DAVE]}),
    );
    let goodbye = format!("Goodbye, @{DAVE}.");
    wait_read(&wa, &bot, &group, &[ALICE, BOB], &goodbye);
    bot.stop_cleanly(WAIT);
    // Once each, across the restart.
    for member in [ALICE, BOB] {
        let received = wa.get(&format!("/received?from={member}"));
        let welcomes = received
            .as_array()
            .expect("a list")
            .iter()
            .filter(|m| m["text"] == welcome.as_str() && m["device"] == 0)
            .count();
        assert_eq!(welcomes, 1, "{received:#}");
    }
    assert!(
        !group_read_by(&wa, DAVE, &group).contains_key(&goodbye),
        "a removed member reads nothing more"
    );
    assert_no_violations(&wa);
}

/// kill -9 at random moments while members write in the group (the
/// moments come from a seed, printed; `SEED=n` replays a run): every
/// answer is read by every member, and nothing a member's device or the
/// server would refuse (a sender key iteration or a message key used
/// twice, a member left without the key) happens.
#[test]
fn every_member_reads_every_answer_across_kill_nine() {
    let mut moments = Moments::from_env("group kill -9");
    let home = tempfile::tempdir().expect("temp dir");
    let env = [("RATE_LIMIT_PER_MIN", "0")];
    let (wa, mut bot) = linked_ping_pong(home.path(), &env);
    let group = create_group(
        &wa,
        &json!({"subject": "Crash club", "creator": ALICE, "members": [BOB], "bot": "member"}),
    );
    let mut sent = 0;
    for round in 0..5 {
        for _ in 0..3 {
            sent += 1;
            let from = if sent % 2 == 0 { ALICE } else { BOB };
            group_ping(&wa, from, &group, sent);
        }
        std::thread::sleep(Duration::from_millis(moments.next_ms(400)));
        bot.signal("KILL");
        bot.wait_exit(WAIT)
            .unwrap_or_else(|| panic!("round {round}: no exit after SIGKILL"));
        bot = start_blacksky(&wa, home.path(), &env);
    }
    for n in 1..=sent {
        wait_read(&wa, &bot, &group, &[ALICE, BOB], &format!("pong {n}"));
    }
    assert_no_violations(&wa);
    bot.stop_cleanly(WAIT);
}
