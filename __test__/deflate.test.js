'use strict';

// permessage-deflate on the server (RFC 7692), differential with ws: which
// offer is accepted and what is answered, messages both ways compressed,
// and bad input (bad offers: 400; a bomb: 1009; corrupt data: 1007; RSV1
// where it may not be: 1002). ws's client is the peer.

const test = require('ava');
const http = require('http');
const https = require('https');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const {
  closeServer,
  eventually,
  frame,
  httpAnswer,
  impls,
  listen,
  once,
  raw,
  rawWebSocket,
  untilEnd,
  upgradeRequest
} = require('./helpers');

const TLS = {
  key: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'key.pem')),
  cert: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'cert.pem'))
};

const SERVER_OPTIONS = [
  true,
  { threshold: 0 },
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 10 },
  { clientMaxWindowBits: 12 },
  { serverMaxWindowBits: false }
];
const CLIENT_OPTIONS = [true, { clientNoContextTakeover: true }, { serverMaxWindowBits: 11 }, { clientMaxWindowBits: 9 }, false];

/** The client's view of the handshake: the answer's header and `extensions` on both sides. */
async function negotiate(Impl, serverOptions, clientOptions) {
  const { wss, url } = await listen(Impl, { perMessageDeflate: serverOptions });
  const serverSide = once(wss, 'connection');
  const c = new impls.ws.WebSocket(url, { perMessageDeflate: clientOptions });
  let answer;
  c.on('upgrade', (res) => (answer = res.headers['sec-websocket-extensions']));
  const outcome = await new Promise((resolve) => {
    c.on('open', () => resolve('open'));
    c.on('error', (e) => resolve(`error: ${e.message}`));
  });
  const result = { outcome, answer, client: c.extensions };
  if (outcome === 'open') {
    const [ws] = await serverSide;
    result.server = ws.extensions;
    c.close();
    await once(c, 'close');
  }
  await closeServer(wss);
  return result;
}

test('negotiation: every server option against every client offer, as ws', async (t) => {
  for (const s of SERVER_OPTIONS) {
    for (const c of CLIENT_OPTIONS) {
      const [a, b] = [await negotiate(impls.ws, s, c), await negotiate(impls.wsrs, s, c)];
      t.deepEqual(b, a, `server ${JSON.stringify(s)}, client ${JSON.stringify(c)}`);
    }
  }
});

/** An echo server of `Impl` with compression, in `mode`. */
async function echoServer(Impl, mode, options) {
  const opts = { perMessageDeflate: options };
  let wss;
  let url;
  let stop;
  if (mode === 'port') {
    ({ wss, url } = await listen(Impl, opts));
    stop = () => closeServer(wss);
  } else {
    const server = mode === 'tls' ? https.createServer(TLS) : http.createServer();
    wss = new Impl.WebSocketServer({ server, ...opts });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `${mode === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${server.address().port}`;
    stop = async () => {
      await closeServer(wss);
      await new Promise((resolve) => server.close(resolve));
    };
  }
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return { url, stop };
}

