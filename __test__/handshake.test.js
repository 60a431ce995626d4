'use strict';

// The opening handshake, differential: the same raw request against ws and
// against wsrs must get the same status line, headers that matter, and body.

const test = require('ava');
const http = require('http');
const { closeServer, frame, httpAnswer, impls, listen, raw, untilEnd, upgradeRequest, until, KEY } = require('./helpers');

async function answer(Impl, request, options = {}, setup) {
  const { wss, port } = await listen(Impl, options);
  if (setup) setup(wss);
  const sock = await raw(port);
  sock.write(request);
  let got = await until(sock, (b) => b.includes('\r\n\r\n'));
  if (!got.toString().startsWith('HTTP/1.1 101')) got = await untilEnd(sock);
  sock.destroy();
  await closeServer(wss);
  const a = httpAnswer(got);
  const pick = ['content-type', 'content-length', 'sec-websocket-version', 'sec-websocket-accept', 'sec-websocket-protocol', 'upgrade', 'x-extra'];
  const headers = {};
  for (const k of pick) if (a.headers[k] !== undefined) headers[k] = a.headers[k];
  return { status: a.status, headers, body: a.status.includes(' 101 ') ? '' : a.body };
}

async function both(t, request, options, setup) {
  const expected = await answer(impls.ws, request, options, setup);
  const actual = await answer(impls.wsrs, request, options, setup);
  t.deepEqual(actual, expected);
  return actual;
}

test('a valid upgrade gets 101 with the right accept key', async (t) => {
  const a = await both(t, upgradeRequest());
  t.is(a.status, 'HTTP/1.1 101 Switching Protocols');
  t.is(a.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  t.truthy(KEY);
});

test('a plain HTTP request gets 426 Upgrade Required', async (t) => {
  const a = await both(t, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.is(a.status, 'HTTP/1.1 426 Upgrade Required');
  t.is(a.body, 'Upgrade Required');
});

test('a missing key gets 400 with ws\'s message', async (t) => {
  const a = await both(t, upgradeRequest({ headers: { 'Sec-WebSocket-Key': undefined } }));
  t.is(a.status, 'HTTP/1.1 400 Bad Request');
  t.is(a.body, 'Missing or invalid Sec-WebSocket-Key header');
});

test('a malformed key gets 400', async (t) => {
  const a = await both(t, upgradeRequest({ headers: { 'Sec-WebSocket-Key': 'short' } }));
  t.is(a.status, 'HTTP/1.1 400 Bad Request');
});

test('a bad version gets 400 and the supported versions', async (t) => {
  const a = await both(t, upgradeRequest({ headers: { 'Sec-WebSocket-Version': '12' } }));
  t.is(a.status, 'HTTP/1.1 400 Bad Request');
  t.is(a.headers['sec-websocket-version'], '13, 8');
  t.is(a.body, 'Missing or invalid Sec-WebSocket-Version header');
});

test('a non-GET upgrade gets 405', async (t) => {
  const a = await both(t, upgradeRequest({ method: 'POST' }));
  t.is(a.status, 'HTTP/1.1 405 Method Not Allowed');
  t.is(a.body, 'Invalid HTTP method');
});

test('an Upgrade header that is not websocket gets 400', async (t) => {
  const a = await both(t, upgradeRequest({ headers: { Upgrade: 'h2c' } }));
  t.is(a.body, 'Invalid Upgrade header');
});

test('a path mismatch gets 400 Bad Request', async (t) => {
  const a = await both(t, upgradeRequest({ path: '/other?x=1' }), { path: '/chat' });
  t.is(a.status, 'HTTP/1.1 400 Bad Request');
  const ok = await both(t, upgradeRequest({ path: '/chat?x=1' }), { path: '/chat' });
  t.is(ok.status, 'HTTP/1.1 101 Switching Protocols');
});

test('verifyClient (sync) returning false gets 401', async (t) => {
  const a = await both(t, upgradeRequest(), { verifyClient: () => false });
  t.is(a.status, 'HTTP/1.1 401 Unauthorized');
});

test('verifyClient (async) can refuse with its own code, message and headers', async (t) => {
  const verifyClient = (info, cb) => setTimeout(() => cb(info.origin === 'https://ok', 403, 'Go away', { 'X-Extra': 'yes' }), 5);
  const a = await both(t, upgradeRequest({ headers: { Origin: 'https://evil' } }), { verifyClient });
  t.is(a.status, 'HTTP/1.1 403 Forbidden');
  t.is(a.body, 'Go away');
  t.is(a.headers['x-extra'], 'yes');
  const ok = await both(t, upgradeRequest({ headers: { Origin: 'https://ok' } }), { verifyClient });
  t.is(ok.status, 'HTTP/1.1 101 Switching Protocols');
});

test('subprotocols: first offered by default, handleProtocols can choose or refuse', async (t) => {
  const req = upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } });
  const a = await both(t, req);
  t.is(a.headers['sec-websocket-protocol'], 'chat');
  const b = await both(t, req, { handleProtocols: (set) => (set.has('superchat') ? 'superchat' : false) });
  t.is(b.headers['sec-websocket-protocol'], 'superchat');
  const c = await both(t, req, { handleProtocols: () => false });
  t.is(c.headers['sec-websocket-protocol'], undefined);
  const bad = await both(t, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'a,,b' } }));
  t.is(bad.body, 'Invalid Sec-WebSocket-Protocol header');
});

