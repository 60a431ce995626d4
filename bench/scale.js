'use strict';

// Publish/subscribe past one thread, two rows of `npm run bench` (also
// `node bench/scale.js` alone):
//
// 1. Through Redis across processes: 3 server processes, each with 1 000
//    clients subscribed to 'room' (3 000 in all), and a publisher in each
//    process, so every message reaches all 3 000 clients: wsrs (`redis`
//    option, `ws.subscribe('room')`, `wss.publish('room', data)`) against
//    socket.io with @socket.io/redis-adapter (`socket.join('room')`,
//    `io.to('room').emit('m', data)`), on the same Redis, started here.
// 2. Across 2 worker threads in one process: two wsrs servers on one port
//    (`reusePort`), 1 000 clients spread between them by the kernel, a
//    publisher in each thread whose `wss.publish()` reaches the subscribers
//    of both; against wsrs on one thread and uWebSockets.js (`app.publish`,
//    one thread: it cannot publish across threads).
//
// How: the servers (and Redis) are pinned to CPU 0, the clients to CPU 1
// (one Node process speaking raw WebSocket framing, and engine.io v4 over it
// for socket.io: `40` to join, `3` to each ping `2`, `42[...]` counted). The
// messages are 32-byte strings whose first character names the publisher
// (socket.io frames each as `42["m","…"]`, 41 bytes).
// Publishing is paced by credit: each publisher keeps at most WINDOW/P of
// its messages (P publishers) not yet delivered to every client, as the
// client process counts them (it reports its per-publisher counts every
// 2 ms, which this process turns into credits for the servers), so the
// servers run as fast as the clients keep up and nothing piles up. After a
// 1 s warm-up, BENCH_REPS windows of BENCH_SECS each are measured on one
// setup; the median window (by deliveries/s) gives deliveries/s (messages
// received by all clients together, per second) and server CPU µs per
// delivery (user + system time of the server processes, all their threads,
// as process.cpuUsage() counts it, read from /proc; Redis's is given apart).
// Then publishing stops and the run fails unless every client got every
// message exactly once.
//
//   BENCH_REPS (3)  BENCH_SECS (3)  BENCH_ONLY=regex (row filter)
//   BENCH_IMPLS=wsrs,socket.io,uws  BENCH_SCALE_WINDOW (128)
//   node bench/scale.js --server IMPL PORT REDIS_URL|- THREADS FIRST  (internal: one server process)
//   node bench/scale.js --clients PROTO PORTS CONNS_PER_PORT          (internal: the clients)

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { freePort, spawnRedis } = require('../scripts/redis-server');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const ROOT = path.join(__dirname, '..');
const REPS = Number(process.env.BENCH_REPS) || 3;
const SECS = Number(process.env.BENCH_SECS) || 3;
const WINDOW = Number(process.env.BENCH_SCALE_WINDOW) || 128;
const WARMUP_MS = 1000;
const TOPIC = 'room';
const CLIENTS = 1000;
const PROCESSES = 3;
const THREADS = 2;

const REDIS_ROW = `cross-process publish to ${PROCESSES} × 1 000 through Redis, 32 B`;
const THREADS_ROW = `publish across ${THREADS} worker threads to 1 000 (reusePort), 32 B`;

/** The message of publisher `g` (0-9): 32 bytes, the first one names it. */
const message = (g) => String(g) + 'x'.repeat(31);

// ---------------------------------------------------------------- servers

/**
 * One pub/sub server (in this thread): IMPL `wsrs`, `socket.io` or `uws`.
 * Counts its subscribed clients; `credit(n)` publishes until it has
 * published n messages in all.
 */
