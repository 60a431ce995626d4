'use strict';

// `npm run bench`: the same scenarios against ws, uWebSockets.js and wsrs in
// one run. Each server is pinned to CPU 0 and the Rust load generator to
// CPU 1; every figure is the median of BENCH_REPS runs; ratios are taken
// within this run (absolute numbers on a shared machine mean little).
//
//   BENCH_REPS (default 3)  BENCH_SECS (default 3)  BENCH_ONLY=regex (scenario filter)
//   BENCH_IMPLS=ws,uws,wsrs (and socket.io, for bench/scale.js's Redis row)
//   --readme: also writes the tables into README.md, between its
//   `<!-- bench:begin -->` and `<!-- bench:end -->` markers (`npm run bench:readme`).

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const REPS = Number(process.env.BENCH_REPS) || 3;
const SECS = Number(process.env.BENCH_SECS) || 3;
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const IMPLS = (process.env.BENCH_IMPLS || 'ws,uws,wsrs').split(',');
const NAMES = { ws: 'ws', uws: 'uWS.js', wsrs: 'wsrs' };

const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const LOADGEN = path.join(targetDir, 'release', 'loadgen');

const { hasTaskset, pinned } = require('./pinning');

// Below the ephemeral range (32768+), where client sockets in TIME_WAIT could block a bind.
let nextPort = 20000 + Math.floor(Math.random() * 10000);

