'use strict';

// The demo (`npm start`, demo/server.js) and its simulated clients (`npm run demo:load`, demo/load.js)
// as child processes, for demo.test.js and browser.test.js.

const path = require('path');
const { spawn } = require('child_process');

const DEMO = path.join(__dirname, '..', '..', 'demo');

function run(file, args, env) {
  const child = spawn(process.execPath, [path.join(DEMO, file), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  child.output = '';
  child.stdout.on('data', (d) => (child.output += d));
  child.stderr.on('data', (d) => (child.output += d));
  return child;
}

/**
 * Starts the demo server on a free port (PORT=0) with `env`, and resolves once it listens (it prints
 * its address) with { child, port, http, ws }.
 */
function startDemo(env = {}) {
  const child = run('server.js', [], { PORT: '0', ...env });
  return new Promise((resolve, reject) => {
    const listening = () => {
      const m = /chat demo: http:\/\/localhost:(\d+)\//.exec(child.output);
      if (!m) return;
      child.stdout.off('data', listening);
      child.off('exit', exited);
      const port = Number(m[1]);
      resolve({ child, port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` });
    };
    const exited = (code) => reject(new Error(`the demo exited with ${code} before listening:\n${child.output}`));
    child.stdout.on('data', listening);
    child.once('exit', exited);
  });
}

/**
 * Starts `npm run demo:cluster` (demo/cluster.js: its own Redis, two demo processes) on free ports,
 * and resolves once both listen with { child, a, b } (each { http, ws }).
 */
function startCluster(env = {}) {
  const child = run('cluster.js', [], { PORT: '0', ...env });
  return new Promise((resolve, reject) => {
    const listening = () => {
      const m = /chat cluster: http:\/\/localhost:(\d+)\/ \(A\) and http:\/\/localhost:(\d+)\//.exec(child.output);
      if (!m) return;
      child.stdout.off('data', listening);
      child.off('exit', exited);
      const at = (port) => ({ http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` });
      resolve({ child, a: at(Number(m[1])), b: at(Number(m[2])) });
    };
    const exited = (code) => reject(new Error(`demo:cluster exited with ${code} before listening:\n${child.output}`));
    child.stdout.on('data', listening);
    child.once('exit', exited);
  });
}

/** Starts `clients` simulated chat clients (demo/load.js) on `url`, in a process of their own. */
function startLoad(url, clients) {
  return run('load.js', [String(clients), url], {});
}

/** Sends `signal` to a child and resolves with its exit code (null if a signal ended it; SIGKILL after 10 s). */
function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const kill = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill(signal);
  });
}

module.exports = { startCluster, startDemo, startLoad, stop };
