// A group member made of Baileys' own sender-key code (lib/Signal/Group of
// @whiskeysockets/baileys 7.0.0-rc13, what the Node.js bots run), driven
// by blacksky's interop tests over JSON lines: one request per line on
// stdin, one answer per line on stdout, as interop/peer.mjs speaks them.
//
// Request: {"op": NAME, ...}. Answer: {"ok": {...}} or
// {"error": {"name": ERROR_CLASS, "message": TEXT}}. Bytes are base64.
// A sender is a Signal address "name.device", e.g. "alice.0".
//
// Ops:
//   create {group, sender}             our sender key (made if missing) ->
//                                      {skdm}: its distribution message now
//   encrypt {group, sender, plaintext} as Baileys' encryptGroupMessage: the
//                                      SKDM of the moment, then the skmsg
//                                      -> {body, skdm}
//   encrypt_many {group, sender, plaintexts: [...]}
//                                      skmsgs in a row (no SKDMs), the
//                                      record stored once at the end
//                                      -> {messages: [{body}]}
//   encrypt_text {group, sender, text} a Message{conversation} encoded with
//                                      Baileys' proto and padded with its
//                                      writeRandomPadMax16, then encrypted
//                                      -> {body}
//   process {group, sender, skdm}      a member's distribution message
//   decrypt {group, sender, body}      -> {plaintext}
//   state {group, sender}              -> {states: [{id, iteration, skipped}]}
//
// Records are stored serialized, as Baileys' own store keeps them (JSON
// bytes): each operation loads a fresh copy and stores it only on success.

import readline from 'node:readline';
import libsignal from 'libsignal';
import {
  GroupCipher,
  GroupSessionBuilder,
  SenderKeyDistributionMessage,
  SenderKeyName,
  SenderKeyRecord,
} from '@whiskeysockets/baileys/lib/Signal/Group/index.js';
import { proto } from '@whiskeysockets/baileys/WAProto/index.js';
import { writeRandomPadMax16 } from '@whiskeysockets/baileys/lib/Utils/generics.js';

// libsignal logs with console.*; stdout is the answer channel.
const verbose = process.env.PEER_VERBOSE === '1';
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = verbose ? (...args) => process.stderr.write(`${args.join(' ')}\n`) : () => {};
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const bytes = (text, field) => {
  if (typeof text !== 'string') throw new TypeError(`${field}: base64 string expected`);
  return Buffer.from(text, 'base64');
};

// The sender-key half of Baileys' signal store, in memory.
class SenderKeyStore {
  constructor() {
    this.records = new Map();
  }

  async loadSenderKey(name) {
    const stored = this.records.get(name.toString());
    return stored ? SenderKeyRecord.deserialize(stored) : new SenderKeyRecord();
  }

  async storeSenderKey(name, record) {
    this.records.set(name.toString(), Buffer.from(JSON.stringify(record.serialize()), 'utf-8'));
  }
}

const store = new SenderKeyStore();
const senderName = ({ group, sender }) => {
  if (typeof group !== 'string' || typeof sender !== 'string') {
    throw new TypeError('group and sender (name.device) expected');
  }
  return new SenderKeyName(group, libsignal.ProtocolAddress.from(sender));
};

async function create(request) {
  const skdm = await new GroupSessionBuilder(store).create(senderName(request));
  return { skdm: b64(skdm.serialize()) };
}

// Baileys' encryptGroupMessage: the SKDM as it stands, then the message.
async function encrypt(request, plaintext) {
  const name = senderName(request);
  const skdm = await new GroupSessionBuilder(store).create(name);
  const body = await new GroupCipher(store, name).encrypt(plaintext);
  return { body: b64(body), skdm: b64(skdm.serialize()) };
}

const ops = {
  create,
  encrypt: (request) => encrypt(request, bytes(request.plaintext, 'plaintext')),
  async encrypt_many(request) {
    // One load and one store for the batch (the record stays live in
    // between), so that a long run does not reparse a growing record.
    const name = senderName(request);
    const record = await store.loadSenderKey(name);
    const live = { loadSenderKey: async () => record, storeSenderKey: async () => {} };
    const cipher = new GroupCipher(live, name);
    const messages = [];
    for (const [i, plaintext] of request.plaintexts.entries()) {
      messages.push({ body: b64(await cipher.encrypt(bytes(plaintext, `plaintexts[${i}]`))) });
    }
    await store.storeSenderKey(name, record);
    return { messages };
  },
  async encrypt_text(request) {
    const message = proto.Message.encode({ conversation: request.text }).finish();
    return { body: (await encrypt(request, writeRandomPadMax16(message))).body };
  },
  async process(request) {
    const skdm = new SenderKeyDistributionMessage(null, null, null, null, bytes(request.skdm, 'skdm'));
    await new GroupSessionBuilder(store).process(senderName(request), skdm);
    return {};
  },
  async decrypt(request) {
    const plaintext = await new GroupCipher(store, senderName(request)).decrypt(bytes(request.body, 'body'));
    return { plaintext: b64(plaintext) };
  },
  async state(request) {
    const record = await store.loadSenderKey(senderName(request));
    return {
      states: record.senderKeyStates.map((state) => ({
        id: state.getKeyId(),
        iteration: state.getSenderChainKey().getIteration(),
        skipped: state.getStructure().senderMessageKeys.length,
      })),
    };
  },
};

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    const op = ops[request.op];
    if (!op) throw new TypeError(`unknown op ${request.op}`);
    answer = { ok: await op(request) };
  } catch (e) {
    answer = { error: { name: e?.constructor?.name ?? 'Error', message: String(e?.message ?? e) } };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
