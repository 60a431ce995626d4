'use strict';

// Protocol faults and the close handshake, differential against ws: the same
// bytes from a raw peer must produce the same close code on the wire, the
// same 'error' (class, code, message) and the same 'close' on the server.

const test = require('ava');
const { closeOf, closeServer, connect, eventually, frame, impls, listen, messages, once, parseFrames, quietWindow, rawWebSocket, untilEnd } = require('./helpers');

async function scenario(Impl, bytes, options = {}) {
  const { wss, port } = await listen(Impl, options);
  const seen = { errors: [], messages: [], close: null };
  const closed = new Promise((resolve) => {
    wss.on('connection', (ws) => {
      ws.on('message', (m, isBinary) => seen.messages.push([m.toString(), isBinary]));
      ws.on('error', (e) => seen.errors.push({ name: e.constructor.name, code: e.code, message: e.message, state: ws.readyState }));
      ws.on('close', (code, reason) => {
        seen.close = [code, reason.toString()];
        resolve();
      });
    });
  });
  const sock = await rawWebSocket(port);
  for (const b of [].concat(bytes)) sock.write(b);
  const got = await untilEnd(sock, 3000);
  sock.destroy();
  await closed;
  await closeServer(wss);
  seen.wire = closeOf(parseFrames(got));
  seen.frames = parseFrames(got).map((f) => f.opcode);
  return seen;
}

async function both(t, bytes, options) {
  const expected = await scenario(impls.ws, bytes, options);
  const actual = await scenario(impls.wsrs, bytes, options);
  t.deepEqual(actual, expected);
  return actual;
}

test('invalid UTF-8 in a text frame: 1007 and WS_ERR_INVALID_UTF8', async (t) => {
  const s = await both(t, frame(1, Buffer.from([0x68, 0xc3, 0x28])));
  t.is(s.wire.code, 1007);
  t.is(s.errors[0].code, 'WS_ERR_INVALID_UTF8');
  t.is(s.errors[0].message, 'Invalid WebSocket frame: invalid UTF-8 sequence');
  t.is(s.errors[0].state, 2);
});

test('an unmasked client frame: 1002 and WS_ERR_EXPECTED_MASK', async (t) => {
  const s = await both(t, frame(1, 'hi', { mask: false }));
  t.is(s.wire.code, 1002);
  t.is(s.errors[0].code, 'WS_ERR_EXPECTED_MASK');
  t.is(s.errors[0].name, 'RangeError');
});

test('a reserved opcode: 1002 and WS_ERR_INVALID_OPCODE', async (t) => {
  const s = await both(t, frame(3, 'x'));
  t.is(s.wire.code, 1002);
  t.is(s.errors[0].message, 'Invalid WebSocket frame: invalid opcode 3');
});

test('RSV1 without an extension: 1002', async (t) => {
  const s = await both(t, frame(1, 'x', { rsv: 4 }));
  t.is(s.errors[0].code, 'WS_ERR_UNEXPECTED_RSV_1');
});

test('a frame over maxPayload: 1009 before the payload arrives', async (t) => {
  const s = await both(t, frame(2, Buffer.alloc(2000)).subarray(0, 10), { maxPayload: 1000 });
  t.is(s.wire.code, 1009);
  t.is(s.errors[0].code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  t.is(s.errors[0].message, 'Max payload size exceeded');
});

test('a fragmented message over maxPayload: 1009', async (t) => {
  const s = await both(t, [frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(600))], { maxPayload: 1000 });
  t.is(s.wire.code, 1009);
});

