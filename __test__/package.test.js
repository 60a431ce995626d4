'use strict';

// The package as users install it: `npm run pack` tarballs installed into
// fresh projects outside the repository, by npm with --ignore-scripts and by
// pnpm 10 at its defaults, with cargo not on PATH; the root tarball alone,
// which fails with the Error that says what to do, and then builds from
// source with the command that Error gives.

const test = require('ava');
const { execFile, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const { version } = require('../package.json');
const { platformName } = require('../lib/addon');

const platform = platformName();
const rootTgz = path.join(ROOT, 'dist', `wsrs-${version}.tgz`);
const platformTgz = path.join(ROOT, 'dist', `wsrs-${platform}-${version}.tgz`);
// No cargo here: node and npm (next to it), and the system's basics.
const NO_CARGO = [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);
const ECHO = fs.readFileSync(path.join(__dirname, 'fixtures', 'package', 'echo.js'));

test.before(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack.js'), '--no-build'], { cwd: ROOT, stdio: 'pipe' });
});

/** A fresh project in the system's temp dir (removed after the test). */
function project(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-install-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'first-try', version: '1.0.0', private: true }));
  fs.writeFileSync(path.join(dir, 'echo.js'), ECHO);
  return dir;
}

function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const started = Date.now();
    execFile(cmd, args, { timeout: 120000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.killed ? 'killed' : err.code) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Runs the echo in `dir` without cargo on PATH; it must exit on its own. */
async function echo(t, dir, env = {}) {
  const r = await run(process.execPath, ['echo.js'], { cwd: dir, timeout: 20000, env: { ...process.env, PATH: NO_CARGO, ...env } });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'echo: ping false\nclosed 1000\n');
  return r;
}

function noScripts(t, dir) {
  // Nothing in the installed package could have run at install time.
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'wsrs', 'package.json'), 'utf8'));
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) t.is((manifest.scripts || {})[s], undefined, s);
}

test('npm --ignore-scripts, root and platform tarballs, no cargo on PATH', async (t) => {
  const dir = project(t);
  const r = await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', rootTgz, platformTgz], {
    cwd: dir,
    env: { ...process.env, PATH: NO_CARGO }
  });
  t.is(r.code, 0, r.stderr);
  t.log(`npm install: ${r.ms} ms`);
  noScripts(t, dir);
  t.false(fs.existsSync(path.join(dir, 'node_modules', 'wsrs', 'target')), 'nothing was compiled');
  await echo(t, dir);
});

test('pnpm 10 at its defaults, root and platform tarballs, no cargo on PATH', async (t) => {
  const dir = project(t);
  const pnpm = path.join(ROOT, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  const r = await run(process.execPath, [pnpm, 'add', rootTgz, platformTgz], {
    cwd: dir,
    env: { ...process.env, PATH: NO_CARGO, npm_config_store_dir: path.join(dir, '.pnpm-store') }
  });
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /using pnpm v10\./);
  t.log(`pnpm add: ${r.ms} ms`);
  noScripts(t, dir);
  await echo(t, dir);
});

test('the root tarball alone: the Error names the platform and both ways out; the source build it gives works', async (t) => {
  const dir = project(t);
  const r = await run('npm', ['install', '--no-audit', '--no-fund', rootTgz], { cwd: dir, env: { ...process.env, PATH: NO_CARGO } });
  t.is(r.code, 0, r.stderr);
  const pkg = path.join(dir, 'node_modules', 'wsrs');
  const fail = await run(process.execPath, ['-e', "try { require('wsrs') } catch (e) { console.log(e.code); console.log(e.message) }"], {
    cwd: dir,
    env: { ...process.env, PATH: NO_CARGO }
  });
  const command = `cargo build --release --manifest-path ${JSON.stringify(path.join(pkg, 'Cargo.toml'))} --target-dir ${JSON.stringify(path.join(pkg, 'target'))}`;
  t.is(
    fail.stdout,
    'WSRS_NO_BINARY\n' +
      `wsrs: no native binary for this platform (${platform}, Node ${process.version}).\n` +
      'Install the prebuilt package for it:\n' +
      `  npm install wsrs-${platform}@${version}\n` +
      '(it is an optional dependency of wsrs: an install that skips optional dependencies, or a lockfile made on ' +
      "another platform, leaves it out), or build wsrs from source with Rust's cargo (https://rustup.rs):\n" +
      `  ${command}\n`
  );
  // The way out with cargo: the exact command, from the tarball's sources alone.
  const cargo = execFileSync('sh', ['-c', 'command -v cargo'], { encoding: 'utf8' }).trim();
  const built = await run('sh', ['-c', command], { cwd: dir, timeout: 300000, env: { ...process.env, PATH: `${path.dirname(cargo)}${path.delimiter}${process.env.PATH}` } });
  t.is(built.code, 0, built.stderr);
  t.log(`source build from the tarball: ${built.ms} ms`);
  await echo(t, dir);
});

for (const variable of ['WSRS_NATIVE_LIBRARY_PATH', 'NAPI_RS_NATIVE_LIBRARY_PATH']) {
  test(`${variable} points the loader at a given .node`, async (t) => {
    const dir = project(t);
    const r = await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', rootTgz], { cwd: dir });
    t.is(r.code, 0, r.stderr);
    await echo(t, dir, { [variable]: path.join(ROOT, `wsrs.${platform}.node`) });
  });
}
