'use strict';

// Every instance, every thread: each worker thread and each copy of the
// module gets its own native instance (connections, servers, events), torn
// down with its environment.

const test = require('ava');
const { execFile } = require('child_process');
const path = require('path');
const { Worker } = require('worker_threads');

const ws = require('ws');
const wsrs = require('..');
const native = require('../lib/native');
const { ROOT, connect, listen, closeServer, once } = require('./helpers');

const PEER = path.join(__dirname, 'fixtures', 'thread-peer.js');
// Where Node keeps the sockets (Windows), they die with the worker's
// environment, as ws's do: peers see 1006. Where Rust owns them, they get
// a 1001 close frame first.
const { NODE_SOCKETS } = require('../lib/takeover');
const GOING_AWAY = NODE_SOCKETS ? 1006 : 1001;

/** The next message a worker posts (rejects if it fails first). */
function next(worker) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      worker.off('message', onMessage);
      reject(err);
    };
    const onMessage = (m) => {
      worker.off('error', onError);
      resolve(m);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}

async function serverWorker(tag, extra = {}) {
  const worker = new Worker(PEER, { workerData: { role: 'server', tag, ...extra } });
  const m = await next(worker);
  return { worker, ...m };
}

/** Sends `n` messages with a client of `Impl` and resolves with the echoes. */
async function echoes(Impl, port, n) {
  const c = await new Promise((resolve, reject) => {
    const c = new Impl.WebSocket(`ws://127.0.0.1:${port}`);
    c.once('open', () => resolve(c));
    c.once('error', reject);
  });
  const got = [];
  await new Promise((resolve) => {
    c.on('message', (d) => {
      got.push(d.toString());
      if (got.length === n) resolve();
    });
    for (let i = 0; i < n; i++) c.send(`m${i}`);
  });
  c.close();
  await once(c, 'close');
  return got;
}

const expected = (tag, n) => Array.from({ length: n }, (_, i) => `${tag}:m${i}`);

test('N workers, each with its own server: every client is answered by its own worker', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c'].map((tag) => serverWorker(tag)));
  for (const [i, s] of servers.entries()) {
    const tag = ['a', 'b', 'c'][i];
    t.deepEqual(await echoes(wsrs, s.listening, 20), expected(tag, 20), `wsrs client of worker ${tag}`);
    t.deepEqual(await echoes(ws, s.listening, 20), expected(tag, 20), `ws client of worker ${tag}`);
  }
  await Promise.all(servers.map((s) => s.worker.terminate()));
});

test('a server in a worker with wsrs clients on the main thread, and the other way round', async (t) => {
  const s = await serverWorker('w');
  const [a, b] = await Promise.all([echoes(wsrs, s.listening, 50), echoes(wsrs, s.listening, 50)]);
  t.deepEqual(a, expected('w', 50));
  t.deepEqual(b, expected('w', 50));
  await s.worker.terminate();

  const { wss, url } = await listen(wsrs);
  wss.on('connection', (c) => c.on('message', (d) => c.send(`main:${d}`)));
  const clients = [0, 1].map(() => new Worker(PEER, { workerData: { role: 'client', url, count: 30 } }));
  const exits = clients.map((w) => once(w, 'exit'));
  const results = await Promise.all(clients.map(next));
  for (const r of results) {
    t.is(r.code, 1000);
    t.deepEqual(r.echoes, Array.from({ length: 30 }, (_, i) => `main:m${i}`));
  }
  // The workers exit on their own once their socket is closed.
  for (const [code] of await Promise.all(exits)) t.is(code, 0);
  await closeServer(wss);
});

