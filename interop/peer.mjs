// A Signal peer made of the npm `libsignal` package (the library the
// Node.js WhatsApp bots run), driven by blacksky's interop tests over JSON
// lines: one request per line on stdin, one answer per line on stdout.
//
// Request: {"op": NAME, ...}. Answer: {"ok": {...}} or
// {"error": {"name": ERROR_CLASS, "message": TEXT, "log": WHAT_IT_LOGGED}}. Bytes are base64;
// public keys are raw 32 bytes, as WhatsApp's XMPP nodes carry them (the
// peer adds and strips libsignal's 0x05 type byte itself).
//
// Ops:
//   init {registration_id?, pre_keys?}  a new identity, signed pre-key 1 and
//                                       one-time pre-keys 1..=pre_keys
//   bundle                              the pre-key bundle a server would
//                                       hand out (next unused one-time key)
//   process_bundle {address, bundle}    start a session from a bundle
//   encrypt {address, plaintext}        -> {type: "pkmsg"|"msg", body}
//   encrypt_many {address, plaintext, count}
//                                       -> {messages: [{type, body}]}
//   decrypt {address, type, body}       -> {plaintext}
//
// Sessions are stored serialized, as a bot's store keeps them: a failed
// decryption never changes what is stored (libsignal writes only on success).

import readline from 'node:readline';
import libsignal from 'libsignal';

// libsignal logs with console.*; stdout is the answer channel. What it
// logs while serving a request goes into that request's error answer (it
// names the reason libsignal's SessionError hides), and to stderr with
// PEER_VERBOSE=1.
const verbose = process.env.PEER_VERBOSE === '1';
let requestLog = [];
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => {
    const line = args.map(String).join(' ');
    requestLog.push(line);
    if (verbose) process.stderr.write(`${line}\n`);
  };
}

const KEY_TYPE_DJB = 5;
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const bytes = (text, field) => {
  if (typeof text !== 'string') throw new TypeError(`${field}: base64 string expected`);
  return Buffer.from(text, 'base64');
};
const prefixed = (raw, field) => {
  const key = bytes(raw, field);
  if (key.length !== 32) throw new TypeError(`${field}: 32-byte key expected, got ${key.length}`);
  return Buffer.concat([Buffer.from([KEY_TYPE_DJB]), key]);
};
const raw = (key) => b64(key.subarray(1));

class MemoryStore {
  constructor({ registration_id, pre_keys = 4 }) {
    this.identity = libsignal.keyhelper.generateIdentityKeyPair();
    this.registrationId = registration_id ?? libsignal.keyhelper.generateRegistrationId();
    this.signedPreKey = libsignal.keyhelper.generateSignedPreKey(this.identity, 1);
    this.preKeys = new Map();
    for (let id = 1; id <= pre_keys; id++) {
      this.preKeys.set(id, libsignal.keyhelper.generatePreKey(id).keyPair);
    }
    this.handedOut = new Set();
    this.sessions = new Map();
  }

  getOurIdentity() { return this.identity; }
  getOurRegistrationId() { return this.registrationId; }
  isTrustedIdentity() { return true; }

  loadSession(address) {
    const stored = this.sessions.get(address);
    return stored && libsignal.SessionRecord.deserialize(JSON.parse(stored));
  }

  storeSession(address, record) {
    this.sessions.set(address, JSON.stringify(record.serialize()));
  }

  loadPreKey(id) { return this.preKeys.get(id); }
  removePreKey(id) { this.preKeys.delete(id); }

  loadSignedPreKey(id) {
    return id === this.signedPreKey.keyId ? this.signedPreKey.keyPair : undefined;
  }

  bundle() {
    const next = [...this.preKeys.keys()].find((id) => !this.handedOut.has(id));
    const answer = {
      registration_id: this.registrationId,
      identity: raw(this.identity.pubKey),
      signed_pre_key: {
        id: this.signedPreKey.keyId,
        public: raw(this.signedPreKey.keyPair.pubKey),
        signature: b64(this.signedPreKey.signature),
      },
    };
    if (next !== undefined) {
      this.handedOut.add(next);
      answer.pre_key = { id: next, public: raw(this.preKeys.get(next).pubKey) };
    }
    return answer;
  }
}

let store;
const needStore = () => {
  if (!store) throw new Error('init first');
  return store;
};
const address = (text) => libsignal.ProtocolAddress.from(text);
const cipher = (text) => new libsignal.SessionCipher(needStore(), address(text));

async function encrypt(request) {
  const { type, body } = await cipher(request.address).encrypt(bytes(request.plaintext, 'plaintext'));
  return { type: type === 3 ? 'pkmsg' : 'msg', body: b64(body) };
}

const ops = {
  init(request) {
    store = new MemoryStore(request);
    return {};
  },
  bundle() {
    return needStore().bundle();
  },
  async process_bundle({ address: to, bundle }) {
    const device = {
      registrationId: bundle.registration_id,
      identityKey: prefixed(bundle.identity, 'bundle.identity'),
      signedPreKey: {
        keyId: bundle.signed_pre_key.id,
        publicKey: prefixed(bundle.signed_pre_key.public, 'bundle.signed_pre_key.public'),
        signature: bytes(bundle.signed_pre_key.signature, 'bundle.signed_pre_key.signature'),
      },
    };
    if (bundle.pre_key) {
      device.preKey = {
        keyId: bundle.pre_key.id,
        publicKey: prefixed(bundle.pre_key.public, 'bundle.pre_key.public'),
      };
    }
    await new libsignal.SessionBuilder(needStore(), address(to)).initOutgoing(device);
    return {};
  },
  encrypt,
  async encrypt_many(request) {
    const messages = [];
    for (let i = 0; i < request.count; i++) messages.push(await encrypt(request));
    return { messages };
  },
  async decrypt(request) {
    const body = bytes(request.body, 'body');
    const session = cipher(request.address);
    let plaintext;
    if (request.type === 'pkmsg') {
      plaintext = await session.decryptPreKeyWhisperMessage(body);
    } else if (request.type === 'msg') {
      plaintext = await session.decryptWhisperMessage(body);
    } else {
      throw new TypeError(`type: pkmsg or msg expected, got ${request.type}`);
    }
    return { plaintext: b64(plaintext) };
  },
};

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  requestLog = [];
  try {
    const request = JSON.parse(line);
    const op = ops[request.op];
    if (!op) throw new TypeError(`unknown op ${request.op}`);
    answer = { ok: await op(request) };
  } catch (e) {
    answer = {
      error: {
        name: e?.constructor?.name ?? 'Error',
        message: String(e?.message ?? e),
        log: requestLog.join('\n'),
      },
    };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
