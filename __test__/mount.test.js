'use strict';

// Mounting on an existing HTTP server: `server`, `noServer`, `handleUpgrade`.

const test = require('ava');
const fs = require('fs');
const http = require('http');
const ws = require('ws');
const wsrs = require('..');
const native = require('../lib/native');
const { connect, eventually, httpAnswer, messages, once, raw, untilEnd, upgradeRequest } = require('./helpers');

async function httpServer(handler) {
  const server = http.createServer(handler || ((req, res) => res.end('http page')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: server.address().port };
}

test.serial('ws\'s documented example: several WebSocket servers share one HTTP server by path', async (t) => {
  const { server, port } = await httpServer();
  const wss1 = new wsrs.WebSocketServer({ noServer: true });
  const wss2 = new wsrs.WebSocketServer({ noServer: true });
  wss1.on('connection', (s) => s.send('one'));
  wss2.on('connection', (s) => s.send('two'));
  server.on('upgrade', (request, socket, head) => {
    const { pathname } = new URL(request.url, 'ws://base.url');
    if (pathname === '/foo') wss1.handleUpgrade(request, socket, head, (s) => wss1.emit('connection', s, request));
    else if (pathname === '/bar') wss2.handleUpgrade(request, socket, head, (s) => wss2.emit('connection', s, request));
    else socket.destroy();
  });
  const a = new ws.WebSocket(`ws://127.0.0.1:${port}/foo`);
  const b = new ws.WebSocket(`ws://127.0.0.1:${port}/bar`);
  t.deepEqual(await messages(a, 1), [['one', false]]);
  t.deepEqual(await messages(b, 1), [['two', false]]);
  a.close();
  b.close();
  await Promise.all([once(a, 'close'), once(b, 'close')]);
  wss1.close();
  wss2.close();
  await new Promise((r) => server.close(r));
});

test.serial('bad upgrade requests on a mounted server get ws\'s answers (differential)', async (t) => {
  const results = {};
  for (const [name, Impl] of [['ws', ws], ['wsrs', wsrs]]) {
    const { server, port } = await httpServer();
    const wss = new Impl.WebSocketServer({ server, path: '/ws' });
    const out = [];
    for (const req of [
      upgradeRequest({ path: '/ws', method: 'POST' }),
      upgradeRequest({ path: '/ws', headers: { 'Sec-WebSocket-Key': 'nope' } }),
      upgradeRequest({ path: '/ws', headers: { 'Sec-WebSocket-Version': '7' } }),
      upgradeRequest({ path: '/elsewhere' })
    ]) {
      const sock = await raw(port);
      sock.write(req);
      const a = httpAnswer(await untilEnd(sock));
      out.push([a.status, a.body]);
    }
    results[name] = out;
    wss.close();
    await new Promise((r) => server.close(r));
  }
  t.deepEqual(results.wsrs, results.ws);
  t.deepEqual(results.wsrs.map((r) => r[0].slice(9, 12)), ['405', '400', '400', '400']);
});

test.serial('handleUpgrade twice on one socket throws, as with ws', async (t) => {
  const { server, port } = await httpServer();
  const wss = new wsrs.WebSocketServer({ noServer: true });
  const thrown = new Promise((resolve) =>
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, () => {});
      try {
        wss.handleUpgrade(req, socket, head, () => {});
        resolve(null);
      } catch (err) {
        resolve(err.message);
      }
    })
  );
  const c = new ws.WebSocket(`ws://127.0.0.1:${port}`);
  c.on('error', () => {});
  t.regex(await thrown, /called more than once with the same socket/);
  const gone = [c, ...wss.clients].map((s) => once(s, 'close'));
  c.terminate();
  for (const s of wss.clients) s.terminate();
  await Promise.all(gone);
  await new Promise((r) => server.close(r));
});

test.serial('peers that vanish during the takeover leak nothing', async (t) => {
  const { server, port } = await httpServer();
  const wss = new wsrs.WebSocketServer({ server });
  const accepted = once(wss, 'connection');
  const witness = await connect(`ws://127.0.0.1:${port}`);
  const [witnessServer] = await accepted; // both ends of the witness exist: the baseline counts them
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  // Node's 'upgrade' for the raw socket whose local port is `localPort`
  // (seen first, before wsrs's listener takes the socket over).
  const upgradeOf = (localPort) =>
    new Promise((resolve) => {
      const on = (req) => {
        if (req.socket.remotePort !== localPort) return;
        server.off('upgrade', on);
        resolve();
      };
      server.prependListener('upgrade', on);
    });
  for (let i = 0; i < 30; i++) {
    const s = await raw(port);
    // Half of the peers vanish as soon as they have sent their request, the
    // other half once the server has it (during the takeover).
    const upgraded = i % 2 ? upgradeOf(s.localPort) : null;
    s.write(upgradeRequest());
    if (upgraded) await upgraded;
    s.resetAndDestroy();
  }
  await eventually(() => wss.clients.size === 1 && fds() <= before, {
    timeout: 3000,
    message: () => `${wss.clients.size} clients (1 expected), ${fds()} fds (at most ${before})`
  });
  t.is(wss.clients.size, 1);
  t.true(fds() <= before);
  const witnessGone = once(witnessServer, 'close');
  witness.close();
  await once(witness, 'close');
  await witnessGone;
  wss.close();
  await new Promise((r) => server.close(r));
  const stats = () => {
    const s = native.stats();
    return [s.tasks, s.pending, s.sockets, s.jsSockets];
  };
  // Rust lets go of the witness's task and slot after its 'close'.
  await eventually(() => stats().every((n) => n === 0), { timeout: 3000, message: () => `stats ${stats()}` });
  t.deepEqual(stats(), [0, 0, 0, 0]);
});

test.serial('server mode forwards listening and error, and a closing server answers 503', async (t) => {
  const server = http.createServer();
  const wss = new wsrs.WebSocketServer({ server });
  const listening = once(wss, 'listening');
  server.listen(0, '127.0.0.1');
  await listening;
  t.deepEqual(wss.address(), server.address());
  const errored = once(wss, 'error');
  server.emit('error', new Error('boom'));
  t.is((await errored)[0].message, 'boom');

  // A server whose upgrade is decided asynchronously, closed meanwhile:
  // verifyClient answers only once the server is closed.
  let decide;
  const verifying = new Promise((resolve) => {
    decide = resolve;
  });
  const slow = new wsrs.WebSocketServer({ noServer: true, verifyClient: (info, cb) => decide(cb) });
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req, socket, head) => slow.handleUpgrade(req, socket, head, () => {}));
  const sock = await raw(server.address().port);
  sock.write(upgradeRequest());
  const cb = await verifying;
  slow.close();
  cb(true);
  t.is(httpAnswer(await untilEnd(sock)).status, 'HTTP/1.1 503 Service Unavailable');
  wss.close();
  await new Promise((r) => server.close(r));
});
