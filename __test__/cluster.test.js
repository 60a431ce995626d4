'use strict';

// Under Node's cluster, every worker's `new WebSocketServer({ port })` shares
// the port through the primary, as with ws: round-robin (SCHED_RR) or a
// shared listening handle (SCHED_NONE). Workers listen through Node's HTTP
// server (`_listenThroughNode`), whose behaviour is also compared with ws's
// in this process.

const test = require('ava');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const ws = require('ws');
const wsrs = require('..');
const { connect, httpAnswer, messages, once, raw, untilEnd } = require('./helpers');

const FIXTURE = path.join(__dirname, 'fixtures', 'cluster-echo.js');
const WORKERS = 2;
const CLIENTS = 40;

/** A port that was free a moment ago. */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the cluster primary; `next(pred)` resolves with its next JSON line matching `pred`. */
function startCluster(impl, policy, port) {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, WS_IMPL: impl, CLUSTER_POLICY: policy, WORKERS: String(WORKERS), PORT: String(port) },
    stdio: ['pipe', 'pipe', 'inherit']
  });
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) !== -1) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  function next(pred) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = lines.find(pred);
        if (line) return resolve(line);
        if (child.exitCode !== null) return reject(new Error(`primary exited; printed ${JSON.stringify(lines)}`));
        waiters.push(check);
      };
      child.once('exit', check);
      check();
    });
  }
  return { child, lines, next, exited };
}

/** Fails (and kills the primary, whose workers then go too) if `promise` takes longer than `ms`. */
async function within(promise, ms, what, c) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      c.child.kill('SIGKILL');
      reject(new Error(`timed out waiting for ${what}; the primary printed ${JSON.stringify(c.lines)}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One run: start the cluster, echo through CLIENTS connections, shut down. */
async function scenario(t, impl, policy) {
  const port = await freePort();
  const c = startCluster(impl, policy, port);
  const first = await within(c.next((l) => l.ready || l.error), 10000, 'the workers to listen', c);
  if (first.error) {
    c.child.stdin.end();
    await c.exited;
    t.fail(`${impl}: a worker's server failed: ${JSON.stringify(first.error)}`);
    return null;
  }
  const workers = first.ready;
  t.deepEqual(
    workers.map((w) => w.address),
    workers.map(() => ({ address: '127.0.0.1', family: 'IPv4', port })),
    `${impl}: every worker's wss.address()`
  );

  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(`ws://127.0.0.1:${port}`)));
  const echoes = await Promise.all(
    clients.map((client, i) => {
      const got = messages(client, 1);
      client.send(`message ${i}`);
      return got;
    })
  );
  const served = new Map();
  echoes.forEach(([[text, isBinary]], i) => {
    const [id, pid, rest] = text.split(':');
    const w = workers.find((x) => String(x.id) === id && String(x.pid) === pid);
    t.truthy(w, `${impl}: echo from a known worker (${text})`);
    t.deepEqual([rest, isBinary], [`message ${i}`, false], impl);
    served.set(id, (served.get(id) || 0) + 1);
  });
  await Promise.all(clients.map((client) => (client.close(), once(client, 'close'))));

  c.child.stdin.end();
  const { code, signal } = await within(c.exited, 10000, 'every process to exit', c);
  const closed = c.lines.filter((l) => l.closed).map((l) => l.closed);
  const exits = c.lines.filter((l) => l.exit).map((l) => [l.exit, l.code, l.signal, l.afterDisconnect]);
  t.deepEqual(
    [code, signal, closed.sort(), exits.sort()],
    [0, null, workers.map((w) => w.id), workers.map((w) => [w.id, 0, null, true])],
    `${impl}: closed and exited on their own`
  );
  t.false(c.lines.some((l) => l.error), impl);
  return served;
}

