//! Sample sessions for tests and benchmarks (deterministic from a seed).

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::{Creds, PreKey, Session, Write};
use crate::crypto::KeyPair;
use crate::wire::binary::Jid;

/// A linked session with `pre_keys` one-time pre-keys, `signal_sessions`
/// Signal sessions of `record_bytes` random bytes each, and one record of
/// every other kind.
pub fn sample_session(
    seed: u64,
    pre_keys: u32,
    signal_sessions: u32,
    record_bytes: usize,
) -> Session {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut creds = Creds::generate(&mut rng);
    creds.me = Some(super::Me {
        jid: Jid::parse("491556123456:7@s.whatsapp.net").unwrap_or_else(|| unreachable!()),
        lid: None,
        push_name: Some("bot".into()),
    });
    creds.account = Some(vec![7; 120]);
    creds.next_pre_key_id = pre_keys + 1;
    creds.first_unuploaded_pre_key_id = pre_keys + 1;
    let mut session = Session::new(creds);
    for id in 1..=pre_keys {
        session.apply(&Write::PreKey(PreKey {
            id,
            key_pair: KeyPair::generate(&mut rng),
        }));
    }
    for i in 0..signal_sessions {
        let mut record = vec![0u8; record_bytes];
        rng.fill_bytes(&mut record);
        session.apply(&Write::SignalSession {
            address: format!("1555000{i:04}.0:1"),
            record,
            replaces: super::Replaces::Anything,
        });
    }
    session.apply(&Write::SenderKey {
        group: "120363000000000000@g.us".into(),
        sender: "15550001111.0:1".into(),
        record: vec![9; 30],
        replaces: super::Replaces::Anything,
    });
    session.apply(&Write::Identity {
        address: "15550001111.0:1".into(),
        key: vec![5; 33],
    });
    session.apply(&Write::AppStateKey {
        id: vec![0, 0, 0, 1],
        data: vec![3; 32],
    });
    session.apply(&Write::LidMapping {
        pn: "15550009999".into(),
        lid: "777000999".into(),
    });
    session
}
