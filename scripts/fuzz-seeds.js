'use strict';

// Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/seed-*):
// valid and near-valid inputs that take each target past its first checks.
// The fuzzer's own finds are added beside them (`npm run fuzz`).
//   node scripts/fuzz-seeds.js

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.join(__dirname, '..', 'fuzz', 'corpus');

function frame(opcode, payload, { fin = true, mask = true, rsv1 = false } = {}) {
  payload = Buffer.from(payload);
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (payload.length < 126) head.push(m | payload.length);
  else if (payload.length < 65536) head.push(m | 126, payload.length >> 8, payload.length & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    const n = payload.length;
    head.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([Buffer.from(head), key, body]);
}

function deflate(data) {
  const z = zlib.deflateRawSync(Buffer.from(data), { flush: zlib.constants.Z_SYNC_FLUSH });
  return z.subarray(0, z.length - 4);
}

function write(target, seeds) {
  const dir = path.join(ROOT, target);
  fs.mkdirSync(dir, { recursive: true });
  seeds.forEach((s, i) => fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(2, '0')}`), s));
}

const text = 'Hello, wsrs! ¡Hola! 你好';
const json = JSON.stringify({ type: 'chat', room: 'lobby', text: 'x'.repeat(300) });
const close = (code, reason = '') => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code);
  b.write(reason, 2);
  return b;
};

// frame_receiver: flags byte (limits, masking, deflate), chunk size, frames.
const server = 0x10; // expect masked
const frames = [
  [server, 200, frame(1, text)],
  [server, 3, Buffer.concat([frame(1, 'frag', { fin: false }), frame(0, 'ment', { fin: false }), frame(0, 'ed')])],
  [server, 1, Buffer.concat([frame(9, 'ping'), frame(10, 'pong'), frame(8, close(1000, 'bye'))])],
  [server | 2, 50, frame(2, Buffer.alloc(2000, 7))],
  [0, 64, frame(1, text, { mask: false })],
  [server | 0x80, 100, Buffer.concat([frame(1, deflate(json), { rsv1: true }), frame(2, deflate(Buffer.alloc(5000)), { rsv1: true })])],
  [server | 0xe0, 7, Buffer.concat([frame(1, deflate(json).subarray(0, 40), { rsv1: true, fin: false }), frame(0, deflate(json).subarray(40))])],
  [server | 0x80 | 1, 255, frame(1, deflate('a'.repeat(100000)), { rsv1: true })],
  [server, 9, Buffer.concat([frame(1, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf])), frame(8, close(1002))])],
  [server, 255, Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0])]
].map(([flags, chunk, bytes]) => Buffer.concat([Buffer.from([flags, chunk]), bytes]));
write('frame_receiver', frames);

// upgrade_request: a size byte (the limit), then a request head.
const req = (lines) => Buffer.concat([Buffer.from([8]), Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')]);
write('upgrade_request', [
  req([
    'GET /chat?room=1 HTTP/1.1',
    'Host: 127.0.0.1:8080',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: chat, superchat',
    'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'
  ]),
  req(['GET / HTTP/1.0', 'Host: x', 'Cookie: a=b; c=d', 'X-Latin1: caf\xe9']),
  req(['POST / HTTP/1.1', 'Content-Length: 5']),
  Buffer.from([1, ...Buffer.from('GET / HTTP/1.1\r\nHost: partial')]),
  req(['GET / HTTP/1.1', ...Array.from({ length: 40 }, (_, i) => `X-H${i}: ${'v'.repeat(i)}`)])
]);

// inflate: flags (takeover, level, window), max, memLevel, strategy, data.
const inflateSeed = (flags, data) => Buffer.concat([Buffer.from([flags, 0x10, 0, 7, 1]), data]);
write('inflate', [
  inflateSeed(0x0c, deflate(json)),
  inflateSeed(0x0d, deflate('Hello')),
  inflateSeed(0x00, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])),
  inflateSeed(0xe1, deflate(Buffer.alloc(100000))),
  inflateSeed(0x13, Buffer.from(json)),
  inflateSeed(0x02, Buffer.from([0xff, 0xff, 0xff, 0x00]))
]);

// topics: operations (op & 7: subscribe, unsubscribe, publish, close, open), slot, topic.
const op = (kind, slot, topic) => (topic << 6) | (slot << 3) | kind;
write('topics', [
  Buffer.from([op(6, 0, 0), op(6, 1, 0), op(0, 0, 0), op(0, 1, 0), op(3, 0, 0), op(4, 1, 0), op(5, 0, 0), op(3, 0, 0)]),
  Buffer.from([op(6, 2, 1), op(0, 2, 1), op(0, 2, 2), op(2, 2, 1), op(3, 2, 2), op(5, 2, 0), op(6, 2, 0), op(3, 2, 1)]),
  Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff))
]);
console.log(`seeds written under ${ROOT}`);