function pubServer({ impl, port, redisUrl, reusePort, publisher }) {
  const msg = message(publisher);
  const node = { count: 0, published: 0, stopped: false, publish: null, synced: async () => {} };
  node.credit = (n) => {
    while (!node.stopped && node.published < n) {
      node.publish();
      node.published++;
    }
  };
  const fatal = (err) => {
    console.error(`scale: ${impl} server: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  };
  node.ready = new Promise((resolve) => {
    if (impl === 'uws') {
      const uWS = require('@trufflesuite/uws-js-unofficial');
      const app = uWS.App();
      app.ws('/*', {
        compression: uWS.DISABLED,
        idleTimeout: 0,
        // Past it uWS.js skips a socket when publishing: never, here.
        maxBackpressure: 1024 * 1024 * 1024,
        open: (ws) => {
          ws.subscribe(TOPIC);
          node.count++;
        },
        close: () => node.count--
      });
      node.publish = () => app.publish(TOPIC, msg, false);
      app.listen('127.0.0.1', port, (token) => (token ? resolve() : fatal(new Error(`uWS cannot listen on ${port}`))));
    } else if (impl === 'socket.io') {
      const http = require('http');
      const { Server } = require('socket.io');
      const { createAdapter } = require('@socket.io/redis-adapter');
      const { createClient } = require('redis');
      const pub = createClient({ url: redisUrl });
      const sub = pub.duplicate();
      pub.on('error', fatal);
      sub.on('error', fatal);
      Promise.all([pub.connect(), sub.connect()]).then(() => {
        const httpServer = http.createServer();
        const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub) });
        io.on('connection', (socket) => {
          socket.join(TOPIC);
          node.count++;
          socket.on('disconnect', () => node.count--);
        });
        node.publish = () => io.to(TOPIC).emit('m', msg);
        // Subscribed once every server's adapter answers on its request
        // channel (subscribed after its broadcast pattern, on one connection).
        node.synced = async (servers) => {
          const until = Date.now() + 10000;
          while ((await io.of('/').adapter.serverCount()) < servers) {
            if (Date.now() > until) throw new Error('the socket.io servers did not all subscribe');
            await sleep(20);
          }
        };
        httpServer.on('error', fatal);
        httpServer.listen(port, '127.0.0.1', resolve);
      }, fatal);
    } else if (impl === 'wsrs') {
      const { WebSocketServer } = require(ROOT);
      const options = { port, host: '127.0.0.1', reusePort };
      if (redisUrl) options.redis = redisUrl;
      const wss = new WebSocketServer(options, resolve);
      const redisReady = redisUrl && new Promise((r) => wss.once('redisReady', r));
      wss.on('error', fatal);
      wss.on('connection', (ws) => {
        ws.subscribe(TOPIC);
        node.count++;
        ws.on('close', () => node.count--);
      });
      node.publish = () => wss.publish(TOPIC, msg);
      node.synced = async () => {
        if (!redisUrl) return;
        await redisReady;
        await wss.redisSynced();
      };
    } else {
      fatal(new Error(`unknown implementation ${impl}`));
    }
  });
  return node;
}

/**
 * Answers requests ({ id, op, arg } → { id, result } or { id, error }; one
 * without an id, as `credit`, gets no answer) with `handlers[op](arg)`: the
 * orchestrator's to a server process, or its main thread's to a worker.
 */
function serveRequests(recv, send, handlers) {
  recv(async ({ id, op, arg }) => {
    try {
      const result = await handlers[op](arg);
      if (id) send({ id, result });
    } catch (err) {
      if (id) send({ id, error: String(err && err.stack ? err.stack : err) });
    }
  });
}

/** The handlers of one server in this thread. */
function localHandlers(node) {
  return {
    ready: () => node.ready.then(() => true),
    count: () => node.count,
    sync: (servers) => node.synced(servers).then(() => true),
    credit: (credits) => node.credit(credits[0]),
    stop: () => {
      node.stopped = true;
      return [node.published];
    }
  };
}

function serverRole([impl, portArg, redisArg, threadsArg, firstArg]) {
  const port = Number(portArg);
  const redisUrl = redisArg === '-' ? null : redisArg;
  const threads = Number(threadsArg);
  const first = Number(firstArg);
  const recv = (f) => process.on('message', f);
  const send = (m) => process.send(m);
  if (!threads) {
    serveRequests(recv, send, localHandlers(pubServer({ impl, port, redisUrl, reusePort: false, publisher: first })));
    return;
  }
  // Worker threads, one server each on the same port; this thread relays.
  const workers = [];
  for (let k = 0; k < threads; k++) {
    const w = new Worker(__filename, { workerData: { impl, port, redisUrl, reusePort: true, publisher: first + k } });
    const pending = new Map();
    let nextId = 1;
    w.on('message', ({ id, result, error }) => {
      const p = pending.get(id);
      pending.delete(id);
      if (error) p.reject(new Error(error));
      else p.resolve(result);
    });
    w.on('error', (err) => {
      console.error('scale: worker:', err);
      process.exit(1);
    });
    w.ask = (op, arg) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        w.postMessage({ id, op, arg });
      });
    w.tell = (op, arg) => w.postMessage({ op, arg });
    workers.push(w);
  }
  const all = (op, arg) => Promise.all(workers.map((w) => w.ask(op, arg)));
  serveRequests(recv, send, {
    ready: () => all('ready').then(() => true),
    count: () => all('count').then((counts) => counts.reduce((a, b) => a + b, 0)),
    sync: (servers) => all('sync', servers).then(() => true),
    credit: (credits) => workers.forEach((w, k) => w.tell('credit', [credits[k]])),
    stop: () => all('stop').then((published) => published.flat())
  });
}

// ---------------------------------------------------------------- clients

/**
 * CONNS_PER_PORT connections to each port, raw WebSocket framing (PROTO
 * `ws`), or engine.io v4 over it (PROTO `eio`, socket.io's default
 * namespace). Counts each data message by publisher (the first byte of
 * the payload; with eio, of the event's argument); reports the counts over
 * IPC every 2 ms.
 */
function clientsRole([proto, portsArg, perPortArg]) {
  const eio = proto === 'eio';
  const ports = portsArg.split(',').map(Number);
  const perPort = Number(perPortArg);
  const reqPath = eio ? '/socket.io/?EIO=4&transport=websocket' : '/';
  const byPublisher = new Array(10).fill(0);
  let total = 0;
  const conns = [];
  // A masked client frame (mask key 0: the payload as it is).
  const textFrame = (s) => Buffer.concat([Buffer.from([0x81, 0x80 | s.length, 0, 0, 0, 0]), Buffer.from(s)]);
  const JOIN = textFrame('40');
  const PONG = textFrame('3');
  const WS_PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

  // One read buffer for all the sockets (`onread`: no stream machinery, no
  // allocation per read); what a read leaves of a frame is copied out.
  const readBuffer = Buffer.alloc(256 * 1024);
  const RESPONSE = Buffer.from('HTTP/1.1 101');

  function connect(port) {
    return new Promise((resolve, reject) => {
      const conn = { got: 0, closed: false, error: null };
      let joined = false;
      let head = null; // the response head, until it is complete
      let rest = null; // the start of a frame a read left incomplete
      let upgraded = false;
      const join = () => {
        joined = true;
        clearTimeout(timer);
        resolve(conn);
      };
      const fail = (err) => s.destroy(err);
      const onFrames = (buf) => {
        const len = buf.length;
        let pos = 0;
        while (len - pos >= 2) {
          const b0 = buf[pos];
          let plen = buf[pos + 1] & 0x7f;
          let hdr = 2;
          if (plen === 126) {
            if (len - pos < 4) break;
            plen = buf.readUInt16BE(pos + 2);
            hdr = 4;
          } else if (plen === 127) {
            if (len - pos < 10) break;
            plen = Number(buf.readBigUInt64BE(pos + 2));
            hdr = 10;
          }
          if (len - pos < hdr + plen) break;
          const p = pos + hdr;
          const op = b0 & 0x0f;
          pos = p + plen;
          if (op === 1 || op === 2) {
            if (!eio) {
              byPublisher[buf[p] - 48]++;
              total++;
              conn.got++;
            } else if (buf[p] === 0x34 /* 4 */ && buf[p + 1] === 0x32 /* 2 */) {
              // 42["m","<publisher>…"]
              byPublisher[buf[p + 8] - 48]++;
              total++;
              conn.got++;
            } else if (buf[p] === 0x32 /* 2: ping */) {
              s.write(PONG);
            } else if (buf[p] === 0x30 /* 0: open */) {
              s.write(JOIN);
            } else if (buf[p] === 0x34 && buf[p + 1] === 0x30 /* 40: joined */) {
              join();
            }
          } else if (op === 9) {
            s.write(WS_PONG);
          } else if (op === 8) {
            fail(new Error('closed by the server'));
            return;
          }
        }
        rest = pos < len ? Buffer.from(buf.subarray(pos)) : null;
      };
      const onHead = (chunk) => {
        head = head ? Buffer.concat([head, chunk]) : Buffer.from(chunk);
        const i = head.indexOf('\r\n\r\n');
        if (i === -1) return;
        if (!head.subarray(0, RESPONSE.length).equals(RESPONSE)) return fail(new Error(head.subarray(0, i).toString()));
        const after = head.subarray(i + 4);
        head = null;
        upgraded = true;
        // Raw WebSocket: subscribed once the server has the connection (the
        // orchestrator checks the servers' counts); engine.io: once joined.
        if (!eio) join();
        if (after.length) onFrames(after);
      };
      const s = net.connect({
        port,
        host: '127.0.0.1',
        noDelay: true,
        onread: {
          buffer: readBuffer,
          callback(n, buf) {
            const chunk = buf.subarray(0, n);
            if (!upgraded) {
              onHead(chunk);
            } else if (rest) {
              onFrames(Buffer.concat([rest, chunk]));
            } else {
              onFrames(chunk);
            }
          }
        }
      });
      const timer = setTimeout(() => fail(new Error('timed out')), 20000);
      s.on('error', (err) => {
        clearTimeout(timer);
        if (!joined) reject(err);
        else conn.error = err;
      });
      s.on('close', () => (conn.closed = true));
      s.write(
        `GET ${reqPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      );
    });
  }

  const cpuUs = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let reported = -1;
  const handlers = {
    async connect() {
      let errors = 0;
      let firstError = '';
      for (const port of ports) {
        // In waves, so that no backlog overflows.
        for (let left = perPort; left > 0; left -= 100) {
          const wave = await Promise.allSettled(Array.from({ length: Math.min(100, left) }, () => connect(port)));
          for (const r of wave) {
            if (r.status === 'fulfilled') conns.push(r.value);
            else {
              errors++;
              firstError = firstError || String(r.reason && r.reason.message);
            }
          }
        }
      }
      setInterval(() => {
        if (total === reported) return;
        reported = total;
        process.send({ t: Number(process.hrtime.bigint()), d: byPublisher, total, cpu: cpuUs() });
      }, 2);
      return { connected: conns.length, errors, firstError };
    },
    final() {
      let min = Infinity;
      let max = 0;
      let broken = 0;
      for (const c of conns) {
        min = Math.min(min, c.got);
        max = Math.max(max, c.got);
        if (c.closed || c.error) broken++;
      }
      return { min, max, total, byPublisher, broken };
    }
  };
  serveRequests((f) => process.on('message', f), (m) => process.send(m), handlers);
}

