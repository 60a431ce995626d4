'use strict';

// Sending a Blob, differential against ws (8.18+): its bytes go out as a
// binary message (text with `binary: false`) and, although reading a Blob is
// asynchronous, what is sent after it waits behind it: messages, pings,
// pongs and the close frame keep their order, and so do the send callbacks.
// Each scenario runs with the sender being ws and wsrs, as a client (against
// ws's server) and as a server (against ws's client); a ws peer observes.

const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');
const test = require('ava');
const ws = require('ws');
const { closeServer, eventually, impls, listen, once } = require('./helpers');

/**
 * A connection whose one end (`sender`) is `Impl`'s and the other (`peer`)
 * ws's: `role` 'client' is Impl's client to ws's server, 'server' Impl's
 * server-side socket with ws's client.
 */
async function pair(Impl, role) {
  const { wss, url } = await listen(role === 'server' ? Impl : ws);
  const conn = once(wss, 'connection');
  const client = new (role === 'server' ? ws : Impl).WebSocket(url);
  await once(client, 'open');
  const [socket] = await conn;
  return role === 'server' ? { wss, sender: socket, peer: client } : { wss, sender: client, peer: socket };
}

/** Runs `scenario({ sender, peer })` for each role and implementation; asserts wsrs's transcript is ws's. */
async function differential(t, scenario) {
  const out = {};
  for (const role of ['client', 'server']) {
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      const p = await pair(Impl, role);
      try {
        r[name] = await scenario(p);
      } finally {
        await closeServer(p.wss);
      }
    }
    t.deepEqual(r.wsrs, r.ws, `wsrs as the ${role}`);
    out[role] = r.ws;
  }
  return out;
}

/** Collects `n` messages as [text or hex or { length, sha256 }, isBinary]. */
function received(socket, n) {
  return new Promise((resolve) => {
    const got = [];
    const on = (data, isBinary) => {
      const buf = Buffer.from(data);
      const shown =
        buf.length > 256
          ? { length: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') }
          : isBinary
            ? buf.toString('hex')
            : buf.toString();
      got.push([shown, isBinary]);
      if (got.length === n) {
        socket.off('message', on);
        resolve(got);
      }
    };
    socket.on('message', on);
  });
}

/** A send callback that records (name, error message or null) in `log`. */
function recorder(log) {
  return (name) => (err) => log.push([name, err ? err.message : null]);
}

/**
 * An object ws (and wsrs) take for a Blob, whose bytes come when `release()`
 * is called, or never (`fail(err)` rejects the read): a Blob being read for
 * as long as a test needs.
 */
function slowBlob(bytes) {
  let release;
  let fail;
  const read = new Promise((resolve, reject) => {
    release = () => resolve(new Uint8Array(bytes).buffer);
    fail = reject;
  });
  const blob = {
    [Symbol.toStringTag]: 'Blob',
    type: '',
    size: bytes.length,
    stream() {},
    arrayBuffer: () => read
  };
  return { blob, release, fail };
}

/** Records the peer's messages, pings and close until it closes. */
function peerLog(peer) {
  const log = [];
  peer.on('message', (data, isBinary) => {
    log.push(['message', isBinary ? Buffer.from(data).toString('hex') : data.toString()]);
  });
  peer.on('ping', (data) => log.push(['ping', data.toString()]));
  const closed = once(peer, 'close').then(([code, reason]) => {
    log.push(['close', code, reason.toString()]);
    return log;
  });
  return { log, closed };
}

test('text, Blob, text, Blob with binary: false, Buffer: received in order and kind, callbacks in order', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const got = received(peer, 5);
    const calls = [];
    const cb = recorder(calls);
    sender.send('first', cb('first'));
    sender.send(new Blob([Buffer.from([1, 2, 3])]), cb('blob'));
    sender.send('second', cb('second'));
    sender.send(new Blob(['blob as text']), { binary: false }, cb('text blob'));
    sender.send(Buffer.from([4, 5]), cb('buffer'));
    const messages = await got;
    await eventually(() => calls.length === 5, { message: () => JSON.stringify(calls) });
    return { messages, calls };
  });
  t.deepEqual(r.client.messages, [
    ['first', false],
    ['010203', true],
    ['second', false],
    ['blob as text', false],
    ['0405', true]
  ]);
  t.deepEqual(
    r.client.calls.map(([name]) => name),
    ['first', 'blob', 'second', 'text blob', 'buffer']
  );
});