test('the headers event can add response headers', async (t) => {
  const a = await both(t, upgradeRequest(), {}, (wss) => wss.on('headers', (h) => h.push('X-Extra: added')));
  t.is(a.headers['x-extra'], 'added');
});

test('bytes that are not HTTP get 400 and a close', async (t) => {
  const { wss, port } = await listen(impls.wsrs);
  const sock = await raw(port);
  sock.write('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n');
  const got = await untilEnd(sock);
  t.regex(got.toString(), /^HTTP\/1.1 400 Bad Request/);
  await closeServer(wss);
});

test('an oversized request head gets 431', async (t) => {
  const { wss, port } = await listen(impls.wsrs);
  const sock = await raw(port);
  sock.write(upgradeRequest({ headers: { 'X-Big': 'a'.repeat(20000) } }));
  const got = await untilEnd(sock);
  t.regex(got.toString(), /^HTTP\/1.1 431 Request Header Fields Too Large/);
  await closeServer(wss);
});

// Where Node listens (Windows, cluster workers), its server's headersTimeout
// is set to handshakeTimeout.
test('a slowloris that never finishes its request is dropped after handshakeTimeout', async (t) => {
  const { wss, port } = await listen(impls.wsrs, { handshakeTimeout: 300 });
  const sock = await raw(port);
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const start = Date.now();
  await untilEnd(sock, 5000);
  t.true(sock.destroyed || sock.readableEnded);
  t.true(Date.now() - start < 4000);
  await closeServer(wss);
});

test('wsClientError receives the error, the socket and the request', async (t) => {
  for (const Impl of [impls.ws, impls.wsrs]) {
    const { wss, port } = await listen(Impl);
    const seen = new Promise((resolve) =>
      wss.on('wsClientError', (err, socket, req) => {
        socket.end('HTTP/1.1 418 I\'m a Teapot\r\nConnection: close\r\n\r\n');
        resolve([err.message, req.method, typeof socket.remoteAddress]);
      })
    );
    const sock = await raw(port);
    sock.write(upgradeRequest({ method: 'PUT' }));
    t.deepEqual(await seen, ['Invalid HTTP method', 'PUT', 'string']);
    const got = await untilEnd(sock);
    t.regex(got.toString(), /^HTTP\/1.1 418/);
    await closeServer(wss);
  }
});

// Frames that arrive with the request itself (in the same write) are parsed
// once the connection opens, before anything read later: in port mode (Rust
// read them past the request head) and on an http.Server (Node had read
// them; they are handed over with the socket).
test('frames sent together with the upgrade request reach the connection handler, in order', async (t) => {
  async function run(Impl, mode) {
    let wss;
    let port;
    let httpServer;
    if (mode === 'port') {
      ({ wss, port } = await listen(Impl));
    } else {
      httpServer = http.createServer();
      wss = new Impl.WebSocketServer({ server: httpServer });
      await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
      port = httpServer.address().port;
    }
    const got = [];
    const done = new Promise((resolve) =>
      wss.on('connection', (ws) =>
        ws.on('message', (data, isBinary) => {
          got.push([data.toString(), isBinary]);
          if (got.length === 3) resolve();
        })
      )
    );
    const sock = await raw(port);
    sock.write(Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'early'), frame(2, 'bytes')]));
    await until(sock, (b) => b.includes('\r\n\r\n'));
    sock.write(frame(1, 'later'));
    await done;
    sock.destroy();
    await closeServer(wss);
    if (httpServer) httpServer.close();
    return got;
  }
  for (const mode of ['port', 'server']) {
    const expected = await run(impls.ws, mode);
    t.deepEqual(expected, [['early', false], ['bytes', true], ['later', false]]);
    t.deepEqual(await run(impls.wsrs, mode), expected, mode);
  }
});
