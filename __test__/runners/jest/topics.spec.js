'use strict';

// Echo, broadcast, and a publish that reaches only the subscribed client.

const { WebSocketServer, WebSocket } = require(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { WebSocket: WsClient } = require('ws');
const { messages, start } = require('../harness');

test('echo, broadcast and publish', async () => {
  const server = await start(WebSocketServer);
  try {
    const own = await server.connect(WebSocket);
    const peer = await server.connect(WsClient);

    const echo = messages(peer, 1);
    peer.send(Buffer.from('bin'));
    expect(await echo).toEqual(['bin']);

    const broadcast = [messages(own, 1), messages(peer, 1)];
    peer.send('all:everyone');
    expect(await Promise.all(broadcast)).toEqual([['everyone'], ['everyone']]);

    const subscribed = messages(own, 1);
    own.send('sub');
    expect(await subscribed).toEqual(['subscribed']);
    // The publisher is not subscribed: its first answer is the count.
    const got = [messages(own, 1), messages(peer, 1)];
    peer.send('pub:news!');
    expect(await Promise.all(got)).toEqual([['news!'], ['sent:1']]);
  } finally {
    await server.close();
  }
});