// ---------------------------------------------------------------- orchestration

const { hasTaskset, pinned } = require('./pinning');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nextPort = 30000 + Math.floor(Math.random() * 2000);
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** CPU seconds a process has used (user + system, all threads). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** This file in another process, pinned to `cpu`, with requests over IPC. */
function spawnRole(cpu, role, args) {
  const [cmd, a] = pinned(cpu, process.execPath, [__filename, role, ...args.map(String)]);
  const child = spawn(cmd, a, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], cwd: ROOT });
  live.add(child);
  const pending = new Map();
  let nextId = 1;
  const proc = { child, onReport: null };
  child.on('message', (m) => {
    if (!m.id) return proc.onReport && proc.onReport(m);
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.result);
  });
  child.once('exit', (code, signal) => {
    live.delete(child);
    for (const p of pending.values()) p.reject(new Error(`${role} ${args.join(' ')} exited (${code ?? signal})`));
    pending.clear();
  });
  proc.ask = (op, arg, ms = 20000) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${role} has exited`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${role} ${args.join(' ')}: no answer to ${op} in ${ms} ms`));
      }, ms);
      pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e))
      });
      child.send({ id, op, arg });
    });
  proc.tell = (op, arg) => child.connected && child.send({ op, arg });
  proc.stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
  return proc;
}

