'use strict';

// `npm run demo:cluster`: the chat room (server.js) served by two processes that share its rooms
// through one Redis. Open both pages side by side: what is said on one reaches the other, each
// message tagged with the process that published it.
//
//   http://localhost:8080/   process A
//   http://localhost:8081/   process B
//
// Environment: PORT (A's port, 8080; B takes the next; 0: both take free ports), REDIS_URL (a Redis
// to use; without it, this starts Debian's redis-server on a free port and stops it on exit).
// Ctrl-C or SIGTERM stops everything.

const os = require('os');
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { freePort, spawnRedis } = require('../scripts/redis-server');

const BASE = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
const children = [];

async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-demo-redis-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    await spawnRedis(port, dir, { onSpawn: (child) => children.push(child) });
  } catch (err) {
    throw err.code === 'ENOENT' ? new Error(`${err.message}; or set REDIS_URL`) : err;
  }
  return `redis://127.0.0.1:${port}`;
}

function startServer(name, port, redisUrl) {
  const child = spawn(process.execPath, [path.join(__dirname, 'server.js')], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, DEMO_NAME: name },
    stdio: ['ignore', 'pipe', 'inherit']
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      for (const line of String(d).split('\n')) if (line) console.log(`[${name}] ${line}`);
      const m = /chat demo: http:\/\/localhost:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`process ${name} exited with ${code}`)));
  });
}

function stopAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}

async function main() {
  const redisUrl = process.env.REDIS_URL || (await startRedis());
  const a = await startServer('A', BASE, redisUrl);
  const b = await startServer('B', BASE === 0 ? 0 : BASE + 1, redisUrl);
  console.log(`wsrs chat cluster: http://localhost:${a}/ (A) and http://localhost:${b}/ (B), sharing rooms through ${redisUrl}`);
}

process.once('SIGINT', stopAll);
process.once('SIGTERM', stopAll);
process.once('exit', stopAll);
main().catch((err) => {
  console.error(err.message);
  stopAll();
  process.exitCode = 1;
});
