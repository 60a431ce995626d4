'use strict';

// `npm run soak:hostile`: hostile peers at scale against a wsrs echo server.
//   1. slow readers: 10 000 connections, 10% of which never read while
//      their echoes pile up: the server's RSS stays within
//      maxBufferedAmount × slow peers plus the connections' own overhead,
//      and the others keep their round-trip latency;
//   2. a handshake flood: 18 000 sockets that send half an upgrade request
//      (this machine's hard fd limit is 20 000 per process):
//      handshakeTimeout reaps every one, and 100 other connections keep
//      their latency (against a run without the flood);
//   3. 1 000 connections sending large messages as 1-byte fragments:
//      maxFragments (1008) and maxPayload (1009) close every one, with
//      memory bounded.
// Prints one JSON line per scenario, then PASS or FAIL.
//   HOSTILE_ONLY=slow|halfopen|fragments  HOSTILE_SECS (10)

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const SECS = Number(process.env.HOSTILE_SECS) || 10;
const ONLY = process.env.HOSTILE_ONLY;
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const LOADGEN = path.join(targetDir, 'release', 'loadgen');
let nextPort = 22000 + Math.floor(Math.random() * 5000);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(options) {
  const port = nextPort++;
  const child = spawn(process.execPath, ['--expose-gc', path.join(__dirname, 'servers', 'server.js'), 'wsrs', 'echo', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_SERVER_OPTIONS: JSON.stringify(options) }
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  await sleep(500);
  return { child, port, pid: child.pid, baseline: rssKiB(child.pid) };
}

function stop(server) {
  return new Promise((resolve) => {
    server.child.once('exit', resolve);
    server.child.kill('SIGKILL');
  });
}

/** Runs the load generator; `onLine` sees the lines before the last. */
function loadgen(args, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let last = null;
    child.stdout.on('data', (d) => {
      out += d;
      for (let i; (i = out.indexOf('\n')) !== -1; out = out.slice(i + 1)) {
        const line = JSON.parse(out.slice(0, i));
        if (last && onLine) onLine(last);
        last = line;
      }
    });
    child.once('exit', (code) => (code ? reject(new Error(`loadgen ${args[0]} exited with ${code}`)) : resolve(last)));
  });
}

const checks = [];
function check(name, ok, detail) {
  checks.push({ name, ok });
  console.log(`  ${ok ? 'ok' : 'NOT OK'} - ${name}${detail ? ` (${detail})` : ''}`);
}

async function slowReaders() {
  const maxBuffered = 1024 * 1024;
  const [conns, slow, msgs, size] = [10000, 1000, 32, 65536];
  const server = await startServer({ maxBufferedAmount: maxBuffered, backpressure: 'drop' });
  let peak = 0;
  const r = await loadgen(['slow', server.port, conns, slow, msgs, size, SECS], (line) => {
    if (line.ready !== undefined) console.log(`  slow peers have sent: ${JSON.stringify(line)}`);
  });
  peak = rssKiB(server.pid);
  await stop(server);
  const growthMiB = (peak - server.baseline) / 1024;
  // The bound: what the slow peers may have queued, plus 20 KB per connection.
  const boundMiB = (slow * maxBuffered) / 2 ** 20 + (conns * 20) / 1024;
  console.log(JSON.stringify({ scenario: 'slow readers', conns, slow, ...r, rss_growth_mib: Math.round(growthMiB), bound_mib: Math.round(boundMiB) }));
  check('slow readers: server RSS within maxBufferedAmount × slow peers + 20 KB per connection', growthMiB <= boundMiB, `${Math.round(growthMiB)} MiB of ${Math.round(boundMiB)}`);
  check('slow readers: the other connections keep working', r.failed === 0 && r.round_trips > 0, `p99 ${r.p99_us} µs, ${r.round_trips} round trips`);
  check("slow readers: 'drop' keeps the slow connections open", r.slow_open === slow, `${r.slow_open} of ${slow}`);
}

async function handshakeFlood() {
  const count = 18000;
  const server = await startServer({ handshakeTimeout: 3000 });
  const quiet = await loadgen(['halfopen', server.port, 0, 100, SECS]);
  const flood = await loadgen(['halfopen', server.port, count, 100, SECS]);
  const rss = rssKiB(server.pid);
  await stop(server);
  console.log(JSON.stringify({ scenario: 'handshake flood', quiet, flood, server_rss_kib: rss }));
  check('handshake flood: every half-open socket reaped by handshakeTimeout', flood.reaped === count && flood.half_open === count, `${flood.reaped} of ${count}, the last ${flood.last_reaped_secs} s after the flood began`);
  check('handshake flood: the other connections keep working', flood.failed === 0 && flood.round_trips > 0);
  check(
    'handshake flood: their p99 stays within 3× the quiet run (+5 ms)',
    flood.p99_us <= 3 * quiet.p99_us + 5000,
    `p50 ${flood.p50_us} µs, p99 ${flood.p99_us} µs; quiet p50 ${quiet.p50_us} µs, p99 ${quiet.p99_us} µs`
  );
}

async function tinyFragments() {
  for (const [options, frags, code] of [
    [{}, 20000, 1008],
    [{ maxPayload: 4096, maxFragments: 0 }, 10000, 1009]
  ]) {
    const server = await startServer(options);
    const r = await loadgen(['fragments', server.port, 1000, frags]);
    const growthMiB = (rssKiB(server.pid) - server.baseline) / 1024;
    await stop(server);
    console.log(JSON.stringify({ scenario: '1-byte fragments', options, fragments: frags, ...r, rss_growth_mib: Math.round(growthMiB) }));
    check(`1-byte fragments, ${JSON.stringify(options)}: all 1000 closed with ${code}`, r.codes[code] === 1000, JSON.stringify(r.codes));
    check(`1-byte fragments, ${JSON.stringify(options)}: RSS growth under 64 KB per connection`, growthMiB < 1000 * 64 / 1024, `${Math.round(growthMiB)} MiB`);
  }
}

async function main() {
  if (!fs.existsSync(LOADGEN)) execFileSync('cargo', ['build', '--release', '--manifest-path', 'bench/Cargo.toml', '--target-dir', targetDir], { cwd: ROOT, stdio: 'inherit' });
  const scenarios = { slow: slowReaders, halfopen: handshakeFlood, fragments: tinyFragments };
  for (const [name, run] of Object.entries(scenarios)) {
    if (ONLY && ONLY !== name) continue;
    console.log(`hostile: ${name}`);
    await run();
  }
  const ok = checks.every((c) => c.ok);
  console.log(ok ? 'hostile: PASS' : 'hostile: FAIL');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
