'use strict';

// Memory per idle connection, by part: `node bench/memory.js [N]` (default
// 10 000) opens N idle connections from the load generator to a ws, a
// uWebSockets.js and a wsrs server in turn (each its own process, pinned to
// CPU 0 as in `npm run bench`) and prints, per connection: RSS, what the C
// allocator holds (Rust's, and Node's outside V8's heap: `mallocInUse()`,
// glibc's counters, the same for every server), V8's old space in use (the
// JS objects a connection keeps), and how much V8's young generation grew.
//
//   node bench/memory.js            the table, as in the README
//   node bench/memory.js --server IMPL PORT N   (internal: one server)

const { spawn, execFileSync } = require('child_process');
const path = require('path');
const v8 = require('v8');

const ROOT = path.join(__dirname, '..');
const LOADGEN = path.join(process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target'), 'release', 'loadgen');

function snapshot(malloc) {
  global.gc();
  global.gc();
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s;
  return {
    rss: process.memoryUsage().rss,
    malloc: malloc(),
    old: spaces.old_space.space_used_size,
    young: spaces.new_space.space_size
  };
}

function server(impl, port, n) {
  const { mallocInUse } = require('../lib/addon');
  const ready = () => process.send('ready');
  let before = null;
  let opened = 0;
  const opened1 = () => {
    if (++opened !== n) return;
    // Settle as the benchmark's memory rows do, then measure.
    setTimeout(() => {
      const after = snapshot(mallocInUse);
      const per = (k) => (after[k] - before[k]) / n;
      process.send({ rss: per('rss'), malloc: per('malloc'), old: per('old'), young: per('young') });
    }, 2500);
  };
  setTimeout(() => (before = snapshot(mallocInUse)), 1000);
  if (impl === 'uws') {
    const uWS = require('@trufflesuite/uws-js-unofficial');
    uWS
      .App()
      .ws('/*', { idleTimeout: 0, open: opened1, message: (ws, m, b) => ws.send(m, b) })
      .listen('127.0.0.1', port, (t) => t && ready());
  } else {
    const WebSocket = require(impl === 'wsrs' ? '..' : 'ws');
    const wss = new WebSocket.WebSocketServer({ port, host: '127.0.0.1' }, ready);
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      opened1();
    });
  }
}

function measure(impl, port, n) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', __filename, '--server', impl, String(port), String(n)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: ROOT
    });
    child.on('error', reject);
    child.on('message', (m) => {
      if (m === 'ready') {
        // After the server's first snapshot.
        setTimeout(() => {
          const lg = spawn('taskset', ['-c', '1', LOADGEN, 'idle', String(port), String(n), '8'], { stdio: 'ignore' });
          lg.on('error', reject);
        }, 1500);
        return;
      }
      child.kill('SIGKILL');
      resolve(m);
    });
  });
}

async function main() {
  const n = Number(process.argv[2]) || 10000;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
  } catch {
    throw new Error('bench/memory.js needs taskset');
  }
  let port = 30000 + Math.floor(Math.random() * 2000);
  const rows = [];
  for (const impl of ['ws', 'uws', 'wsrs']) rows.push([impl, await measure(impl, port++, n)]);
  const kb = (b) => (b / 1000).toFixed(2);
  console.log(`| ${n.toLocaleString('en')} idle connections, per connection (KB) | RSS | C allocator (Rust, Node) | V8 old space (JS objects) | V8 young generation grown |`);
  console.log('|---|---|---|---|---|');
  const names = { ws: 'ws', uws: 'uWS.js', wsrs: 'wsrs' };
  for (const [impl, m] of rows) console.log(`| ${names[impl]} | ${kb(m.rss)} | ${kb(m.malloc)} | ${kb(m.old)} | ${kb(m.young)} |`);
}

if (process.argv[2] === '--server') server(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
