'use strict';

// The JS half of the event queue (src/events.rs has the Rust half).
//
// Each copy of this module (one per thread, and one per module registry:
// jest and vitest load a copy per test file) makes its own native instance,
// with its own connections, servers and event batch: nothing it does reaches
// another copy.
//
// Rust reads this instance's sockets into one batch of events and calls
// `onWake(batch)` with it, one Buffer, which routes each event to its
// socket or server. Sends are queued in Rust synchronously and
// written by `flush` once per JS turn, one write per connection (a large
// fan-out in slices over a few turns).

const addon = require('./addon');
/** The addon's exports that are not functions of an instance. */
const NOT_PER_INSTANCE = new Set([
  'Native',
  'processStats',
  'mallocInUse',
  'acceptKey',
  'sends',
  'reusePortSupported',
  'nativeSockets',
  'wireConstants',
  'isValidCloseCode'
]);

// Event kinds and flags, from their one source (src/events.rs).
const WIRE = addon.wireConstants();
const {
  K_UPGRADE,
  K_MESSAGE,
  K_PING,
  K_PONG,
  K_PEER_CLOSE,
  K_ERROR,
  K_CLOSED,
  K_DRAIN,
  K_SERVER_ERROR,
  K_BRIDGED_WRITE,
  K_PUBLISHED,
  K_REDIS,
  FLAG_BINARY,
  FLAG_RANGE_ERROR,
  FLAG_OWNED
} = WIRE;

/** Open sockets by slot (the id Rust tags their events with). */
const sockets = [];
const freeSlots = [];
/** Servers listening on a Rust-owned port, by id. */
const servers = new Map();
let nextServerId = 1;

// The instance keeps the event loop alive only while a server listens or a
// socket is open, so a process exits on its own like with ws.
let refs = 0;
function ref() {
  if (refs++ === 0) {
    binding.setRef(true);
    process.on('exit', flushOnExit);
  }
}
function unref() {
  if (--refs === 0) {
    binding.setRef(false);
    process.removeListener('exit', flushOnExit);
  }
}

// A process dying of an uncaught exception still writes what it had sent.
function flushOnExit() {
  let r;
  do r = binding.flush();
  while (r != null && r.more);
}

function addSocket(ws) {
  const slot = freeSlots.length ? freeSlots.pop() : sockets.length;
  sockets[slot] = ws;
  ref();
  return slot;
}

function removeSocket(slot) {
  const ws = sockets[slot];
  // ws._socket keeps its last byte counts (they go with the slot).
  if (ws !== undefined) ws._snapshotSocket();
  binding.release(slot);
  sockets[slot] = undefined;
  freeSlots.push(slot);
  unref();
}

function addServer(server) {
  const id = nextServerId++;
  servers.set(id, server);
  return id;
}

function removeServer(id) {
  servers.delete(id);
}

// ---- sending ---------------------------------------------------------------

let flushScheduled = false;
/** Sockets with send callbacks waiting for their bytes to be written. */
const waiting = new Set();

function scheduleFlush() {
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(flush);
  }
}

function flush() {
  if (!flushScheduled) return;
  flushScheduled = false;
  const r = binding.flush(waiting.size > 0);
  if (r !== undefined && r !== null) {
    if (r.bridged != null) {
      // Sockets Node keeps (TLS, other Duplex streams): Rust framed, JS writes.
      for (const w of r.bridged) {
        const ws = sockets[w.slot];
        if (ws !== undefined) ws._bridgeWrite(w.data, w.end, w.destroy);
      }
    }
    // A large fan-out is written in slices, with the event loop reading
    // in between (see Conn::flush_all in src/connection.rs).
    if (r.more) scheduleMore();
    // Send callbacks run once everything their socket had queued is written
    // (a socket the kernel could not take it all from reports 'drain').
    if (r.written != null) {
      for (const slot of r.written) {
        const ws = sockets[slot];
        if (ws !== undefined && waiting.delete(ws)) ws._onWritten();
      }
    }
  }
}

let moreScheduled = false;

function scheduleMore() {
  if (!moreScheduled) {
    moreScheduled = true;
    setImmediate(flushMore);
  }
}

