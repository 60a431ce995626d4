'use strict';

// Faults: peers that reset at every stage, servers and sockets torn down in
// the middle of traffic. No crash, no leaked file descriptor, no leaked JS
// socket, and the other connections unaffected.

const test = require('ava');
const fs = require('fs');
const { closeServer, connect, delay, eventually, frame, impls, listen, messages, once, raw, rawWebSocket, upgradeRequest } = require('./helpers');

const native = require('../lib/native');
const { NODE_SOCKETS } = require('../lib/takeover');

const fdCount = () => fs.readdirSync('/proc/self/fd').length;
/** Nothing left behind: no task, pending upgrade, socket, topic or loop reference. */
const idle = () => {
  const s = native.stats();
  return s.tasks === 0 && s.pending === 0 && s.sockets === 0 && s.topics === 0 && s.jsSockets === 0 && s.refs === 0;
};

test.serial('resets mid-handshake, mid-frame and during the close handshake leak nothing', async (t) => {
  const { wss, port, url } = await listen(impls.wsrs, { closeTimeout: 500 });
  wss.on('connection', (ws) => ws.on('message', (m, b) => ws.send(m, { binary: b })));
  const accepted = once(wss, 'connection');
  const witness = await connect(url);
  await accepted; // both ends of the witness exist: the baseline counts them
  const before = fdCount();

  for (let i = 0; i < 20; i++) {
    // Half a request line, then a reset.
    const a = await raw(port);
    a.write('GET / HTTP/1.1\r\nHost: x\r\nUpgr');
    a.resetAndDestroy();
    // A full request, reset before the 101 is read.
    const b = await raw(port);
    b.write(upgradeRequest());
    b.resetAndDestroy();
    // Open, then reset in the middle of a frame.
    const c = await rawWebSocket(port);
    c.write(frame(2, Buffer.alloc(4000)).subarray(0, 50));
    c.resetAndDestroy();
    // Open, send a close frame, reset before the answer.
    const d = await rawWebSocket(port);
    d.write(frame(8, Buffer.from([0x03, 0xe8])));
    d.resetAndDestroy();
  }
  // Every socket the server accepted is gone, and its fds with it.
  await eventually(() => wss.clients.size === 1 && fdCount() <= before, {
    timeout: 3000,
    message: () => `${wss.clients.size} clients (1 expected), ${fdCount()} fds (at most ${before})`
  });
  t.is(wss.clients.size, 1);
  const got = messages(witness, 1);
  witness.send('still fine');
  t.deepEqual(await got, [['still fine', false]]);
  witness.close();
  await closeServer(wss);
  await eventually(() => fdCount() <= before - 1, {
    timeout: 3000,
    message: () => `${fdCount()} fds, at most ${before - 1}`
  });
  await eventually(idle, { timeout: 3000, message: () => `not idle: ${JSON.stringify(native.stats())}` });
  const s = native.stats();
  t.like(s, { tasks: 0, pending: 0, sockets: 0, topics: 0, jsSockets: 0, servers: 0, nativeServers: 0, refs: 0 });
});

test.serial('wss.close() and terminate() in the middle of traffic', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  const sockets = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (m) => ws.send(m));
  });
  const clients = await Promise.all(Array.from({ length: 50 }, () => connect(url)));
  const echoed = new Set();
  for (const c of clients) {
    c.on('error', () => {});
    c.on('message', () => echoed.add(c));
  }
  let flowing = true;
  const pump = (async () => {
    while (flowing) {
      for (const c of clients) if (c.readyState === 1) c.send('x'.repeat(100));
      // Pacing, not a wait: a round of sends every millisecond or so (a
      // steady load, not as fast as the loop can go).
      await delay(1);
    }
  })();
  // In the middle of traffic: every connection has echoed (so all 50 are
  // accepted, in `sockets`), and the pump goes on.
  await eventually(() => echoed.size === clients.length, {
    message: () => `${echoed.size} of ${clients.length} echoed`
  });
  const serverClosed = new Promise((resolve) => wss.close(resolve));
  // Half of the sockets terminated mid-traffic, the rest closed by their
  // clients (whichever those are: accept order is not connect order).
  const terminated = sockets.slice(0, 25);
  const terminatedClosed = Promise.all(terminated.map((s) => once(s, 'close')));
  terminated.forEach((s) => s.terminate());
  await terminatedClosed;
  clients.forEach((c) => c.readyState === 1 && c.close());
  await serverClosed;
  flowing = false;
  await pump;
  t.true(sockets.every((s) => s.readyState === s.CLOSED));
  t.is(wss.clients.size, 0);
  await eventually(idle, { timeout: 3000, message: () => `not idle: ${JSON.stringify(native.stats())}` });
});

