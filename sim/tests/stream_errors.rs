//! Promise: every stream error gets the reaction the keeper's table gives
//! it (README, "Keeper policy"), and none costs the identity or a message.
//!
//! - 515, 503, 500, 405 and a dropped socket: back online by itself
//!   within [`BACK_BOUND`], same device, no QR.
//! - 440 (another process took the session): stand by, never fight back;
//!   the next dyno cycle brings it back.
//! - 401 (the phone removed the device): exit 3 without reconnecting, and
//!   the stored identity is kept, not replaced.
//! - Logins refused with 503 for a while: backs off and gets in once the
//!   server lets it.
//!
//! `SEED=<n> cargo test -p blacksky-sim --test stream_errors` replays.

use std::time::Duration;

use blacksky_sim::chaos::{SeedGuard, World};

/// The backoff's first ceiling is 1 s; 405 backs off the same way.
const BACK_BOUND: Duration = Duration::from_secs(30);
const CONTACT: &str = "4915550007777";

struct Linked {
    world: World,
    identity: [u8; 32],
    device: String,
}

fn linked(scenario: &'static str) -> (Linked, SeedGuard) {
    let (world, guard) = World::linked(scenario);
    let creds = world.stored_creds().expect("creds are stored");
    let linked = Linked {
        identity: *creds.identity_key.public(),
        device: creds.me.expect("linked").jid.to_string(),
        world,
    };
    (linked, guard)
}

impl Linked {
    fn assert_same_device(&self) {
        let creds = self.world.stored_creds().expect("creds are still stored");
        assert_eq!(*creds.identity_key.public(), self.identity, "new identity");
        assert_eq!(
            creds.me.map(|m| m.jid.to_string()).as_deref(),
            Some(self.device.as_str()),
            "new device"
        );
        assert_eq!(
            self.world.server_state().devices.len(),
            1,
            "a second device"
        );
    }

    /// Messages sent now are acked and stored once.
    fn traffic_flows(&mut self) {
        let ids = self.world.send_messages(CONTACT, 3);
        let acked_before = self.world.server_state().messages.acked as usize;
        self.world
            .run_until("the messages acked", Duration::from_secs(30), |w| {
                w.server_state().messages.acked as usize >= acked_before + ids.len()
            });
        let stored: Vec<String> = self
            .world
            .stored_inbox()
            .into_iter()
            .map(|e| e.id)
            .collect();
        for id in &ids {
            assert_eq!(stored.iter().filter(|s| *s == id).count(), 1, "{id}");
        }
        self.world.assert_invariants();
    }
}

fn comes_back_after(code: u16, scenario: &'static str) {
    let (mut linked, _guard) = linked(scenario);
    let world = &mut linked.world;
    world.stream_error(code);
    world.run_until("the connection ended", Duration::from_secs(5), |w| {
        !w.bot_online()
    });
    let mut qr = false;
    let took = world.run_until("online again", BACK_BOUND, |w| {
        qr |= w.bot_qr().is_some();
        w.bot_online()
    });
    eprintln!("{code}: online again after {took:?}");
    assert!(!qr, "a QR after {code}");
    assert_eq!(world.bot_starts(), 1, "the process restarted after {code}");
    linked.assert_same_device();
    linked.traffic_flows();
}

#[test]
fn restart_required_515() {
    comes_back_after(515, "stream_errors");
}

#[test]
fn unavailable_503() {
    comes_back_after(503, "stream_errors");
}

#[test]
fn internal_error_500() {
    comes_back_after(500, "stream_errors");
}

#[test]
fn client_outdated_405() {
    comes_back_after(405, "stream_errors");
}

#[test]
fn replaced_440_stands_by_until_the_next_dyno() {
    let (mut linked, _guard) = linked("stream_errors");
    let world = &mut linked.world;
    world.stream_error(440);
    world.run_for(Duration::from_secs(600));
    assert_eq!(world.bot_state(), "standing_by", "440 must not be fought");
    assert_eq!(
        world.server_state().devices[0].logins,
        1,
        "it logged in again after 440"
    );
    world.dyno_cycle();
    world.run_until(
        "online in the next dyno",
        Duration::from_secs(30),
        World::bot_online,
    );
    linked.assert_same_device();
    linked.traffic_flows();
}

#[test]
fn logged_out_401_exits_3_and_keeps_the_identity() {
    let (mut linked, _guard) = linked("stream_errors");
    let world = &mut linked.world;
    world.stream_error(401);
    world.run_until("the process exited", Duration::from_secs(10), |w| {
        !w.bot_running()
    });
    assert_eq!(world.bot_exits().last().map(|e| e.1), Some(3), "exit code");
    world.run_for(Duration::from_secs(60));
    assert_eq!(world.server_state().devices[0].logins, 1, "it reconnected");
    let creds = world.stored_creds().expect("the creds are kept");
    assert_eq!(*creds.identity_key.public(), linked.identity, "identity");
    world.assert_invariants();
}

#[test]
fn refused_logins_are_waited_out() {
    let (mut linked, _guard) = linked("stream_errors");
    let world = &mut linked.world;
    world.refuse_logins(503, 4);
    world.drop_connections();
    let took = world.run_until("online again", Duration::from_secs(120), World::bot_online);
    eprintln!("4 refused logins: online again after {took:?}");
    assert_eq!(world.bot_starts(), 1);
    linked.assert_same_device();
    linked.traffic_flows();
}