for (const mode of ['port', 'server', 'tls']) {
  test(`${mode}: messages both ways compressed, with and without context takeover, as ws`, async (t) => {
    const json = JSON.stringify({ users: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user ${i}` })) });
    const messages = ['short', json, json, Buffer.from(json), Buffer.alloc(300000, 7), ''];
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      r[name] = [];
      for (const options of [
        true,
        { serverNoContextTakeover: true, clientNoContextTakeover: true },
        { threshold: 0 },
        // ws's README example, and zlib's other knobs with a small window.
        { zlibDeflateOptions: { chunkSize: 1024, memLevel: 7, level: 3 }, zlibInflateOptions: { chunkSize: 10 * 1024 } },
        { serverMaxWindowBits: 9, zlibDeflateOptions: { level: 9, memLevel: 1, strategy: zlib.constants.Z_FILTERED } },
        { serverNoContextTakeover: true, zlibDeflateOptions: { strategy: zlib.constants.Z_HUFFMAN_ONLY } }
      ]) {
        const s = await echoServer(Impl, mode, options);
        const c = new impls.ws.WebSocket(s.url, { rejectUnauthorized: false });
        await once(c, 'open');
        const got = [];
        for (const m of messages) {
          const next = once(c, 'message');
          c.send(m);
          const [data, isBinary] = await next;
          got.push([isBinary, data.equals(Buffer.from(m))]);
        }
        // What crossed the wire for the large, compressible ones: far less than their size.
        got.push(c._socket.bytesRead < 100000);
        r[name].push([c.extensions, got]);
        c.close();
        await once(c, 'close');
        await s.stop();
      }
    }
    t.deepEqual(r.wsrs, r.ws);
    t.true(r.wsrs.every(([, got]) => got[got.length - 1] === true));
  });
}

test('zlib options out of range: Node\'s RangeError when the server or client is made', (t) => {
  // ws meets them only when it first compresses; we check them up front,
  // with Node's own zlib, so the error and its code are Node's.
  const bad = [{ memLevel: 10 }, { level: 12 }, { strategy: 9 }, { windowBits: 20 }];
  for (const zlibDeflateOptions of bad) {
    const nodes = t.throws(() => zlib.createDeflateRaw(zlibDeflateOptions));
    const server = t.throws(
      () => new impls.wsrs.WebSocketServer({ noServer: true, perMessageDeflate: { zlibDeflateOptions } }),
      { instanceOf: RangeError }
    );
    t.is(server.message, nodes.message);
    t.is(server.code, 'ERR_OUT_OF_RANGE');
    const client = t.throws(() => new impls.wsrs.WebSocket('ws://127.0.0.1:1', { perMessageDeflate: { zlibDeflateOptions } }), {
      instanceOf: RangeError
    });
    t.is(client.message, nodes.message);
  }
  t.throws(() => new impls.wsrs.WebSocketServer({ noServer: true, perMessageDeflate: { zlibInflateOptions: { chunkSize: 1 } } }), {
    instanceOf: RangeError
  });
});

test('send(data, { compress: false }) and messages under threshold go out uncompressed', async (t) => {
  const { wss, url } = await listen(impls.wsrs, { perMessageDeflate: { threshold: 1024 } });
  const frames = [];
  wss.on('connection', (ws) => {
    ws.send('x'.repeat(2000), { compress: false });
    ws.send('y'.repeat(100));
    ws.send('z'.repeat(2000));
  });
  const sock = await rawWebSocket(await portOf(url), { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
  t.regex(sock.head, /Sec-WebSocket-Extensions: permessage-deflate\r\n/);
  frames.push(...(await readFrames(sock, 3)));
  t.deepEqual(frames.map((f) => f.rsv1), [false, false, true]);
  const inflated = zlib.inflateRawSync(Buffer.concat([frames[2].payload, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH
  });
  t.is(inflated.toString(), 'z'.repeat(2000));
  sock.destroy();
  await closeServer(wss);
});

function portOf(url) {
  return Number(new URL(url).port);
}

/** The next `n` frames a raw socket receives (unmasked, as a server sends). */
function readFrames(sock, n) {
  const frames = [];
  return new Promise((resolve) => {
    const parse = () => {
      let b = sock.received;
      while (b.length >= 2 && frames.length < n) {
        let len = b[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (b.length < 4) break;
          len = b.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (b.length < 10) break;
          len = Number(b.readBigUInt64BE(2));
          off = 10;
        }
        if (b.length < off + len) break;
        frames.push({ fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) });
        b = b.subarray(off + len);
      }
      sock.received = b;
      if (frames.length >= n) {
        sock.off('more', parse);
        resolve(frames);
      }
    };
    sock.on('more', parse);
    parse();
  });
}

test('fragmented sends are compressed as ws compresses them: RSV1 on the first frame, continuations follow it', async (t) => {
  const json = JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) => ({ i, text: `row ${i}` })) });
  const parts = [json.slice(0, 3000), json.slice(3000, 3010), json.slice(3010)];
  const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    r[name] = [];
    for (const options of [true, { serverNoContextTakeover: true }]) {
      const { wss, url } = await listen(Impl, { perMessageDeflate: options });
      wss.on('connection', (ws) => {
        ws.send(parts[0], { fin: false });
        // A continuation's own `compress` does not matter: it follows the first frame.
        ws.send(parts[1], { fin: false, compress: false });
        ws.send(parts[2], { fin: true });
        ws.send(json);
        // A first frame sent uncompressed: so is the whole message.
        ws.send(parts[0], { fin: false, compress: false });
        ws.send(parts[2], { fin: true });
      });
      const sock = await rawWebSocket(portOf(url), { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
      const frames = await readFrames(sock, 6);
      const shape = frames.map((f) => [f.opcode, f.fin, f.rsv1]);
      // The compressed frames, joined with a tail after each message, are one
      // stream (with context takeover the second message may refer to the first).
      const stream = Buffer.concat([...frames.slice(0, 3).map((f) => f.payload), TAIL, frames[3].payload, TAIL]);
      const inflated = zlib.inflateRawSync(stream, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
      const plain = Buffer.concat(frames.slice(4).map((f) => f.payload)).toString();
      r[name].push([shape, inflated === json + json, plain === parts[0] + parts[2], frames[0].payload.length < 1500]);
      sock.destroy();
      await closeServer(wss);
    }
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[0][0].map(([, , rsv1]) => rsv1), [true, false, false, true, false, false]);

  // The client's fragments, against ws's server (which answers 1002 to a wrong RSV1).
  for (const [name, Impl] of Object.entries(impls)) {
    const { wss, url } = await listen(impls.ws, { perMessageDeflate: true });
    const received = new Promise((resolve) => wss.on('connection', (ws) => ws.on('message', (data) => resolve(data.toString()))));
    const c = new Impl.WebSocket(url);
    await once(c, 'open');
    c.send(parts[0], { fin: false });
    c.send(parts[1], { fin: false });
    c.send(parts[2]);
    t.is(await received, json, name);
    t.true(c._socket.bytesWritten < json.length / 2, `${name}: ${c._socket.bytesWritten} bytes written`);
    c.close();
    await once(c, 'close');
    await closeServer(wss);
  }
});

test('bad Sec-WebSocket-Extensions offers get ws\'s 400', async (t) => {
  const offers = [
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; foo',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11',
    'permessage-deflate;;',
    'permessage-deflate, x-unknown; a=1'
  ];
  for (const offer of offers) {
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      const { wss, port } = await listen(Impl, { perMessageDeflate: { serverMaxWindowBits: false } });
      const sock = await raw(port);
      sock.write(upgradeRequest({ headers: { 'Sec-WebSocket-Extensions': offer } }));
      const answer = httpAnswer(await untilEnd(sock));
      r[name] = [answer.status, answer.body, answer.headers['sec-websocket-extensions']];
      sock.destroy();
      await closeServer(wss);
    }
    t.deepEqual(r.wsrs, r.ws, offer);
  }
});

/** What a server of `Impl` does with `frames` sent after a compressed handshake. */
async function faultOf(Impl, frames) {
  const { wss, port } = await listen(Impl, { perMessageDeflate: true, maxPayload: 1 << 20 });
  const errors = [];
  wss.on('connection', (ws) => ws.on('error', (e) => errors.push([e.constructor.name, e.code, e.message])));
  const sock = await rawWebSocket(port, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
  sock.write(Buffer.concat(frames));
  const rest = await untilEnd(sock);
  // The close frame: its code.
  const code = rest.length >= 4 && (rest[0] & 0x0f) === 8 ? rest.readUInt16BE(2) : null;
  await closeServer(wss);
  return { code, errors };
}

test('a compressed bomb past maxPayload: 1009, as ws', async (t) => {
  const bomb = zlib.deflateRawSync(Buffer.alloc(64 << 20), { level: 9 }).subarray(0, -4);
  const frames = [frame(2, bomb, { rsv: 4 })];
  const [a, b] = [await faultOf(impls.ws, frames), await faultOf(impls.wsrs, frames)];
  t.deepEqual(b, a);
  t.is(b.code, 1009);
});

test('corrupt compressed data: 1007 with zlib\'s error, as ws', async (t) => {
  const frames = [frame(1, Buffer.from([0xff, 0xff, 0xff, 0xff]), { rsv: 4 })];
  const [a, b] = [await faultOf(impls.ws, frames), await faultOf(impls.wsrs, frames)];
  t.is(b.code, 1007);
  t.deepEqual(b.code, a.code);
  t.deepEqual(b.errors.map((e) => e.slice(0, 2)), a.errors.map((e) => e.slice(0, 2)));
});

test('RSV1 on a control frame or a continuation: 1002, as ws', async (t) => {
  const z = zlib.deflateRawSync(Buffer.from('hello')).subarray(0, -4);
  for (const frames of [[frame(9, 'p', { rsv: 4 })], [frame(1, z, { rsv: 4, fin: false }), frame(0, 'x', { rsv: 4 })]]) {
    const [a, b] = [await faultOf(impls.ws, frames), await faultOf(impls.wsrs, frames)];
    t.deepEqual(b, a);
    t.is(b.code, 1002);
  }
});

// ---- the client ----------------------------------------------------------

/** A client of `Impl` against ws's server with `serverOptions`: outcome and `extensions`. */
async function clientNegotiate(Impl, serverOptions, clientOptions) {
  const { wss, url } = await listen(impls.ws, { perMessageDeflate: serverOptions });
  const serverSide = new Promise((resolve) => wss.once('connection', (ws) => resolve(ws.extensions)));
  const c = new Impl.WebSocket(url, { perMessageDeflate: clientOptions });
  const outcome = await new Promise((resolve) => {
    c.on('open', () => resolve('open'));
    c.on('error', (e) => resolve(`error: ${e.message}`));
  });
  const result = { outcome, client: c.extensions };
  if (outcome === 'open') {
    result.server = await serverSide;
    c.close();
    await once(c, 'close');
  }
  await closeServer(wss);
  return result;
}

test('client: offers as ws does, and accepts every server option as ws does', async (t) => {
  for (const s of [false, ...SERVER_OPTIONS]) {
    for (const c of CLIENT_OPTIONS) {
      const [a, b] = [await clientNegotiate(impls.ws, s, c), await clientNegotiate(impls.wsrs, s, c)];
      t.deepEqual(b, a, `server ${JSON.stringify(s)}, client ${JSON.stringify(c)}`);
    }
  }
});

test('client: messages both ways compressed against ws\'s server, as ws\'s client', async (t) => {
  const json = JSON.stringify({ rows: Array.from({ length: 300 }, (_, i) => ({ i, text: `row ${i}` })) });
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    r[name] = [];
    for (const options of [true, { serverNoContextTakeover: true, clientNoContextTakeover: true }]) {
      const { wss, url } = await listen(impls.ws, { perMessageDeflate: options });
      wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
      const c = new Impl.WebSocket(url);
      await once(c, 'open');
      const got = [];
      for (const m of [json, json, Buffer.alloc(200000, 3), 'tiny']) {
        const next = once(c, 'message');
        c.send(m);
        const [data, isBinary] = await next;
        got.push([isBinary, Buffer.from(data).equals(Buffer.from(m))]);
      }
      got.push(c._socket.bytesWritten < 60000, c._socket.bytesRead < 60000);
      r[name].push([c.extensions, got]);
      c.close();
      await once(c, 'close');
      await closeServer(wss);
    }
  }
  t.deepEqual(r.wsrs, r.ws);
});

test('client: a bad or unrequested Sec-WebSocket-Extensions answer fails as with ws', async (t) => {
  const crypto = require('crypto');
  const answers = ['foo', 'permessage-deflate; foo', 'permessage-deflate; client_max_window_bits', 'permessage-deflate, x', 'permessage-deflate;;'];
  for (const answer of answers) {
    for (const perMessageDeflate of [true, false]) {
      const server = http.createServer();
      server.on('upgrade', (req, socket) => {
        const accept = crypto.createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.end(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: ${answer}\r\n\r\n`
        );
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const r = {};
      for (const [name, Impl] of Object.entries(impls)) {
        const c = new Impl.WebSocket(`ws://127.0.0.1:${server.address().port}`, { perMessageDeflate });
        r[name] = await new Promise((resolve) => {
          c.on('open', () => resolve('open'));
          c.on('error', (e) => resolve(e.message));
        });
      }
      server.close();
      t.deepEqual(r.wsrs, r.ws, `${answer} (perMessageDeflate: ${perMessageDeflate})`);
    }
  }
});

