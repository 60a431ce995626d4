'use strict';

// WebSocketServer lifecycle and process-level behaviour: listening, address,
// errors, close semantics, clients, exit without dangling handles, exceptions
// in handlers, the module's shape (CJS, ESM, TypeScript), and the native
// heartbeat.

const test = require('ava');
const http = require('http');
const path = require('path');
const { execFile } = require('child_process');
const { closeServer, connect, impls, listen, messages, once, quietWindow, ROOT } = require('./helpers');

const fixture = (name) => path.join(__dirname, 'fixtures', name);

function run(file, impl, args = []) {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args, file], { env: { ...process.env, IMPL: impl }, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.killed ? 'timeout' : err.code) : 0, stdout: stdout.trim(), stderr });
    });
  });
}

test('constructor: exactly one of port/server/noServer', (t) => {
  for (const Impl of Object.values(impls)) {
    const msg = 'One and only one of the "port", "server", or "noServer" options must be specified';
    t.throws(() => new Impl.WebSocketServer({}), { instanceOf: TypeError, message: msg });
    t.throws(() => new Impl.WebSocketServer({ port: 0, noServer: true }), { instanceOf: TypeError, message: msg });
  }
  t.throws(() => new impls.wsrs.WebSocketServer({ port: 70000 }), { instanceOf: RangeError, code: 'ERR_SOCKET_BAD_PORT' });
});

test('listening: callback, event, address() of a dual-stack server', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const wss = new Impl.WebSocketServer({ port: 0 });
    const [cb, ev] = await Promise.all([
      new Promise((resolve) => wss.once('listening', () => resolve('event'))),
      new Promise((resolve) => {
        const w2 = new Impl.WebSocketServer({ port: 0 }, () => {
          resolve('callback');
          w2.close();
        });
      })
    ]);
    const a = wss.address();
    const conn = once(wss, 'connection');
    const c = await connect(`ws://127.0.0.1:${a.port}`);
    const [, req] = await conn;
    r[name] = [cb, ev, a.address, a.family, req.socket.remoteAddress, req.socket.remoteFamily, req.socket.localPort === a.port, typeof req.socket.remotePort];
    c.close();
    await closeServer(wss);
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, ['event', 'callback', '::', 'IPv6', '::ffff:127.0.0.1', 'IPv6', true, 'number']);
});

test('req is an http.IncomingMessage with method, url, headers and rawHeaders', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const { wss, url } = await listen(Impl);
    const conn = once(wss, 'connection');
    const c = await connect(`${url}/chat?room=1`, { headers: { 'X-Custom': 'a', Cookie: 'k=v' } });
    const [, req] = await conn;
    r[name] = [
      req.constructor.name,
      req.method,
      req.url,
      req.httpVersion,
      req.headers['x-custom'],
      req.headers.cookie,
      req.headers.upgrade,
      req.rawHeaders.includes('X-Custom'),
      req.connection === req.socket
    ];
    c.close();
    await closeServer(wss);
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs.slice(0, 3), ['IncomingMessage', 'GET', '/chat?room=1']);
});

test('EADDRINUSE arrives as an error event like ws', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const { wss, port } = await listen(Impl);
    const b = new Impl.WebSocketServer({ port, host: '127.0.0.1' });
    const [err] = await once(b, 'error');
    r[name] = [err.message.replace(String(port), 'PORT'), err.code, err.syscall, err.port === port, b.address()];
    await new Promise((resolve) => b.close(resolve));
    await closeServer(wss);
  }
  t.deepEqual(r.wsrs, r.ws);
  t.is(r.wsrs[1], 'EADDRINUSE');
});

test('a connect right after close() returns is refused, as with ws (the port is closed at once)', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const codes = [];
    for (let i = 0; i < 20; i++) {
      const { wss, port } = await listen(Impl);
      const closed = new Promise((resolve) => wss.close(resolve));
      const err = await new Promise((resolve) => {
        const c = new impls.ws.WebSocket(`ws://127.0.0.1:${port}`);
        c.on('error', resolve);
        c.on('open', () => resolve({ code: 'OPEN' }));
      });
      codes.push(err.code);
      await closed;
    }
    r[name] = [...new Set(codes)];
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, ['ECONNREFUSED']);
});

test('clients tracks open connections; close() keeps them open until they end', async (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries(impls)) {
    const { wss, url } = await listen(Impl);
    const accepted = [];
    const bothAccepted = new Promise((resolve) => wss.on('connection', (s) => accepted.push(s) === 2 && resolve()));
    const a = await connect(url);
    const b = await connect(url);
    await bothAccepted;
    const out = [wss.clients.size];
    let closed = false;
    const serverClosed = new Promise((resolve) => wss.close(() => resolve((closed = true))));
    // close() must NOT call back while connections are open: only a window
    // can show that it does not.
    await quietWindow(50);
    out.push(closed, wss.address());
    const got = messages(a, 1);
    for (const c of wss.clients) c.send('still open');
    out.push(await got);
    const ended = Promise.all(accepted.map((s) => once(s, 'close')));
    a.close();
    b.close();
    await serverClosed;
    await ended; // each leaves `clients` before its 'close' event
    out.push(wss.clients.size);
    const again = await new Promise((resolve) => wss.close((err) => resolve(err && err.message)));
    out.push(again);
    r[name] = out;
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [2, false, null, [['still open', false]], 0, 'The server is not running']);
});

