//! The XX handshake in two layers.
//!
//! - [`XxInitiator`] / [`XxResponder`]: the raw Noise XX token sequence over
//!   message fields (`e`, `enc(s)`, `enc(payload)`), no envelope. Hidden
//!   from the docs; the interop tests drive them against `snow`.
//! - [`ClientHandshake`] / [`ServerHandshake`]: WhatsApp's handshake, the
//!   same sequence in `HandshakeMessage` protobufs, with the certificate
//!   chain checked on the client. One type per step: a step consumes the
//!   previous state, so calling out of order does not compile.

use std::fmt;

use blacksky_proto::Message;
use blacksky_proto::wa::HandshakeMessage;
use blacksky_proto::wa::handshake_message::{ClientFinish, ClientHello, ServerHello};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::HandshakeError;
use super::cert::{VerifiedCertChain, verify_cert_chain};
use super::symmetric::{CipherError, SymmetricState};
use super::transport::Transport;
use crate::crypto::{Hex, KeyPair};
use crate::time::UnixMillis;

/// Which encrypted handshake field failed to decrypt ("server" is the
/// responder, "client" the initiator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStep {
    ServerStatic,
    ServerPayload,
    ClientStatic,
    ClientPayload,
}

impl fmt::Display for HandshakeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeStep::ServerStatic => "server static key",
            HandshakeStep::ServerPayload => "server payload (certificate chain)",
            HandshakeStep::ClientStatic => "client static key",
            HandshakeStep::ClientPayload => "client payload",
        })
    }
}

/// Knobs of the raw layer. The default is WhatsApp's behaviour.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XxOptions {
    /// Stock Noise MixHashes message 1's (empty) payload; WhatsApp does
    /// not. Set it only to talk to a stock Noise peer.
    pub mix_empty_first_payload: bool,
}

fn key32(field: &'static str, bytes: &[u8]) -> Result<[u8; 32], HandshakeError> {
    bytes
        .try_into()
        .map_err(|_| HandshakeError::WrongKeyLength {
            field,
            len: bytes.len(),
        })
}

fn dh(
    local: &KeyPair,
    remote: &[u8; 32],
    field: &'static str,
) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
    local
        .diffie_hellman(remote)
        .ok_or(HandshakeError::WeakKey { field })
}

