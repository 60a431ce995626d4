'use strict';

// Limits beyond ws, each with a clear answer: a slow reader's send buffer
// (close or drop), a cap on connections (503).

const test = require('ava');
const { closeServer, connect, delay, httpAnswer, impls, listen, once, raw, untilEnd, upgradeRequest } = require('./helpers');

async function pair(options) {
  const { wss, url, port } = await listen(impls.wsrs, options);
  const conn = once(wss, 'connection');
  const client = await connect(url);
  const [ws] = await conn;
  return { wss, url, port, client, ws };
}

test('a slow reader past maxBufferedAmount is cut off (backpressure: close)', async (t) => {
  const { wss, client, ws } = await pair({ maxBufferedAmount: 1024 * 1024 });
  client.pause(); // the peer stops reading
  const errors = [];
  ws.on('error', (e) => errors.push(e.code));
  const closed = once(ws, 'close');
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  let lastErr = null;
  while (ws.readyState === ws.OPEN && sent < 10000) {
    ws.send(chunk, (err) => err && err.code === 'WSRS_ERR_BUFFER_FULL' && (lastErr = err));
    sent++;
    if (sent % 16 === 0) await delay(1);
  }
  const [code] = await closed;
  t.is(code, 1006);
  t.deepEqual(errors, ['WSRS_ERR_BUFFER_FULL']);
  t.true(sent < 10000, `cut off after ${sent} sends`);
  await delay(10);
  t.is(lastErr && lastErr.code, 'WSRS_ERR_BUFFER_FULL');
  client.resume();
  await closeServer(wss);
});

test('backpressure: drop discards sends past the limit, keeps the connection, then drains', async (t) => {
  const { wss, client, ws } = await pair({ maxBufferedAmount: 256 * 1024, backpressure: 'drop' });
  client.pause();
  const chunk = Buffer.alloc(32 * 1024);
  let dropped = 0;
  for (let i = 0; i < 200; i++) {
    ws.send(chunk, (err) => err && err.code === 'WSRS_ERR_BUFFER_FULL' && dropped++);
    if (i % 8 === 0) await delay(1);
  }
  await delay(50);
  t.true(dropped > 0);
  t.is(ws.readyState, ws.OPEN);
  t.true(ws.bufferedAmount <= 256 * 1024);
  const drained = once(ws, 'drain');
  let received = 0;
  client.on('message', () => received++);
  client.resume();
  await drained;
  t.is(ws.bufferedAmount, 0);
  const last = new Promise((resolve) => client.on('message', (m) => m.toString() === 'after' && resolve()));
  ws.send('after');
  await last;
  t.is(received, 200 - dropped + 1);
  await closeServer(wss);
});

test('maxConnections: one too many gets 503', async (t) => {
  const { wss, url, port } = await listen(impls.wsrs, { maxConnections: 2 });
  const a = await connect(url);
  const b = await connect(url);
  const sock = await raw(port);
  sock.write(upgradeRequest());
  const answer = httpAnswer(await untilEnd(sock));
  t.is(answer.status, 'HTTP/1.1 503 Service Unavailable');
  a.close();
  await once(a, 'close');
  await delay(20);
  const c = await connect(url); // room again
  t.is(c.readyState, 1);
  b.close();
  c.close();
  await closeServer(wss);
});

test('bad options are TypeErrors', (t) => {
  t.throws(() => new impls.wsrs.WebSocketServer({ noServer: true, backpressure: 'ignore' }), { instanceOf: TypeError });
  t.throws(() => new impls.wsrs.WebSocketServer({ noServer: true, heartbeat: -1 }), { instanceOf: RangeError });
});

// Auto-pongs are written by the JS thread as pings are read. A peer that
// pings without reading fills the socket; once it reads again, everything
// queued (the pongs, then a message) must arrive: the full socket hands
// writing to the I/O thread, which must be told.
test('pongs that fill the socket of a peer that stopped reading are all delivered once it reads', async (t) => {
  const { rawWebSocket, frame } = require('./helpers');
  const N = 120000;
  const { wss, port } = await listen(impls.wsrs, { maxPendingAutoPongs: 0 });
  let pings = 0;
  wss.on('connection', (ws) =>
    ws.on('ping', () => {
      if (++pings === N) ws.send('after');
    })
  );
  const sock = await rawWebSocket(port);
  sock.removeAllListeners('data');
  sock.pause();
  const ping = frame(9, Buffer.alloc(125, 1));
  const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
  for (let i = 0; i < N / 1000; i++) {
    if (!sock.write(burst)) await once(sock, 'drain');
  }
  while (pings < N) await delay(20);
  await delay(200);
  // Now read: N pongs (2 + 125 bytes each), then the text frame "after".
  const expected = N * 127 + 2 + 5;
  let total = 0;
  let tail = Buffer.alloc(0);
  const done = new Promise((resolve) => {
    sock.on('data', (d) => {
      total += d.length;
      tail = Buffer.concat([tail, d]).subarray(-7);
      if (total >= expected) resolve();
    });
  });
  sock.resume();
  await Promise.race([done, delay(15000)]);
  t.is(total, expected);
  t.is(tail.toString('latin1'), '\x81\x05after');
  sock.destroy();
  await closeServer(wss);
});
