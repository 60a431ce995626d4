'use strict';

// Limits beyond ws, each with a clear answer: a slow reader's send buffer
// (close or drop), a cap on connections (503).

const test = require('ava');
const { closeServer, connect, delay, eventually, httpAnswer, impls, listen, once, raw, untilEnd, upgradeRequest } = require('./helpers');

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
    // Every 16 sends, a turn of the event loop (I/O, callbacks, the close).
    if (sent % 16 === 0) await new Promise(setImmediate);
  }
  const [code] = await closed;
  t.is(code, 1006);
  t.deepEqual(errors, ['WSRS_ERR_BUFFER_FULL']);
  t.true(sent < 10000, `cut off after ${sent} sends`);
  // A send callback is told why.
  await eventually(() => lastErr, { timeout: 3000, message: 'no send callback got WSRS_ERR_BUFFER_FULL' });
  t.is(lastErr.code, 'WSRS_ERR_BUFFER_FULL');
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
    // Every 8 sends, a turn of the event loop (I/O, callbacks).
    if (i % 8 === 0) await new Promise(setImmediate);
  }
  // Sends past the limit are refused (their callbacks say so); that the
  // connection is kept is shown below: all the rest, then 'after', arrive.
  await eventually(() => dropped > 0, { timeout: 3000, message: 'no send was dropped' });
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
  const accepted = once(wss, 'connection');
  const a = await connect(url);
  const [aServer] = await accepted;
  const b = await connect(url);
  const sock = await raw(port);
  sock.write(upgradeRequest());
  const answer = httpAnswer(await untilEnd(sock));
  t.is(answer.status, 'HTTP/1.1 503 Service Unavailable');
  const aGone = once(aServer, 'close'); // the server's count drops before this event
  a.close();
  await aGone;
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
  let pingsRead;
  const allPingsRead = new Promise((resolve) => (pingsRead = resolve));
  wss.on('connection', (ws) =>
    ws.on('ping', () => {
      if (++pings === N) {
        ws.send('after');
        pingsRead();
      }
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
  await allPingsRead;
  // A fixed window, on purpose: the stall this catches shows only if the I/O
  // task has parked, waiting to be told, before the peer reads again;
  // nothing observable marks that it has, so it gets 200 ms to.
  await delay(200);
  // Now read: N pongs (2 + 125 bytes each), then the text frame "after".
  const expected = N * 127 + 2 + 5;
  let total = 0;
  let tail = Buffer.alloc(0);
  sock.on('data', (d) => {
    total += d.length;
    tail = Buffer.concat([tail, d]).subarray(-7);
  });
  sock.resume();
  await eventually(() => total >= expected, { timeout: 15000, message: () => `read ${total} of ${expected} bytes` });
  t.is(total, expected);
  t.is(tail.toString('latin1'), '\x81\x05after');
  sock.destroy();
  await closeServer(wss);
});
