'use strict';

// wsrs under the test runners our users run it in: the fixture projects in
// ./runners/ (jest, vitest, ava, node --test; three small files each: echo,
// broadcast, publish) run as child processes, once per runner configuration,
// against ws (WS_IMPL=ws, the reference) and against wsrs. A run passes when
// the runner exits 0 on its own, its summary counts every test as passed and
// it printed no warning about something keeping it from exiting.

const test = require('ava');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { createRequire } = require('module');

const ROOT = path.join(__dirname, '..');
const RUNNERS = path.join(__dirname, 'runners');
// Where the fixtures' require('wsrs') lands: a copy of what the published
// package contains, so that they load this checkout as an installed package.
const INSTALLED = path.join(RUNNERS, 'node_modules', 'wsrs');
const { platformName } = require('../lib/addon');
const BINARY = `wsrs.${platformName()}.node`;
const PACKAGE_FILES = ['index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'package.json', 'lib', BINARY];

const TIMEOUT = 90e3;
// After a runner says something keeps it from exiting, how long it may take
// to exit anyway (vitest does) before we end it.
const HANG_GRACE = 5e3;

/** The JS file of a runner's command, from the root node_modules. */
function bin(pkg) {
  const dir = path.join(ROOT, 'node_modules', pkg);
  const { bin: b } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return path.join(dir, typeof b === 'string' ? b : b[pkg]);
}

// The runners' summaries of a run where all of `n` tests passed.
const summaries = {
  jest: (out, n) => new RegExp(`^Tests:\\s+${n} passed, ${n} total$`, 'm').test(out),
  vitest: (out, n) => new RegExp(`^\\s*Tests\\s+${n} passed \\(${n}\\)$`, 'm').test(out),
  ava: (out, n) =>
    new RegExp(`^\\s*${n} tests passed$`, 'm').test(out) &&
    !/^\s*\d+ (tests? failed|uncaught exceptions?|unhandled rejections?)/m.test(out),
  node: (out, n) => new RegExp(`^# pass ${n}$`, 'm').test(out) && /^# fail 0$/m.test(out) && /^# cancelled 0$/m.test(out)
};

// What the runners print when the tests are done but the process is not.
const HANGS = [
  /Jest did not exit/,
  /Jest has detected the following \d+ open handles?/,
  /A worker process has failed to exit gracefully/,
  /close timed out after \d+ms/,
  /Tests closed successfully but something (prevents|is keeping)/,
  /\[vitest-pool\]: (Timeout terminating|Failed to terminate)/,
  /Failed to exit when running/
];

const NODE_TEST_FILES = ['small.spec.js', 'esm.spec.mjs', 'topics.spec.js'];

// Each configuration: the fixture, the command line and the number of tests.
const configurations = [
  // jest runs in band by default when it has one worker (2 cores) or cached
  // timings of fast tests; every run gets a fresh cache (see run()).
  { title: 'jest (default)', dir: 'jest', summary: 'jest', tests: 4, args: [bin('jest')] },
  { title: 'jest --runInBand', dir: 'jest', summary: 'jest', tests: 4, args: [bin('jest'), '--runInBand'] },
  { title: 'jest --maxWorkers=2', dir: 'jest', summary: 'jest', tests: 4, args: [bin('jest'), '--maxWorkers=2'] },
  { title: 'vitest --pool=threads', dir: 'vitest', summary: 'vitest', tests: 4, args: [bin('vitest'), 'run', '--pool=threads'] },
  { title: 'vitest --pool=forks', dir: 'vitest', summary: 'vitest', tests: 4, args: [bin('vitest'), 'run', '--pool=forks'] },
  { title: 'ava (worker threads)', dir: 'ava', summary: 'ava', tests: 4, args: [bin('ava')] },
  { title: 'ava --no-worker-threads', dir: 'ava', summary: 'ava', tests: 4, args: [bin('ava'), '--no-worker-threads'] },
  { title: 'node --test', dir: 'node-test', summary: 'node', tests: 5, args: ['--test', '--test-reporter=tap', ...NODE_TEST_FILES] }
];

test.before(() => {
  // Copied on every run: the addon changes between builds.
  if (!fs.existsSync(path.join(ROOT, BINARY))) throw new Error(`${BINARY} is not built (npm run build)`);
  fs.rmSync(INSTALLED, { recursive: true, force: true });
  fs.mkdirSync(INSTALLED, { recursive: true });
  for (const f of PACKAGE_FILES) fs.cpSync(path.join(ROOT, f), path.join(INSTALLED, f), { recursive: true });
  for (const dir of new Set(configurations.map((c) => c.dir))) {
    // As seen from the fixture (from here, 'wsrs' is this package itself).
    const resolved = createRequire(path.join(RUNNERS, dir, 'package.json')).resolve('wsrs');
    if (resolved !== path.join(INSTALLED, 'index.js')) throw new Error(`wsrs resolves to ${resolved} from runners/${dir}`);
  }
});

/**
 * Runs `node ...args` in `cwd` with `env`, its whole process group ended
 * after TIMEOUT (or HANG_GRACE after a hang warning); resolves with the exit
 * code, whether we ended it, the output (stdout and stderr, no colours) and
 * the time taken.
 */
function run(args, cwd, env) {
  return new Promise((resolve) => {
    const started = Date.now();
    // Detached: its own process group, so that ending it ends its workers too.
    const child = spawn(process.execPath, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let killed = null;
    let hangTimer = null;
    const kill = (why) => {
      killed = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    };
    const timer = setTimeout(() => kill(`still running after ${TIMEOUT / 1000} s`), TIMEOUT);
    const onData = (d) => {
      out += d;
      if (!hangTimer && HANGS.some((re) => re.test(out))) {
        hangTimer = setTimeout(() => kill('hung after its hang warning'), HANG_GRACE);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hangTimer);
      // eslint-disable-next-line no-control-regex
      resolve({ code, signal, killed, out: out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), ms: Date.now() - started });
    });
  });
}

for (const config of configurations) {
  for (const impl of ['ws', 'wsrs']) {
    test.serial(`${config.title} (${impl})`, async (t) => {
      t.timeout(TIMEOUT + 30e3);
      const env = { ...process.env, WS_IMPL: impl, NO_COLOR: '1' };
      delete env.FORCE_COLOR;
      let args = config.args;
      let cache = null;
      if (config.summary === 'jest') {
        // A fresh cache: with cached timings of fast tests, jest would run
        // these few files in band even with --maxWorkers=2.
        cache = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-jest-'));
        args = [...args, `--cacheDirectory=${cache}`];
      }
      let r;
      try {
        r = await run(args, path.join(RUNNERS, config.dir), env);
      } finally {
        if (cache) fs.rmSync(cache, { recursive: true, force: true });
      }
      const tail = r.out.split('\n').slice(-60).join('\n');
      t.log(`${(r.ms / 1000).toFixed(1)} s, exit ${r.code ?? r.signal}${r.killed ? ` (ended by us: ${r.killed})` : ''}`);
      const hang = HANGS.find((re) => re.test(r.out));
      t.is(r.killed, null, `did not exit on its own:\n${tail}`);
      t.falsy(hang, `hang warning ${hang}:\n${tail}`);
      t.is(r.code, 0, `exit code ${r.code ?? r.signal}:\n${tail}`);
      t.true(summaries[config.summary](r.out, config.tests), `not all ${config.tests} tests passed:\n${tail}`);
    });
  }
}