function flushMore() {
  moreScheduled = false;
  flushScheduled = true;
  flush();
}

function waitForWrite(ws) {
  waiting.add(ws);
}

// ---- receiving -------------------------------------------------------------

// A batch being dispatched. If a user handler throws, the exception
// propagates as it would from ws (same stack, same crash report, same
// 'uncaughtException'), and the rest of the batch resumes on the next tick:
// other connections lose nothing.
let current = null;
let resumeScheduled = false;
/** Where the last failed dispatch stopped, to detect one that cannot progress. */
let failedAt = null;

// `batch` is Rust's (undefined when resuming after a throw: then the rest
// of the batch, and what else waits, are taken with `drain`).
function onWake(batch) {
  resumeScheduled = false;
  let done = false;
  try {
    // Rust delivers only between batches: nothing is left from before.
    if (batch !== undefined) current = open(batch);
    for (;;) {
      if (current === null) {
        if (batch !== undefined) break;
        const next = binding.drain();
        if (next === undefined) break;
        current = open(next);
      }
      dispatch(current);
      current = null;
    }
    done = true;
  } finally {
    if (!done) {
      // Resume once, after the exception has been handled (setImmediate,
      // so a handler that keeps throwing cannot starve the event loop); a
      // batch that fails twice without moving on is dropped rather than
      // retried forever.
      if (current !== null && failedAt !== null && failedAt.cursor === current && failedAt.i === current.i) {
        current = null;
      }
      failedAt = current === null ? null : { cursor: current, i: current.i };
      if (!resumeScheduled) {
        resumeScheduled = true;
        setImmediate(resume);
      }
      // What was sent before the throw goes out now, as it would with ws
      // (whose writes are immediate), even if the process is about to die.
      flush();
    }
  }
  if (done) failedAt = null;
  flush();
}

function resume() {
  onWake(undefined);
}

// [payloads][pad][count × 4 u32 descriptors][u32 count] (src/events.rs).
function open(batch) {
  const ab = batch.buffer;
  const base = batch.byteOffset;
  const end = base + batch.length;
  const count = new Uint32Array(ab, end - 4, 1)[0];
  return { ab, meta: new Uint32Array(ab, end - 4 - count * 16, count * 4), i: 0, off: base };
}

function dispatch(cursor) {
  const { ab, meta } = cursor;
  while (cursor.i < meta.length) {
    const i = cursor.i;
    const kind = meta[i];
    const id = meta[i + 1];
    const len = meta[i + 2];
    const extra = meta[i + 3];
    cursor.i = i + 4;
    if (kind & FLAG_OWNED) {
      // A large message in a buffer of its own (no copy), at offset `extra`.
      const own = binding.takeOwned();
      const ws = sockets[id];
      if (ws !== undefined) ws._onMessage(own.buffer, own.byteOffset + extra, len, (kind & FLAG_BINARY) !== 0);
      continue;
    }
    const start = cursor.off;
    cursor.off += len;
    switch (kind & 0xff) {
      case K_MESSAGE: {
        const ws = sockets[id];
        if (ws !== undefined) ws._onMessage(ab, start, len, (kind & FLAG_BINARY) !== 0);
        break;
      }
      case K_UPGRADE: {
        const server = servers.get(extra);
        // The request, its fields separated by NUL (handshake::Request::encode).
        const info = Buffer.from(ab, start, len).toString('latin1');
        if (server !== undefined) server._onNativeUpgrade(id, info);
        else binding.reject(id, null);
        break;
      }
      case K_PING:
      case K_PONG: {
        const ws = sockets[id];
        if (ws !== undefined) ws._onControl((kind & 0xff) === K_PING ? 'ping' : 'pong', copy(ab, start, len));
        break;
      }
      case K_PEER_CLOSE: {
        const ws = sockets[id];
        if (ws !== undefined) ws._onPeerClose(extra, copy(ab, start, len));
        break;
      }
      case K_ERROR: {
        const ws = sockets[id];
        if (ws !== undefined) {
          const text = Buffer.from(ab, start, len).toString();
          const nl = text.indexOf('\n');
          const Ctor = kind & FLAG_RANGE_ERROR ? RangeError : Error;
          const err = new Ctor(text.slice(nl + 1));
          err.code = text.slice(0, nl);
          ws._onProtocolError(err, extra);
        }
        break;
      }
      case K_CLOSED: {
        const ws = sockets[id];
        if (ws !== undefined) {
          removeSocket(id);
          waiting.delete(ws);
          ws._onClosed();
        }
        break;
      }
      case K_BRIDGED_WRITE: {
        // The native heartbeat pinged (or ended) a socket Node keeps.
        if (sockets[id] !== undefined) {
          binding.bridgeKick(id);
          scheduleFlush();
        }
        break;
      }
      case K_DRAIN: {
        const ws = sockets[id];
        if (ws !== undefined) {
          if (waiting.delete(ws)) ws._settleSendCallbacks(null);
          ws._onDrain();
        }
        break;
      }
      case K_SERVER_ERROR: {
        const server = servers.get(id);
        if (server !== undefined) server._onNativeError(Buffer.from(ab, start, len).toString());
        break;
      }
      case K_PUBLISHED:
        // Another instance or process published to this one's subscribers:
        // Rust queued it to them; it goes out with this turn's flush.
        scheduleFlush();
        break;
      case K_REDIS: {
        const server = servers.get(id);
        if (server !== undefined) server._onRedis(extra, Buffer.from(ab, start, len).toString());
        break;
      }
    }
  }
}

