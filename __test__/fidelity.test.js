'use strict';

// ws fidelity, differential: the handshake answer is on the wire before
// 'connection' runs; close()/send() in 'open' on a bridged (TLS) client;
// the pre-framed send path's errors (engine.io's sendFrame, through
// socket.io); `ws._socket`.

const test = require('ava');
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');

const { closeServer, eventually, impls, listen, once } = require('./helpers');

const TLS = {
  key: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'key.pem')),
  cert: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'cert.pem'))
};

/**
 * A server of `Impl` in `mode`: 'port' (its own listener), 'server' (on a
 * Node http server: the socket is taken over) or 'tls' (an https server: the
 * socket stays in Node, the bridged path).
 */
async function serve(Impl, mode) {
  if (mode === 'port') {
    const { wss, port } = await listen(Impl);
    return { wss, url: `ws://127.0.0.1:${port}`, stop: () => closeServer(wss) };
  }
  const server = mode === 'tls' ? https.createServer(TLS) : http.createServer();
  const wss = new Impl.WebSocketServer({ server });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = mode === 'tls' ? 'wss' : 'ws';
  return {
    wss,
    url: `${scheme}://127.0.0.1:${server.address().port}`,
    stop: async () => {
      await closeServer(wss);
      await new Promise((resolve) => server.close(resolve));
    }
  };
}

/** A ws client's events until its 'close' (or 'error' with no close). */
function clientEvents(url) {
  return new Promise((resolve) => {
    const events = [];
    const c = new impls.ws.WebSocket(url, { rejectUnauthorized: false });
    c.on('open', () => events.push('open'));
    c.on('message', (m) => events.push(`message:${m}`));
    c.on('error', (e) => events.push(`error:${e.code || e.message}`));
    c.on('close', (code) => {
      events.push(`close:${code}`);
      resolve(events);
    });
  });
}

for (const mode of ['port', 'server', 'tls']) {
  test(`${mode}: terminate() in 'connection' after a send: the client sees open, the message, then 1006 (as ws)`, async (t) => {
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      const s = await serve(Impl, mode);
      s.wss.on('connection', (ws) => {
        ws.send('hello');
        ws.terminate();
      });
      r[name] = await clientEvents(s.url);
      await s.stop();
    }
    t.deepEqual(r.wsrs, r.ws);
    // Over TLS, ws's own write is still in Node's TLS layer when the socket
    // is destroyed: the message is lost there too.
    t.deepEqual(r.wsrs, mode === 'tls' ? ['open', 'close:1006'] : ['open', 'message:hello', 'close:1006']);
  });

  test(`${mode}: bufferedAmount in 'connection' counts only frames (close after ping, pong, send)`, async (t) => {
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      const s = await serve(Impl, mode);
      const seen = new Promise((resolve) =>
        s.wss.on('connection', (ws) => {
          const out = [ws.bufferedAmount];
          ws.ping();
          ws.pong();
          ws.send('x');
          ws.close(1000, 'bye');
          out.push(ws.readyState);
          resolve(out);
        })
      );
      const events = clientEvents(s.url);
      r[name] = [await seen, await events];
      await s.stop();
    }
    t.deepEqual(r.wsrs, r.ws);
    // Over TLS, ws counts the 101 answer still in the TLS socket (129 bytes).
    if (mode !== 'tls') t.deepEqual(r.wsrs[0][0], 0);
  });
}

test('a wss:// client that sends and closes in open: the server gets both, the close completes (as ws)', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    // The server is ws's, the client is Impl's: the client takes the bridged path.
    const s = await serve(impls.ws, 'tls');
    const got = new Promise((resolve) =>
      s.wss.on('connection', (ws) => {
        const seen = [];
        ws.on('message', (m) => seen.push(`message:${m}`));
        ws.on('close', (code, reason) => resolve([...seen, `close:${code}:${reason}`]));
      })
    );
    const c = new Impl.WebSocket(s.url, { rejectUnauthorized: false });
    c.on('open', () => {
      c.send('first');
      c.close(4000, 'done');
    });
    const [code] = await once(c, 'close');
    r[name] = [await got, code, c.readyState];
    await s.stop();
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[0], ['message:first', 'close:4000:done']);
});

