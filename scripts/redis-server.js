'use strict';

// Debian's redis-server, for what runs against a real Redis: the tests
// (__test__/helpers/redis.js), the cluster demo (demo/cluster.js) and the
// scale-out benchmark (bench/scale.js). No persistence, 127.0.0.1 only.

const { spawn } = require('child_process');
const net = require('net');

const NOT_FOUND = "redis-server not found: install Debian's redis-server (apt-get install redis-server; .ci/run does)";
const READY = /Ready to accept connections/;

/** A port that was free a moment ago (listened on with port 0, then closed). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns redis-server on `port` with `dir` as its working directory;
 * `prefix` is a command to run it under (e.g. `['taskset', '-c', '0']`), and
 * `onSpawn(child)` sees the child at once (to kill it at exit). Resolves with
 * the child once it accepts connections, unreferenced (it keeps no process
 * alive: whoever started it stops it). Rejects with `code` ENOENT (not
 * installed), EADDRINUSE (the port is taken) or EREDISEXIT.
 */
function spawnRedis(port, dir, { prefix = [], onSpawn = () => {} } = {}) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const [cmd, ...pre] = [...prefix, 'redis-server'];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn(child);
    let out = '';
    let settled = false;
    const settle = (err) => {
      if (settled) return;
      settled = true;
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      if (err) return reject(err);
      // Its log from now on is nobody's.
      child.stdout.resume();
      child.stderr.resume();
      child.unref();
      child.stdout.unref();
      child.stderr.unref();
      resolve(child);
    };
    const onData = (d) => {
      out += d;
      if (READY.test(out)) settle();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => settle(err.code === 'ENOENT' ? Object.assign(new Error(NOT_FOUND), { code: 'ENOENT' }) : err));
    child.on('exit', (code, signal) => {
      if (/failed to execute redis-server/.test(out)) return settle(Object.assign(new Error(NOT_FOUND), { code: 'ENOENT' }));
      const err = new Error(`redis-server on port ${port} exited (${signal || code}) before it was ready:\n${out}`);
      err.code = /already in use|Could not create server TCP listening socket/i.test(out) ? 'EADDRINUSE' : 'EREDISEXIT';
      settle(err);
    });
  });
}

module.exports = { NOT_FOUND, freePort, spawnRedis };