test('bufferedAmount counts a pending Blob and what waits behind it, then drains', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const got = received(peer, 3);
    const before = sender.bufferedAmount;
    const amounts = [];
    sender.send(new Blob([Buffer.alloc(1000, 7)]));
    amounts.push(sender.bufferedAmount - before);
    sender.send('abc');
    amounts.push(sender.bufferedAmount - before);
    sender.ping('p');
    amounts.push(sender.bufferedAmount - before);
    sender.send(new Blob(['xy']));
    amounts.push(sender.bufferedAmount - before);
    const messages = await got;
    await eventually(() => sender.bufferedAmount === 0, { message: () => `bufferedAmount ${sender.bufferedAmount}` });
    return { amounts, messages };
  });
  t.deepEqual(r.client.amounts, [1000, 1003, 1004, 1006]);
});

test('a Blob followed by close(): the close frame comes after the Blob\'s message', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const { closed } = peerLog(peer);
    const calls = [];
    sender.send(new Blob(['last words']), recorder(calls)('blob'));
    sender.close(4000, 'done');
    const state = sender.readyState;
    sender.send('too late', recorder(calls)('too late'));
    const [code, reason] = await once(sender, 'close');
    await eventually(() => calls.length === 2);
    return { state, peer: await closed, sender: [code, reason.toString()], calls: calls.sort() };
  });
  t.deepEqual(r.client.peer, [
    ['message', '6c61737420776f726473'],
    ['close', 4000, 'done']
  ]);
});

test('an empty Blob, as binary and as text', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const got = received(peer, 3);
    sender.send(new Blob([]));
    sender.send(new Blob([]), { binary: false });
    sender.send('after');
    return got;
  });
  t.deepEqual(r.client, [
    ['', true],
    ['', false],
    ['after', false]
  ]);
});

test('a 1 MiB Blob, between two texts', async (t) => {
  const bytes = crypto.randomBytes(1024 * 1024);
  const r = await differential(t, async ({ sender, peer }) => {
    const got = received(peer, 3);
    const calls = [];
    const cb = recorder(calls);
    sender.send('before', cb('before'));
    sender.send(new Blob([bytes]), cb('blob'));
    sender.send('after', cb('after'));
    const messages = await got;
    await eventually(() => calls.length === 3);
    return { messages, calls };
  });
  t.deepEqual(r.client.messages[1], [
    { length: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') },
    true
  ]);
});

test('fragments: a Blob with fin: false, continued by later sends', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const got = received(peer, 2);
    sender.send(new Blob(['ab']), { fin: false });
    sender.send(Buffer.from('cd'), { fin: false });
    sender.send(new Blob(['ef']), { fin: true });
    sender.send(new Blob(['text']), { binary: false, fin: true });
    return got;
  });
  t.deepEqual(r.client, [
    ['616263646566', true],
    ['text', false]
  ]);
});

test('ping and pong with a Blob keep their place among the messages', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const log = [];
    peer.on('message', (data) => log.push(['message', data.toString()]));
    peer.on('ping', (data) => log.push(['ping', data.toString()]));
    peer.on('pong', (data) => log.push(['pong', data.toString()]));
    const calls = [];
    const cb = recorder(calls);
    sender.send(new Blob(['one']), { binary: false }, cb('one'));
    sender.ping(new Blob(['hb']), cb('ping'));
    sender.pong('po', cb('pong'));
    sender.send('two', cb('two'));
    t.throws(() => sender.ping(new Blob([Buffer.alloc(126)])), { instanceOf: RangeError });
    await eventually(() => log.length === 4 && calls.length === 4);
    return { log, calls };
  });
  t.deepEqual(r.client.log, [
    ['message', 'one'],
    ['ping', 'hb'],
    ['pong', 'po'],
    ['message', 'two']
  ]);
});

