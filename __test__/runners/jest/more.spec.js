'use strict';

// Several echoes and broadcasts, in order, from both clients.

const { WebSocketServer, WebSocket } = require(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { WebSocket: WsClient } = require('ws');
const { messages, start } = require('../harness');

let server;
let own;
let peer;

beforeAll(async () => {
  server = await start(WebSocketServer);
  own = await server.connect(WebSocket);
  peer = await server.connect(WsClient);
});

afterAll(() => server.close());

test('echoes', async () => {
  const echoes = [messages(own, 3), messages(peer, 2)];
  for (const m of ['a', 'b', 'c']) own.send(m);
  for (const m of ['x', 'y']) peer.send(m);
  expect(await Promise.all(echoes)).toEqual([['a', 'b', 'c'], ['x', 'y']]);
});

test('broadcasts', async () => {
  const broadcast = [messages(own, 2), messages(peer, 2)];
  peer.send('all:1');
  peer.send('all:2');
  expect(await Promise.all(broadcast)).toEqual([['1', '2'], ['1', '2']]);
});
