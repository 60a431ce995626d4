'use strict';

// One echo per client and one broadcast.

const test = require('ava');
const { WebSocketServer, WebSocket } = require(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { WebSocket: WsClient } = require('ws');
const { messages, start } = require('../harness');

test('echo and broadcast', async (t) => {
  const server = await start(WebSocketServer);
  t.teardown(() => server.close());
  const own = await server.connect(WebSocket);
  const peer = await server.connect(WsClient);

  const echoes = [messages(own, 1), messages(peer, 1)];
  own.send('own');
  peer.send('peer');
  t.deepEqual(await Promise.all(echoes), [['own'], ['peer']]);

  const broadcast = [messages(own, 1), messages(peer, 1)];
  own.send('all:hello');
  t.deepEqual(await Promise.all(broadcast), [['hello'], ['hello']]);
});
