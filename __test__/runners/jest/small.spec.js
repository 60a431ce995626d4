'use strict';

// One echo per client and one broadcast.

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
    expect(await Promise.all(echoes)).toEqual([['own'], ['peer']]);

    const broadcast = [messages(own, 1), messages(peer, 1)];
    own.send('all:hello');
    expect(await Promise.all(broadcast)).toEqual([['hello'], ['hello']]);
  } finally {
    await server.close();
  }
});
