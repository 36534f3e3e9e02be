// Known answers for blacksky's media crypto (core/src/media), computed by
// Baileys' own media code (@whiskeysockets/baileys 7.0.0-rc13,
// lib/Utils/messages-media.js): `getMediaKeys` and Baileys' `hkdf` for the
// key expansion (the 112 bytes, refKey included), `encryptedStream` for the
// uploaded blob and its hashes, and `downloadEncryptedContent` to check
// that Baileys opens the blob again.
// Prints JSON; the committed copy is core/tests/vectors/media.json:
//
//   (cd interop && npm ci --legacy-peer-deps)
//   node interop/media-vectors.mjs > core/tests/vectors/media.json
//
// `encryptedStream` draws its media key from `crypto.randomBytes(32)`; to
// make the vectors reproducible the script hands it a fixed key for that
// one call (Node's `syncBuiltinESMExports` makes Baileys' `import * as
// Crypto` see the replacement). Everything else is Baileys' unmodified code.
//
// Plaintexts are not stored: byte i of a vector's plaintext is
// (i * 31 + size) & 0xff, which the Rust test rebuilds. Blobs are stored
// (base64) up to 64 bytes of plaintext; for the larger ones the stored
// fileEncSha256 (the SHA-256 of the whole blob) pins every byte.

import { createRequire, syncBuiltinESMExports } from 'node:module';
import { readFile, unlink } from 'node:fs/promises';
import {
  downloadEncryptedContent,
  encryptedStream,
  getMediaKeys,
  hkdfInfoKey,
} from '@whiskeysockets/baileys/lib/Utils/messages-media.js';
import { MEDIA_PATH_MAP } from '@whiskeysockets/baileys/lib/Defaults/index.js';
import { hkdf } from '@whiskeysockets/baileys/lib/Utils/crypto.js';

const require = createRequire(import.meta.url);
const nodeCrypto = require('node:crypto');
const b64 = (bytes) => Buffer.from(bytes).toString('base64');

const BLOB_STORED_MAX = 64;

// [Baileys media type, plaintext sizes]
const CASES = [
  ['image', [0, 1, 15, 16, 17, 65539]],
  ['video', [0, 1, 15, 16, 17, 65539]],
  ['audio', [1, 16, 17]],
  ['document', [0, 15, 16]],
  ['sticker', [1, 17]],
  ['gif', [16, 65539]],
  ['ptt', [15]],
];

const plaintextOf = (size) => {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + size) & 0xff;
  return bytes;
};

const mediaKeyOf = (index) =>
  Buffer.from([...Array(32).keys()].map((i) => (i * 13 + index * 57 + 1) & 0xff));

/** Runs `fn` while `crypto.randomBytes(32)` answers `key` (once). */
async function withMediaKey(key, fn) {
  const original = nodeCrypto.randomBytes;
  let handedOut = false;
  nodeCrypto.randomBytes = (n, ...rest) => {
    if (n === 32 && !handedOut) {
      handedOut = true;
      return Buffer.from(key);
    }
    return original(n, ...rest);
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    nodeCrypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

const vectors = [];
let index = 0;
for (const [type, sizes] of CASES) {
  for (const size of sizes) {
    const mediaKey = mediaKeyOf(index++);
    const plaintext = plaintextOf(size);
    const keys = await getMediaKeys(mediaKey, type);
    // getMediaKeys drops the last 32 of the 112 expanded bytes (refKey);
    // Baileys' own hkdf gives them, and must agree on the rest.
    const expanded = Buffer.from(hkdf(mediaKey, 112, { info: hkdfInfoKey(type) }));
    if (!expanded.subarray(0, 80).equals(Buffer.concat([keys.iv, keys.cipherKey, keys.macKey]))) {
      throw new Error(`${type}/${size}: hkdf and getMediaKeys disagree`);
    }
    const encrypted = await withMediaKey(mediaKey, () => encryptedStream(plaintext, type));
    if (!Buffer.from(encrypted.mediaKey).equals(mediaKey)) {
      throw new Error(`${type}/${size}: encryptedStream did not take the fixed media key`);
    }
    const blob = await readFile(encrypted.encFilePath);
    await unlink(encrypted.encFilePath);

    // Baileys must open its own blob again (its download skips the MAC;
    // the trailing 10 bytes are never a whole AES block).
    const dataUrl = `data:application/octet-stream;base64,${b64(blob)}`;
    const opened = await collect(await downloadEncryptedContent(dataUrl, keys));
    if (!opened.equals(plaintext)) {
      throw new Error(`${type}/${size}: Baileys does not open its own blob`);
    }

    const vector = {
      media_type: type,
      hkdf_info: hkdfInfoKey(type),
      upload_path: MEDIA_PATH_MAP[type] ?? null,
      plaintext_len: size,
      media_key: b64(mediaKey),
      iv: b64(keys.iv),
      cipher_key: b64(keys.cipherKey),
      mac_key: b64(keys.macKey),
      ref_key: b64(expanded.subarray(80, 112)),
      mac: b64(encrypted.mac),
      file_sha256: b64(encrypted.fileSha256),
      file_enc_sha256: b64(encrypted.fileEncSha256),
      file_length: encrypted.fileLength,
      blob_len: blob.length,
    };
    if (size <= BLOB_STORED_MAX) vector.blob = b64(blob);
    vectors.push(vector);
  }
}

const out = {
  source:
    'interop/media-vectors.mjs: @whiskeysockets/baileys 7.0.0-rc13 lib/Utils/messages-media.js (getMediaKeys, encryptedStream, downloadEncryptedContent) and lib/Utils/crypto.js (hkdf)',
  plaintext_rule: 'byte i = (i * 31 + plaintext_len) & 0xff',
  vectors,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
