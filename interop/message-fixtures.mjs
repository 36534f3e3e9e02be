// `Message` protobufs encoded by Baileys' own WAProto (7.0.0-rc13), for
// blacksky's content-view tests. Prints "name hex" lines; the committed
// copy is core/tests/data/message_fixtures.txt:
//
//   node interop/message-fixtures.mjs > core/tests/data/message_fixtures.txt
//
// Deterministic: the same bytes on every run. Several fixtures carry
// fields blacksky does not model (to check they are skipped).

import libsignal from 'libsignal';
import { proto } from '@whiskeysockets/baileys/WAProto/index.js';
import {
  GroupSessionBuilder,
  SenderKeyName,
  SenderKeyRecord,
} from '@whiskeysockets/baileys/lib/Signal/Group/index.js';

const bytes = (length, fill) => Buffer.alloc(length, fill);
const ALICE = '491556000001@s.whatsapp.net';
const BOB = '491556000002@s.whatsapp.net';
const GROUP = '120363000000000001@g.us';

// A real distribution message, from a fixed chain key and signing key.
const store = {
  record: new SenderKeyRecord(),
  async loadSenderKey() { return this.record; },
  async storeSenderKey(_, record) { this.record = record; },
};
const signing = libsignal.curve.generateKeyPair();
store.record.setSenderKeyState(7, 0, bytes(32, 0x11), { public: signing.pubKey, private: signing.privKey });
// The public key is random per run; fix it so the fixture is stable.
store.record.getSenderKeyState().getStructure().senderSigningKey.public = Buffer.concat([
  Buffer.from([5]),
  bytes(32, 0x22),
]);
const skdm = await new GroupSessionBuilder(store).create(
  new SenderKeyName(GROUP, libsignal.ProtocolAddress.from('alice.0')),
);

const media = {
  url: 'https://mmg.whatsapp.net/v/t62/abc.enc',
  fileSha256: bytes(32, 0xa1),
  fileEncSha256: bytes(32, 0xa2),
  mediaKey: bytes(32, 0xa3),
  directPath: '/v/t62/abc.enc',
  mediaKeyTimestamp: 1733000000,
};

const fixtures = {
  text: { conversation: 'hello' },
  reply: {
    extendedTextMessage: {
      text: '@491556000002 look',
      previewType: 0, // not modelled
      contextInfo: {
        stanzaId: '3EB0C0FFEE',
        participant: ALICE,
        quotedMessage: { conversation: 'the original' },
        mentionedJid: [BOB, ALICE],
        isForwarded: true,
        forwardingScore: 3,
        externalAdReply: { title: 'not modelled' },
      },
    },
  },
  image: {
    imageMessage: {
      ...media,
      mimetype: 'image/jpeg',
      caption: 'a picture',
      fileLength: 123456,
      height: 640,
      width: 480,
      jpegThumbnail: bytes(8, 0xff),
      scansSidecar: bytes(4, 1), // not modelled
      contextInfo: { mentionedJid: [BOB] },
    },
  },
  gif: {
    videoMessage: {
      ...media,
      mimetype: 'video/mp4',
      fileLength: 2048,
      seconds: 3,
      gifPlayback: true,
      height: 200,
      width: 300,
    },
  },
  voice_note: {
    audioMessage: {
      ...media,
      mimetype: 'audio/ogg; codecs=opus',
      fileLength: 4096,
      seconds: 7,
      ptt: true,
      waveform: bytes(16, 3), // not modelled
    },
  },
  document_with_caption: {
    documentWithCaptionMessage: {
      message: {
        documentMessage: {
          ...media,
          mimetype: 'application/pdf',
          fileName: 'report.pdf',
          pageCount: 12,
          fileLength: 99999,
          caption: 'the report',
        },
      },
    },
  },
  sticker: {
    stickerMessage: {
      ...media,
      mimetype: 'image/webp',
      isAnimated: true,
      height: 512,
      width: 512,
      fileLength: 5000,
    },
  },
  reaction: {
    reactionMessage: {
      key: { remoteJid: GROUP, fromMe: true, id: '3EB0REACTED', participant: BOB },
      text: '👍',
      senderTimestampMs: 1733000000123,
    },
  },
  reaction_removed: {
    reactionMessage: { key: { remoteJid: GROUP, id: '3EB0REACTED' }, text: '' },
  },
  revoke: {
    protocolMessage: {
      key: { remoteJid: BOB, fromMe: false, id: '3EB0GONE' },
      type: proto.Message.ProtocolMessage.Type.REVOKE,
    },
  },
  ephemeral_setting: {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.EPHEMERAL_SETTING,
      ephemeralExpiration: 604800,
    },
  },
  history_sync: {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: {
        fileSha256: bytes(32, 0xb1),
        fileLength: 777,
        mediaKey: bytes(32, 0xb2),
        fileEncSha256: bytes(32, 0xb3),
        directPath: '/v/t62/history.enc',
        syncType: proto.Message.HistorySyncType.RECENT,
        chunkOrder: 1,
        progress: 50,
        originalMessageId: '3EB0HIST',
      },
    },
  },
  app_state_key_share: {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE,
      appStateSyncKeyShare: {
        keys: [
          {
            keyId: { keyId: Buffer.from('000000010001', 'hex') },
            keyData: {
              keyData: bytes(32, 0xc1),
              fingerprint: { rawId: 17, currentIndex: 1, deviceIndexes: [0, 1] },
              timestamp: 1733000000456,
            },
          },
        ],
      },
    },
  },
  sender_key: {
    senderKeyDistributionMessage: {
      groupId: GROUP,
      axolotlSenderKeyDistributionMessage: skdm.serialize(),
    },
    messageContextInfo: {
      deviceListMetadata: { senderTimestamp: 1733000000 }, // not modelled
      deviceListMetadataVersion: 2,
    },
  },
  device_sent: {
    deviceSentMessage: {
      destinationJid: BOB,
      message: { conversation: 'sent from the phone' },
    },
  },
  ephemeral_text: {
    ephemeralMessage: {
      message: {
        extendedTextMessage: { text: 'disappearing', contextInfo: { expiration: 604800 } },
      },
    },
  },
  view_once_image: {
    viewOnceMessageV2: {
      message: { imageMessage: { ...media, mimetype: 'image/jpeg', viewOnce: true } },
    },
  },
  edit: {
    editedMessage: {
      message: {
        protocolMessage: {
          key: { remoteJid: BOB, fromMe: true, id: '3EB0TYPO' },
          type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
          editedMessage: { conversation: 'fixed' },
          timestampMs: 1733000000789,
        },
      },
    },
  },
  location: {
    locationMessage: { degreesLatitude: 52.52, degreesLongitude: 13.405, name: 'Berlin' },
  },
  ephemeral_poll: {
    ephemeralMessage: {
      message: {
        pollCreationMessage: {
          name: 'lunch?',
          options: [{ optionName: 'yes' }, { optionName: 'no' }],
          selectableOptionsCount: 1,
        },
      },
    },
  },
};

process.stdout.write('# Message protobufs encoded by Baileys 7.0.0-rc13 (interop/message-fixtures.mjs)\n');
for (const [name, object] of Object.entries(fixtures)) {
  const encoded = proto.Message.encode(proto.Message.fromObject(object)).finish();
  process.stdout.write(`${name} ${Buffer.from(encoded).toString('hex')}\n`);
}
