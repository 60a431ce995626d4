'use strict';

// One echo per client and one broadcast.

const test = require('node:test');
const assert = require('node:assert/strict');
const { WebSocketServer, WebSocket } = require(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { WebSocket: WsClient } = require('ws');
const { messages, start } = require('../harness');

test('echo and broadcast', async () => {
  const server = await start(WebSocketServer);
  try {
    const own = await server.connect(WebSocket);
    const peer = await server.connect(WsClient);

    const echoes = [messages(own, 1), messages(peer, 1)];
    own.send('own');
    peer.send('peer');
    assert.deepEqual(await Promise.all(echoes), [['own'], ['peer']]);

    const broadcast = [messages(own, 1), messages(peer, 1)];
    own.send('all:hello');
    assert.deepEqual(await Promise.all(broadcast), [['hello'], ['hello']]);
  } finally {
    await server.close();
  }
});
