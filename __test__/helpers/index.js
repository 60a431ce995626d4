'use strict';

// Shared test helpers: both implementations, servers on ephemeral ports,
// raw TCP peers that speak (or break) the protocol byte by byte, and waiting
// for conditions rather than for time (`eventually`, `quietWindow`: wait.js).

const net = require('net');
const crypto = require('crypto');
const path = require('path');

const ws = require('ws');
const wsrs = require('../..');

const { delay, eventually, quietWindow } = require('./wait');

const impls = { ws, wsrs };

/** Starts a server of `Impl` on 127.0.0.1:0 and resolves once it listens. */
function listen(Impl, options = {}) {
  return new Promise((resolve, reject) => {
    const wss = new Impl.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
    wss.once('error', reject);
    wss.once('listening', () => resolve({ wss, port: wss.address().port, url: `ws://127.0.0.1:${wss.address().port}` }));
  });
}

function closeServer(wss) {
  return new Promise((resolve) => {
    for (const c of wss.clients || []) c.terminate();
    wss.close(() => resolve());
  });
}

// The client the server tests use as their peer: ws's by default;
// WSRS_TEST_CLIENT=wsrs runs them with wsrs's own client instead.
const Client = process.env.WSRS_TEST_CLIENT === 'wsrs' ? wsrs.WebSocket : ws.WebSocket;

/** A connected client (ws's, or wsrs's with WSRS_TEST_CLIENT=wsrs); resolves when open. */
function connect(url, options) {
  return new Promise((resolve, reject) => {
    const c = new Client(url, options);
    c.once('open', () => resolve(c));
    c.once('error', reject);
  });
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/** Collects `n` messages from a client as [string, isBinary]. */
function messages(client, n) {
  return new Promise((resolve) => {
    const got = [];
    const on = (data, isBinary) => {
      got.push([isBinary ? Buffer.from(data).toString('hex') : data.toString(), isBinary]);
      if (got.length === n) {
        client.off('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/** A raw TCP connection with a little reader. */
function raw(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
    sock.received = Buffer.alloc(0);
    sock.on('data', (d) => {
      sock.received = Buffer.concat([sock.received, d]);
      sock.emit('more');
    });
  });
}

/** Waits until the raw socket is closed by the server; resolves with all it received. */
function untilEnd(sock, ms = 5000) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve(sock.received);
    };
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(sock.received);
    }, ms);
    if (sock.destroyed || sock.readableEnded) return done();
    sock.once('close', done);
  });
}

/** Resolves once `pred(received)` holds. */
function until(sock, pred, ms = 5000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pred(sock.received)) {
        clearTimeout(timer);
        sock.off('more', check);
        resolve(sock.received);
      }
    };
    const timer = setTimeout(() => {
      sock.off('more', check);
      reject(new Error(`timed out; received ${JSON.stringify(sock.received.toString('latin1'))}`));
    }, ms);
    sock.on('more', check);
    check();
  });
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgradeRequest({ path: p = '/', method = 'GET', headers = {} } = {}) {
  const base = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13'
  };
  const all = { ...base, ...headers };
  let s = `${method} ${p} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== undefined) s += `${k}: ${v}\r\n`;
  return s + '\r\n';
}

/** Opens a raw WebSocket (handshake done) for sending hand-made frames. */
async function rawWebSocket(port, opts) {
  const sock = await raw(port);
  sock.write(upgradeRequest(opts));
  await until(sock, (b) => b.includes('\r\n\r\n'));
  const i = sock.received.indexOf('\r\n\r\n') + 4;
  sock.head = sock.received.subarray(0, i).toString();
  sock.received = sock.received.subarray(i);
  return sock;
}

/** Builds one frame. */
function frame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0, lengthOverride } = {}) {
  payload = Buffer.from(payload);
  const len = lengthOverride === undefined ? payload.length : lengthOverride;
  const parts = [Buffer.from([(fin ? 0x80 : 0) | (rsv << 4) | opcode])];
  const m = mask ? 0x80 : 0;
  if (len < 126) parts.push(Buffer.from([m | len]));
  else if (len < 65536) {
    const b = Buffer.alloc(3);
    b[0] = m | 126;
    b.writeUInt16BE(len, 1);
    parts.push(b);
  } else {
    const b = Buffer.alloc(9);
    b[0] = m | 127;
    b.writeBigUInt64BE(BigInt(len), 1);
    parts.push(b);
  }
  if (mask) {
    const key = crypto.randomBytes(4);
    parts.push(key);
    parts.push(Buffer.from(payload.map((x, i) => x ^ key[i & 3])));
  } else {
    parts.push(payload);
  }
  return Buffer.concat(parts);
}

/** Parses unmasked server frames from a buffer: [{ opcode, fin, payload }]. */
function parseFrames(buf) {
  const out = [];
  let i = 0;
  while (i + 2 <= buf.length) {
    const fin = (buf[i] & 0x80) !== 0;
    const opcode = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let p = i + 2;
    if (len === 126) {
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > buf.length) break;
    out.push({ opcode, fin, payload: buf.subarray(p, p + len) });
    i = p + len;
  }
  return out;
}

function closeOf(frames) {
  const f = frames.find((x) => x.opcode === 8);
  if (!f) return null;
  return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() };
}

/** Status line and body of an HTTP answer. */
function httpAnswer(buf) {
  const s = buf.toString('latin1');
  const [head, ...rest] = s.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: lines[0], headers, body: rest.join('\r\n\r\n') };
}

const ROOT = path.join(__dirname, '..', '..');

module.exports = {
  KEY,
  ROOT,
  closeOf,
  closeServer,
  connect,
  delay,
  eventually,
  frame,
  httpAnswer,
  impls,
  listen,
  messages,
  once,
  parseFrames,
  quietWindow,
  raw,
  rawWebSocket,
  until,
  untilEnd,
  upgradeRequest
};