function startServer(impl, mode, cpus = '0') {
  const port = nextPort++;
  const nodeArgs = /^(idle|active)/.test(mode) ? ['--expose-gc'] : [];
  const [cmd, args] = pinned(cpus, process.execPath, [...nodeArgs, path.join(__dirname, 'servers', 'server.js'), impl, mode, String(port)]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${impl} server did not start`)), 10000);
    child.stdout.on('data', (d) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve({ child, port });
      }
    });
    child.once('exit', (code) => reject(new Error(`${impl} server exited with ${code}`)));
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', resolve);
    server.child.kill('SIGKILL');
  });
}

function loadgen(args, onLine, deflate = false) {
  const [cmd, a] = pinned(1, LOADGEN, args.map(String));
  return new Promise((resolve, reject) => {
    const env = { ...process.env, LOADGEN_DEFLATE: deflate ? '1' : '0' };
    const child = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECS + 60) * 1000);
    child.stdout.on('data', (d) => {
      out += d;
      let i;
      while ((i = out.indexOf('\n')) !== -1) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        const json = JSON.parse(line);
        if (onLine && onLine(json)) continue;
        clearTimeout(timer);
        resolve(json);
      }
    });
    child.once('exit', (code) => code && reject(new Error(`loadgen exited with ${code}`)));
  });
}

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * A fan-out row: 1000 receivers, one sender keeping 4 in flight. A mode
 * with `+z` runs with permessage-deflate: the load generator sends a
 * compressed 1 KiB JSON message, and the row fails unless what arrives is
 * compressed.
 */
function broadcastRow(name, mode, impls) {
  const deflate = mode.includes('+z');
  return {
    name,
    unit: 'deliveries/s',
    mode,
    impls,
    async run(server) {
      const r = await loadgen(['broadcast', server.port, 1000, 4, deflate ? 1024 : 32, SECS], null, deflate);
      if (deflate && !r.compressed) throw new Error(`${name}: nothing arrived compressed`);
      return { value: r.deliveries_per_sec };
    }
  };
}

// Each scenario measures one server once and returns { value, extra }.
const scenarios = [
  ...[
    ['echo 1 conn × 1 in flight, 32 B', 1, 1, 32],
    ['echo 100 × 1 in flight (chat-like), 32 B', 100, 1, 32],
    ['echo 100 × 32 in flight, 32 B', 100, 32, 32],
    ['echo 10 × 32 in flight, 1 KiB', 10, 32, 1024],
    ['echo 10 × 8 in flight, 16 KiB', 10, 8, 16384],
    ['echo 10 × 4 in flight, 64 KiB', 10, 4, 65536],
    ['echo 10 × 32 in flight, 1 KiB JSON, permessage-deflate (`true`: context takeover)', 10, 32, 1024, 'echo+z'],
    ['echo 10 × 32 in flight, 1 KiB JSON, permessage-deflate without context takeover', 10, 32, 1024, 'echo+zs']
  ].map(([name, conns, inflight, size, mode = 'echo']) => ({
    name,
    unit: 'msgs/s',
    mode,
    latency: true,
    async run(server) {
      const deflate = mode.includes('+z');
      const r = await loadgen(['echo', server.port, conns, inflight, size, SECS], null, deflate);
      if (deflate && !r.compressed) throw new Error(`${name}: nothing arrived compressed`);
      return { value: r.msgs_per_sec, p50: r.p50_us, p99: r.p99_us };
    }
  })),
  broadcastRow('broadcast to 1 000 via clients.forEach, 32 B', 'broadcast'),
  broadcastRow('broadcast to 1 000 via native publish, 32 B', 'publish', ['uws', 'wsrs']),
  {
    name: 'handshakes (5 000, 50 at a time)',
    unit: 'handshakes/s',
    mode: 'echo',
    async run(server) {
      const r = await loadgen(['handshakes', server.port, 5000, 50]);
      return { value: r.handshakes_per_sec };
    }
  },
  broadcastRow('broadcast of 1 KiB JSON to 1 000, permessage-deflate (`true`: context takeover)', 'broadcast+z'),
  broadcastRow('broadcast of 1 KiB JSON to 1 000, permessage-deflate without context takeover', 'broadcast+zs'),
  broadcastRow('native publish of 1 KiB JSON to 1 000, permessage-deflate without context takeover', 'publish+zs', ['uws', 'wsrs']),
  ...[
    ['server RSS per idle connection (10 000)', 'idle', 'idle', 10000, false],
    ['server RSS per idle connection, permessage-deflate (10 000)', 'idle+z', 'idle', 10000, true],
    ['server RSS per active connection, permessage-deflate (`true`, 1 000)', 'active+z', 'active', 1000, true],
    ['server RSS per active connection, permessage-deflate without context takeover (10 000)', 'active+zs', 'active', 10000, true]
  ].map(([name, mode, kind, conns, deflate]) => ({
    name,
    unit: 'KB',
    lowerIsBetter: true,
    reps: 1,
    mode,
    async run(server) {
      await sleep(1500);
      const before = rssKiB(server.child.pid);
      let after = 0;
      let connected;
      await loadgen(
        [kind, server.port, conns, 4],
        (line) => {
          if (line.ready === undefined) return false;
          connected = line;
          // Connected (and, if active, each has had its echo): let the
          // server settle (and GC), then measure.
          sleep(2500).then(() => (after = rssKiB(server.child.pid)));
          return true;
        },
        deflate
      );
      if (connected.ready !== conns || connected.errors || (deflate && kind === 'active' && !connected.compressed)) {
        throw new Error(`${name}: ${JSON.stringify(connected)}`);
      }
      const kb = ((after - before) * 1024) / conns / 1000;
      return { value: Math.round(kb * 100) / 100, extra: `${before} → ${after} KiB` };
    }
  }))
];

// wsrs alone: one server against N worker threads sharing the port
// (`reusePort`), as throughput and as server CPU time per message. The
// servers stay pinned to CPU 0 like every other row (BENCH_THREADS_CPUS to
// change that: on this 2-core machine the other core is the load
// generator's). Each worker's broadcast reaches its own clients.
const threadScenarios = [
  { name: 'echo 100 × 1 in flight (chat-like), 32 B', mode: 'echo', unit: 'msgs/s', args: ['echo', 100, 1, 32], key: 'msgs_per_sec' },
  { name: 'echo 100 × 32 in flight, 32 B', mode: 'echo', unit: 'msgs/s', args: ['echo', 100, 32, 32], key: 'msgs_per_sec' },
  { name: 'broadcast to 1 000 via clients.forEach, 32 B', mode: 'broadcast', unit: 'deliveries/s', args: ['broadcast', 1000, 4, 32], key: 'deliveries_per_sec' }
];

async function runThreads(sc, threads) {
  const values = [];
  const cpu = [];
  for (let rep = 0; rep < REPS; rep++) {
    const server = await startServer('wsrs', threads ? `${sc.mode}:${threads}` : sc.mode, process.env.BENCH_THREADS_CPUS);
    try {
      const [kind, ...rest] = sc.args;
      const before = cpuSeconds(server.child.pid);
      const r = await loadgen([kind, server.port, ...rest, SECS]);
      const used = cpuSeconds(server.child.pid) - before;
      values.push(r[sc.key]);
      cpu.push((used * 1e6) / (r[sc.key] * SECS));
    } finally {
      await stopServer(server);
    }
  }
  return { value: median(values), cpuUs: median(cpu) };
}

function fmt(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 100) return n.toFixed(0);
  return String(n);
}

async function main() {
  if (!fs.existsSync(LOADGEN)) {
    execFileSync('cargo', ['build', '--release', '--manifest-path', 'bench/Cargo.toml', '--target-dir', targetDir], {
      cwd: ROOT,
      stdio: 'inherit'
    });
  }
  const out = [];
  const print = (line) => {
    out.push(line);
    console.log(line);
  };
  print(
    `Run of ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0].model.trim()}, ` +
      `${os.type()} ${os.release()}, Node ${process.version}: servers pinned to CPU 0, load generator to CPU 1` +
      `${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}; median of ${REPS} runs of ${SECS} s (memory rows: one run).\n`
  );

  const rows = [];
  for (const sc of scenarios) {
    if (ONLY && !ONLY.test(sc.name)) continue;
    const results = {};
    for (const impl of IMPLS) {
      if (sc.impls && !sc.impls.includes(impl)) continue;
      const runs = [];
      let extra = '';
      for (let rep = 0; rep < (sc.reps || REPS); rep++) {
        const server = await startServer(impl, sc.mode);
        try {
          const r = await sc.run(server);
          runs.push(r);
          if (r.extra) extra = r.extra;
        } finally {
          await stopServer(server);
        }
      }
      // The median run by throughput, with its own latencies.
      const r = [...runs].sort((a, b) => a.value - b.value)[Math.floor(runs.length / 2)];
      if (sc.latency) extra = `p50 ${r.p50} µs, p99 ${r.p99} µs`;
      results[impl] = { value: r.value, extra, p50: r.p50, p99: r.p99 };
      process.stderr.write(`  ${sc.name} / ${NAMES[impl]}: ${fmt(r.value)} ${sc.unit} ${extra}\n`);
    }
    rows.push({ sc, results });
  }

  const ratio = (a, b, lower) => (a && b ? (lower ? b / a : a / b).toFixed(2) + '×' : '–');
  print('| scenario | ws | uWS.js | wsrs | wsrs vs ws | wsrs vs uWS.js |');
  print('|---|---|---|---|---|---|');
  for (const { sc, results } of rows) {
    const v = (i) => (results[i] ? `${fmt(results[i].value)}` : 'n/a');
    const w = results.wsrs && results.wsrs.value;
    const note = results.wsrs && results.wsrs.extra && !sc.latency ? ` (${results.wsrs.extra})` : '';
    print(
      `| ${sc.name} (${sc.unit}) | ${v('ws')} | ${v('uws')} | ${v('wsrs')}${note} | ` +
        `${ratio(w, results.ws && results.ws.value, sc.lowerIsBetter)} | ${ratio(w, results.uws && results.uws.value, sc.lowerIsBetter)} |`
    );
  }
  const latencyRows = rows.filter(({ sc }) => sc.latency);
  if (latencyRows.length) {
    print('\nRound-trip latency of the echo rows, p50 / p99 in µs, from the median run (lower is better):\n');
    print('| scenario | ws | uWS.js | wsrs |');
    print('|---|---|---|---|');
    for (const { sc, results } of latencyRows) {
      const l = (i) => (results[i] ? `${results[i].p50} / ${results[i].p99}` : 'n/a');
      print(`| ${sc.name} | ${l('ws')} | ${l('uws')} | ${l('wsrs')} |`);
    }
  }

  const threadRows = [];
  if (IMPLS.includes('wsrs')) {
    for (const sc of threadScenarios) {
      if (ONLY && !ONLY.test(`threads: ${sc.name}`)) continue;
      const one = await runThreads(sc, 0);
      const two = await runThreads(sc, 2);
      process.stderr.write(`  threads: ${sc.name}: 1 server ${fmt(one.value)}, 2 workers ${fmt(two.value)} ${sc.unit}\n`);
      threadRows.push({ sc, one, two });
    }
  }
  if (threadRows.length) {
    const cpus = process.env.BENCH_THREADS_CPUS || '0';
    print(`\nwsrs, one server against 2 worker threads sharing the port (reusePort), servers on CPU ${cpus}:\n`);
    print('| scenario | 1 server | 2 workers | 2 vs 1 | server CPU µs per message, 1 server | 2 workers |');
    print('|---|---|---|---|---|---|');
    for (const { sc, one, two } of threadRows) {
      print(
        `| ${sc.name} (${sc.unit}) | ${fmt(one.value)} | ${fmt(two.value)} | ${(two.value / one.value).toFixed(2)}× | ` +
          `${one.cpuUs.toFixed(2)} | ${two.cpuUs.toFixed(2)} |`
      );
    }
  }
  // Publish past one thread (bench/scale.js): through Redis across
  // processes (wsrs against socket.io), and across worker threads.
  if (!(await require('./scale').run({ print, only: ONLY }))) process.exitCode = 1;
  if (process.argv.includes('--readme')) writeReadme(out.join('\n'));
}

/** Replaces the README's generated benchmark block with this run's tables. */
function writeReadme(text) {
  const file = path.join(ROOT, 'README.md');
  const readme = fs.readFileSync(file, 'utf8');
  const begin = '<!-- bench:begin (npm run bench:readme writes this block) -->';
  const end = '<!-- bench:end -->';
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a === -1 || b < a) throw new Error(`README.md has no ${begin} … ${end} block`);
  fs.writeFileSync(file, readme.slice(0, a + begin.length) + '\n' + text + '\n' + readme.slice(b));
  console.error('README.md: benchmark tables written');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
