'use strict';

// Redis for the pub/sub tests (redis.test.js): a real redis-server per test
// on a free port (started, stopped, restarted on the same port, killed), a
// tiny RESP client to inject raw messages and to ask Redis what it knows
// (PUBLISH's receiver count, PUBSUB NUMSUB), a raw subscriber, a TCP proxy
// that can hold a process's connections to Redis back, the envelope wsrs
// puts on a channel, and the peer processes (fixtures/redis-peer.js).
// Every redis-server and every peer this module starts is killed when the
// test process exits, whatever the test did.

const { fork } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { freePort, spawnRedis: startServer } = require('../../scripts/redis-server');

const live = new Set(); // child processes to kill at exit
const dirs = new Set(); // tmp dirs to remove at exit
let exitHook = false;
function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  for (const dir of dirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}
function onExit() {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', killAll);
  // Killed by a signal (ava on a timeout, Ctrl-C), 'exit' does not run:
  // kill them then, and die of the same signal. Only where nobody else
  // handles it, so as not to change what the process does.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** redis-server on `port` in `dir`, killed at exit if still running. */
function spawnRedis(port, dir) {
  const onSpawn = (child) => {
    live.add(child);
    child.once('exit', () => live.delete(child));
  };
  return startServer(port, dir, { onSpawn });
}

/** Resolves once `child` has exited (at once if it has already). */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a redis-server (no persistence, 127.0.0.1 only) on `opts.port` or
 * a free port, in a fresh tmp dir. Resolves with
 *   { port, url, stop(), start(), kill(), close(), running }
 * stop(): SIGTERM, resolves once it has exited; start(): again on the same
 * port, resolves once ready; kill(): SIGKILL (a crash), resolves once
 * exited; close(): stops it for good and removes the tmp dir (for teardown).
 */
async function startRedis(opts = {}) {
  onExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-redis-'));
  dirs.add(dir);
  let port = opts.port;
  let child;
  for (let attempt = 0; ; attempt++) {
    const p = port || (await freePort());
    try {
      child = await spawnRedis(p, dir);
      port = p;
      break;
    } catch (err) {
      // A free port taken by someone else in between: try another one.
      if (err.code !== 'EADDRINUSE' || opts.port || attempt >= 4) {
        fs.rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
        throw err;
      }
    }
  }
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async stop(signal = 'SIGTERM') {
      if (!child) return;
      const c = child;
      child = null;
      c.ref();
      c.kill(signal);
      await exited(c);
    },
    kill() {
      return redis.stop('SIGKILL');
    },
    async start() {
      if (child) throw new Error(`redis-server on port ${port} is already running`);
      // The port was just let go of; redis-server binds with SO_REUSEADDR,
      // but if another process grabbed it meanwhile, say so.
      child = await spawnRedis(port, dir);
    },
    async close() {
      await redis.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
  };
  return redis;
}

// --- RESP ---------------------------------------------------------------

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one RESP2 reply at `buf[i]`: { value, end } or null if incomplete.
 * Simple strings come back as strings, bulk strings as Buffers (null for
 * nil), integers as numbers, errors as Error values (not thrown).
 */
function parseReply(buf, i = 0) {
  if (i >= buf.length) return null;
  const eol = buf.indexOf('\r\n', i);
  if (eol === -1) return null;
  const type = String.fromCharCode(buf[i]);
  const line = buf.toString('latin1', i + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: Object.assign(new Error(line), { code: 'ERR_REDIS_REPLY' }), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n === -1) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.subarray(next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n === -1) return { value: null, end: next };
      const out = [];
      let at = next;
      for (let k = 0; k < n; k++) {
        const r = parseReply(buf, at);
        if (!r) return null;
        out.push(r.value);
        at = r.end;
      }
      return { value: out, end: at };
    }
    default:
      throw new Error(`unexpected RESP reply ${JSON.stringify(buf.toString('latin1', i, Math.min(buf.length, i + 40)))}`);
  }
}

/**
 * Sends one command (`args` strings, numbers or Buffers) to the Redis on
 * `port` over a fresh connection; resolves with the parsed reply (rejects
 * on an error reply or a connection failure).
 */