/** redis-server on a free port, pinned with the servers; null if it is not installed. */
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-bench-redis-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  let child;
  try {
    child = await spawnRedis(port, dir, {
      prefix: hasTaskset ? ['taskset', '-c', '0'] : [],
      onSpawn: (c) => {
        live.add(c);
        c.once('exit', () => live.delete(c));
      }
    });
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      })
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * One setup: `processes` server processes of `impl` (each with `threads`
 * worker threads, 0 = the main thread; a publisher in each thread),
 * `perServer` clients on each port (one port for all threads), paced by
 * credit; REPS windows of SECS. Returns the median window.
 */
async function measure({ impl, processes, threads, perServer, redis }) {
  const procs = [];
  let clients = null;
  const pubsPer = threads || 1;
  const publishers = processes * pubsPer;
  const nClients = processes * perServer;
  const perPublisher = Math.ceil(WINDOW / publishers);
  const step = Math.max(1, Math.floor(perPublisher / 4));
  try {
    const ports = [];
    for (let i = 0; i < processes; i++) {
      const port = nextPort++;
      ports.push(port);
      procs.push(spawnRole(0, '--server', [impl, port, redis ? redis.url : '-', threads, i * pubsPer]));
    }
    await Promise.all(procs.map((p) => p.ask('ready')));
    clients = spawnRole(1, '--clients', [impl === 'socket.io' ? 'eio' : 'ws', ports.join(','), perServer]);
    const c = await clients.ask('connect', null, 120000);
    if (c.connected !== nClients) {
      throw new Error(`${c.connected} of ${nClients} clients connected (${c.errors} failed: ${c.firstError})`);
    }
    for (const until = Date.now() + 10000; ; await sleep(20)) {
      const counts = await Promise.all(procs.map((p) => p.ask('count')));
      if (counts.every((n) => n === perServer)) break;
      if (Date.now() > until) throw new Error(`the servers have ${counts.join(', ')} subscribers, not ${perServer} each`);
    }
    await Promise.all(procs.map((p) => p.ask('sync', processes)));

    // Credit: publisher g may publish until WINDOW/P of its messages are
    // not yet at every client.
    let latest = null;
    let stopped = false;
    const sent = new Array(publishers).fill(0);
    const grant = (d) => {
      procs.forEach((p, i) => {
        const credits = [];
        let more = false;
        for (let k = 0; k < pubsPer; k++) {
          const g = i * pubsPer + k;
          const credit = Math.floor(d[g] / nClients) + perPublisher;
          if (credit - sent[g] >= step) more = true;
          credits.push(credit);
        }
        if (!more) return;
        credits.forEach((credit, k) => (sent[i * pubsPer + k] = credit));
        p.tell('credit', credits);
      });
    };
    clients.onReport = (m) => {
      latest = m;
      if (!stopped) grant(m.d);
    };
    grant(new Array(publishers).fill(0));

    const snap = () => ({
      t: latest ? latest.t : 0,
      total: latest ? latest.total : 0,
      client: latest ? latest.cpu : 0,
      server: procs.reduce((sum, p) => sum + cpuSeconds(p.child.pid), 0),
      redis: redis ? cpuSeconds(redis.pid) : 0
    });
    await sleep(WARMUP_MS);
    const windows = [];
    for (let rep = 0; rep < REPS; rep++) {
      const a = snap();
      await sleep(SECS * 1000);
      const b = snap();
      const n = b.total - a.total;
      if (!n) throw new Error(`nothing delivered in ${SECS} s (after ${b.total} deliveries)`);
      const secs = (b.t - a.t) / 1e9;
      windows.push({
        value: n / secs,
        cpuUs: ((b.server - a.server) * 1e6) / n,
        redisPct: ((b.redis - a.redis) * 100) / secs,
        clientPct: (b.client - a.client) / 1e4 / secs
      });
    }

    // Every message at every client, once.
    stopped = true;
    const published = (await Promise.all(procs.map((p) => p.ask('stop')))).flat();
    const expected = published.reduce((a, b) => a + b, 0);
    const until = Date.now() + 10000;
    while ((latest ? latest.total : 0) < expected * nClients && Date.now() < until) await sleep(20);
    await sleep(100);
    const f = await clients.ask('final');
    const wrong = published
      .map((p, g) => (f.byPublisher[g] !== p * nClients ? `publisher ${g}: ${f.byPublisher[g]} of ${p * nClients}` : ''))
      .filter(Boolean);
    if (f.min !== expected || f.max !== expected || wrong.length || f.broken) {
      throw new Error(
        `not every message reached every client once: each got ${f.min} to ${f.max} of ${expected}; ${wrong.join('; ')}` +
          (f.broken ? `; ${f.broken} connections broke` : '')
      );
    }
    return [...windows].sort((x, y) => x.value - y.value)[Math.floor(windows.length / 2)];
  } finally {
    await Promise.all([...procs, ...(clients ? [clients] : [])].map((p) => p.stop()));
  }
}