/** A server of `Impl` in `mode` ('port', 'server', 'noServer'); resolves with it, its URL and a stop(). */
async function serverIn(Impl, mode) {
  if (mode === 'port') {
    const { wss, url } = await listen(Impl);
    return { wss, url, stop: () => {} };
  }
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let wss;
  if (mode === 'server') {
    wss = new Impl.WebSocketServer({ server });
  } else {
    wss = new Impl.WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
  }
  const url = `ws://127.0.0.1:${server.address().port}`;
  return { wss, url, stop: () => new Promise((resolve) => server.close(resolve)) };
}

for (const mode of ['port', 'server', 'noServer']) {
  test(`close(cb) in ${mode} mode: clients and their readyStates when the callback runs are ws's`, async (t) => {
    const r = {};
    for (const [name, Impl] of Object.entries(impls)) {
      const { wss, url, stop } = await serverIn(Impl, mode);
      const accepted = [];
      const allAccepted = new Promise((resolve) => wss.on('connection', (s) => accepted.push(s) === 3 && resolve()));
      const peers = [await connect(url), await connect(url), await connect(url)];
      await allAccepted;
      const snapshot = () => ({
        size: wss.clients.size,
        states: accepted.map((s) => s.readyState),
        tracked: accepted.map((s) => wss.clients.has(s))
      });
      let atCallback = null;
      const called = new Promise((resolve) => {
        wss.close((err) => {
          atCallback = { err: err ? err.message : null, ...snapshot() };
          resolve();
        });
      });
      const out = { afterClose: snapshot() };
      // The connections end one by one: from the peer's side (close, then
      // terminate) and from the server's (close); the callback waits for them.
      peers[0].close();
      await once(accepted[0], 'close');
      out.afterFirst = { called: atCallback !== null, ...snapshot() };
      accepted[1].close();
      await once(accepted[1], 'close');
      out.afterSecond = { called: atCallback !== null, ...snapshot() };
      const lastClosed = once(accepted[2], 'close');
      peers[2].terminate();
      await called;
      out.atCallback = atCallback;
      await lastClosed;
      out.afterLast = snapshot();
      await stop();
      r[name] = out;
    }
    t.deepEqual(r.wsrs, r.ws);
    // ws 8: close() stops accepting and leaves the open connections open.
    t.deepEqual(r.ws.afterClose, { size: 3, states: [1, 1, 1], tracked: [true, true, true] });
    t.deepEqual(r.ws.afterSecond, { called: false, size: 1, states: [3, 3, 1], tracked: [false, false, true] });
    // A `port` server (ws's own HTTP server) calls back once the last TCP
    // connection is gone, before that WebSocket's 'close' event; the others
    // once the last WebSocket has left `clients`.
    const last =
      mode === 'port'
        ? { size: 1, states: [3, 3, 2], tracked: [false, false, true] }
        : { size: 0, states: [3, 3, 3], tracked: [false, false, false] };
    t.deepEqual(r.ws.atCallback, { err: null, ...last });
  });
}

test('clientTracking: false leaves clients undefined', async (t) => {
  const { wss } = await listen(impls.wsrs, { clientTracking: false });
  t.is(wss.clients, undefined);
  await closeServer(wss);
});

test('a process exits on its own once the server and sockets are closed', async (t) => {
  for (const impl of ['ws', ROOT]) {
    const r = await run(fixture('exit-on-close.js'), impl);
    t.deepEqual([r.code, r.stdout], [0, 'got hi\nclosed'], impl);
  }
});

test('a throwing handler surfaces as uncaughtException and other connections go on', async (t) => {
  // ws leaves the connection whose handler threw wedged (its receiver never
  // resumes), so its server cannot close; compare up to that point.
  const ws = await run(fixture('throw-in-handler.js'), 'ws', ['--require', fixture('exit-after-b.js')]);
  const ours = await run(fixture('throw-in-handler.js'), ROOT);
  t.deepEqual(ws.stdout.split('\n'), ['uncaught handler failed', 'b got echo after']);
  t.is(ours.code, 0, ours.stderr);
  t.deepEqual(ours.stdout.split('\n'), ['uncaught handler failed', 'b got echo after', 'caught 1']);
});

test('without an uncaughtException handler a throwing handler crashes, as with ws', async (t) => {
  for (const impl of ['ws', ROOT]) {
    const r = await run(fixture('crash-in-handler.js'), impl);
    t.is(r.code, 1, impl);
    t.regex(r.stderr, /Error: handler failed/);
  }
});

