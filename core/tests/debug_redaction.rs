//! Nothing that holds a secret shows it in `Debug`: every type below is
//! built around known secret values, formatted (plain and `{:#?}`), and
//! the output searched for each secret as text, as lower- and upper-case
//! hex, and as the decimal byte list a derived `Debug` of an array prints.

use blacksky_core::client::link_code::{CompanionCode, PrimaryCode};
use blacksky_core::client::pairing::DeviceGrant;
use blacksky_core::client::{ClientConfig, Event, Output, PairingMethod};
use blacksky_core::crypto::KeyPair;
use blacksky_core::session::Creds;
use blacksky_core::signal::SecretKey;
use blacksky_core::signal::kdf::{ChainKey, RootKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Every way a formatter could show `bytes`.
fn renderings(bytes: &[u8]) -> Vec<String> {
    let lower = hex::encode(bytes);
    vec![lower.to_uppercase(), format!("{bytes:?}"), lower]
}

/// Fails if `shown` carries any of `secrets`, in any rendering.
fn assert_hidden(what: &str, shown: &str, text_secrets: &[&str], byte_secrets: &[&[u8]]) {
    for secret in text_secrets {
        assert!(!shown.contains(secret), "{what} shows {secret:?}: {shown}");
    }
    for secret in byte_secrets {
        for rendering in renderings(secret) {
            assert!(
                !shown.contains(&rendering),
                "{what} shows secret bytes ({rendering}): {shown}"
            );
        }
    }
}

fn both(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}\n{value:#?}")
}

#[test]
fn pairing_codes_and_their_keys_stay_out_of_debug() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (companion, wrapped) = CompanionCode::start(&mut rng);
    let code = companion.code.clone();
    assert_eq!(code.len(), 8);
    // The ephemeral key pair inside is private to the type; its Debug is
    // KeyPair's, checked below.
    assert_hidden(
        "CompanionCode",
        &both(&companion),
        &[&code[..4], &code[4..]],
        &[],
    );
    let (primary, _) = PrimaryCode::start(&code, &wrapped, &mut rng).expect("the right code");
    assert_hidden(
        "PrimaryCode",
        &both(&primary),
        &[&code[..4], &code[4..]],
        &[],
    );
}

#[test]
fn key_material_stays_out_of_debug() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let pair = KeyPair::generate(&mut rng);
    let private = *pair.private_bytes();
    assert_hidden("KeyPair", &both(&pair), &[], &[&private]);

    let adv_secret = [0x5au8; 32];
    let account_key = KeyPair::generate(&mut rng);
    let account_private = *account_key.private_bytes();
    let grant = DeviceGrant {
        account_key: &account_key,
        companion_identity_public: pair.public(),
        adv_secret: &adv_secret,
        raw_id: 1,
        key_index: 2,
        timestamp_secs: 3,
    };
    assert_hidden(
        "DeviceGrant",
        &both(&grant),
        &[],
        &[&adv_secret, &account_private],
    );

    let creds = Creds::generate(&mut rng);
    let creds_secrets = [
        *creds.noise_key.private_bytes(),
        *creds.identity_key.private_bytes(),
        *creds.signed_pre_key.key_pair.private_bytes(),
        creds.adv_secret,
    ];
    let creds_refs: Vec<&[u8]> = creds_secrets.iter().map(|s| s.as_slice()).collect();
    assert_hidden("Creds", &both(&creds), &[], &creds_refs);
    assert_hidden(
        "SignedPreKey",
        &both(&creds.signed_pre_key),
        &[],
        &creds_refs[2..3],
    );

    let root_bytes = [0x3cu8; 32];
    let chain_bytes = [0x4du8; 32];
    let root = RootKey::new(SecretKey::from(root_bytes));
    let chain = ChainKey::new(SecretKey::from(chain_bytes), 9);
    assert_hidden(
        "RootKey/ChainKey",
        &format!("{}{}", both(&root), both(&chain)),
        &[],
        &[&root_bytes, &chain_bytes],
    );
}

#[test]
fn events_and_settings_show_no_qr_text_code_or_phone() {
    let qr_text = "2@ref-abc,bm9pc2Uta2V5,aWRlbnRpdHk=,YWR2LXNlY3JldA==";
    let events = [
        Event::Qr {
            text: qr_text.to_owned(),
            index: 0,
            valid_ms: 60_000,
        },
        Event::PairingCode {
            code: "ABCD-EFGH".to_owned(),
        },
    ];
    for event in &events {
        let shown = format!("{}{}", both(event), both(&Output::Event(event.clone())));
        assert_hidden(
            "Event",
            &shown,
            &[qr_text, "ref-abc", "YWR2LXNlY3JldA", "ABCD", "EFGH"],
            &[],
        );
    }
    // The events still say what they are.
    assert!(format!("{:?}", events[0]).starts_with("Qr {"));

    let config = ClientConfig {
        pairing: PairingMethod::Code {
            phone: "491556123456".to_owned(),
        },
        ..ClientConfig::default()
    };
    assert_hidden("ClientConfig", &both(&config), &["1556123"], &[]);
}

#[test]
fn media_keys_and_media_conn_auth_stay_out_of_debug() {
    use blacksky_core::media::{
        DownloadPlan, MediaConn, MediaDecryptor, MediaEncryptor, MediaKeys, MediaType,
        UploadedBlob, encrypt_media, uploaded_descriptor,
    };
    use blacksky_core::message::content::MediaKey;

    let secret = [0x5a_u8; 32];
    let key = MediaKey::from_bytes(secret.to_vec());
    let keys = MediaKeys::expand(&key, MediaType::Gif).expect("32 bytes");
    let key_bytes: [&[u8]; 5] = [
        &secret,
        keys.iv(),
        keys.cipher_key(),
        keys.mac_key(),
        keys.ref_key(),
    ];
    let (_, encrypted) = encrypt_media(&keys, b"\0\0\0\x18ftypmp42");
    let descriptor = uploaded_descriptor(
        key.clone(),
        &encrypted,
        UploadedBlob {
            url: "https://mmg.whatsapp.net/v/1.enc".into(),
            direct_path: "/v/1.enc".into(),
        },
        1,
    );
    let plan = DownloadPlan::from_descriptor(&descriptor, MediaType::Gif).expect("complete");
    let shown = [
        both(&key),
        both(&keys),
        both(&descriptor),
        both(&plan),
        both(&MediaEncryptor::new(&keys)),
        both(&MediaDecryptor::new(&keys, plan.expected.clone(), 1 << 20)),
    ]
    .concat();
    assert_hidden("media", &shown, &[], &key_bytes);

    let conn = MediaConn {
        auth: "AUTH-SECRET-TOKEN".into(),
        ttl: std::time::Duration::from_secs(60),
        hosts: vec!["mmg.whatsapp.net".into()],
    };
    assert_hidden("MediaConn", &both(&conn), &["AUTH-SECRET"], &[]);
    assert!(both(&conn).contains("mmg.whatsapp.net"));
}