test('the peer\'s close while a Blob is being read: the answer follows the Blob', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const { blob, release } = slowBlob(Buffer.from('slow'));
    const { closed } = peerLog(peer);
    const calls = [];
    sender.send(blob, recorder(calls)('blob'));
    peer.close(4001, 'bye');
    await eventually(() => sender.readyState === sender.CLOSING);
    const before = sender.readyState;
    release();
    const [code, reason] = await once(sender, 'close');
    await eventually(() => calls.length === 1);
    return { before, peer: await closed, sender: [code, reason.toString()], calls };
  });
  t.deepEqual(r.client.peer, [
    ['message', '736c6f77'],
    ['close', 4001, 'bye']
  ]);
});

test('terminate() while a Blob is being read: its callbacks and those behind it get ws\'s error', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const { blob, release } = slowBlob(Buffer.from('never'));
    const { closed } = peerLog(peer);
    const calls = [];
    const cb = recorder(calls);
    sender.send(blob, cb('blob'));
    sender.send('behind', cb('behind'));
    sender.ping(cb('ping'));
    sender.terminate();
    sender.send('after', cb('after'));
    const [code] = await once(sender, 'close');
    release();
    await eventually(() => calls.length === 4, { message: () => JSON.stringify(calls) });
    return { peer: await closed, code, calls: calls.sort(), buffered: sender.bufferedAmount };
  });
  t.deepEqual(r.client.calls, [
    ['after', 'WebSocket is not open: readyState 2 (CLOSING)'],
    ['behind', 'The socket was closed while the blob was being read'],
    ['blob', 'The socket was closed while the blob was being read'],
    ['ping', 'The socket was closed while the blob was being read']
  ]);
});

test('a Blob that cannot be read: its callbacks get the error, then \'error\'; the peer sees 1006', async (t) => {
  const r = await differential(t, async ({ sender, peer }) => {
    const { blob, fail } = slowBlob(Buffer.from('bad'));
    const { closed } = peerLog(peer);
    const calls = [];
    const cb = recorder(calls);
    const errors = [];
    sender.on('error', (err) => errors.push([err.message, sender.readyState, calls.length]));
    sender.send('sent', cb('sent'));
    sender.send(blob, cb('blob'));
    sender.send('behind', cb('behind'));
    fail(new Error('cannot read it'));
    const [code] = await once(sender, 'close');
    await eventually(() => calls.length === 3);
    return { peer: await closed, code, calls, errors };
  });
  t.deepEqual(r.client.peer, [
    ['message', 'sent'],
    ['close', 1006, '']
  ]);
  t.deepEqual(r.client.errors, [['cannot read it', 2, 3]]);
});

test('over TLS (a socket Node keeps): a Blob among messages, then close()', async (t) => {
  const tls = {
    key: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'key.pem')),
    cert: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'cert.pem'))
  };
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const server = https.createServer(tls);
    const wss = new Impl.WebSocketServer({ server });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const conn = once(wss, 'connection');
    const peer = new ws.WebSocket(`wss://127.0.0.1:${server.address().port}`, { rejectUnauthorized: false });
    await once(peer, 'open');
    const [sender] = await conn;
    const { closed } = peerLog(peer);
    const calls = [];
    const cb = recorder(calls);
    sender.send('one', cb('one'));
    sender.send(new Blob([Buffer.alloc(70000, 1)]), cb('blob'));
    sender.send(new Blob(['two']), { binary: false }, cb('two'));
    sender.close(1000, 'end');
    const log = await closed;
    await eventually(() => calls.length === 3);
    r[name] = { log: log.map((e) => (e[0] === 'message' ? [e[0], e[1].length] : e)), calls };
    await new Promise((resolve) => server.close(resolve));
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.ws.log, [
    ['message', 3],
    ['message', 140000],
    ['message', 3],
    ['close', 1000, 'end']
  ]);
});
