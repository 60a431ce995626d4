'use strict';

// Runs the JS suites through the path Windows takes: a build without native
// sockets (WSRS_NATIVE_SOCKETS=0, `src/sys.rs`), where Node keeps every
// socket (port mode listens through Node's HTTP server, every connection is
// bridged) and Rust keeps framing, limits, UTF-8 checks and the close
// handshake. That build is loaded through WSRS_NATIVE_LIBRARY_PATH, so
// the regular one stays in place. `npm test` calls this.
//   node scripts/test-node-sockets.js [test files...]

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
// Every suite but those about packaging and CI files (the binary's shape
// does not change them).
const SKIP = new Set(['package.test.js', 'workflow.test.js']);
const FILES = fs
  .readdirSync(path.join(ROOT, '__test__'))
  .filter((f) => f.endsWith('.test.js') && !SKIP.has(f))
  .map((f) => `__test__/${f}`);

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const cargo = ['build', '--release', '--lib', '--manifest-path', path.join(ROOT, 'Cargo.toml')];
const out = path.join(ROOT, 'target', 'portable', 'wsrs.node');
run('cargo', cargo, { WSRS_NATIVE_SOCKETS: '0' });
fs.mkdirSync(path.dirname(out), { recursive: true });
const lib = { linux: 'libwsrs.so', darwin: 'libwsrs.dylib', win32: 'wsrs.dll' }[process.platform] || 'libwsrs.so';
fs.copyFileSync(path.join(ROOT, 'target', 'release', lib), out);
// Leave target/release as the regular build (the loader's fallback).
run('cargo', cargo, {});

const check = spawnSync(process.execPath, ['-p', "require('./lib/addon').nativeSockets()"], {
  cwd: ROOT,
  env: { ...process.env, WSRS_NATIVE_LIBRARY_PATH: out },
  encoding: 'utf8',
});
if (check.stdout.trim() !== 'false') {
  console.error(`test-node-sockets: ${out} is not the build without native sockets:\n${check.stdout}${check.stderr}`);
  process.exit(1);
}
console.log(`\n# ${path.relative(ROOT, out)}: native sockets compiled out (the Windows shape)\n`);
const files = process.argv.length > 2 ? process.argv.slice(2) : FILES;
run(path.join(ROOT, 'node_modules', '.bin', 'ava'), files, { WSRS_NATIVE_LIBRARY_PATH: out });
