'use strict';

// The server-side WebSocket API, differential where ws's behaviour is the
// spec: message types, send options and callbacks, ping/pong, binaryType,
// pause/resume, readyState, the EventTarget interface.

const test = require('ava');
const { closeServer, connect, eventually, impls, listen, messages, once, quietWindow } = require('./helpers');

/** A server of each implementation with one connected ws client. */
async function pair(Impl, options) {
  const { wss, url } = await listen(Impl, options);
  const conn = once(wss, 'connection');
  const client = await connect(url);
  const [ws, req] = await conn;
  return { wss, url, client, ws, req };
}

async function eachImpl(fn) {
  const out = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const p = await pair(Impl);
    try {
      out[name] = await fn(p, Impl);
    } finally {
      await closeServer(p.wss);
    }
  }
  return out;
}

test('send: strings, Buffers, typed arrays, ArrayBuffers, DataViews, numbers and the binary option', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const got = messages(client, 9);
    ws.send('text');
    ws.send(Buffer.from('buf'));
    ws.send(new Uint16Array([0x6968]));
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    ws.send(new DataView(new Uint8Array([4, 5]).buffer));
    ws.send(42);
    ws.send('as binary', { binary: true });
    ws.send(Buffer.from('as text'), { binary: false });
    ws.send(Buffer.from('日本'), { binary: false });
    return got;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[0], ['text', false]);
  t.deepEqual(r.wsrs[1], ['627566', true]);
  t.deepEqual(r.wsrs[5], ['42', false]);
  t.deepEqual(r.wsrs[8], ['日本', false]);
});

test('messages arrive as Buffers with isBinary, text too', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const got = [];
    const done = new Promise((resolve) =>
      ws.on('message', (data, isBinary) => {
        got.push([Buffer.isBuffer(data), isBinary, data.toString('hex')]);
        if (got.length === 3) resolve();
      })
    );
    client.send('héllo');
    client.send(Buffer.from([0, 255]));
    client.send('x'.repeat(70000));
    await done;
    got[2][2] = got[2][2].length;
    return got;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[1], [true, true, '00ff']);
});

test('fin: false sends fragments that arrive as one message', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const got = messages(client, 2);
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    ws.send(Buffer.from([1]), { fin: false });
    ws.send(Buffer.from([2]));
    return got;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [['fragmented', false], ['0102', true]]);
});

test('send callbacks run after the write; after close they get an error', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const order = [];
    await new Promise((resolve) => ws.send('a', (err) => (order.push(['a', err ?? null]), resolve())));
    await new Promise((resolve) => ws.send('b', {}, (err) => (order.push(['b', err ?? null]), resolve())));
    // Large enough to be written at once rather than queued (wsrs's direct path).
    const big = Buffer.alloc(64 * 1024, 7);
    await new Promise((resolve) => ws.send(big, (err) => (order.push(['big', err ?? null]), resolve())));
    const closed = once(client, 'close');
    ws.close();
    const afterClose = await new Promise((resolve) => ws.send('late', (err) => resolve(err)));
    order.push([afterClose.message, ws.bufferedAmount]);
    await closed;
    return order;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[2], ['big', null]);
  t.deepEqual(r.wsrs[3], ['WebSocket is not open: readyState 2 (CLOSING)', 4]);
});

test('send, ping and close on a CONNECTING socket throw like ws', async (t) => {
  const { WebSocket } = impls.wsrs;
  const s = new WebSocket(null);
  t.is(s.readyState, WebSocket.CONNECTING);
  t.throws(() => s.send('x'), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
  t.throws(() => s.ping(), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
});

test('ping and pong: events on both sides, automatic pong', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const out = [];
    const pong = once(ws, 'pong');
    client.on('ping', (d) => out.push(['client got ping', d.toString()]));
    ws.ping('hb');
    out.push(['server got pong', (await pong)[0].toString()]);
    const ping = once(ws, 'ping');
    const clientPong = once(client, 'pong');
    client.ping('yo');
    out.push(['server got ping', (await ping)[0].toString()]);
    out.push(['client got pong', (await clientPong)[0].toString()]);
    t.throws(() => ws.ping(Buffer.alloc(126)), { instanceOf: RangeError });
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.is(r.wsrs.length, 4);
});

test('autoPong: false leaves pongs to the application', async (t) => {
  for (const Impl of Object.values(impls)) {
    const { wss, client, ws } = await pair(Impl, { autoPong: false });
    let pongs = 0;
    client.on('pong', () => pongs++);
    const ping = once(ws, 'ping');
    client.ping('x');
    await ping;
    // No pong may come: only a window can show that none does.
    await quietWindow(100);
    t.is(pongs, 0);
    ws.pong('manual');
    await once(client, 'pong');
    await closeServer(wss);
  }
});

test('binaryType: arraybuffer, fragments and blob for binary; text stays a Buffer', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const out = [];
    for (const type of ['arraybuffer', 'fragments', 'blob', 'bogus']) {
      ws.binaryType = type;
      const got = new Promise((resolve) => ws.once('message', (d, b) => resolve([d, b])));
      client.send(Buffer.from([7, 8]));
      const [d] = await got;
      const kind = d instanceof ArrayBuffer ? 'ArrayBuffer' : Array.isArray(d) ? 'Array' : d.constructor.name;
      out.push([ws.binaryType, kind, typeof Blob !== 'undefined' && d instanceof Blob ? (await d.arrayBuffer()).byteLength : null]);
      const text = new Promise((resolve) => ws.once('message', (d2) => resolve(Buffer.isBuffer(d2))));
      client.send('t');
      out.push(await text);
    }
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[0], ['arraybuffer', 'ArrayBuffer', null]);
});