fn encrypt(
    sym: &mut SymmetricState,
    plaintext: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, HandshakeError> {
    sym.encrypt_and_hash(plaintext).map_err(|err| match err {
        CipherError::CounterExhausted => HandshakeError::CounterExhausted,
        CipherError::Open | CipherError::TooLong => HandshakeError::TooLong(what),
    })
}

fn decrypt(
    sym: &mut SymmetricState,
    ciphertext: &[u8],
    step: HandshakeStep,
) -> Result<Vec<u8>, HandshakeError> {
    sym.decrypt_and_hash(ciphertext).map_err(|err| match err {
        CipherError::CounterExhausted => HandshakeError::CounterExhausted,
        CipherError::Open | CipherError::TooLong => HandshakeError::DecryptFailed { step },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitiatorStep {
    ReadMessage2,
    WriteMessage3,
    Done,
    /// A step failed half-way: the transcript is unusable.
    Failed,
}

/// Raw XX initiator: `-> e`, `<- e, ee, s, es`, `-> s, se`.
#[doc(hidden)]
pub struct XxInitiator {
    sym: SymmetricState,
    s: KeyPair,
    e: KeyPair,
    re: [u8; 32],
    step: InitiatorStep,
}

impl XxInitiator {
    /// Writes message 1 (our ephemeral public key; no payload). The
    /// ephemeral must be fresh for every handshake.
    pub fn start(prologue: &[u8], s: &KeyPair, e: KeyPair, options: XxOptions) -> (Self, [u8; 32]) {
        let mut sym = SymmetricState::new(prologue);
        sym.mix_hash(e.public());
        if options.mix_empty_first_payload {
            sym.mix_hash(&[]);
        }
        let e_public = *e.public();
        let initiator = XxInitiator {
            sym,
            s: s.clone(),
            e,
            re: [0; 32],
            step: InitiatorStep::ReadMessage2,
        };
        (initiator, e_public)
    }

    fn begin(&mut self, want: InitiatorStep, what: &'static str) -> Result<(), HandshakeError> {
        if self.step != want {
            return Err(HandshakeError::OutOfOrder(what));
        }
        self.step = InitiatorStep::Failed;
        Ok(())
    }

    /// Reads message 2; returns the responder's static key and payload.
    pub fn read_message2(
        &mut self,
        re: &[u8],
        enc_s: &[u8],
        enc_payload: &[u8],
    ) -> Result<([u8; 32], Vec<u8>), HandshakeError> {
        self.begin(InitiatorStep::ReadMessage2, "read_message2")?;
        let re = key32("server ephemeral", re)?;
        self.sym.mix_hash(&re);
        self.sym.mix_key(&*dh(&self.e, &re, "server ephemeral")?);
        let rs = key32(
            "server static",
            &decrypt(&mut self.sym, enc_s, HandshakeStep::ServerStatic)?,
        )?;
        self.sym.mix_key(&*dh(&self.e, &rs, "server static")?);
        let payload = decrypt(&mut self.sym, enc_payload, HandshakeStep::ServerPayload)?;
        self.re = re;
        self.step = InitiatorStep::WriteMessage3;
        Ok((rs, payload))
    }

    /// Writes message 3: (`enc(s)`, `enc(payload)`).
    pub fn write_message3(&mut self, payload: &[u8]) -> Result<(Vec<u8>, Vec<u8>), HandshakeError> {
        self.begin(InitiatorStep::WriteMessage3, "write_message3")?;
        let enc_s = encrypt(&mut self.sym, self.s.public(), "client static")?;
        self.sym
            .mix_key(&*dh(&self.s, &self.re, "server ephemeral")?);
        let enc_payload = encrypt(&mut self.sym, payload, "client payload")?;
        self.step = InitiatorStep::Done;
        Ok((enc_s, enc_payload))
    }

    /// The handshake hash h so far (the channel binding once done).
    #[must_use]
    pub fn handshake_hash(&self) -> [u8; 32] {
        self.sym.handshake_hash()
    }

    /// Split: we write with the first key, read with the second.
    pub fn into_transport(self) -> Result<Transport, HandshakeError> {
        if self.step != InitiatorStep::Done {
            return Err(HandshakeError::OutOfOrder(
                "into_transport before message 3",
            ));
        }
        let (to_responder, to_initiator) = self.sym.split();
        Ok(Transport::new(&to_responder, &to_initiator))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponderStep {
    ReadMessage1,
    WriteMessage2,
    ReadMessage3,
    Done,
    Failed,
}

/// Message 2 of XX as separate fields.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XxMessage2 {
    /// The responder's ephemeral public key, in clear.
    pub e: [u8; 32],
    /// The responder's static public key, encrypted (48 bytes).
    pub enc_s: Vec<u8>,
    /// The payload, encrypted (its length + 16).
    pub enc_payload: Vec<u8>,
}

/// Raw XX responder, the mirror of [`XxInitiator`].
#[doc(hidden)]
pub struct XxResponder {
    sym: SymmetricState,
    s: KeyPair,
    e: Option<KeyPair>,
    re: [u8; 32],
    options: XxOptions,
    step: ResponderStep,
}

impl XxResponder {
    #[must_use]
    pub fn new(prologue: &[u8], s: &KeyPair, options: XxOptions) -> Self {
        XxResponder {
            sym: SymmetricState::new(prologue),
            s: s.clone(),
            e: None,
            re: [0; 32],
            options,
            step: ResponderStep::ReadMessage1,
        }
    }

    fn begin(&mut self, want: ResponderStep, what: &'static str) -> Result<(), HandshakeError> {
        if self.step != want {
            return Err(HandshakeError::OutOfOrder(what));
        }
        self.step = ResponderStep::Failed;
        Ok(())
    }

    /// Reads message 1: the initiator's ephemeral key.
    pub fn read_message1(&mut self, re: &[u8]) -> Result<(), HandshakeError> {
        self.begin(ResponderStep::ReadMessage1, "read_message1")?;
        let re = key32("client ephemeral", re)?;
        self.sym.mix_hash(&re);
        if self.options.mix_empty_first_payload {
            self.sym.mix_hash(&[]);
        }
        self.re = re;
        self.step = ResponderStep::WriteMessage2;
        Ok(())
    }

    /// Writes message 2 with the fresh ephemeral `e`: (`e`, `enc(s)`,
    /// `enc(payload)`).
    pub fn write_message2(
        &mut self,
        e: KeyPair,
        payload: &[u8],
    ) -> Result<XxMessage2, HandshakeError> {
        self.begin(ResponderStep::WriteMessage2, "write_message2")?;
        self.sym.mix_hash(e.public());
        self.sym.mix_key(&*dh(&e, &self.re, "client ephemeral")?);
        let enc_s = encrypt(&mut self.sym, self.s.public(), "server static")?;
        self.sym
            .mix_key(&*dh(&self.s, &self.re, "client ephemeral")?);
        let enc_payload = encrypt(&mut self.sym, payload, "server payload")?;
        let message = XxMessage2 {
            e: *e.public(),
            enc_s,
            enc_payload,
        };
        self.e = Some(e);
        self.step = ResponderStep::ReadMessage3;
        Ok(message)
    }

    /// Reads message 3; returns the initiator's static key and payload.
    pub fn read_message3(
        &mut self,
        enc_s: &[u8],
        enc_payload: &[u8],
    ) -> Result<([u8; 32], Vec<u8>), HandshakeError> {
        self.begin(ResponderStep::ReadMessage3, "read_message3")?;
        let Some(e) = self.e.as_ref() else {
            return Err(HandshakeError::OutOfOrder(
                "read_message3 without an ephemeral",
            ));
        };
        let rs = key32(
            "client static",
            &decrypt(&mut self.sym, enc_s, HandshakeStep::ClientStatic)?,
        )?;
        self.sym.mix_key(&*dh(e, &rs, "client static")?);
        let payload = decrypt(&mut self.sym, enc_payload, HandshakeStep::ClientPayload)?;
        self.step = ResponderStep::Done;
        Ok((rs, payload))
    }

    #[must_use]
    pub fn handshake_hash(&self) -> [u8; 32] {
        self.sym.handshake_hash()
    }

    /// Split: we write with the second key, read with the first.
    pub fn into_transport(self) -> Result<Transport, HandshakeError> {
        if self.step != ResponderStep::Done {
            return Err(HandshakeError::OutOfOrder(
                "into_transport before message 3",
            ));
        }
        let (to_responder, to_initiator) = self.sym.split();
        Ok(Transport::new(&to_initiator, &to_responder))
    }
}

fn decode_message(bytes: &[u8]) -> Result<HandshakeMessage, HandshakeError> {
    HandshakeMessage::decode(bytes).map_err(|source| HandshakeError::BadProtobuf {
        what: "HandshakeMessage",
        source,
    })
}

fn reject_present(field: Option<&Vec<u8>>, name: &'static str) -> Result<(), HandshakeError> {
    match field {
        Some(bytes) if !bytes.is_empty() => Err(HandshakeError::UnexpectedField(name)),
        _ => Ok(()),
    }
}

/// Client, step 1: client hello sent, waiting for the server hello.
pub struct ClientHandshake {
    xx: XxInitiator,
}

/// Client, step 2: the server is authenticated; send the client finish.
pub struct ClientHandshakeVerified {
    xx: XxInitiator,
    server_static: [u8; 32],
    cert_chain: VerifiedCertChain,
}

impl ClientHandshake {
    /// Starts a handshake with a fresh ephemeral from `rng`. `prologue` is
    /// the 4-byte intro header (`57 41 06 03`), never the routing prefix.
    /// Returns the encoded `HandshakeMessage{client_hello}` to send.
    pub fn start(
        prologue: &[u8],
        noise_static: &KeyPair,
        rng: &mut impl CryptoRngCore,
    ) -> (Self, Vec<u8>) {
        Self::start_with_ephemeral(prologue, noise_static, KeyPair::generate(rng))
    }

    /// [`ClientHandshake::start`] with a given ephemeral key, which must
    /// be fresh for every handshake (for fuzzing and fixed vectors).
    #[must_use]
    pub fn start_with_ephemeral(
        prologue: &[u8],
        noise_static: &KeyPair,
        ephemeral: KeyPair,
    ) -> (Self, Vec<u8>) {
        let (xx, e) = XxInitiator::start(prologue, noise_static, ephemeral, XxOptions::default());
        let hello = HandshakeMessage {
            client_hello: Some(ClientHello {
                ephemeral: Some(e.to_vec()),
                ..ClientHello::default()
            }),
            ..HandshakeMessage::default()
        };
        (ClientHandshake { xx }, hello.encode_to_vec())
    }

    /// Reads the encoded server hello, decrypts the server's static key
    /// and certificate chain, and verifies the chain against
    /// `root_public` (normally [`super::WA_ROOT_PUBLIC_KEY`]) at `now`.
    pub fn read_server_hello(
        mut self,
        server_hello: &[u8],
        root_public: &[u8; 32],
        now: UnixMillis,
    ) -> Result<ClientHandshakeVerified, HandshakeError> {
        let hello = decode_message(server_hello)?
            .server_hello
            .ok_or(HandshakeError::MissingField("server_hello"))?;
        let (Some(e), Some(s), Some(payload)) = (&hello.ephemeral, &hello.r#static, &hello.payload)
        else {
            return Err(HandshakeError::MissingField(match hello {
                ServerHello {
                    ephemeral: None, ..
                } => "server_hello.ephemeral",
                ServerHello { r#static: None, .. } => "server_hello.static",
                _ => "server_hello.payload",
            }));
        };
        let (server_static, certs) = self.xx.read_message2(e, s, payload)?;
        let cert_chain = verify_cert_chain(&certs, root_public, &server_static, now)?;
        Ok(ClientHandshakeVerified {
            xx: self.xx,
            server_static,
            cert_chain,
        })
    }
}

impl ClientHandshakeVerified {
    /// The server's static key, proven by the handshake and the leaf.
    #[must_use]
    pub fn server_static(&self) -> &[u8; 32] {
        &self.server_static
    }

    /// The verified certificate details.
    #[must_use]
    pub fn cert_chain(&self) -> &VerifiedCertChain {
        &self.cert_chain
    }

    /// Encrypts our static key and `client_payload` (an encoded
    /// `ClientPayload`, opaque here). Returns the encoded
    /// `HandshakeMessage{client_finish}` and the transport cipher.
    pub fn finish(mut self, client_payload: &[u8]) -> Result<(Vec<u8>, Transport), HandshakeError> {
        let (enc_s, enc_payload) = self.xx.write_message3(client_payload)?;
        let finish = HandshakeMessage {
            client_finish: Some(ClientFinish {
                r#static: Some(enc_s),
                payload: Some(enc_payload),
            }),
            ..HandshakeMessage::default()
        };
        Ok((finish.encode_to_vec(), self.xx.into_transport()?))
    }
}

/// Server, step 1: waiting for the client hello.
pub struct ServerHandshake {
    xx: XxResponder,
    cert_chain: Vec<u8>,
}

/// Server, step 2: server hello sent, waiting for the client finish.
pub struct ServerAwaitingFinish {
    xx: XxResponder,
}

/// What the server learns from a completed handshake.
pub struct AcceptedClient {
    /// The client's static (noise) public key.
    pub client_static: [u8; 32],
    /// The decrypted `ClientPayload` bytes, for the caller to decode.
    pub client_payload: Vec<u8>,
    pub transport: Transport,
}

impl ServerHandshake {
    /// `cert_chain` is an encoded `CertChain` (see
    /// [`super::build_cert_chain`]); it is sent as the hello's payload.
    #[must_use]
    pub fn new(prologue: &[u8], server_static: &KeyPair, cert_chain: Vec<u8>) -> Self {
        ServerHandshake {
            xx: XxResponder::new(prologue, server_static, XxOptions::default()),
            cert_chain,
        }
    }

    /// Reads the encoded client hello; returns the encoded server hello.
    pub fn read_client_hello(
        self,
        client_hello: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<(ServerAwaitingFinish, Vec<u8>), HandshakeError> {
        self.read_client_hello_with_ephemeral(client_hello, KeyPair::generate(rng))
    }

    /// [`ServerHandshake::read_client_hello`] with a given ephemeral key,
    /// which must be fresh for every handshake.
    pub fn read_client_hello_with_ephemeral(
        mut self,
        client_hello: &[u8],
        ephemeral: KeyPair,
    ) -> Result<(ServerAwaitingFinish, Vec<u8>), HandshakeError> {
        let hello = decode_message(client_hello)?
            .client_hello
            .ok_or(HandshakeError::MissingField("client_hello"))?;
        // Static and payload in the hello would be the IK pattern.
        reject_present(hello.r#static.as_ref(), "client_hello.static")?;
        reject_present(hello.payload.as_ref(), "client_hello.payload")?;
        let e = hello
            .ephemeral
            .ok_or(HandshakeError::MissingField("client_hello.ephemeral"))?;
        self.xx.read_message1(&e)?;
        let message = self.xx.write_message2(ephemeral, &self.cert_chain)?;
        let reply = HandshakeMessage {
            server_hello: Some(ServerHello {
                ephemeral: Some(message.e.to_vec()),
                r#static: Some(message.enc_s),
                payload: Some(message.enc_payload),
            }),
            ..HandshakeMessage::default()
        };
        Ok((ServerAwaitingFinish { xx: self.xx }, reply.encode_to_vec()))
    }
}

impl ServerAwaitingFinish {
    /// Reads the encoded client finish: the client's static key, its
    /// payload, and the transport cipher.
    pub fn read_client_finish(
        mut self,
        client_finish: &[u8],
    ) -> Result<AcceptedClient, HandshakeError> {
        let finish = decode_message(client_finish)?
            .client_finish
            .ok_or(HandshakeError::MissingField("client_finish"))?;
        let enc_s = finish
            .r#static
            .ok_or(HandshakeError::MissingField("client_finish.static"))?;
        let enc_payload = finish
            .payload
            .ok_or(HandshakeError::MissingField("client_finish.payload"))?;
        let (client_static, client_payload) = self.xx.read_message3(&enc_s, &enc_payload)?;
        Ok(AcceptedClient {
            client_static,
            client_payload,
            transport: self.xx.into_transport()?,
        })
    }

    /// The handshake hash so far.
    #[must_use]
    pub fn handshake_hash(&self) -> [u8; 32] {
        self.xx.handshake_hash()
    }
}

impl fmt::Debug for XxInitiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XxInitiator")
            .field("step", &self.step)
            .field("s", &self.s)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for XxResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XxResponder")
            .field("step", &self.step)
            .field("s", &self.s)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("xx", &self.xx)
            .finish()
    }
}

impl fmt::Debug for ClientHandshakeVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshakeVerified")
            .field("server_static", &Hex(&self.server_static))
            .field("cert_chain", &self.cert_chain)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("xx", &self.xx)
            .field("cert_chain_len", &self.cert_chain.len())
            .finish()
    }
}

impl fmt::Debug for ServerAwaitingFinish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAwaitingFinish")
            .field("xx", &self.xx)
            .finish()
    }
}

impl fmt::Debug for AcceptedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload holds the phone number: show its size only.
        f.debug_struct("AcceptedClient")
            .field("client_static", &Hex(&self.client_static))
            .field("client_payload_len", &self.client_payload.len())
            .field("transport", &self.transport)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const PROLOGUE: [u8; 4] = [0x57, 0x41, 0x06, 0x03];

    #[test]
    fn raw_layers_agree_and_refuse_out_of_order_calls() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (is, rs) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
        let mut responder = XxResponder::new(&PROLOGUE, &rs, XxOptions::default());
        assert!(matches!(
            responder.read_message3(&[], &[]),
            Err(HandshakeError::OutOfOrder(_))
        ));
        let mut responder = XxResponder::new(&PROLOGUE, &rs, XxOptions::default());
        let (mut initiator, e) = XxInitiator::start(
            &PROLOGUE,
            &is,
            KeyPair::generate(&mut rng),
            XxOptions::default(),
        );
        assert!(matches!(
            initiator.write_message3(b""),
            Err(HandshakeError::OutOfOrder(_))
        ));
        // The failed call above poisons nothing: it was refused up front.
        responder.read_message1(&e).expect("m1");
        let m2 = responder
            .write_message2(KeyPair::generate(&mut rng), b"certs")
            .expect("m2");
        let (server_static, payload) = initiator
            .read_message2(&m2.e, &m2.enc_s, &m2.enc_payload)
            .expect("m2 read");
        assert_eq!(
            (&server_static, payload.as_slice()),
            (rs.public(), &b"certs"[..])
        );
        let (s, p) = initiator.write_message3(b"hi").expect("m3");
        let (client_static, payload) = responder.read_message3(&s, &p).expect("m3 read");
        assert_eq!(
            (&client_static, payload.as_slice()),
            (is.public(), &b"hi"[..])
        );
        assert_eq!(initiator.handshake_hash(), responder.handshake_hash());
        let mut a = initiator.into_transport().expect("split");
        let mut b = responder.into_transport().expect("split");
        assert_eq!(
            b.decrypt(&a.encrypt(b"x").expect("enc")).expect("dec"),
            b"x"
        );
        assert_eq!(
            a.decrypt(&b.encrypt(b"y").expect("enc")).expect("dec"),
            b"y"
        );
    }

    #[test]
    fn failure_poisons_the_raw_state() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let rs = KeyPair::generate(&mut rng);
        let mut responder = XxResponder::new(&PROLOGUE, &rs, XxOptions::default());
        assert_eq!(
            responder.read_message1(&[1; 31]),
            Err(HandshakeError::WrongKeyLength {
                field: "client ephemeral",
                len: 31
            })
        );
        assert!(matches!(
            responder.read_message1(&[1; 32]),
            Err(HandshakeError::OutOfOrder(_))
        ));
    }

    #[test]
    fn low_order_ephemeral_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let rs = KeyPair::generate(&mut rng);
        let hello = HandshakeMessage {
            client_hello: Some(ClientHello {
                ephemeral: Some(vec![0; 32]),
                ..ClientHello::default()
            }),
            ..HandshakeMessage::default()
        }
        .encode_to_vec();
        let server = ServerHandshake::new(&PROLOGUE, &rs, vec![]);
        assert_eq!(
            server.read_client_hello(&hello, &mut rng).map(|_| ()),
            Err(HandshakeError::WeakKey {
                field: "client ephemeral"
            })
        );
    }

    #[test]
    fn debug_output_has_no_private_keys() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let s = KeyPair::generate(&mut rng);
        let e = KeyPair::generate(&mut rng);
        let secrets: Vec<String> = [&s, &e]
            .iter()
            .map(|k| {
                k.private_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        let (client, _) = ClientHandshake::start_with_ephemeral(&PROLOGUE, &s, e);
        let shown = format!("{client:?}");
        for secret in &secrets {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
    }
}
