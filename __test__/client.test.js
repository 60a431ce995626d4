'use strict';

// The client: `new WebSocket(address[, protocols][, options])` with Rust
// owning the connection once Node's HTTP client has made the handshake.
// Against ws's server and wsrs's, and differential with ws's client.

const test = require('ava');
const fs = require('fs');
const http = require('http');
const https = require('https');
const os = require('os');
const path = require('path');
const ws = require('ws');
const wsrs = require('..');
const { closeServer, eventually, impls, listen, once } = require('./helpers');

/** Runs the same client scenario with ws's client and wsrs's; returns both transcripts. */
async function both(scenario) {
  const out = {};
  for (const [name, Impl] of Object.entries(impls)) out[name] = await scenario(Impl);
  return out;
}

function open(Impl, url, ...args) {
  return new Promise((resolve, reject) => {
    const c = new Impl.WebSocket(url, ...args);
    c.once('open', () => resolve(c));
    c.once('error', reject);
  });
}

test('echo against ws\'s server and wsrs\'s: text, binary, large, ping, close', async (t) => {
  for (const [serverName, ServerImpl] of Object.entries(impls)) {
    const { wss, url } = await listen(ServerImpl);
    wss.on('connection', (s) => s.on('message', (m, b) => s.send(m, { binary: b })));
    const r = await both(async (Impl) => {
      const c = new Impl.WebSocket(url);
      const states = [c.readyState];
      t.throws(() => c.send('too early'), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
      await once(c, 'open');
      states.push(c.readyState, c.url, c.protocol);
      const got = [];
      const done = new Promise((resolve) =>
        c.on('message', (m, isBinary) => {
          got.push([isBinary, isBinary ? Buffer.from(m).toString('hex') : m.toString().length > 50 ? m.length : m.toString()]);
          if (got.length === 3) resolve();
        })
      );
      c.send('hello');
      c.send(Buffer.from([1, 2, 3]));
      c.send('y'.repeat(200000));
      await done;
      const pong = once(c, 'pong');
      c.ping('p');
      const [p] = await pong;
      c.close(4001, 'bye');
      states.push(c.readyState);
      const [code, reason] = await once(c, 'close');
      states.push(c.readyState);
      return { states, got, pong: p.toString(), close: [code, reason.toString()] };
    });
    t.deepEqual(r.wsrs, r.ws, `against ${serverName}`);
    t.deepEqual(r.wsrs.got, [[false, 'hello'], [true, '010203'], [false, 200000]]);
    await closeServer(wss);
  }
});

test('every frame the client sends is masked', async (t) => {
  const net = require('net');
  const frames = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i === -1) return;
        const key = /sec-websocket-key: (.*)\r\n/i.exec(buf.toString())[1];
        const accept = require('crypto').createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        buf = buf.subarray(i + 4);
        upgraded = true;
      }
      while (buf.length >= 2) {
        const masked = (buf[1] & 0x80) !== 0;
        const len = buf[1] & 0x7f;
        const total = 2 + (masked ? 4 : 0) + len;
        if (len > 125 || buf.length < total) break;
        frames.push({ opcode: buf[0] & 0x0f, masked });
        buf = buf.subarray(total);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const c = await open(wsrs, `ws://127.0.0.1:${server.address().port}`);
  c.send('a');
  c.send(Buffer.from([1]));
  c.ping();
  c.close();
  // The close frame is the last the client sends.
  await eventually(() => frames.some((f) => f.opcode === 8), {
    message: () => `opcodes ${frames.map((f) => f.opcode)}`
  });
  t.deepEqual(frames.map((f) => f.opcode), [1, 2, 9, 8]);
  t.true(frames.every((f) => f.masked));
  c.terminate();
  server.close();
});