test('readyState, protocol, extensions, constants on class and instance', async (t) => {
  const r = await eachImpl(async ({ ws, client }, Impl) => {
    const out = [ws.readyState, ws.protocol, ws.extensions, ws.OPEN, Impl.OPEN, Impl.WebSocket.CLOSED, ws.isPaused, ws.bufferedAmount];
    const closed = once(ws, 'close');
    client.close(1001, 'going');
    const [code, reason] = await closed;
    out.push(ws.readyState, code, Buffer.isBuffer(reason), reason.toString());
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [1, '', '', 1, 1, 3, false, 0, 3, 1001, true, 'going']);
});

test('terminate closes at once with 1006', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const c = once(client, 'close');
    const s = once(ws, 'close');
    ws.terminate();
    const state = ws.readyState;
    return [state, (await s)[0], (await c)[0]];
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [2, 1006, 1006]);
});

test('pause stops message delivery until resume', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const got = [];
    ws.on('message', (m) => got.push(m.toString()));
    ws.pause();
    const paused = ws.isPaused;
    client.send('one');
    client.send('two');
    // No message may be delivered while paused: only a window can show that.
    await quietWindow(100);
    const whilePaused = got.length;
    ws.resume();
    await eventually(() => got.length >= 2, { message: () => `got ${JSON.stringify(got)} after resume()` });
    return [paused, whilePaused, got, ws.isPaused];
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [true, 0, ['one', 'two'], false]);
});

test('EventTarget interface: addEventListener and on* attributes', async (t) => {
  const r = await eachImpl(async ({ ws, client }) => {
    const out = [];
    const handler = (e) => out.push(['listener', e.type, e.data, e.target === ws]);
    ws.addEventListener('message', handler);
    ws.addEventListener('message', handler); // duplicates are ignored
    ws.onmessage = (e) => out.push(['onmessage', e.data]);
    out.push(typeof ws.onmessage, ws.onclose);
    const got = new Promise((resolve) => ws.once('message', () => setImmediate(resolve)));
    client.send('hi');
    await got;
    ws.removeEventListener('message', handler);
    ws.onmessage = null;
    const done = new Promise((resolve) => (ws.onclose = (e) => resolve([e.code, e.reason, e.wasClean])));
    client.close(4001, 'bye');
    out.push(await done);
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[2], ['listener', 'message', 'hi', true]);
  t.deepEqual(r.wsrs[4], [4001, 'bye', true]);
});

test('bufferedAmount grows when the peer stops reading and drains', async (t) => {
  const { wss, client, ws } = await pair(impls.wsrs);
  client.pause();
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 200; i++) ws.send(chunk);
  // What can go out goes (12.5 MiB, more than the socket buffers hold); the
  // rest must NOT drain while the peer does not read: only a window shows that.
  await quietWindow(200);
  t.true(ws.bufferedAmount > 0);
  const written = new Promise((resolve) => ws.send('end', resolve));
  client.resume();
  const err = await written;
  t.is(err ?? null, null);
  t.is(ws.bufferedAmount, 0);
  await closeServer(wss);
});

test('the WebSocket option instantiates a subclass', async (t) => {
  class Mine extends impls.wsrs.WebSocket {
    hello() {
      return 'mine';
    }
  }
  const { wss, ws } = await pair(impls.wsrs, { WebSocket: Mine });
  t.true(ws instanceof Mine);
  t.is(ws.hello(), 'mine');
  await closeServer(wss);
});

test('createWebSocketStream gives a Duplex', async (t) => {
  const { wss, client, ws } = await pair(impls.wsrs);
  const duplex = impls.wsrs.createWebSocketStream(ws);
  duplex.pipe(duplex); // echo
  const got = messages(client, 1);
  client.send('through a stream');
  t.deepEqual(await got, [[Buffer.from('through a stream').toString('hex'), true]]);
  await closeServer(wss);
});