test('ESM: named exports match ws and the default export has .Server', async (t) => {
  const r = await run(fixture('esm-default.mjs'), ROOT);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { server: true, wsServer: true, ws: true, stream: 'function', ns: true, open: 1 });
});

test('CommonJS shape: statics are own enumerable properties, as TypeScript\'s import * needs', (t) => {
  const ts = require('typescript');
  const wsrs = impls.wsrs;
  for (const k of ['Server', 'WebSocketServer', 'WebSocket', 'createWebSocketStream']) {
    t.true(Object.prototype.propertyIsEnumerable.call(wsrs, k), k);
  }
  t.is(wsrs.Server, wsrs.WebSocketServer);
  t.is(wsrs.CONNECTING + wsrs.OPEN + wsrs.CLOSING + wsrs.CLOSED, 6);
  const { outputText } = ts.transpileModule("import * as ws from 'wsrs'; export const S = ws.Server; export const O = ws.OPEN;", {
    compilerOptions: { module: ts.ModuleKind.CommonJS, esModuleInterop: true }
  });
  const mod = { exports: {} };
  new Function('require', 'module', 'exports', outputText)((id) => (id === 'wsrs' ? wsrs : require(id)), mod, mod.exports);
  t.is(mod.exports.S, wsrs.WebSocketServer);
  t.is(mod.exports.O, 1);
});

test('native heartbeat terminates peers that do not answer pings and keeps the others', async (t) => {
  // Periods with room for a loaded machine: the peer that answers must
  // never look silent.
  const { wss, url } = await listen(impls.wsrs, { heartbeat: { interval: 200, timeout: 600 } });
  const closes = [];
  wss.on('connection', (ws) => ws.on('close', (code) => closes.push(code)));
  const alive = await connect(url);
  const silent = await connect(url, { autoPong: false });
  let pings = 0;
  alive.on('ping', () => pings++);
  const [code] = await once(silent, 'close');
  t.is(code, 1006);
  // The peer that answers is pinged again, twice more, and kept.
  const seen = pings;
  await new Promise((resolve) => {
    const on = () => pings >= seen + 2 && (alive.off('ping', on), resolve());
    alive.on('ping', on);
  });
  t.is(alive.readyState, 1);
  t.deepEqual(closes, [1006]);
  t.is(wss.clients.size, 1);
  t.is(wss.heartbeatReaped, 1, 'the server counts what its heartbeat reaped');
  alive.close();
  await closeServer(wss);
});

test('a batch that mixes messages and the close of one connection delivers both in order', async (t) => {
  const { wss, port } = await listen(impls.wsrs);
  const { frame, rawWebSocket } = require('./helpers');
  const events = [];
  const done = new Promise((resolve) =>
    wss.on('connection', (ws) => {
      ws.on('message', (m) => {
        events.push(`message ${m}`);
        ws.send('reply during the batch');
      });
      ws.on('close', (code) => {
        events.push(`close ${code}`);
        resolve();
      });
    })
  );
  const sock = await rawWebSocket(port);
  sock.write(Buffer.concat([frame(1, 'a'), frame(1, 'b'), frame(8, Buffer.from([0x03, 0xe8]))]));
  await done;
  t.deepEqual(events, ['message a', 'message b', 'close 1000']);
  sock.destroy();
  await closeServer(wss);
});

test('many connections at once: each gets its own echo', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  wss.on('connection', (ws) => ws.on('message', (m, b) => ws.send(m, { binary: b })));
  const clients = await Promise.all(Array.from({ length: 200 }, () => connect(url)));
  const results = await Promise.all(
    clients.map((c, i) => {
      const got = messages(c, 2);
      c.send(`hello ${i}`);
      c.send(Buffer.from([i & 255]));
      return got;
    })
  );
  results.forEach((r, i) => t.deepEqual(r, [[`hello ${i}`, false], [(i & 255).toString(16).padStart(2, '0'), true]]));
  t.is(wss.clients.size, 200);
  await Promise.all(clients.map((c) => (c.close(), once(c, 'close'))));
  await closeServer(wss);
});

// ws._socket for a connection Rust accepted is made on first use: read for
// the first time only after the close, it still has the byte counts and
// the addresses, as a net.Socket's counts outlive it in ws.
for (const name of Object.keys(impls)) {
  test(`${name}: ws._socket first read in the 'close' handler still has its byte counts`, async (t) => {
    const { wss, url } = await listen(impls[name]);
    const seen = new Promise((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('message', (m) => ws.send(m));
        ws.on('close', () => resolve({ read: ws._socket.bytesRead, written: ws._socket.bytesWritten }));
      });
    });
    const c = await connect(url);
    c.send('hello');
    await once(c, 'message');
    c.close();
    const s = await seen;
    t.true(s.read > 0, `bytesRead ${s.read}`);
    t.true(s.written > 0, `bytesWritten ${s.written}`);
    await closeServer(wss);
  });
}