test('ws._socket: addresses, chaining setters applied to the socket, byte counts, pause, close before the WebSocket, absent members', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const s = await serve(Impl, 'port');
    const out = {};
    const done = new Promise((resolve) =>
      s.wss.on('connection', (ws, req) => {
        const sock = ws._socket;
        out.addresses = ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'].map(
          (k) => sock[k] === req.socket[k]
        );
        out.chain = [sock.setNoDelay(true) === sock, sock.setKeepAlive(true, 1000) === sock, sock.setTimeout(0) === sock];
        out.types = ['bytesRead', 'bytesWritten'].map((k) => typeof sock[k]);
        const order = [];
        sock.on('close', () => order.push('socket close'));
        ws.on('close', () => {
          order.push('ws close');
          out.order = order;
          resolve();
        });
        ws.on('message', (m) => {
          if (String(m) === 'one') {
            out.readAfterOne = sock.bytesRead > 0;
            ws.send('echo');
          }
        });
      })
    );
    const c = new impls.ws.WebSocket(s.url);
    await once(c, 'open');
    c.send('one');
    await once(c, 'message');
    c.close();
    await done;
    r[name] = out;
    await s.stop();
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs.order, ['ws close', 'socket close']);
  t.true(r.wsrs.readAfterOne);
});

// Where Node keeps the sockets (Windows), ws._socket is Node's own socket.
(require('../lib/takeover').NODE_SOCKETS ? test.skip : test)('ws._socket where Rust owns it: setKeepAlive and setNoDelay reach the real socket; setTimeout emits timeout when idle; destroy terminates', async (t) => {
  const native = require('../lib/native');
  const { wss, url } = await listen(impls.wsrs);
  const conn = once(wss, 'connection');
  const c = new impls.ws.WebSocket(url);
  await once(c, 'open');
  const [ws] = await conn;
  const sock = ws._socket;
  t.is(sock.write, undefined, 'a member it lacks is absent, not a no-op');
  sock.setKeepAlive(true, 2000).setNoDelay(false);
  t.like(native.binding.socketInfo(ws._slot), { keepAlive: true, noDelay: false });
  sock.setNoDelay();
  t.like(native.binding.socketInfo(ws._slot), { noDelay: true });
  const written = sock.bytesWritten;
  ws.send('abc');
  await once(c, 'message');
  t.is(sock.bytesWritten, written + 5, 'a 3-byte frame is 5 bytes on the wire');
  const got = once(ws, 'message');
  c.send('abcd');
  await got;
  t.is(sock.bytesRead, 10, 'a masked 4-byte frame is 10 bytes');
  sock.setTimeout(30);
  await once(sock, 'timeout');
  t.is(ws.readyState, ws.OPEN, 'the timeout does not close the connection (as net.Socket)');
  sock.setTimeout(0);
  sock.destroy();
  const [code] = await once(c, 'close');
  t.is(code, 1006);
  await eventually(() => sock.destroyed);
  t.true(sock.bytesRead > 0, 'the counts stay after the close');
  await closeServer(wss);
});

test('engine.io pre-framed sends (socket.io broadcast) to a slow reader: the buffer limit errors, closes and disconnects', async (t) => {
  const { Server } = require('socket.io');
  const ioClient = require('socket.io-client');
  const httpServer = http.createServer();
  // wsrs's server with a small send buffer, as engine.io constructs it.
  class Small extends impls.wsrs.WebSocketServer {
    constructor(options) {
      super({ ...options, maxBufferedAmount: 64 * 1024 });
    }
  }
  const io = new Server(httpServer, { wsEngine: Small, transports: ['websocket'] });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const serverSide = once(io, 'connection');
  const client = ioClient(`http://127.0.0.1:${httpServer.address().port}`, { transports: ['websocket'], reconnection: false });
  const [socket] = await serverSide;
  const ws = socket.conn.transport.socket;
  const errors = [];
  ws.on('error', (e) => errors.push(e.code));
  // The client stops reading.
  client.io.engine.transport.ws._socket.pause();
  const disconnected = once(socket, 'disconnect');
  const chunk = 'x'.repeat(16 * 1024);
  let sent = 0;
  while (ws.readyState === ws.OPEN && sent < 100000) {
    io.emit('data', chunk); // a broadcast: framed once, sent with _sender.sendFrame
    sent++;
    if (sent % 32 === 0) await new Promise(setImmediate); // let the event loop write
  }
  t.not(ws.readyState, ws.OPEN, `closed after ${sent} broadcasts`);
  t.true(sent < 100000);
  const [reason] = await disconnected;
  t.truthy(reason);
  t.deepEqual(errors, ['WSRS_ERR_BUFFER_FULL']);
  client.close();
  io.close();
});