function command(port, ...args) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${args[0]}: no reply from port ${port} within 5 s`));
    }, 5000);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => sock.write(encodeCommand(args)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseReply(buf);
      if (!r) return;
      clearTimeout(timer);
      sock.destroy();
      if (r.value instanceof Error) reject(r.value);
      else resolve(r.value);
    });
  });
}

/** How many connections are subscribed to `channel` (PUBSUB NUMSUB; pattern subscriptions not counted). */
async function numsub(port, channel) {
  const reply = await command(port, 'PUBSUB', 'NUMSUB', channel);
  return reply[1];
}

/**
 * A raw subscriber: SUBSCRIBEs to `channels` (or PSUBSCRIBEs, with
 * { pattern: true }) and collects { channel, payload } (Buffers); resolves
 * once Redis confirmed every subscription. `next(pred)` resolves with the
 * first collected message matching `pred` (waiting for it if needed).
 */
function subscriber(port, channels, { pattern = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let confirmed = 0;
    const messages = [];
    const waiters = [];
    const sub = {
      messages,
      next(pred = () => true, timeout = 5000) {
        const found = messages.find(pred);
        if (found) return Promise.resolve(found);
        return new Promise((res, rej) => {
          const w = { pred, res };
          w.timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1);
            rej(new Error(`raw subscriber: no matching message within ${timeout} ms; got ${messages.length}`));
          }, timeout);
          waiters.push(w);
        });
      },
      close() {
        sock.destroy();
      }
    };
    sock.on('error', reject);
    sock.on('connect', () => sock.write(encodeCommand([pattern ? 'PSUBSCRIBE' : 'SUBSCRIBE', ...channels])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseReply(buf);
        if (!r) break;
        buf = buf.subarray(r.end);
        const [kind, ...rest] = r.value;
        const k = kind.toString();
        if (k === 'subscribe' || k === 'psubscribe') {
          if (++confirmed === channels.length) resolve(sub);
        } else if (k === 'message' || k === 'pmessage') {
          const m = k === 'message' ? { channel: rest[0].toString(), payload: rest[1] } : { channel: rest[1].toString(), payload: rest[2] };
          messages.push(m);
          for (const w of waiters.slice()) {
            if (w.pred(m)) {
              clearTimeout(w.timer);
              waiters.splice(waiters.indexOf(w), 1);
              w.res(m);
            }
          }
        }
      }
    });
  });
}

// --- wsrs's envelope on a channel ----------------------------------------

const MAGIC = 0x57; // 'W'
const VERSION = 1;
const HEADER = 11;

/**
 * A message as a wsrs process publishes it on a channel: 'W', version 1,
 * opcode (1 text, 2 binary), 8 bytes of origin, the payload. Every field
 * can be overridden to make malformed ones.
 */
function envelope(data, { opcode, origin = crypto.randomBytes(8), magic = MAGIC, version = VERSION } = {}) {
  const payload = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const op = opcode === undefined ? (Buffer.isBuffer(data) ? 2 : 1) : opcode;
  return Buffer.concat([Buffer.from([magic, version, op]), origin, payload]);
}

/** Splits an envelope read from a channel: { magic, version, opcode, origin (hex), payload }. */
function openEnvelope(buf) {
  return {
    magic: buf[0],
    version: buf[1],
    opcode: buf[2],
    origin: buf.subarray(3, HEADER).toString('hex'),
    payload: buf.subarray(HEADER)
  };
}

// --- a proxy that can hold connections back -------------------------------

/**
 * A TCP proxy to 127.0.0.1:`targetPort`. While held (`hold()`), new
 * connections are accepted but not forwarded: their bytes wait, unread,
 * until `release()`, which connects them (and every later one) through.
 * Connections already forwarded are not affected; when the target closes
 * one, the proxy closes its side too. With it a test decides which process
 * gets back to a restarted Redis first.
 */
function proxy(targetPort) {
  return new Promise((resolve, reject) => {
    let held = false;
    const pending = new Set();
    const open = new Set();
    const link = (down) => {
      const up = net.connect(targetPort, '127.0.0.1');
      open.add(down);
      open.add(up);
      const end = () => {
        down.destroy();
        up.destroy();
        open.delete(down);
        open.delete(up);
      };
      up.on('error', end);
      up.on('close', end);
      down.on('error', end);
      down.on('close', end);
      down.pipe(up);
      up.pipe(down);
      down.resume();
    };
    const server = net.createServer({ pauseOnConnect: true }, (down) => {
      if (!held) return link(down);
      pending.add(down);
      down.on('error', () => {});
      down.on('close', () => pending.delete(down));
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        url: `redis://127.0.0.1:${port}`,
        get pending() {
          return pending.size;
        },
        hold() {
          held = true;
        },
        release() {
          held = false;
          for (const down of pending) {
            pending.delete(down);
            if (!down.destroyed) link(down);
          }
        },
        close() {
          for (const s of [...pending, ...open]) s.destroy();
          return new Promise((res) => server.close(() => res()));
        }
      });
    });
  });
}