test.serial('thousands of connections closing at once', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  let closes = 0;
  wss.on('connection', (ws) => ws.on('close', () => closes++));
  const before = fdCount();
  const clients = [];
  for (let i = 0; i < 2000; i += 200) {
    clients.push(...(await Promise.all(Array.from({ length: 200 }, () => connect(url)))));
  }
  await eventually(() => wss.clients.size === 2000, { timeout: 3000, message: () => `${wss.clients.size} clients` });
  for (const c of clients) c.terminate();
  await eventually(() => closes === 2000, { timeout: 10000, message: () => `${closes} closes` });
  t.is(wss.clients.size, 0);
  await eventually(() => fdCount() <= before, { timeout: 3000, message: () => `${fdCount()} fds, at most ${before}` });
  await closeServer(wss);
  await eventually(idle, { timeout: 3000, message: () => `not idle: ${JSON.stringify(native.stats())}` });
});

test.serial('a closed server process keeps no native handle: a script exits with its sockets open elsewhere', async (t) => {
  // Sockets the server accepted but that were reset before JS accepted them
  // are released, and the event loop is not held open by them.
  const { execFile } = require('child_process');
  const path = require('path');
  // verifyClient decides 50 ms late (an asynchronous verifyClient, not a
  // wait); while it is deciding, right after it is called, the peer resets
  // and the server closes.
  const script = `
    const W = require(${JSON.stringify(path.join(__dirname, '..'))});
    const net = require('net');
    let s;
    const verifyClient = (i, cb) => {
      setImmediate(() => {
        s.destroy();
        wss.close(() => console.log('closed'));
      });
      setTimeout(() => cb(true), 50);
    };
    const wss = new W.WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient }, () => {
      s = net.connect(wss.address().port, '127.0.0.1', () => {
        s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n');
      });
    });`;
  const r = await new Promise((resolve) =>
    execFile(process.execPath, ['-e', script], { timeout: 10000 }, (err, stdout) => resolve({ err, stdout }))
  );
  t.is(r.err, null);
  t.is(r.stdout.trim(), 'closed');
});

// An open connection that JS reads and writes has no I/O task (the memory
// of an idle connection); one whose peer stops reading gets one, which
// writes the rest once the peer reads again; and all of them are gone once
// the connections close.
test.serial('open connections hold no I/O task until one is needed, and none is left after', async (t) => {
  const { wss, port, url } = await listen(impls.wsrs);
  const server = [];
  wss.on('connection', (ws) => server.push(ws));
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(url)));
  await eventually(() => server.length === 20);
  for (const c of clients) c.send('x');
  for (const ws of server) ws.send('y');
  await Promise.all(clients.map((c) => once(c, 'message')));
  t.is(native.stats().tasks, 0, 'open and idle: no task');

  // A peer that does not read: the server's writes wait, on a task. (Where
  // Node keeps the sockets, the Windows shape, Node's socket waits instead:
  // no task ever.)
  if (!NODE_SOCKETS) {
    const slow = await rawWebSocket(port);
    slow.pause();
    await eventually(() => server.length === 21);
    const big = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 16; i++) server[20].send(big);
    await eventually(() => native.stats().tasks === 1, { message: () => `tasks ${native.stats().tasks}` });
    t.true(server[20].bufferedAmount > 0);
    const drained = once(server[20], 'drain');
    slow.resume();
    await drained;
    slow.destroy();
  }

  for (const c of clients) c.close();
  await closeServer(wss);
  await eventually(idle, { timeout: 3000, message: () => `not idle: ${JSON.stringify(native.stats())}` });
  t.pass();
});