test('publish and broadcast reach compressed and uncompressed subscribers alike (compressed once per setting)', async (t) => {
  const { wss, url } = await listen(impls.wsrs, { perMessageDeflate: { threshold: 16 } });
  const subscribed = [];
  wss.on('connection', (ws) => {
    ws.subscribe('news');
    subscribed.push(ws);
  });
  const offers = [false, { serverNoContextTakeover: true }, { serverNoContextTakeover: true }, true];
  const clients = [];
  for (const perMessageDeflate of offers) {
    const c = new impls.ws.WebSocket(url, { perMessageDeflate });
    await once(c, 'open');
    clients.push(c);
  }
  await eventually(() => subscribed.length === offers.length);
  const text = 'the same news for everyone, '.repeat(50);
  for (const [how, send] of [
    ['publish', () => wss.publish('news', text)],
    ['broadcast', () => wss.broadcast(Buffer.from(text), { binary: true })]
  ]) {
    const got = Promise.all(clients.map((c) => once(c, 'message')));
    t.is(send(), offers.length, how);
    for (const [data, isBinary] of await got) {
      t.is(data.toString(), text, how);
      t.is(isBinary, how === 'broadcast');
    }
  }
  t.deepEqual(
    clients.map((c) => c.extensions),
    ['', 'permessage-deflate', 'permessage-deflate', 'permessage-deflate']
  );
  for (const c of clients) c.close();
  await closeServer(wss);
});