function fmt(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 100) return n.toFixed(0);
  return String(n);
}

const us = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * Runs the rows BENCH_ONLY selects (all by default) and prints their tables
 * with `print`. Returns false if an implementation failed (its cell says so).
 */
async function run({ print = console.log, only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null } = {}) {
  const wanted = process.env.BENCH_IMPLS ? process.env.BENCH_IMPLS.split(',') : ['wsrs', 'socket.io', 'uws'];
  const want = (impl) => wanted.includes(impl) || (impl === 'socket.io' && wanted.includes('sio'));
  let ok = true;
  const attempt = async (label, args) => {
    try {
      const r = await measure(args);
      process.stderr.write(
        `  ${label}: ${fmt(r.value)} deliveries/s, server CPU ${us(r.cpuUs)} µs per delivery` +
          `${args.redis ? `, Redis at ${r.redisPct.toFixed(0)}% of CPU 0` : ''}, clients at ${r.clientPct.toFixed(0)}% of CPU 1\n`
      );
      return r;
    } catch (err) {
      ok = false;
      process.stderr.write(`  ${label}: FAILED: ${err.message}\n`);
      return { error: err };
    }
  };
  // wsrs vs the other: > 1 is better for wsrs (throughput up, CPU down).
  const ratio = (a, b, lower) =>
    a && b && !a.error && !b.error ? (lower ? b.cpuUs / a.cpuUs : a.value / b.value).toFixed(2) + '×' : '–';
  const val = (r) => (!r ? 'n/a' : r.error ? 'failed' : fmt(r.value));
  const cpu = (r) => (!r ? 'n/a' : r.error ? 'failed' : us(r.cpuUs));
  const pin = hasTaskset ? '' : ' (taskset missing: NOT pinned)';
  const tag = `median of ${REPS} windows of ${SECS} s on one setup after ${WARMUP_MS / 1000} s of warm-up`;

  if ((!only || only.test(REDIS_ROW)) && (want('wsrs') || want('socket.io'))) {
    let redis = null;
    try {
      redis = await startRedis();
    } catch (err) {
      ok = false;
      process.stderr.write(`  ${REDIS_ROW}: FAILED: ${err.message}\n`);
    }
    if (!redis) {
      print(`\nredis-server ${ok ? 'is not installed' : 'did not start'}: the cross-process publish row is left out.`);
    } else {
      const results = {};
      try {
        for (const impl of ['socket.io', 'wsrs']) {
          if (!want(impl)) continue;
          const args = { impl, processes: PROCESSES, threads: 0, perServer: CLIENTS, redis };
          results[impl] = await attempt(`${REDIS_ROW} / ${impl}`, args);
        }
      } finally {
        await redis.stop();
      }
      const s = results['socket.io'];
      const w = results.wsrs;
      print(
        `\nPublish through Redis: ${PROCESSES} server processes, each with 1 000 clients subscribed to one topic ` +
          `and a publisher, ` +
          `every message to all ${PROCESSES * CLIENTS}. The ${PROCESSES} servers and Redis share CPU 0${pin}; the clients ` +
          `(one Node process, raw WebSocket framing, engine.io v4 over it for socket.io) are on CPU 1; ${tag}:\n`
      );
      print('| scenario | socket.io + @socket.io/redis-adapter | wsrs (`redis` option) | wsrs vs socket.io |');
      print('|---|---|---|---|');
      print(`| ${REDIS_ROW} (deliveries/s) | ${val(s)} | ${val(w)} | ${ratio(w, s)} |`);
      print(
        `| the same: server CPU µs per delivery, ${PROCESSES} processes (lower is better) | ${cpu(s)} | ${cpu(w)} | ` +
          `${ratio(w, s, true)} |`
      );
      const used = [
        ['socket.io', s],
        ['wsrs', w]
      ].filter(([, r]) => r && !r.error);
      if (used.length) {
        print(
          `\nRedis used ${used.map(([n, r]) => `${r.redisPct.toFixed(0)}% (${n})`).join(', ')} of CPU 0; the clients ` +
            `${used.map(([n, r]) => `${r.clientPct.toFixed(0)}% (${n})`).join(', ')} of CPU 1.`
        );
      }
    }
  }

  if ((!only || only.test(THREADS_ROW)) && (want('wsrs') || want('uws'))) {
    const results = {};
    const one = { processes: 1, perServer: CLIENTS, redis: null };
    if (want('uws')) results.uws = await attempt(`${THREADS_ROW} / uWS.js, 1 thread`, { impl: 'uws', threads: 0, ...one });
    if (want('wsrs')) {
      results.wsrs1 = await attempt(`${THREADS_ROW} / wsrs, 1 thread`, { impl: 'wsrs', threads: 0, ...one });
      results.wsrs2 = await attempt(`${THREADS_ROW} / wsrs, ${THREADS} threads`, { impl: 'wsrs', threads: THREADS, ...one });
    }
    const { uws, wsrs1, wsrs2 } = results;
    print(
      `\nPublish across threads: one process, ${THREADS} worker threads each with a wsrs server on one port (reusePort) ` +
        `and a publisher; 1 000 clients subscribed to one topic, spread between the threads by the kernel; against one ` +
        `thread (uWS.js cannot publish across threads). Server on CPU 0${pin}, clients on CPU 1; ${tag}:\n`
    );
    print(
      `| scenario | uWS.js, 1 thread | wsrs, 1 thread | wsrs, ${THREADS} threads | wsrs 1 thread vs uWS.js | ` +
        `wsrs ${THREADS} threads vs uWS.js | wsrs ${THREADS} threads vs 1 |`
    );
    print('|---|---|---|---|---|---|---|');
    print(
      `| ${THREADS_ROW} (deliveries/s) | ${val(uws)} | ${val(wsrs1)} | ${val(wsrs2)} | ` +
        `${ratio(wsrs1, uws)} | ${ratio(wsrs2, uws)} | ${ratio(wsrs2, wsrs1)} |`
    );
    print(
      `| the same: server CPU µs per delivery (lower is better) | ${cpu(uws)} | ${cpu(wsrs1)} | ${cpu(wsrs2)} | ` +
        `${ratio(wsrs1, uws, true)} | ${ratio(wsrs2, uws, true)} | ${ratio(wsrs2, wsrs1, true)} |`
    );
    const used = [
      ['uWS.js', uws],
      ['wsrs, 1 thread', wsrs1],
      [`wsrs, ${THREADS} threads`, wsrs2]
    ].filter(([, r]) => r && !r.error);
    if (used.length) {
      print(
        `\nThe clients used ${used.map(([n, r]) => `${r.clientPct.toFixed(0)}% (${n})`).join(', ')} of CPU 1 ` +
          '(near 100%, the clients set the deliveries/s; the CPU per delivery still compares).'
      );
    }
  }
  return ok;
}

module.exports = { run, REDIS_ROW, THREADS_ROW };

if (!isMainThread) {
  serveRequests((f) => parentPort.on('message', f), (m) => parentPort.postMessage(m), localHandlers(pubServer(workerData)));
} else if (process.argv[2] === '--server') {
  serverRole(process.argv.slice(3));
} else if (process.argv[2] === '--clients') {
  clientsRole(process.argv.slice(3));
} else if (require.main === module) {
  console.log(
    `Run of ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0].model.trim()}, ` +
      `${os.type()} ${os.release()}, Node ${process.version}.`
  );
  run().then(
    (ok) => process.exit(ok ? 0 : 1),
    (err) => {
      console.error(err);
      process.exit(1);
    }
  );
}