test('too many fragments: 1008', async (t) => {
  const frames = [frame(1, 'a', { fin: false }), frame(0, 'b', { fin: false }), frame(0, 'c', { fin: false }), frame(0, 'd')];
  const s = await both(t, frames, { maxFragments: 2 });
  t.is(s.wire.code, 1008);
  t.is(s.errors[0].code, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
});

test('an invalid close code: 1002 and WS_ERR_INVALID_CLOSE_CODE', async (t) => {
  const s = await both(t, frame(8, Buffer.from([0x03, 0xed])));
  t.is(s.wire.code, 1002);
  t.is(s.errors[0].message, 'Invalid WebSocket frame: invalid status code 1005');
});

test('a fragmented ping: 1002 and WS_ERR_EXPECTED_FIN', async (t) => {
  const s = await both(t, frame(9, 'x', { fin: false }));
  t.is(s.errors[0].code, 'WS_ERR_EXPECTED_FIN');
});

test('a clean close from the peer is echoed and reported', async (t) => {
  const s = await both(t, [frame(1, 'last'), frame(8, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')]))]);
  t.deepEqual(s.messages, [['last', false]]);
  t.deepEqual(s.wire, { code: 4000, reason: 'bye' });
  t.deepEqual(s.close, [4000, 'bye']);
  t.deepEqual(s.errors, []);
});

test('an empty close frame is answered with an empty one and reported as 1005', async (t) => {
  const s = await both(t, frame(8));
  t.deepEqual(s.wire, { code: 1005, reason: '' });
  t.deepEqual(s.close, [1005, '']);
});

test('fragments and interleaved control frames are reassembled', async (t) => {
  const s = await both(t, [frame(1, 'he', { fin: false }), frame(9, 'p'), frame(0, 'llo'), frame(8, Buffer.from([0x03, 0xe8]))]);
  t.deepEqual(s.messages, [['hello', false]]);
  t.deepEqual(s.frames, [10, 8]);
});

test('a peer that vanishes mid-frame: close 1006, and other connections unaffected', async (t) => {
  for (const Impl of [impls.ws, impls.wsrs]) {
    const { wss, port, url } = await listen(Impl);
    wss.on('connection', (ws) => ws.on('message', (m, b) => ws.send(m, { binary: b })));
    const other = await connect(url);
    let closedYet = false;
    const closed = new Promise((resolve) => {
      wss.once('connection', (ws) =>
        ws.on('close', (code) => {
          closedYet = true;
          resolve(code);
        })
      );
    });
    const sock = await rawWebSocket(port);
    await new Promise((resolve) => sock.write(frame(2, Buffer.alloc(5000)).subarray(0, 100), resolve));
    // The server has the first 100 bytes and waits for the rest: nothing
    // happens (no close) until the peer is gone. Only a window shows an
    // absence, and it also lets the server read those bytes before the end.
    await quietWindow(50);
    t.false(closedYet, 'closed before the peer was gone');
    sock.destroy();
    t.is(await closed, 1006, Impl === impls.ws ? 'ws' : 'wsrs');
    const got = messages(other, 1);
    other.send('still here');
    t.deepEqual(await got, [['still here', false]]);
    other.close();
    await closeServer(wss);
  }
});

test('a bad frame with no error listener does not crash the process (unlike ws)', async (t) => {
  const { wss, port } = await listen(impls.wsrs);
  const closed = new Promise((resolve) => wss.on('connection', (ws) => ws.on('close', (c) => resolve(c))));
  const sock = await rawWebSocket(port);
  sock.write(frame(1, Buffer.from([0xff])));
  const got = await untilEnd(sock);
  t.is(closeOf(parseFrames(got)).code, 1007);
  t.is(await closed, 1006);
  await closeServer(wss);
});

test('close(code, reason) validation matches ws', async (t) => {
  const results = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const { wss, url } = await listen(Impl);
    const conn = once(wss, 'connection');
    const client = await connect(url);
    const [ws] = await conn;
    const out = [];
    for (const args of [[999], ['1000'], [1004], [1005], [1006], [5000], [1000, 'x'.repeat(124)], [1000, Buffer.alloc(124)]]) {
      try {
        ws.close(...args);
        out.push('ok');
      } catch (e) {
        out.push(`${e.constructor.name}: ${e.message}`);
      }
    }
    out.push(ws.readyState);
    const clientClosed = once(client, 'close');
    ws.close(3001, Buffer.from('buffer reason'));
    out.push(ws.readyState);
    const [code, reason] = await clientClosed;
    out.push(code, reason.toString());
    results[name] = out;
    await closeServer(wss);
  }
  t.deepEqual(results.wsrs, results.ws);
  t.is(results.wsrs[0], 'TypeError: First argument must be a valid error code number');
  t.is(results.wsrs[6], 'RangeError: The message must not be greater than 123 bytes');
  t.deepEqual(results.wsrs.slice(-4), [1, 2, 3001, 'buffer reason']);
});

test('closeTimeout destroys a socket whose peer never answers the close', async (t) => {
  const { wss, port } = await listen(impls.wsrs, { closeTimeout: 200 });
  const conn = once(wss, 'connection');
  const sock = await rawWebSocket(port);
  const [ws] = await conn;
  const start = Date.now();
  const closed = once(ws, 'close');
  ws.close(1000, 'done');
  const [code] = await closed;
  t.is(code, 1006);
  t.true(Date.now() - start >= 180);
  t.true(Date.now() - start < 3000);
  const got = await untilEnd(sock);
  t.deepEqual(closeOf(parseFrames(got)), { code: 1000, reason: 'done' });
  await closeServer(wss);
});

// Messages of every size in one write (one read on the server: small ones
// copied into the event batch, large ones left in the read buffer that JS
// then gets as it is), and then more traffic: every message arrives whole,
// in order, and a Buffer kept from the first read is unchanged after the
// reads that followed (the read buffer it lives in is not reused).
for (const name of Object.keys(impls)) {
  test(`${name}: messages of every size in one read, kept Buffers unchanged by later reads`, async (t) => {
    const { wss, port } = await listen(impls[name]);
    const sizes = [10, 9000, 20, 40000, 8192, 5, 70000, 8191, 100000];
    const payload = (i, n) => Buffer.alloc(n, 65 + (i % 26));
    const got = [];
    const all = new Promise((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('message', (m, isBinary) => {
          got.push([m, isBinary]);
          if (got.length === sizes.length * 3) resolve();
        });
      });
    });
    const sock = await rawWebSocket(port);
    const burst = (round) => Buffer.concat(sizes.map((n, i) => frame(i % 2 ? 2 : 1, payload(i + round, n))));
    sock.write(burst(0));
    await eventually(() => got.length === sizes.length);
    const kept = got.map(([m]) => Buffer.from(m));
    sock.write(burst(1));
    sock.write(burst(2));
    await all;
    for (let k = 0; k < got.length; k++) {
      const i = k % sizes.length;
      const round = Math.floor(k / sizes.length);
      t.true(got[k][0].equals(payload(i + round, sizes[i])), `message ${k} (${sizes[i]} B) arrives whole`);
      t.is(got[k][1], i % 2 === 1);
    }
    for (let i = 0; i < sizes.length; i++) t.true(got[i][0].equals(kept[i]), `message ${i} (${sizes[i]} B) kept as it was`);
    sock.destroy();
    await closeServer(wss);
  });
}
