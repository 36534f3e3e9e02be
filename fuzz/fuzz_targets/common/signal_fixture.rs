//! A Signal session between Alice and Bob, built once per fuzz process with
//! fixed keys, and real messages to mutate: what the Signal fuzz targets
//! decrypt arbitrary bytes against.
#![allow(dead_code)] // each target uses a different part

use std::collections::BTreeMap;
use std::sync::OnceLock;

use blacksky_core::session::{PreKey, SignedPreKey};
use blacksky_core::signal::{
    self, IdentityKey, LocalPreKeys, OneTimePreKeyPublic, PreKeyBundle, PreKeyLookup, PublicKey,
    SessionRecord, SignedPreKeyPublic,
};
use blacksky_core::wire::noise::KeyPair;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub struct Fixture {
    pub bob_identity: KeyPair,
    pub bob_signed: SignedPreKey,
    pub bob_one_time: BTreeMap<u32, PreKey>,
    /// Bob's record after Alice's pkmsg and his answer.
    pub bob_record: SessionRecord,
    /// A pkmsg from a second initiator, not yet seen by Bob.
    pub pkmsg: Vec<u8>,
    /// A msg from Alice on a new ratchet key (decrypting it steps Bob's).
    pub msg: Vec<u8>,
}

/// Bob's pre-keys, as a pkmsg looks them up.
impl PreKeyLookup for Fixture {
    fn signed_pre_key(&self, id: u32) -> Option<&KeyPair> {
        (id == self.bob_signed.id).then_some(&self.bob_signed.key_pair)
    }

    fn one_time_pre_key(&self, id: u32) -> Option<&KeyPair> {
        self.bob_one_time.get(&id).map(|key| &key.key_pair)
    }
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

pub fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

fn build() -> Fixture {
    let mut rng = rng();
    let alice = KeyPair::generate(&mut rng);
    let carol = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    let signed = SignedPreKey::generate(&bob, 1, &mut rng);
    let one_time: BTreeMap<u32, PreKey> = (1..=2)
        .map(|id| {
            (
                id,
                PreKey {
                    id,
                    key_pair: KeyPair::generate(&mut rng),
                },
            )
        })
        .collect();
    let bundle = |id: u32| PreKeyBundle {
        registration_id: 2,
        identity: IdentityKey::of(&bob),
        signed_pre_key: SignedPreKeyPublic {
            id: signed.id,
            key: PublicKey::of(&signed.key_pair),
            signature: signed.signature,
        },
        one_time_pre_key: Some(OneTimePreKeyPublic {
            id,
            key: PublicKey::of(&one_time[&id].key_pair),
        }),
    };
    let fail = |what: &str| -> ! { panic!("fuzz fixture: {what}") };
    let signed_refs = [&signed];
    let pre_keys = LocalPreKeys {
        signed: &signed_refs,
        one_time: &one_time,
    };

    let alice_record = signal::session_from_bundle(None, &alice, 1, &bundle(1), &mut rng)
        .unwrap_or_else(|_| fail("Alice's session"));
    let (first, alice_record) =
        signal::encrypt(&alice_record, &alice, b"hello").unwrap_or_else(|_| fail("Alice's pkmsg"));
    let bob_record = signal::decrypt_pkmsg(None, &bob, &pre_keys, &first.bytes, &mut rng)
        .unwrap_or_else(|_| fail("Bob reads the pkmsg"))
        .record;
    let (answer, bob_record) =
        signal::encrypt(&bob_record, &bob, b"hi").unwrap_or_else(|_| fail("Bob's answer"));
    let alice_record = signal::decrypt_msg(&alice_record, &alice, &answer.bytes, &mut rng)
        .unwrap_or_else(|_| fail("Alice reads the answer"))
        .record;
    let (msg, _) = signal::encrypt(&alice_record, &alice, b"a new ratchet key")
        .unwrap_or_else(|_| fail("Alice's msg"));

    let carol_record = signal::session_from_bundle(None, &carol, 3, &bundle(2), &mut rng)
        .unwrap_or_else(|_| fail("Carol's session"));
    let (pkmsg, _) = signal::encrypt(&carol_record, &carol, b"hello from carol")
        .unwrap_or_else(|_| fail("Carol's pkmsg"));

    Fixture {
        bob_identity: bob,
        bob_signed: signed,
        bob_one_time: one_time,
        bob_record,
        pkmsg: pkmsg.bytes,
        msg: msg.bytes,
    }
}

/// `base` with `mask` XORed over its start: mostly well-formed, so the
/// fuzzer reaches key derivation and the MAC check, not just the decoder.
pub fn mutated(base: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for (byte, m) in out.iter_mut().zip(mask) {
        *byte ^= m;
    }
    if mask.len() > base.len() {
        out.extend_from_slice(&mask[base.len()..]);
    }
    out
}