for (const [policy, name] of [
  ['rr', 'SCHED_RR'],
  ['none', 'SCHED_NONE']
]) {
  test(`cluster (${name}): ${WORKERS} workers share one port, echo ${CLIENTS} clients, and exit on close (differential)`, async (t) => {
    for (const impl of ['ws', 'wsrs']) {
      const served = await scenario(t, impl, policy);
      if (served === null) continue;
      const total = [...served.values()].reduce((a, b) => a + b, 0);
      t.is(total, CLIENTS, impl);
      // Round-robin spreads the connections; with a shared handle the OS decides.
      if (policy === 'rr') t.true(served.size > 1, `${impl}: served by ${JSON.stringify([...served])}`);
      else t.true(served.size >= 1, impl);
    }
  });
}

// The same listening path in this process (no cluster): a subclass selects it.
class NodeListening extends wsrs.WebSocketServer {
  _listen(options, port) {
    this._listenThroughNode(options, port);
  }
}
const both = { ws: ws.WebSocketServer, wsrs: NodeListening };

function listenOn(Server, options = {}) {
  const wss = new Server({ port: 0, host: '127.0.0.1', ...options });
  return once(wss, 'listening').then(() => wss);
}

test('listening through Node: 426, address(), echo and EADDRINUSE as ws (differential)', async (t) => {
  const r = {};
  for (const [name, Server] of Object.entries(both)) {
    let cb = false;
    const wss = new Server({ port: 0, host: '127.0.0.1' }, () => (cb = true));
    await once(wss, 'listening');
    const { port } = wss.address();
    const out = [cb, { ...wss.address(), port: 'PORT' }];
    const sock = await raw(port);
    sock.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const a = httpAnswer(await untilEnd(sock));
    delete a.headers.date;
    out.push(a);
    wss.on('connection', (s) => s.on('message', (m) => s.send(`echo ${m}`)));
    const c = await connect(`ws://127.0.0.1:${port}/x`);
    const got = messages(c, 1);
    c.send('hi');
    out.push(await got, wss.clients.size);
    const b = new Server({ port, host: '127.0.0.1' });
    const [err] = await once(b, 'error');
    out.push([err.message.replace(String(port), 'PORT'), err.code, err.syscall, err.port === port, b.address()]);
    await new Promise((resolve) => b.close(resolve));
    c.close();
    await once(c, 'close');
    await new Promise((resolve) => wss.close(resolve));
    out.push(wss.address());
    r[name] = out;
  }
  t.deepEqual(r.wsrs, r.ws);
  t.is(r.wsrs[2].status, 'HTTP/1.1 426 Upgrade Required');
  t.is(r.wsrs[2].body, 'Upgrade Required');
  t.is(r.wsrs[5][1], 'EADDRINUSE');
});

test('listening through Node: close() waits for open connections like ws (differential)', async (t) => {
  const r = {};
  for (const [name, Server] of Object.entries(both)) {
    const wss = await listenOn(Server);
    const { port } = wss.address();
    const url = `ws://127.0.0.1:${port}`;
    const a = await connect(url);
    const b = await connect(url);
    while (wss.clients.size < 2) await once(wss, 'connection');
    const out = [wss.clients.size];
    let closed = false;
    const serverClosed = new Promise((resolve) => wss.close(() => resolve((closed = true))));
    // A refused connection shows the listener is gone while `closed` stays false.
    const refused = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(false)));
      s.on('error', (err) => resolve(err.code));
    });
    out.push(refused, closed, wss.address());
    const got = messages(a, 1);
    for (const s of wss.clients) s.send('still open');
    out.push(await got);
    a.close();
    await once(a, 'close');
    out.push(closed);
    const bClosed = once(b, 'close');
    b.close();
    await Promise.all([serverClosed, bClosed]);
    const again = await new Promise((resolve) => wss.close((err) => resolve(err && err.message)));
    out.push(again);
    r[name] = out;
  }
  t.deepEqual(r.wsrs, r.ws);
  t.deepEqual(r.wsrs, [2, 'ECONNREFUSED', false, null, [['still open', false]], false, 'The server is not running']);
});

test('wsrs in port mode outside a cluster listens in Rust (through Node where Node keeps the sockets)', async (t) => {
  const wss = await listenOn(wsrs.WebSocketServer);
  if (require('../lib/takeover').NODE_SOCKETS) t.truthy(wss._server);
  else t.is(wss._server, null);
  await new Promise((resolve) => wss.close(resolve));
});
