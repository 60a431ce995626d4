// Several echoes and broadcasts, in order, from both clients (ESM).

import test from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket as WsClient } from 'ws';
import harness from '../harness.js';

const { WebSocketServer, WebSocket } = await import(process.env.WS_IMPL === 'ws' ? 'ws' : 'wsrs');
const { messages, start } = harness;

test('echoes and broadcasts', async (t) => {
  const server = await start(WebSocketServer);
  t.after(() => server.close());
  const own = await server.connect(WebSocket);
  const peer = await server.connect(WsClient);

  await t.test('echoes', async () => {
    const echoes = [messages(own, 3), messages(peer, 2)];
    for (const m of ['a', 'b', 'c']) own.send(m);
    for (const m of ['x', 'y']) peer.send(m);
    assert.deepEqual(await Promise.all(echoes), [['a', 'b', 'c'], ['x', 'y']]);
  });

  await t.test('broadcasts', async () => {
    const broadcast = [messages(own, 2), messages(peer, 2)];
    peer.send('all:1');
    peer.send('all:2');
    assert.deepEqual(await Promise.all(broadcast), [['1', '2'], ['1', '2']]);
  });
});
