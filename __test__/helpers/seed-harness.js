'use strict';

// Runs a seed fixture (a tutorial's server snippet, unchanged) as a child
// process with `ws` resolving to ws or to wsrs, drives it with real ws
// clients, and records a transcript that can be compared across the two.

const { spawn } = require('child_process');
const net = require('net');
const path = require('path');
const { pathToFileURL } = require('url');

const WebSocket = require('ws'); // the real ws (node_modules): clients are always ws's

const ROOT = path.resolve(__dirname, '..', '..');
const HELPERS = __dirname;
const MARKER = '[seed-harness] ';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `pred` until it holds (true) or `timeout` ms pass (false). */
async function waitFor(pred, timeout = 2000, step = 5) {
  const end = Date.now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(step);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Waits until nothing listens on the port (a previous run has let go of it). */
async function waitPortFree(port, timeout = 5000) {
  const end = Date.now() + timeout;
  while (await accepts(port)) {
    if (Date.now() >= end) throw new Error(`port ${port} is still in use after ${timeout} ms`);
    await sleep(50);
  }
}

/**
 * Starts `node [preloads] file` with `ws` resolving to `impl` (ws, ws-shim or
 * wsrs) and timers sped up `divisor` times.
 */
function startServer(file, { impl, divisor = 50 }) {
  const args = ['--require', path.join(HELPERS, 'use-impl.js'), '--require', path.join(HELPERS, 'scale-timers.js')];
  if (file.endsWith('.mjs')) args.push('--import', pathToFileURL(path.join(HELPERS, 'use-impl-esm.mjs')).href);
  args.push(file);
  const env = { ...process.env, WS_IMPL: impl, SEED_TIMER_DIVISOR: String(divisor) };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, file, impl, stdout: '', stderr: '', exit: null, stoppedByUs: false };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  run.closed = new Promise((resolve) => {
    child.once('error', (err) => {
      run.stderr += `${MARKER}spawn error: ${err.message}\n`;
      if (run.exit === null) run.exit = { code: null, signal: null };
      resolve(run.exit);
    });
    child.once('close', (code, signal) => {
      run.exit = { code, signal };
      resolve(run.exit);
    });
  });
  return run;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the child is gone. */
async function stopServer(run) {
  if (run.exit !== null) return;
  run.stoppedByUs = true;
  run.child.kill('SIGTERM');
  const exited = await Promise.race([run.closed.then(() => true), sleep(2000).then(() => false)]);
  if (!exited) {
    run.child.kill('SIGKILL');
    await run.closed;
  }
}

/** Resolves 'listening' once the port accepts, 'exited' if the child dies first, else 'timeout'. */
async function waitForServer(run, port, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (run.exit !== null) return 'exited';
    if (await accepts(port)) return run.exit !== null ? 'exited' : 'listening';
    if (Date.now() >= end) return 'timeout';
    await sleep(20);
  }
}

/** Complete lines of a stream's text (a trailing partial line counts too). */
function lines(text) {
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * A real ws client on ws://127.0.0.1:port that records what it sees. Resolves
 * when it opens, or when it fails to (then `opened` is false).
 * `reply(entry)` may return data to send back for a received message.
 */
function connectClient(port, name, { reply, path = '' } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const c = { name, ws, log: [], close: null, opened: false, localPort: null };
    ws.on('open', () => {
      c.opened = true;
      c.localPort = ws._socket.localPort;
      resolve(c);
    });
    ws.on('message', (data, isBinary) => {
      const entry = isBinary ? ['binary', Buffer.from(data).toString('hex')] : ['text', data.toString()];
      c.log.push(entry);
      if (reply) {
        const answer = reply(entry);
        if (answer !== undefined) ws.send(answer);
      }
    });
    ws.on('ping', (data) => c.log.push(['ping', data.toString('hex')]));
    ws.on('pong', (data) => c.log.push(['pong', data.toString('hex')]));
    ws.on('unexpected-response', (req, res) => {
      c.log.push(['unexpected-response', res.statusCode]);
      req.destroy();
    });
    ws.on('error', (err) => {
      c.log.push(['error', err.message]);
      if (!c.opened) resolve(c);
    });
    ws.on('close', (code, reason) => {
      c.close = [code, reason.toString()];
      if (!c.opened) resolve(c);
    });
  });
}

function closeClient(c, ...args) {
  c.ws.close(...args);
  return waitFor(() => c.close !== null, 3000);
}

/** The first line of an uncaught error's report (e.g. "ReferenceError: x is not defined"). */
const ERROR_LINE = /^(?:[A-Z]\w*)?(?:Error|Exception)\b(?: \[[\w-]+\])?:/;

/**
 * The comparable record of a run: each client's messages (text vs binary and
 * content), close code and reason, the server's stdout and stderr lines, and
 * how the server ended (still running when we stopped it, or crashed: exit
 * code and the error's first line). Client ports and temp paths are
 * normalised; `heartbeat(entry)` (optional) moves messages that arrive on a
 * timer out of the ordered list into a set, since how many of them arrive,
 * and where between the others, depends on timing.
 */
function transcript(run, clients, extra = {}, { heartbeat, paths = {} } = {}) {
  const norm = (s) => {
    let out = s;
    for (const c of clients) if (c.localPort) out = out.split(String(c.localPort)).join(`<port of ${c.name}>`);
    for (const [p, name] of Object.entries(paths)) out = out.split(p).join(name);
    return out.split(ROOT).join('<root>');
  };

  const stderrAll = lines(run.stderr).filter((l) => !l.startsWith(MARKER));
  const crashed = run.exit !== null && !run.stoppedByUs;
  let stderr = stderrAll;
  let server = 'running until the test stopped it';
  if (crashed) {
    const i = stderrAll.findIndex((l) => ERROR_LINE.test(l));
    // The report up to the error's first line; the stack below it names
    // implementation frames (ws's or wsrs's), which may legitimately differ.
    stderr = i === -1 ? stderrAll : stderrAll.slice(0, i + 1);
    server = { exitCode: run.exit.code, signal: run.exit.signal, error: i === -1 ? null : norm(stderrAll[i]) };
  }

  const out = { server, stdout: lines(run.stdout).map(norm), stderr: stderr.map(norm), clients: {} };
  for (const c of clients) {
    const rec = { opened: c.opened };
    if (heartbeat) {
      rec.messages = c.log.filter((e) => !heartbeat(e));
      rec.heartbeats = [...new Set(c.log.filter(heartbeat).map((e) => JSON.stringify(e)))].sort().map((s) => JSON.parse(s));
    } else {
      rec.messages = c.log;
    }
    rec.close = c.close;
    out.clients[c.name] = rec;
  }
  return { ...out, ...extra };
}

/** Which implementation the child reported `ws` resolved to (null if it never asked). */
function resolvedImpl(run) {
  const m = run.stderr.match(/^\[seed-harness\] (?:require\('ws'\)|import 'ws') -> (\S+)/m);
  return m ? m[1] : null;
}

module.exports = {
  ROOT,
  accepts,
  closeClient,
  connectClient,
  lines,
  resolvedImpl,
  sleep,
  startServer,
  stopServer,
  transcript,
  waitFor,
  waitForServer,
  waitPortFree
};
