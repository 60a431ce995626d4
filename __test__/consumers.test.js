'use strict';

// Real consumers of ws, unchanged, on wsrs: each driven by its own client.

const test = require('ava');
const http = require('http');
const wsrs = require('..');
const { eventually, once } = require('./helpers');

test('socket.io with wsEngine: wsrs (rooms, broadcast, acks, disconnect)', async (t) => {
  const { Server } = require('socket.io');
  const ioc = require('socket.io-client');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { wsEngine: wsrs.Server, transports: ['websocket'] });
  t.true(io.engine.ws instanceof wsrs.WebSocketServer);
  // Count engine.io's pre-framed fast path (ws._sender.sendFrame).
  let preFramed = 0;
  const original = wsrs.WebSocket.prototype._sendFramed;
  wsrs.WebSocket.prototype._sendFramed = function (...args) {
    preFramed++;
    return original.apply(this, args);
  };
  t.teardown(() => (wsrs.WebSocket.prototype._sendFramed = original));
  const disconnects = [];
  io.on('connection', (socket) => {
    socket.join('room');
    socket.on('chat', (msg, ack) => {
      io.to('room').emit('chat', { from: socket.id, msg });
      ack('stored');
    });
    socket.on('disconnect', (reason) => disconnects.push(reason));
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const a = ioc(url, { transports: ['websocket'], forceNew: true });
  const b = ioc(url, { transports: ['websocket'], forceNew: true });
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  t.is(a.io.engine.transport.name, 'websocket');

  const gotA = once(a, 'chat');
  const gotB = once(b, 'chat');
  const ack = await new Promise((resolve) => a.emit('chat', 'hello room', resolve));
  t.is(ack, 'stored');
  t.deepEqual((await gotA)[0], { from: a.id, msg: 'hello room' });
  t.deepEqual((await gotB)[0], { from: a.id, msg: 'hello room' });
  t.true(preFramed >= 2, 'the room broadcast went through Sender.frame + _sender.sendFrame');

  // Binary payloads too.
  const bin = once(b, 'chat');
  a.emit('chat', Buffer.from([1, 2, 3]), () => {});
  t.deepEqual(Buffer.from((await bin)[0].msg), Buffer.from([1, 2, 3]));

  a.disconnect();
  b.disconnect();
  await eventually(() => disconnects.length >= 2, { message: () => `disconnects: ${JSON.stringify(disconnects)}` });
  t.deepEqual(disconnects, ['client namespace disconnect', 'client namespace disconnect']);
  await new Promise((resolve) => io.close(resolve));
});

test('Sender.frame builds ws-compatible frames', (t) => {
  const ws = require('ws');
  for (const opts of [
    { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false },
    { fin: false, opcode: 2, mask: false, readOnly: true, rsv1: false }
  ]) {
    for (const len of [0, 5, 125, 126, 300, 65535, 65536, 70000]) {
      const data = Buffer.alloc(len, 7);
      const ours = Buffer.concat(wsrs.Sender.frame(data, { ...opts }));
      const theirs = Buffer.concat(ws.Sender.frame(data, { ...opts }));
      t.true(ours.equals(theirs), `len ${len}`);
    }
  }
  const masked = Buffer.concat(wsrs.Sender.frame(Buffer.from('abc'), { fin: true, opcode: 1, mask: true, readOnly: true, maskBuffer: Buffer.from([1, 2, 3, 4]), generateMask: () => {} }));
  t.deepEqual([...masked], [0x81, 0x83, 1, 2, 3, 4, 0x61 ^ 1, 0x62 ^ 2, 0x63 ^ 3]);
});

test('@fastify/websocket: an echo route, differential with ws', async (t) => {
  const { spawn } = require('child_process');
  const path = require('path');
  const ws = require('ws');
  const results = {};
  for (const impl of ['ws', 'wsrs']) {
    const child = spawn(process.execPath, ['--require', path.join(__dirname, 'helpers', 'use-impl.js'), path.join(__dirname, 'fixtures', 'fastify-echo.js')], {
      env: { ...process.env, WS_IMPL: impl },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    t.teardown(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const address = await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`fastify exited ${code}: ${stderr}`)));
    });
    t.regex(stderr, new RegExp(`require\\('ws'\\) -> ${impl} `));
    const plain = await fetch(`${address}/plain`).then((r) => r.json());
    const client = new ws.WebSocket(`${address.replace('http', 'ws')}/echo`, { headers: { 'X-Name': impl === 'ws' ? 'someone' : 'someone' } });
    const got = [];
    const done = new Promise((resolve) =>
      client.on('message', (m, isBinary) => {
        got.push([isBinary, isBinary ? Buffer.from(m).toString('hex') : m.toString()]);
        if (got.length === 1) {
          client.send('text');
          client.send(Buffer.from([9, 8]));
        }
        if (got.length === 3) resolve();
      })
    );
    await done;
    client.close(1000);
    const [code] = await once(client, 'close');
    results[impl] = { plain, got, code };
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  t.deepEqual(results.wsrs, results.ws);
  t.deepEqual(results.wsrs.got, [[false, 'hello someone'], [false, 'text'], [true, '0908']]);
  t.deepEqual(results.wsrs.plain, { plain: true });
});

test('graphql-ws useServer: a subscription streams three results', async (t) => {
  const { buildSchema } = require('graphql');
  const { useServer } = require('graphql-ws/use/ws');
  const { createClient } = require('graphql-ws');
  const ws = require('ws');
  const schema = buildSchema(`
    type Query { hello: String }
    type Subscription { count: Int }
  `);
  const roots = {
    query: { hello: () => 'world' },
    subscription: {
      count: async function* () {
        for (let i = 1; i <= 3; i++) yield { count: i };
      }
    }
  };
  const wss = new wsrs.WebSocketServer({ port: 0, host: '127.0.0.1', path: '/graphql' });
  await once(wss, 'listening');
  const server = useServer({ schema, roots }, wss);
  const client = createClient({ url: `ws://127.0.0.1:${wss.address().port}/graphql`, webSocketImpl: ws.WebSocket, retryAttempts: 0 });
  const results = [];
  await new Promise((resolve, reject) => {
    client.subscribe({ query: 'subscription { count }' }, { next: (r) => results.push(r.data.count), error: reject, complete: resolve });
  });
  t.deepEqual(results, [1, 2, 3]);
  const query = await new Promise((resolve, reject) => {
    let value;
    client.subscribe({ query: '{ hello }' }, { next: (r) => (value = r.data.hello), error: reject, complete: () => resolve(value) });
  });
  t.is(query, 'world');
  // The negotiated subprotocol is graphql-ws's own.
  t.true([...wss.clients].every((c) => c.protocol === 'graphql-transport-ws'));
  await client.dispose();
  await server.dispose();
  await new Promise((resolve) => wss.close(resolve));
});
