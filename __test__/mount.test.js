'use strict';

// Mounting on an existing HTTP server: `server`, `noServer`, `handleUpgrade`.

const test = require('ava');
const fs = require('fs');
const http = require('http');
const ws = require('ws');
const wsrs = require('..');
const native = require('../lib/native');
const { connect, delay, httpAnswer, messages, once, raw, untilEnd, upgradeRequest } = require('./helpers');

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
  c.terminate();
  for (const s of wss.clients) s.terminate();
  await delay(50);
  await new Promise((r) => server.close(r));
});

test.serial('peers that vanish during the takeover leak nothing', async (t) => {
  const { server, port } = await httpServer();
  const wss = new wsrs.WebSocketServer({ server });
  const witness = await connect(`ws://127.0.0.1:${port}`);
  await delay(50);
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 30; i++) {
    const s = await raw(port);
    s.write(upgradeRequest());
    if (i % 2) await delay(1);
    s.resetAndDestroy();
  }
  const deadline = Date.now() + 3000;
  while ((wss.clients.size !== 1 || fds() > before) && Date.now() < deadline) await delay(20);
  t.is(wss.clients.size, 1);
  t.true(fds() <= before);
  witness.close();
  await once(witness, 'close');
  await delay(50);
  wss.close();
  await new Promise((r) => server.close(r));
  const s = native.stats();
  t.deepEqual([s.tasks, s.pending, s.sockets, s.jsSockets], [0, 0, 0, 0]);
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

  // A server whose upgrade is decided asynchronously, closed meanwhile.
  const slow = new wsrs.WebSocketServer({ noServer: true, verifyClient: (info, cb) => setTimeout(() => cb(true), 50) });
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req, socket, head) => slow.handleUpgrade(req, socket, head, () => {}));
  const sock = await raw(server.address().port);
  sock.write(upgradeRequest());
  await delay(10);
  slow.close();
  t.is(httpAnswer(await untilEnd(sock)).status, 'HTTP/1.1 503 Service Unavailable');
  wss.close();
  await new Promise((r) => server.close(r));
});
