//! Bugs the chaos sweep found, each replayed from its seed (the plan
//! generator in `blacksky_sim::chaos::plan` turns the seed into the same
//! faults every time). A change to the bot changes what a seed's faults
//! meet, so the overlap bugs are also pinned in scripted form in
//! `overlap.rs`, which keeps hitting the exact moment.

use blacksky_sim::chaos::plan::sweep_seed;

fn replay(seed: u64) {
    if let Err(report) = sweep_seed(seed) {
        panic!("{report}\nreplay: SEED={seed} cargo test -p blacksky-sim --test chaos_sweep");
    }
}

/// Two overlapping dynos both read an unhandled message and both handed
/// it to their handlers. Fixed by claiming inbox entries for a lease (on
/// the database's clock) before handling them.
#[test]
fn seed_19_two_dynos_never_handle_one_message() {
    replay(19);
}

/// An old dyno's socket dropped just as the new dyno started; the old one
/// reconnected, took the session back, the new one stood by, and when the
/// old one got its SIGTERM nobody was online. Fixed: a process checks no
/// newer one has started before it connects.
#[test]
fn seed_54_an_old_dyno_does_not_take_the_session_back() {
    replay(54);
}

/// Messages sent while a connection was cut off were never delivered: the
/// harness revived the cut-off connection at repair instead of dropping
/// it (a harness bug; the bot reconnects and gets them now).
#[test]
fn seed_55_messages_sent_during_a_partition_arrive() {
    replay(55);
}

/// A dyno started while the database was down got its SIGTERM while still
/// waiting for the store; the harness's bot did not hear it (the shell
/// does: the harness now mirrors it), lived on, registered after the new
/// dyno and took the session from it.
#[test]
fn seed_1735_a_sigterm_while_the_store_is_awaited_is_heard() {
    replay(1735);
}

/// A process died holding claims on two inbox entries; the next one found
/// them claimed, nothing new arrived, and it never looked again: two
/// messages stayed unhandled. Fixed: the worker looks at the inbox again
/// every lease period.
#[test]
fn seed_2196_entries_a_dead_process_claimed_are_handled() {
    replay(2196);
}

/// An old dyno's login, stalled in a partition after its "no newer
/// process" check had passed, arrived after the new dyno's and took the
/// session; the new one stood by. Fixed: the newest process, seeing an
/// older one of its session alive, takes the session back (scripted in
/// `overlap.rs`: a late login of the old dyno).
#[test]
fn seed_2366_a_late_login_of_an_old_dyno_is_taken_back() {
    replay(2366);
}

/// Found by the second 10,000-seed sweep: at 83 s the stored pre-key
/// counter went back from 1625 to 813, so pre-key ids could be reused. An
/// overlap put two live processes on one store. As the trace reads, the
/// new one had read the counter before the old one's delayed upload
/// landed; after the old one's late login and take-back uploaded keys up
/// to 1624, the new one's own batch (numbered from its stale counter) and
/// its whole-record creds write landed last. Fixed: the store claims pre-key ids past its own
/// counter and a creds write never moves that counter back
/// (`core::session::pre_key_ids`).
#[test]
fn seed_1347_the_pre_key_counter_never_goes_back() {
    replay(1347);
}

/// A process that stood by while an overlapping dyno held the session took
/// it back later with the session it had read at its start: the other
/// dyno had uploaded new one-time pre-keys meanwhile, contacts used them,
/// and the messages did not decrypt (a retry receipt; found by the
/// end-to-end promise). Fixed: a connection starts from the session read
/// back from the store once this process's own writes are in.
#[test]
fn seed_371_a_process_taking_the_session_back_knows_the_others_pre_keys() {
    replay(371);
}

/// Another seed the same sweep failed on, fixed by the same change.
#[test]
fn seed_999_a_process_taking_the_session_back_decrypts_what_followed() {
    replay(999);
}

/// Found by the 8,000-seed sweep with encrypted traffic: overlapping dynos.
/// The new process read the session back at connection start; the old one
/// committed its last batch (a contact's sender key) after that read; a
/// redelivered group message then found no sender key and the bot sent a
/// retry receipt. Fixed: a message that lacks keys makes the client read
/// the session back from the store (once every write of its own is in)
/// and take the keys it lacks before it asks the sender again
/// (`Output::ReadBack`).
#[test]
fn seed_4429_a_key_another_process_stored_late_is_read_back() {
    replay(4429);
}

/// The same cause as seed 4429 (a pkmsg or skmsg whose keys an
/// overlapping process stored after this one read the session).
#[test]
fn seed_2998_5502_5608_9788_keys_stored_late_are_read_back() {
    for seed in [2998, 5502, 5608, 9788] {
        replay(seed);
    }
}

/// The same sweep: contacts fetched one-time pre-keys while the bot was
/// offline for three minutes; a pre-key upload then made room under
/// `pre_keys_stored_max` by deleting the oldest keys, one of which a
/// contact's undelivered first message named, so it never decrypted.
/// Fixed: a key goes only once a message used it; at the bound fewer (or
/// no) keys are uploaded.
#[test]
fn seed_2300_a_handed_out_pre_key_is_never_evicted() {
    replay(2300);
}

/// With answers on: the old dyno committed a pong's seal (the advanced
/// ratchet and the stanza) after the new dyno read the session, and the
/// new one sealed from the older ratchet: one message key, two
/// ciphertexts. Fixed: each Signal record write names the record it
/// advanced, and the store refuses a batch whose record changed.
#[test]
fn seed_250_two_dynos_never_use_one_message_key() {
    replay(250);
}

/// With answers on, under a 2.5 s database and an overlapping dyno: a
/// seal the store refused (its record had moved on) was still handed to
/// the next connection as an already sealed stanza and sent, using the
/// stored record's next counter a second time. Fixed: a sealed stanza
/// joins the outbound view only once committed.
#[test]
fn seed_361_a_refused_seal_is_never_sent() {
    replay(361);
}

/// With answers on: a pong was never read by its contact (the same
/// refused seal, sent, could not be opened).
#[test]
fn seed_622_every_pong_is_read() {
    replay(622);
}

/// Under a 2.7 s database with an overlapping dyno, a claimed batch
/// outlived its claim lease: the other process claimed an entry and
/// handed it to its handler after this one committed its handling.
/// Fixed: a handled mark needs the entry's claim; a late handling whose
/// claim was taken over stores nothing.
#[test]
fn seed_9390_a_taken_over_claim_keeps_a_late_handling_out() {
    replay(9390);
}

/// With answers in the groups: two overlapping processes both sealed a
/// group message from one stored sender key record, so the members saw
/// one iteration of our key twice ("iteration 1 is behind the chain") and
/// a device marked as holding a key that was not the one sent under.
/// Fixed: our sender key record and the marks of who holds it are
/// compare-and-set in the store, as Signal session records are.
#[test]
fn seed_62_one_sender_key_iteration_is_used_once() {
    replay(62);
}
