'use strict';

// createWebSocketStream against ws's: the same scenario on each
// implementation (its server and its client), recording the duplex's events
// in order (data, end, finish, close, error), must give the same list.
// A scenario wraps either the server's socket or the client ('side').

const test = require('ava');
const helpers = require('./helpers');

const { closeOf, closeServer, eventually, impls, listen, once, parseFrames, rawWebSocket, until } = helpers;

/** Records the duplex's events in `log`; resolves `closed` on its 'close'. */
function record(duplex, log, { data = true } = {}) {
  if (data) duplex.on('data', (chunk) => log.push(`data:${chunk}`));
  for (const event of ['end', 'finish', 'close']) duplex.on(event, () => log.push(event));
  duplex.on('error', (err) => log.push(`error:${err.message}`));
}

/** Waits for the duplex's 'close' (reporting the events so far if it does not come). */
function closed(duplex, log) {
  return eventually(() => log.includes('close'), { message: () => `no 'close': ${log.join(', ')}` });
}

/** A server and a client of `Impl`, both open; `mine` is the side the stream wraps, `peer` the other. */
async function pair(Impl, side) {
  const { wss, url } = await listen(Impl);
  const accepted = once(wss, 'connection');
  const client = new Impl.WebSocket(url);
  await once(client, 'open');
  const [server] = await accepted;
  return side === 'server' ? { wss, mine: server, peer: client } : { wss, mine: client, peer: server };
}

const scenarios = {
  // The peer sends, the duplex echoes, then end().
  async 'echo, then end()'(Impl, side) {
    const { wss, mine, peer } = await pair(Impl, side);
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8' });
    record(duplex, log);
    duplex.once('data', (chunk) => duplex.write(chunk));
    const echoed = once(peer, 'message');
    peer.send('hello');
    log.push(`peer got:${(await echoed)[0]}`);
    duplex.end();
    await closed(duplex, log);
    log.push(`readyState:${mine.readyState}`);
    await closeServer(wss);
    return log;
  },

  // write() and end() before the client's handshake is done.
  async 'end() while CONNECTING'(Impl) {
    const { wss, url } = await listen(Impl);
    const got = new Promise((resolve) => wss.once('connection', (s) => s.once('message', (m) => resolve(`${m}`))));
    const log = [];
    const duplex = Impl.createWebSocketStream(new Impl.WebSocket(url), { encoding: 'utf8' });
    record(duplex, log);
    duplex.write('early');
    duplex.end();
    await closed(duplex, log);
    log.push(`server got:${await got}`);
    await closeServer(wss);
    return log;
  },

  // end() while CONNECTING, and the handshake fails (401).
  async 'end() while CONNECTING, then the handshake fails'(Impl) {
    const { wss, url } = await listen(Impl, { verifyClient: () => false });
    const log = [];
    const ws = new Impl.WebSocket(url);
    const duplex = Impl.createWebSocketStream(ws, { encoding: 'utf8' });
    record(duplex, log);
    duplex.write('early');
    duplex.end();
    await closed(duplex, log);
    log.push(`readyState:${ws.readyState}`);
    await closeServer(wss);
    return log;
  },

  async 'destroy()'(Impl, side) {
    const { wss, mine, peer } = await pair(Impl, side);
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8' });
    record(duplex, log);
    const peerClosed = once(peer, 'close');
    duplex.destroy();
    await closed(duplex, log);
    log.push(`peer close:${(await peerClosed)[0]}`);
    await closeServer(wss);
    return log;
  },

  async 'destroy(err)'(Impl, side) {
    const { wss, mine } = await pair(Impl, side);
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8' });
    record(duplex, log);
    duplex.destroy(new Error('boom'));
    await closed(duplex, log);
    await closeServer(wss);
    return log;
  },

  // The peer sends and closes; the duplex ends its side on 'end' (as a pipe does).
  async 'the peer closes'(Impl, side) {
    const { wss, mine, peer } = await pair(Impl, side);
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8' });
    record(duplex, log);
    duplex.on('end', () => duplex.end());
    peer.send('bye');
    peer.close(1000);
    await closed(duplex, log);
    await closeServer(wss);
    return log;
  },

  // A reader that does not read: the duplex pauses the WebSocket; end()
  // then, and the close handshake waits for the reader.
  async 'a paused reader (backpressure), then end()'(Impl, side) {
    const { wss, mine, peer } = await pair(Impl, side);
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8', readableHighWaterMark: 4 });
    record(duplex, log, { data: false });
    for (let i = 0; i < 5; i++) peer.send(`m${i}-----`);
    await eventually(() => mine.isPaused);
    log.push('paused');
    duplex.end();
    // Our close frame reached the peer (which answered it).
    await eventually(() => peer.readyState >= peer.CLOSING);
    duplex.on('data', (chunk) => log.push(`data:${chunk}`));
    await closed(duplex, log);
    await closeServer(wss);
    return log;
  },

  // end(), and the peer (a raw TCP socket) reads our close frame and ends
  // the TCP connection without answering it.
  async 'end(), then the peer ends TCP'(Impl) {
    const { wss, port } = await listen(Impl);
    const accepted = once(wss, 'connection');
    const sock = await rawWebSocket(port);
    const [mine] = await accepted;
    const log = [];
    const duplex = Impl.createWebSocketStream(mine, { encoding: 'utf8' });
    record(duplex, log);
    duplex.end();
    await until(sock, (b) => closeOf(parseFrames(b)) !== null);
    log.push('peer got the close frame');
    sock.end();
    await closed(duplex, log);
    await closeServer(wss);
    return log;
  }
};

// ws's order, which wsrs must reproduce: 'finish' (the WebSocket's TCP
// socket ended) before 'end' (EOF once it closed), and 'close' last.
const expected = {
  'echo, then end()': ['data:hello', 'peer got:hello', 'finish', 'end', 'close', 'readyState:3'],
  'end() while CONNECTING': ['finish', 'end', 'close', 'server got:early'],
  'end() while CONNECTING, then the handshake fails': [
    'error:Unexpected server response: 401',
    'close',
    'readyState:3'
  ],
  'destroy()': ['close', 'peer close:1006'],
  'destroy(err)': ['error:boom', 'close'],
  'the peer closes': ['data:bye', 'end', 'finish', 'close'],
  'a paused reader (backpressure), then end()': [
    'paused',
    ...[0, 1, 2, 3, 4].map((i) => `data:m${i}-----`),
    'finish',
    'end',
    'close'
  ],
  'end(), then the peer ends TCP': ['peer got the close frame', 'finish', 'end', 'close']
};

const clientOnly = new Set(['end() while CONNECTING', 'end() while CONNECTING, then the handshake fails']);
const serverOnly = new Set(['end(), then the peer ends TCP']);

for (const [name, scenario] of Object.entries(scenarios)) {
  for (const side of ['server', 'client']) {
    if ((clientOnly.has(name) && side !== 'client') || (serverOnly.has(name) && side !== 'server')) continue;
    test(`createWebSocketStream, ${side} side: ${name}: the duplex's events are ws's`, async (t) => {
      const r = {};
      for (const [implName, Impl] of Object.entries(impls)) r[implName] = await scenario(Impl, side);
      t.deepEqual(r.wsrs, r.ws);
      t.deepEqual(r.ws, expected[name]);
    });
  }
}
