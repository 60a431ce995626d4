'use strict';

// Sockets Node will not hand over (TLS from an https.Server, any Duplex):
// Node keeps moving the bytes, Rust keeps the protocol, the API is the same.
// The key pair in fixtures/tls is a self-signed test certificate for
// localhost / 127.0.0.1, made with openssl for these tests only.

const test = require('ava');
const fs = require('fs');
const https = require('https');
const path = require('path');
const ws = require('ws');
const wsrs = require('..');
const { eventually, frame, once } = require('./helpers');

const tls = {
  key: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'key.pem')),
  cert: fs.readFileSync(path.join(__dirname, 'fixtures', 'tls', 'cert.pem'))
};

async function httpsServer(Impl, options = {}) {
  const server = https.createServer(tls, (req, res) => res.end('page over https'));
  const wss = new Impl.WebSocketServer({ server, ...options });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, wss, url: `wss://127.0.0.1:${server.address().port}` };
}

function client(url, options) {
  return new Promise((resolve, reject) => {
    const c = new ws.WebSocket(url, { rejectUnauthorized: false, ...options });
    c.once('open', () => resolve(c));
    c.once('error', reject);
  });
}

test('wss:// through an https server: messages, ping/pong, close, differential with ws', async (t) => {
  const results = {};
  for (const [name, Impl] of [['ws', ws], ['wsrs', wsrs]]) {
    const { server, wss, url } = await httpsServer(Impl);
    const serverSide = [];
    wss.on('connection', (sock, req) => {
      serverSide.push(req.socket.encrypted === true);
      sock.on('message', (m, isBinary) => sock.send(m, { binary: isBinary }));
      sock.on('close', (code, reason) => serverSide.push([code, reason.toString()]));
    });
    const c = await client(url);
    const got = [];
    const done = new Promise((resolve) =>
      c.on('message', (m, isBinary) => {
        got.push([isBinary, isBinary ? Buffer.from(m).toString('hex') : m.toString()]);
        if (got.length === 3) resolve();
      })
    );
    c.send('hello over tls');
    c.send(Buffer.from([1, 2, 3]));
    c.send('x'.repeat(100000));
    await done;
    got[2][1] = got[2][1].length;
    const pong = once(c, 'pong');
    c.ping('p');
    const [pongData] = await pong;
    const page = await new Promise((resolve) =>
      https.get(`https://127.0.0.1:${server.address().port}/`, { rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
    );
    c.close(4321, 'tls bye');
    const [code, reason] = await once(c, 'close');
    await eventually(() => serverSide.length >= 2, { message: 'the server side never saw the close' });
    results[name] = { got, pong: pongData.toString(), page, close: [code, reason.toString()], serverSide };
    wss.close();
    await new Promise((resolve) => server.close(resolve));
  }
  t.deepEqual(results.wsrs, results.ws);
  t.deepEqual(results.wsrs.got, [[false, 'hello over tls'], [true, '010203'], [false, 100000]]);
  t.deepEqual(results.wsrs.close, [4321, 'tls bye']);
  t.deepEqual(results.wsrs.serverSide, [true, [4321, 'tls bye']]);
});

test('protocol faults on a bridged socket get the same close codes', async (t) => {
  const { server, wss, url } = await httpsServer(wsrs);
  const errors = [];
  wss.on('connection', (sock) => sock.on('error', (e) => errors.push(e.code)));
  const c = await client(url);
  // An unmasked frame, written below ws's API.
  c._socket.write(frame(1, 'bad', { mask: false }));
  const [code] = await once(c, 'close');
  t.is(code, 1002);
  t.deepEqual(errors, ['WS_ERR_EXPECTED_MASK']);
  wss.close();
  await new Promise((resolve) => server.close(resolve));
});

test('server-initiated close, terminate and closeTimeout on bridged sockets', async (t) => {
  const { server, wss, url } = await httpsServer(wsrs, { closeTimeout: 200 });
  const conns = [];
  const bothAccepted = new Promise((resolve) => wss.on('connection', (sock) => conns.push(sock) === 2 && resolve()));
  const a = await client(url);
  const b = await client(url);
  await bothAccepted;
  const aClosed = once(a, 'close');
  conns[0].close(1001, 'going away');
  t.deepEqual((await aClosed).map(String), ['1001', 'going away']);
  const bClosed = once(conns[1], 'close');
  conns[1].terminate();
  t.is((await bClosed)[0], 1006);
  t.is(wss.clients.size, 0);
  wss.close();
  await new Promise((resolve) => server.close(resolve));
});