for (const how of ['terminate()', 'process.exit() in the worker']) {
  test.serial(`${how} with open connections: peers get ${GOING_AWAY}, and the worker's instance is freed`, async (t) => {
    const before = native.processStats();
    const s = await serverWorker('x');
    const peers = await Promise.all([0, 1, 2].map(() => connect(`ws://127.0.0.1:${s.listening}`)));
    // A message each, so that every connection is open on both sides.
    await Promise.all(
      peers.map((p) => {
        p.send('hi');
        return once(p, 'message');
      })
    );
    s.worker.postMessage('stats');
    const { stats } = await next(s.worker);
    t.like(stats, { sockets: 3, nativeServers: 1 });
    t.true(stats.instance !== native.stats().instance, 'the worker has an instance of its own');

    const closes = peers.map((p) => once(p, 'close'));
    if (how === 'terminate()') await s.worker.terminate();
    else {
      s.worker.postMessage('exit');
      t.is((await once(s.worker, 'exit'))[0], 0);
    }
    for (const [code] of await Promise.all(closes)) t.is(code, GOING_AWAY);
    // The worker's port is closed: nothing accepts there any more.
    const err = await new Promise((resolve) => {
      const c = new ws.WebSocket(`ws://127.0.0.1:${s.listening}`);
      c.on('error', resolve);
    });
    t.is(err.code, 'ECONNREFUSED');
    t.deepEqual(native.processStats(), before);
  });
}

test('100 cycles of start, traffic and terminate: fds back to the baseline, RSS flat', async (t) => {
  const out = await new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', path.join(__dirname, 'fixtures', 'worker-cycles.js')],
      { env: { ...process.env, CYCLES: '100' }, timeout: 120000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)))
    );
  });
  // After the first cycle this thread holds its own instance's few fds.
  const settled = out.fds[4];
  t.true(settled - out.base <= 6, `fds: base ${out.base}, after 5 cycles ${settled}`);
  t.deepEqual(out.fds.slice(4), out.fds.slice(4).map(() => settled), 'fds come back to the same count every cycle');
  const rss20 = out.rss[19];
  const rss100 = out.rss[99];
  t.true(rss100 < rss20 * 1.1, `RSS after 20 cycles ${rss20}, after 100 ${rss100}`);
  t.deepEqual(out.process, { instances: 1, tasks: 0 });
  t.like(out.stats, { sockets: 0, tasks: 0, pending: 0, refs: 0 });
});

// Where Node listens, reusePort is Node's own (from 22.12 and 23.1).
const [major, minor] = process.versions.node.split('.').map(Number);
const nodeReusePort = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
(NODE_SOCKETS && !nodeReusePort ? test.skip : test)('reusePort: one server per worker on one port, connections shared out between them', async (t) => {
  const first = await serverWorker('r1', { reusePort: true });
  const second = await serverWorker('r2', { port: first.listening, reusePort: true });
  t.is(second.listening, first.listening);
  const seen = new Set();
  for (let i = 0; i < 40; i++) {
    const [echo] = await echoes(ws, first.listening, 1);
    seen.add(echo.split(':')[0]);
  }
  t.deepEqual([...seen].sort(), ['r1', 'r2'], 'both workers served');
  // Without it, the port is taken, as for any listener.
  const third = await serverWorker('r3', { port: first.listening });
  t.is(third.error, 'EADDRINUSE');
  await Promise.all([first, second, third].map((s) => s.worker.terminate()));
});

test('the module loaded twice on one thread: two instances that never cross', (t) => {
  // As jest and vitest do: the package required again after require.cache
  // was cleared. Run in a child so this process's copy stays the only one.
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--expose-gc', path.join(__dirname, 'fixtures', 'load-twice.js')],
      { cwd: ROOT, timeout: 30000 },
      (err, stdout, stderr) => {
        t.falsy(err, stderr);
        const out = JSON.parse(stdout);
        t.deepEqual(out.echoes, ['A:x', 'B:x', 'A:x', 'B:x']);
        t.deepEqual(out.handled, { A: 2, B: 2 }, 'each server saw only its own clients');
        t.not(out.instances[0], out.instances[1]);
        t.regex(out.mixed, /^TypeError: The "WebSocket" option must be the WebSocket class of the same copy of wsrs/);
        t.true(out.afterGc < out.beforeGc, `unused copies are collected: ${out.beforeGc} -> ${out.afterGc}`);
        resolve();
      }
    );
  });
});
