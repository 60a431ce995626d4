'use strict';

// Real consumers of ws, unchanged, on wsrs: each driven by its own client.

const test = require('ava');
const http = require('http');
const wsrs = require('..');
const { once } = require('./helpers');

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
  while (disconnects.length < 2) await new Promise((r) => setTimeout(r, 10));
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
