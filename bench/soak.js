'use strict';

// `npm run soak`: 10 000 connections to a wsrs echo server exchanging
// sequence-numbered messages for SOAK_SECS (default 180): every message must
// come back, in order; the server's RSS must stay flat after warm-up; its
// open file descriptors must return to the baseline once all have closed.
//   SOAK_CONNS (10000)  SOAK_RATE msgs/s in total (20000)  SOAK_SECS (180)

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const CONNS = Number(process.env.SOAK_CONNS) || 10000;
const RATE = Number(process.env.SOAK_RATE) || 20000;
const SECS = Number(process.env.SOAK_SECS) || 180;
const PORT = 21000 + Math.floor(Math.random() * 5000);
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const LOADGEN = path.join(targetDir, 'release', 'loadgen');

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (!fs.existsSync(LOADGEN)) execFileSync('cargo', ['build', '--release', '--manifest-path', 'bench/Cargo.toml', '--target-dir', 'target'], { cwd: ROOT, stdio: 'inherit' });
  const server = spawn(process.execPath, ['--expose-gc', path.join(__dirname, 'servers', 'server.js'), 'wsrs', 'echo', String(PORT)], {
    stdio: ['ignore', 'pipe', 'inherit']
  });
  await new Promise((resolve) => server.stdout.on('data', (d) => d.toString().includes('ready') && resolve()));
  await sleep(500);
  const pid = server.pid;
  const base = { rss: rssKiB(pid), fds: fds(pid) };
  console.log(`soak: ${CONNS} connections, ${RATE} msgs/s in total, ${SECS} s; server baseline ${base.rss} KiB RSS, ${base.fds} fds`);

  const samples = [];
  let ready = false;
  const lg = spawn(LOADGEN, ['soak', PORT, CONNS, RATE, SECS].map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
  let result = null;
  let out = '';
  lg.stdout.on('data', (d) => {
    out += d;
    for (let i; (i = out.indexOf('\n')) !== -1; out = out.slice(i + 1)) {
      const j = JSON.parse(out.slice(0, i));
      if (j.ready !== undefined) ready = true;
      else result = j;
    }
  });
  const timer = setInterval(() => {
    if (!ready) return;
    samples.push({ t: samples.length * 5, rss: rssKiB(pid), fds: fds(pid) });
    const s = samples[samples.length - 1];
    console.log(`  t=${s.t}s RSS ${s.rss} KiB, ${s.fds} fds`);
  }, 5000);
  await new Promise((resolve) => lg.once('exit', resolve));
  clearInterval(timer);
  await sleep(3000);
  const after = { rss: rssKiB(pid), fds: fds(pid) };
  server.kill('SIGKILL');

  // RSS "flat after warm-up": the second half of the run against the first.
  const warm = samples.slice(Math.floor(samples.length / 4));
  const half = Math.floor(warm.length / 2);
  const avg = (xs) => xs.reduce((a, s) => a + s.rss, 0) / Math.max(1, xs.length);
  const growth = half > 0 ? (avg(warm.slice(half)) - avg(warm.slice(0, half))) / avg(warm.slice(0, half)) : 0;
  const report = {
    ...result,
    rss_growth_after_warmup_pct: Math.round(growth * 1000) / 10,
    peak_rss_kib: Math.max(...samples.map((s) => s.rss)),
    fds_at_end: after.fds,
    fds_baseline: base.fds
  };
  console.log(JSON.stringify(report));
  const ok = result && result.lost === 0 && result.reordered === 0 && result.errors === 0 && after.fds <= base.fds && growth < 0.05;
  console.log(ok ? 'soak: PASS' : 'soak: FAIL');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