test('large messages (handed over without a copy) keep their order among small ones', async (t) => {
  const { wss, client, ws } = await pair(impls.wsrs);
  ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
  const big = Buffer.alloc(200 * 1024, 7);
  big[123456] = 42;
  const text = 'é'.repeat(40 * 1024);
  const sent = [['a', false], [big, true], ['b', false], [text, false], [Buffer.alloc(64 * 1024, 1), true], ['c', false]];
  const got = new Promise((resolve) => {
    const out = [];
    client.on('message', (m, isBinary) => {
      out.push([isBinary ? Buffer.from(m) : m.toString(), isBinary]);
      if (out.length === sent.length) resolve(out);
    });
  });
  for (const [m, binary] of sent) client.send(m, { binary });
  const out = await got;
  t.deepEqual(out.map(([m, b]) => [b ? m.length : m.length, b]), sent.map(([m, b]) => [m.length, b]));
  t.true(out[1][0].equals(big));
  t.is(out[3][0], text);
  t.deepEqual([out[0][0], out[2][0], out[5][0]], ['a', 'b', 'c']);
  await closeServer(wss);
});

test('native publish and broadcast reach the right sockets, framed once', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  // One at a time, so that server[i] is the server side of clients[i].
  const server = [];
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const conn = once(wss, 'connection');
    clients.push(await connect(url));
    server.push((await conn)[0]);
  }
  t.true(server[0].subscribe('news'));
  t.false(server[0].subscribe('news'));
  t.true(server[1].subscribe('news'));
  t.true(server[2].subscribe('other'));
  t.deepEqual(server[0].getTopics(), ['news']);
  t.true(server[1].isSubscribed('news'));
  t.throws(() => server[0].subscribe(42), { instanceOf: TypeError });

  const got = clients.map((c) => messages(c, 1));
  t.is(wss.publish('news', 'hello news'), 2);
  t.is(wss.publish('other', Buffer.from([1, 2])), 1);
  t.is(wss.publish('nobody', 'x'), 0);
  t.deepEqual(await got[0], [['hello news', false]]);
  t.deepEqual(await got[1], [['hello news', false]]);
  t.deepEqual(await got[2], [['0102', true]]);

  const all = clients.map((c) => messages(c, 1));
  t.is(wss.broadcast('to all but one', { except: server[1] }), 2);
  t.is(wss.broadcast('text as binary', { binary: true }), 3);
  t.deepEqual(await all[0], [['to all but one', false]]);
  t.deepEqual(await all[1], [[Buffer.from('text as binary').toString('hex'), true]]);

  t.true(server[0].unsubscribe('news'));
  const closed = once(server[1], 'close');
  clients[1].close();
  await closed;
  t.is(wss.publish('news', 'after'), 0, 'unsubscribed and closed sockets are gone from the topic');
  t.deepEqual(server[1].getTopics(), []);
  await closeServer(wss);
});

// A fan-out to more connections than one flush writes (128) is written in
// slices, with the event loop reading in between: messages read meanwhile
// queue behind what the remaining recipients have. Differential with ws:
// every client gets every message, in order, and every send callback runs.
test('a fan-out larger than one flush slice reaches everyone in order while the sender keeps talking', async (t) => {
  const N = 300;
  const M = 40;
  const r = await eachImpl(async ({ wss, url, client: talker }) => {
    const others = [];
    for (let i = 0; i < N - 1; i++) others.push(connect(url));
    const clients = [talker, ...(await Promise.all(others))];
    await eventually(() => wss.clients.size >= N, { message: () => `${wss.clients.size} of ${N} clients` });
    let callbacks = 0;
    let errors = 0;
    const sent = new Promise((resolve) => {
      let read = 0;
      for (const ws of wss.clients) {
        ws.on('message', (buf) => {
          const data = buf.toString();
          read++;
          // Half the messages through clients.forEach (with callbacks), half
          // through the native broadcast when there is one.
          if (read % 2 === 0 && typeof wss.broadcast === 'function') wss.broadcast(data);
          else {
            for (const c of wss.clients) {
              c.send(data, (err) => {
                if (err) errors++;
                if (++callbacks === (M / 2) * N && typeof wss.broadcast === 'function') resolve();
                if (callbacks === M * N) resolve();
              });
            }
          }
        });
      }
    });
    const got = clients.map((c) => messages(c, M));
    // The talker sends its messages as fast as it can, so later ones are read
    // while earlier ones are still being written to the others.
    for (let i = 0; i < M; i++) talker.send(`m${i}`);
    const all = await Promise.all(got);
    await sent;
    const expected = Array.from({ length: M }, (_, i) => [`m${i}`, false]);
    const inOrder = all.filter((g) => JSON.stringify(g) === JSON.stringify(expected)).length;
    for (const c of clients) c.terminate();
    return { inOrder, errors };
  });
  t.deepEqual(r.wsrs, { inOrder: N, errors: 0 });
  t.deepEqual(r.wsrs, r.ws);
});
