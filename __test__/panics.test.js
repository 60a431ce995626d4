'use strict';

// A panic in Rust (a bug) never aborts Node and never breaks a connection's
// lock for ever: one in the read path terminates that connection; one in a
// send becomes an Error from `send` and terminates that connection; the
// other connections, and new ones, go on. A test-only hook
// (`armTestPanic`) makes the next read or send on this thread panic.

const test = require('ava');

const binding = require('../lib/addon');
const { closeServer, impls, listen, once } = require('./helpers');

const { WebSocket } = impls.ws;

async function echoServer() {
  const { wss, url } = await listen(impls.wsrs);
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return { wss, url };
}

async function roundTrip(c, text) {
  const got = once(c, 'message');
  c.send(text);
  const [data] = await got;
  return data.toString();
}

async function openClient(url) {
  const c = new WebSocket(url);
  await once(c, 'open');
  return c;
}

test('a panic while reading one connection terminates it; the others and new ones go on', async (t) => {
  const { wss, url } = await echoServer();
  const [a, b] = [await openClient(url), await openClient(url)];
  t.is(await roundTrip(b, 'before'), 'before');
  binding.armTestPanic('read');
  const closed = once(a, 'close');
  a.send('this read panics');
  const [code] = await closed;
  t.is(code, 1006);
  t.is(await roundTrip(b, 'after'), 'after');
  const c = await openClient(url);
  t.is(await roundTrip(c, 'new'), 'new');
  t.is(wss.clients.size, 2);
  for (const x of [b, c]) x.close();
  await Promise.all([once(b, 'close'), once(c, 'close')]);
  await closeServer(wss);
});

test('a panic inside a send is an Error from send(); that connection is terminated, the others go on', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  const thrown = [];
  const serverSide = [];
  wss.on('connection', (ws) => {
    serverSide.push(ws);
    ws.on('message', (data) => {
      if (data.toString() === 'panic now') {
        binding.armTestPanic('send');
        try {
          ws.send('never');
        } catch (err) {
          thrown.push(err);
        }
        return;
      }
      ws.send(data);
    });
  });
  const [a, b] = [await openClient(url), await openClient(url)];
  const closed = once(a, 'close');
  a.send('panic now');
  const [code] = await closed;
  t.is(code, 1006);
  t.is(thrown.length, 1);
  t.regex(thrown[0].message, /internal error in send; the connection is terminated \(wsrs: a panic on purpose/);
  // Its server-side WebSocket is closed too, as after terminate().
  await (serverSide[0].readyState === 3 ? Promise.resolve() : once(serverSide[0], 'close'));
  t.is(await roundTrip(b, 'still here'), 'still here');
  const c = await openClient(url);
  t.is(await roundTrip(c, 'new'), 'new');
  for (const x of [b, c]) x.close();
  await Promise.all([once(b, 'close'), once(c, 'close')]);
  await closeServer(wss);
});

test('armTestPanic takes only "read" or "send"', (t) => {
  t.throws(() => binding.armTestPanic('write'), { message: /'read' or 'send'/ });
});
