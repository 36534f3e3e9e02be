//! Pins the wire layout of the messages whose field numbers the protocol
//! fixes: a wrong number here would be a silent interop failure.
use blacksky_proto::Message;
use blacksky_proto::wa::{ClientPayload, HandshakeMessage, handshake_message::ClientHello};

#[test]
fn client_hello_is_field_2_with_ephemeral_field_1() {
    let msg = HandshakeMessage {
        client_hello: Some(ClientHello {
            ephemeral: Some(vec![0xAB; 2]),
            ..Default::default()
        }),
        ..Default::default()
    };
    // field 2, wire type 2 (0x12), len 4; inner field 1 (0x0a), len 2.
    assert_eq!(msg.encode_to_vec(), [0x12, 0x04, 0x0a, 0x02, 0xAB, 0xAB]);
}

#[test]
fn client_payload_pull_is_field_33_and_username_field_1() {
    let payload = ClientPayload {
        username: Some(5),
        pull: Some(true),
        ..Default::default()
    };
    // username: tag 0x08; pull: field 33 varint → tag (33<<3)=264 → 0x88 0x02.
    assert_eq!(payload.encode_to_vec(), [0x08, 0x05, 0x88, 0x02, 0x01]);
}

#[test]
fn stored_secrets_never_show_in_debug() {
    use blacksky_proto::store::{Creds, KeyPair};
    let secret = vec![0x5A; 32];
    let creds = Creds {
        noise_key: Some(KeyPair {
            private: secret.clone(),
            public: vec![1; 32],
        }),
        adv_secret: secret,
        ..Default::default()
    };
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains("5a5a") && !shown.contains("90, 90"),
        "{shown}"
    );
    assert!(shown.contains("0101"), "public keys stay visible: {shown}");
}

#[test]
fn whisper_message_fields_are_libsignals() {
    use blacksky_proto::wa::WhisperMessage;
    let msg = WhisperMessage {
        ratchet_key: Some(vec![0x05]),
        counter: Some(1),
        previous_counter: Some(2),
        ciphertext: Some(vec![0x09]),
    };
    // ratchetKey 1 (bytes), counter 2, previousCounter 3, ciphertext 4.
    assert_eq!(
        msg.encode_to_vec(),
        [0x0a, 0x01, 0x05, 0x10, 0x01, 0x18, 0x02, 0x22, 0x01, 0x09]
    );
}

#[test]
fn pre_key_whisper_message_fields_are_libsignals() {
    use blacksky_proto::wa::PreKeyWhisperMessage;
    let msg = PreKeyWhisperMessage {
        pre_key_id: Some(1),
        base_key: Some(vec![0xB0]),
        identity_key: Some(vec![0x1D]),
        message: Some(vec![0x33]),
        registration_id: Some(5),
        signed_pre_key_id: Some(6),
    };
    // preKeyId 1, baseKey 2, identityKey 3, message 4, registrationId 5,
    // signedPreKeyId 6: the order libsignal (npm) writes them in too.
    assert_eq!(
        msg.encode_to_vec(),
        [
            0x08, 0x01, 0x12, 0x01, 0xB0, 0x1a, 0x01, 0x1D, 0x22, 0x01, 0x33, 0x28, 0x05, 0x30,
            0x06
        ]
    );
}
