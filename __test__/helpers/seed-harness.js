'use strict';

// Runs a seed fixture (a tutorial's server snippet, unchanged) as a child
// process with `ws` resolving to ws or to wsrs, drives it with real ws
// clients, and records a transcript that can be compared across the two.
// The seeds listen on fixed ports: each run listens on its seed's port if
// that is free, else on one the system picks (seed-ports.js), so a port held
// elsewhere never fails a run and two runs never collide.

const { spawn } = require('child_process');
const net = require('net');
const path = require('path');
const { pathToFileURL } = require('url');

const WebSocket = require('ws'); // the real ws (node_modules): clients are always ws's

const { eventually, quietWindow } = require('./wait');

const ROOT = path.resolve(__dirname, '..', '..');
const HELPERS = __dirname;
const MARKER = '[seed-harness] ';

/**
 * Whether `pred()` holds within `timeout` ms (true) or not (false): the
 * shared `eventually` (wait.js), for scenarios that record the answer.
 */
function waitFor(pred, timeout = 2000, interval = 5) {
  return eventually(pred, { timeout, interval }).then(
    () => true,
    (err) => {
      if (err.code === 'ERR_EVENTUALLY_TIMEOUT') return false;
      throw err;
    }
  );
}

/** Whether `port` is free: tried the way the seeds listen (every address, no host given). */
function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * Where a seed that listens on the fixed `port` really listens, as
 * seed-ports.js takes it (SEED_PORTS): on `port` itself if it is free, else
 * (or with `fallback`, or SEED_PORT_FALLBACK=1 for every run) on 0, a port
 * the system picks, which nothing else can hold.
 */
async function portPlan(port, { fallback = process.env.SEED_PORT_FALLBACK === '1' } = {}) {
  return { [port]: !fallback && (await portFree(port)) ? port : 0 };
}

/**
 * Starts `node [preloads] file` with `ws` resolving to `impl` (ws, ws-shim or
 * wsrs), timers sped up `divisor` times and fixed ports mapped by `ports`
 * (see portPlan).
 */
function startServer(file, { impl, divisor = 50, ports = null }) {
  const args = ['--require', path.join(HELPERS, 'use-impl.js')];
  args.push('--require', path.join(HELPERS, 'seed-ports.js'), '--require', path.join(HELPERS, 'scale-timers.js'));
  if (file.endsWith('.mjs')) args.push('--import', pathToFileURL(path.join(HELPERS, 'use-impl-esm.mjs')).href);
  args.push(file);
  const env = { ...process.env, WS_IMPL: impl, SEED_TIMER_DIVISOR: String(divisor) };
  delete env.NODE_OPTIONS;
  delete env.SEED_PORTS;
  if (ports) env.SEED_PORTS = JSON.stringify(ports);
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, file, impl, ports, stdout: '', stderr: '', exit: null, stoppedByUs: false, listening: null };
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

/** SIGTERM, then SIGKILL if it is still there after 2 s; resolves once the child is gone. */
async function stopServer(run) {
  if (run.exit !== null) return;
  run.stoppedByUs = true;
  run.child.kill('SIGTERM');
  const kill = setTimeout(() => run.child.kill('SIGKILL'), 2000);
  await run.closed;
  clearTimeout(kill);
}

/**
 * Waits for the child's report that it listens for the fixed `port`
 * (seed-ports.js): resolves 'listening' (and sets `run.listening` to
 * { port, real }, the real port to connect to), 'exited' if the child ends
 * first, or 'timeout'.
 */
function waitForServer(run, port, timeout = 5000) {
  const report = new RegExp(`^\\[seed-harness\\] listening ${port} -> (\\d+)\\n`, 'm');
  return new Promise((resolve) => {
    const done = (result) => {
      clearTimeout(timer);
      run.child.stderr.off('data', check);
      resolve(result);
    };
    const check = () => {
      const m = report.exec(run.stderr);
      if (m) {
        run.listening = { port, real: Number(m[1]) };
        done('listening');
      } else if (run.exit !== null) {
        done('exited');
      }
    };
    const timer = setTimeout(() => done('timeout'), timeout);
    run.child.stderr.on('data', check); // after startServer's listener: run.stderr has the chunk
    run.closed.then(check);
    check();
  });
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
    // A seed moved off its fixed port reads as if it listened there.
    const moved = run.listening && run.listening.real !== run.listening.port;
    if (moved) out = out.split(String(run.listening.real)).join(String(run.listening.port));
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
  closeClient,
  connectClient,
  lines,
  portFree,
  portPlan,
  quietWindow,
  resolvedImpl,
  startServer,
  stopServer,
  transcript,
  waitFor,
  waitForServer
};
