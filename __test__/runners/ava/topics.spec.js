'use strict';

// Echo, broadcast, and a publish that reaches only the subscribed client.

const test = require('ava');
const { WebSocketServer, WebSocket } = require(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { WebSocket: WsClient } = require('ws');
const { messages, start } = require('../harness');

test('echo and broadcast', async (t) => {
  const server = await start(WebSocketServer);
  t.teardown(() => server.close());
  const own = await server.connect(WebSocket);
  const peer = await server.connect(WsClient);

  const echo = messages(peer, 1);
  peer.send(Buffer.from('bin'));
  t.deepEqual(await echo, ['bin']);

  const broadcast = [messages(own, 1), messages(peer, 1)];
  peer.send('all:everyone');
  t.deepEqual(await Promise.all(broadcast), [['everyone'], ['everyone']]);
});

test('publish reaches only the subscribed client', async (t) => {
  const server = await start(WebSocketServer);
  t.teardown(() => server.close());
  const own = await server.connect(WebSocket);
  const peer = await server.connect(WsClient);

  const subscribed = messages(own, 1);
  own.send('sub');
  t.deepEqual(await subscribed, ['subscribed']);
  // The publisher is not subscribed: its first answer is the count.
  const got = [messages(own, 1), messages(peer, 1)];
  peer.send('pub:news!');
  t.deepEqual(await Promise.all(got), [['news!'], ['sent:1']]);
});