test('handshake errors match ws: invalid URL, protocol, unexpected response, bad accept, subprotocol mismatch, refused', async (t) => {
  const r = await both(async (Impl) => {
    const out = [];
    for (const bad of ['not a url', 'ftp://x', 'ws://x/#frag']) {
      try {
        new Impl.WebSocket(bad);
        out.push('no throw');
      } catch (e) {
        out.push(`${e.constructor.name}: ${e.message}`);
      }
    }
    try {
      new Impl.WebSocket('ws://127.0.0.1:1', ['a', 'a']);
    } catch (e) {
      out.push(`${e.constructor.name}: ${e.message}`);
    }
    const server = http.createServer((req, res) => {
      res.writeHead(403);
      res.end('no');
    });
    server.on('upgrade', (req, socket) => {
      if (req.url === '/bad-accept') socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n');
      else socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = server.address().port;
    const fail = async (url, ...args) => {
      const c = new Impl.WebSocket(url, ...args);
      const events = [];
      c.on('error', (e) => events.push(`error: ${e.message}`));
      await new Promise((resolve) => c.on('close', (code) => (events.push(`close ${code}`), resolve())));
      return events;
    };
    out.push(await fail(`ws://127.0.0.1:${port}/`));
    // A plain HTTP server with no 'upgrade' listener answers like any request.
    const plain = http.createServer((req, res) => {
      res.writeHead(403);
      res.end('no');
    });
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    out.push(await fail(`ws://127.0.0.1:${plain.address().port}/`));
    await new Promise((resolve) => plain.close(resolve));
    out.push(await fail(`ws://127.0.0.1:${port}/bad-accept`));
    const { wss, url } = await listen(impls.ws, { handleProtocols: () => false });
    out.push(await fail(url, ['chat']));
    await closeServer(wss);
    const { wss: wss2, url: url2 } = await listen(impls.ws, { handleProtocols: () => 'other' });
    out.push(await fail(url2, ['chat']));
    await closeServer(wss2);
    const refused = await fail('ws://127.0.0.1:1/');
    out.push(refused.map((e) => e.replace(/connect ECONNREFUSED \S+/, 'connect ECONNREFUSED')));
    await new Promise((resolve) => server.close(resolve));
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.is(r.wsrs[0], 'SyntaxError: Invalid URL: not a url');
  t.deepEqual(r.wsrs[4], ['error: socket hang up', 'close 1006']);
  t.deepEqual(r.wsrs[5], ['error: Unexpected server response: 403', 'close 1006']);
  t.deepEqual(r.wsrs[6], ['error: Invalid Sec-WebSocket-Accept header', 'close 1006']);
  t.deepEqual(r.wsrs[7], ['error: Server sent no subprotocol', 'close 1006']);
  t.deepEqual(r.wsrs[8], ['error: Server sent an invalid subprotocol', 'close 1006']);
});

test('subprotocols, headers, origin, unexpected-response and upgrade events', async (t) => {
  const r = await both(async (Impl) => {
    const { wss, url } = await listen(impls.wsrs);
    const seen = new Promise((resolve) => wss.once('connection', (s, req) => resolve([req.headers['x-token'], req.headers.origin, s.protocol])));
    const c = new Impl.WebSocket(url, ['chat', 'superchat'], { headers: { 'X-Token': 'abc' }, origin: 'https://example.com' });
    // 'open' follows 'upgrade' in the same tick: listen for both first.
    const upgraded = once(c, 'upgrade');
    const opened = once(c, 'open');
    const [res] = await upgraded;
    await opened;
    const out = [res.statusCode, c.protocol, await seen];
    c.close();
    await once(c, 'close');
    await closeServer(wss);
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [101, 'chat', ['abc', 'https://example.com', 'chat']]);
});

test('followRedirects, handshakeTimeout and close() while connecting', async (t) => {
  const r = await both(async (Impl) => {
    const { wss, url } = await listen(impls.wsrs);
    const redirector = http.createServer((req, res) => {
      res.writeHead(302, { Location: url + '/landed' });
      res.end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    const c = new Impl.WebSocket(`ws://127.0.0.1:${redirector.address().port}/start`, { followRedirects: true });
    const redirected = [];
    c.on('redirect', (u) => redirected.push(u.replace(/:\d+/, ':PORT')));
    await once(c, 'open');
    const out = [redirected, c.url.replace(/:\d+/, ':PORT')];
    c.close();
    await once(c, 'close');

    // A server that never answers.
    const held = [];
    const silent = http.createServer(() => {});
    silent.on('upgrade', (req, socket) => held.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const slow = new Impl.WebSocket(`ws://127.0.0.1:${silent.address().port}`, { handshakeTimeout: 100 });
    const errs = [];
    slow.on('error', (e) => errs.push(e.message));
    await once(slow, 'close');
    out.push(errs);

    const early = new Impl.WebSocket(`ws://127.0.0.1:${silent.address().port}`);
    const earlyErrs = [];
    early.on('error', (e) => earlyErrs.push(e.message));
    early.close();
    await once(early, 'close');
    out.push(earlyErrs, early.readyState);
    held.forEach((sock) => sock.destroy());
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
    await new Promise((resolve) => redirector.close(resolve));
    await closeServer(wss);
    return out;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs[2], ['Opening handshake has timed out']);
  t.deepEqual(r.wsrs[3], ['WebSocket was closed before the connection was established']);
});

test('wss:// with a self-signed certificate (ca and rejectUnauthorized), and ws+unix:', async (t) => {
  const key = fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'key.pem'));
  const cert = fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'cert.pem'));
  const server = https.createServer({ key, cert });
  const wss = new wsrs.WebSocketServer({ server });
  wss.on('connection', (s) => s.on('message', (m) => s.send(`tls:${m}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  // Untrusted: refused, as with ws.
  const bad = new wsrs.WebSocket(`wss://localhost:${port}`);
  const [err] = await once(bad, 'error');
  t.regex(err.code, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  // Trusted through `ca`.
  const c = await open(wsrs, `wss://localhost:${port}`, { ca: cert });
  c.send('x');
  t.is((await once(c, 'message'))[0].toString(), 'tls:x');
  c.close();
  await once(c, 'close');
  wss.close();
  await new Promise((resolve) => server.close(resolve));

  // ws+unix: a Unix socket (bridged path on the client side).
  const sockPath = path.join(os.tmpdir(), `wsrs-${process.pid}-${Date.now()}.sock`);
  const plain = http.createServer();
  const wss2 = new wsrs.WebSocketServer({ server: plain });
  wss2.on('connection', (s) => s.on('message', (m) => s.send(`ipc:${m}`)));
  plain.listen(sockPath);
  await once(plain, 'listening');
  const ipc = await open(wsrs, `ws+unix:${sockPath}:/path`);
  ipc.send('y');
  t.is((await once(ipc, 'message'))[0].toString(), 'ipc:y');
  ipc.close();
  await once(ipc, 'close');
  wss2.close();
  await new Promise((resolve) => plain.close(resolve));
});

test('a thousand clients in one process', async (t) => {
  const { wss, url } = await listen(impls.wsrs);
  wss.on('connection', (s) => s.on('message', (m) => s.send(m)));
  const clients = [];
  for (let i = 0; i < 1000; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, () => open(wsrs, url)))));
  }
  const echoes = await Promise.all(
    clients.map((c, i) => {
      const p = once(c, 'message').then(([m]) => m.toString());
      c.send(`n${i}`);
      return p;
    })
  );
  t.true(echoes.every((m, i) => m === `n${i}`));
  await Promise.all(clients.map((c) => (c.close(), once(c, 'close'))));
  await closeServer(wss);
});

test('a server that answers garbage: the same error as ws', async (t) => {
  const net = require('net');
  const server = net.createServer((sock) => sock.end('\x00\x01garbage that is not HTTP\r\n\r\n'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const r = await both(async (Impl) => {
    const c = new Impl.WebSocket(`ws://127.0.0.1:${server.address().port}`);
    const events = [];
    c.on('error', (e) => events.push([e.code, e.message]));
    const [code] = await once(c, 'close');
    events.push(code);
    return events;
  });
  t.deepEqual(r.wsrs, r.ws);
  t.is(r.wsrs[0][0], 'HPE_INVALID_CONSTANT');
  server.close();
});

test('the server suites run with wsrs\'s own client as the peer (WSRS_TEST_CLIENT=wsrs)', async (t) => {
  const { execFile } = require('child_process');
  const r = await new Promise((resolve) =>
    execFile(
      process.execPath,
      [path.join(__dirname, '..', 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '__test__/websocket.test.js', '__test__/protocol.test.js', '__test__/handshake.test.js'],
      { cwd: path.join(__dirname, '..'), env: { ...process.env, WSRS_TEST_CLIENT: 'wsrs' }, timeout: 120000 },
      (err, stdout, stderr) => resolve({ err, out: stdout + stderr })
    )
  );
  t.is(r.err, null, r.out.slice(-3000));
  t.regex(r.out, /\d+ tests passed/);
});