/** A payload the user may keep: its own memory, not a view of the batch. */
function copy(ab, start, len) {
  const out = Buffer.allocUnsafeSlow(len);
  out.set(new Uint8Array(ab, start, len));
  return out;
}

// This copy's instance. Its functions take the instance's id first; `binding`
// has them with the id bound, under the same names. The instance lives as
// long as this module does (it is exported below): when JS collects it, Rust
// tears the instance down.
const instance = new addon.Native(onWake);
const binding = {};
for (const name of Object.keys(addon)) {
  if (typeof addon[name] === 'function' && !NOT_PER_INSTANCE.has(name)) binding[name] = addon[name].bind(null, instance.id);
}
// The sends, plain napi callbacks (src/binding/sends.rs), bound the same way.
const sends = addon.sends();
for (const name of Object.keys(sends)) binding[name] = sends[name].bind(null, instance.id);

/**
 * The per-connection settings Rust needs, from ws-style options (the same
 * for a server's connections and for a client).
 */
function connectionOptions(options) {
  return {
    maxPayload: Number(options.maxPayload) || 0,
    maxFragments: options.maxFragments >>> 0,
    skipUtf8Validation: !!options.skipUTF8Validation,
    autoPong: options.autoPong !== false,
    maxPendingAutoPongs: options.maxPendingAutoPongs >>> 0,
    closeTimeout: Number(options.closeTimeout),
    maxBufferedAmount: Number(options.maxBufferedAmount) || 0,
    backpressure: options.backpressure === 'drop' ? 'drop' : 'close'
  };
}

/**
 * Live objects, for leak checks: Rust's connection tasks, pending upgrades,
 * open connections and topics, and the JS side's sockets, servers and event
 * loop references.
 */
function stats() {
  let jsSockets = 0;
  for (const ws of sockets) if (ws !== undefined) jsSockets++;
  return { ...binding.stats(), jsSockets, servers: servers.size, refs };
}

/** Counters of the whole process (every instance, every thread). */
function processStats() {
  return addon.processStats();
}

/** Dispatches at once what a bridged socket's bytes produced (JS thread). */
function feed(ws, chunk) {
  binding.bridgeFeed(ws._slot, chunk);
  scheduleFlush();
  onWake();
}

/** A bridged socket closed (its 'close' event). */
function bridgedClosed(ws) {
  if (ws._slot === -1) return;
  removeSocket(ws._slot);
  waiting.delete(ws);
  ws._onClosed();
}

module.exports = {
  WIRE,
  addServer,
  bridgedClosed,
  connectionOptions,
  feed,
  processStats,
  reusePortSupported: addon.reusePortSupported,
  stats,
  addSocket,
  binding,
  // Keeps the instance alive with this module (nothing else holds it).
  instance,
  ref,
  removeServer,
  removeSocket,
  scheduleFlush,
  unref,
  waitForWrite
};
