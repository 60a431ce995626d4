'use strict';

// The client's send rate: 10 wsrs clients in this process send 32-byte
// messages as fast as the socket takes them for BENCH_SECS (3) to a wsrs
// server in another process that counts them; prints messages/s received.
// Each frame a client sends is masked with a key from the OS's CSPRNG pool
// (src/connection/mask.rs), so this is what that pool costs per frame.
//   node bench/client-send.js   (taskset -c 1 for the client; the server goes on CPU 0)

const { spawn } = require('child_process');
const path = require('path');

const SECS = Number(process.env.BENCH_SECS) || 3;
const WebSocket = require('..');

const serverCode = `
const W = require(${JSON.stringify(path.join(__dirname, '..'))});
let n = 0;
const wss = new W.WebSocketServer({ port: 0, host: '127.0.0.1' }, () => console.log('port ' + wss.address().port));
wss.on('connection', (ws) => ws.on('message', () => n++));
process.on('message', () => process.send(n));
`;

async function main() {
  const server = spawn('taskset', ['-c', '0', process.execPath, '-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => server.stdout.on('data', (d) => resolve(Number(/port (\d+)/.exec(d)[1]))));
  const clients = await Promise.all(
    Array.from({ length: 10 }, () => new Promise((resolve) => {
      const c = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      c.on('open', () => resolve(c));
    }))
  );
  const payload = Buffer.alloc(32, 'm');
  const count = () => new Promise((resolve) => { server.once('message', resolve); server.send('count'); });
  const end = Date.now() + (SECS + 1) * 1000;
  let start = 0;
  let base = 0;
  await new Promise((resolve) => {
    const burst = async () => {
      if (!start && Date.now() > end - SECS * 1000) {
        start = Date.now();
        base = await count();
      }
      if (Date.now() >= end) return resolve();
      for (const c of clients) if (c.bufferedAmount < 1 << 20) for (let i = 0; i < 200; i++) c.send(payload);
      setImmediate(burst);
    };
    burst();
  });
  // What was sent in the window has arrived once the count stops growing.
  let last = -1;
  let now = await count();
  const stopped = Date.now();
  while (now !== last) {
    last = now;
    await new Promise((r) => setTimeout(r, 200));
    now = await count();
  }
  const elapsed = (stopped - start) / 1000;
  console.log(JSON.stringify({ client_msgs_per_sec: Math.round((now - base) / elapsed) }));
  for (const c of clients) c.terminate();
  server.kill();
}

main();