// --- peer processes (fixtures/redis-peer.js) -------------------------------

const PEER = path.join(__dirname, '..', 'fixtures', 'redis-peer.js');

/**
 * Forks a peer (see fixtures/redis-peer.js for its options and commands)
 * and resolves once its server listens and its clients are connected and
 * subscribed. The peer object:
 *   call(cmd, args, { timeout })  a command; resolves with its result
 *   events                        every event it reported, in order
 *   waitEvent(pred, { timeout })  the first event (past or future) matching pred
 *   count(name)                   how many events named `name` it reported
 *   stop()                        asks it to exit; SIGKILL if it does not
 */
function startPeer(options) {
  onExit();
  const child = fork(PEER, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  const events = [];
  const calls = new Map();
  const waiters = new Set();
  let nextId = 1;
  let exitInfo = null;
  const name = options.name || 'peer';

  const failAll = (err) => {
    for (const c of calls.values()) c.reject(err);
    calls.clear();
    for (const w of waiters) w.reject(err);
    waiters.clear();
  };

  child.on('message', (m) => {
    if (m.event) {
      events.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m, events)) {
          waiters.delete(w);
          w.resolve(m);
        }
      }
    } else if (m.id) {
      const c = calls.get(m.id);
      if (!c) return;
      calls.delete(m.id);
      if (m.error) c.reject(Object.assign(new Error(`${name}: ${m.error}`), { stack: `${name}: ${m.stack}` }));
      else c.resolve(m.result);
    }
  });
  child.on('exit', (code, signal) => {
    live.delete(child);
    exitInfo = { code, signal };
    failAll(new Error(`${name} exited (${signal || code}); its events: ${JSON.stringify(events)}`));
  });

  const peer = {
    name,
    child,
    events,
    count: (event) => events.filter((e) => e.event === event).length,
    call(cmd, args = {}, { timeout = 20000 } = {}) {
      if (exitInfo) return Promise.reject(new Error(`${name} has exited (${JSON.stringify(exitInfo)})`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          calls.delete(id);
          reject(new Error(`${name}: no answer to ${cmd} within ${timeout} ms; its events: ${JSON.stringify(events)}`));
        }, timeout);
        calls.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          }
        });
        child.send({ id, cmd, ...args });
      });
    },
    waitEvent(pred, { timeout = 10000, what } = {}) {
      if (typeof pred === 'string') {
        const event = pred;
        pred = (e) => e.event === event;
        what = what || event;
      }
      const found = events.find((e) => pred(e, events));
      if (found) return Promise.resolve(found);
      if (exitInfo) return Promise.reject(new Error(`${name} has exited (${JSON.stringify(exitInfo)})`));
      return new Promise((resolve, reject) => {
        const w = { pred };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no event ${what || pred} within ${timeout} ms; its events: ${JSON.stringify(events)}`));
        }, timeout);
        w.resolve = (e) => {
          clearTimeout(timer);
          resolve(e);
        };
        w.reject = (e) => {
          clearTimeout(timer);
          reject(e);
        };
        waiters.add(w);
      });
    },
    /** Resolves once it has reported `n` 'redisReady' events in all. */
    ready(n = 1, timeout = 10000) {
      return peer.waitEvent((e, all) => e.event === 'redisReady' && all.filter((x) => x.event === 'redisReady').length >= n, {
        timeout,
        what: `redisReady #${n}`
      });
    },
    async stop() {
      if (exitInfo) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      try {
        child.send({ id: 0, cmd: 'exit' });
      } catch {}
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
  };

  return new Promise((resolve, reject) => {
    peer
      .waitEvent('started', { timeout: options.startTimeout || 20000 })
      .then((e) => {
        peer.port = e.port;
        peer.pid = e.pid;
        resolve(peer);
      })
      .catch((err) => {
        child.kill('SIGKILL');
        reject(err);
      });
  });
}

module.exports = {
  HEADER,
  command,
  envelope,
  freePort,
  numsub,
  openEnvelope,
  parseReply,
  proxy,
  startPeer,
  startRedis,
  subscriber
};
