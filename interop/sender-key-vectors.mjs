// Known answers for blacksky's sender keys, computed by Baileys' own
// sender-key code (@whiskeysockets/baileys 7.0.0-rc13, lib/Signal/Group).
// Prints JSON; the committed copy is core/tests/data/sender_key_vectors.json:
//
//   node interop/sender-key-vectors.mjs > core/tests/data/sender_key_vectors.json
//
// - "chain": from a fixed chain key, each listed iteration's chain key,
//   message-key seed, IV and AES key (deterministic).
// - "baileys_sender": a distribution message and skmsgs Baileys made with
//   that chain key (its signing key and XEdDSA nonces are random, so a
//   new run gives other bytes, equally valid).

import libsignal from 'libsignal';
import {
  GroupCipher,
  GroupSessionBuilder,
  SenderChainKey,
  SenderKeyName,
  SenderKeyRecord,
} from '@whiskeysockets/baileys/lib/Signal/Group/index.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const CHAIN_KEY = Buffer.from([...Array(32).keys()].map((i) => (i * 7 + 3) & 0xff));
const KEY_ID = 0x1234567;
const ITERATIONS = [0, 1, 2, 3, 10, 1999];

const steps = [];
let chain = new SenderChainKey(0, CHAIN_KEY);
for (let i = 0; i <= Math.max(...ITERATIONS); i++) {
  if (ITERATIONS.includes(i)) {
    const messageKey = chain.getSenderMessageKey();
    steps.push({
      iteration: chain.getIteration(),
      chain_key: hex(chain.getSeed()),
      message_key_seed: hex(messageKey.getSeed()),
      iv: hex(messageKey.getIv()),
      cipher_key: hex(messageKey.getCipherKey()),
    });
  }
  chain = chain.getNext();
}

class MemoryStore {
  constructor() {
    this.records = new Map();
  }
  async loadSenderKey(name) {
    return this.records.get(name.toString()) ?? new SenderKeyRecord();
  }
  async storeSenderKey(name, record) {
    this.records.set(name.toString(), record);
  }
}

const store = new MemoryStore();
const name = new SenderKeyName('120363000000000000@g.us', libsignal.ProtocolAddress.from('alice.0'));
const record = new SenderKeyRecord();
const signing = libsignal.curve.generateKeyPair();
record.setSenderKeyState(KEY_ID, 0, CHAIN_KEY, { public: signing.pubKey, private: signing.privKey });
await store.storeSenderKey(name, record);
const skdm = await new GroupSessionBuilder(store).create(name);
const cipher = new GroupCipher(store, name);
const messages = [];
for (const text of ['first', 'second: Baileys skips an iteration after the first', '']) {
  const plaintext = Buffer.from(text, 'utf-8');
  messages.push({ plaintext: hex(plaintext), skmsg: hex(await cipher.encrypt(plaintext)) });
}

process.stdout.write(
  `${JSON.stringify(
    {
      source: '@whiskeysockets/baileys 7.0.0-rc13 lib/Signal/Group, via interop/sender-key-vectors.mjs',
      chain: { chain_key: hex(CHAIN_KEY), steps },
      baileys_sender: { key_id: KEY_ID, skdm: hex(skdm.serialize()), messages },
    },
    null,
    2,
  )}\n`,
);
