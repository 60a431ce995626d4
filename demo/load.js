'use strict';

// `npm run demo:load [-- clients [url]]`: simulated users for the chat demo (1000 by default, on
// ws://localhost:$PORT/chat), from a process of their own, with wsrs's client. They talk in rooms of
// 20 (load-1, load-2, ...), each saying something every 3 s on average; one in 20 is a zombie that
// never writes and does not answer pings (autoPong: false), for the server's native heartbeat to
// reap. Ctrl-C or SIGTERM closes them (1001); the script also ends once the server has closed them.

const { WebSocket } = require('..');

const CLIENTS = Number(process.argv[2]) || 1000;
const url = process.argv[3] || `ws://localhost:${process.env.PORT || 8080}/chat`;
const ROOM_SIZE = 20;
const ZOMBIE_EVERY = 20;
const SAY_EVERY = 3000; // ms, on average
const OPENING_AT_ONCE = 50;

const open = new Set();
const count = { opened: 0, failed: 0, reaped: 0, sent: 0 };
let opening = true;
let stopping = false;

function client(i) {
  return new Promise((resolve) => {
    const zombie = i % ZOMBIE_EVERY === ZOMBIE_EVERY - 1;
    const ws = new WebSocket(url, { autoPong: !zombie });
    let timer = null;
    const speak = () => {
      ws.send(JSON.stringify({ type: 'say', text: `message ${++count.sent} from bot-${i + 1}` }));
      timer = setTimeout(speak, Math.random() * 2 * SAY_EVERY);
    };
    ws.on('open', () => {
      count.opened++;
      open.add(ws);
      if (stopping) ws.close(1001, 'load stopped');
      ws.send(JSON.stringify({ type: 'join', room: `load-${Math.floor(i / ROOM_SIZE) + 1}`, nick: `bot-${i + 1}` }));
      if (!zombie) timer = setTimeout(speak, Math.random() * 2 * SAY_EVERY);
      resolve();
    });
    ws.on('error', () => {
      if (!open.has(ws)) count.failed++;
      resolve();
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (zombie && code === 1006) count.reaped++;
      if (open.delete(ws) && open.size === 0 && !opening) finish();
    });
  });
}

function report() {
  const line = `${open.size} open of ${CLIENTS}, ${count.reaped} zombies reaped by the heartbeat`;
  console.log(`load: ${line}, ${count.failed} failed, ${count.sent} messages sent`);
}

function finish() {
  report();
  process.exit(count.opened > 0 ? 0 : 1);
}

function stop() {
  stopping = true;
  if (open.size === 0) finish();
  for (const ws of open) ws.close(1001, 'load stopped');
  setTimeout(finish, 2000).unref();
}

(async () => {
  console.log(`load: opening ${CLIENTS} clients on ${url}`);
  for (let i = 0; i < CLIENTS && !stopping; i += OPENING_AT_ONCE) {
    await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, CLIENTS - i) }, (_, k) => client(i + k)));
  }
  opening = false;
  if (open.size === 0) finish();
  report();
})();

setInterval(report, 1000).unref();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
