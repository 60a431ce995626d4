'use strict';

// Fixture servers for `npm run bench`: the same scenarios on ws, on
// uWebSockets.js and on wsrs.
//   node bench/servers/server.js IMPL MODE PORT
//   IMPL: ws | uws | wsrs     MODE: echo | broadcast | publish | idle
//   active: as echo, for the memory rows (with --expose-gc, as idle).
//   MODE+z: with permessage-deflate as `perMessageDeflate: true` sets it
//   (context takeover; uWS.js: dedicated compressor and decompressor);
//   MODE+zs: with no context takeover (uWS.js: its shared compressor).
//   wsrs only: MODE:N (e.g. echo:2) runs N worker threads, each with its own
//   server on the same port (`reusePort`).
// Prints "ready" once listening.

const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const [impl, modeArg, portArg] = isMainThread ? process.argv.slice(2) : workerData;
const [modeAndDeflate, threadsArg] = modeArg.split(':');
const [modeName, deflate] = modeAndDeflate.split('+');
// active: echo, measured for memory (as idle is).
const measured = modeName === 'idle' || modeName === 'active';
const mode = modeName === 'active' ? 'echo' : modeName;
const compress = !!deflate;
const perMessageDeflate = deflate === 'zs' ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : !!deflate;
const threads = Number(threadsArg) || 0;
const port = Number(portArg);

if (measured && typeof global.gc === 'function') setInterval(global.gc, 500).unref();

function ready() {
  if (isMainThread) console.log('ready');
  else parentPort.postMessage('ready');
}

if (threads > 0 && isMainThread) {
  // N worker threads sharing the port; ready once all of them listen.
  let waiting = threads;
  for (let i = 0; i < threads; i++) {
    const w = new Worker(__filename, { workerData: [impl, mode, portArg] });
    w.once('message', () => --waiting === 0 && ready());
  }
} else if (impl === 'uws') {
  const uWS = require('@trufflesuite/uws-js-unofficial');
  const sockets = new Set();
  const app = uWS.App();
  app.ws('/*', {
    compression: !deflate
      ? uWS.DISABLED
      : deflate === 'zs'
        ? uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR
        : uWS.DEDICATED_COMPRESSOR | uWS.DEDICATED_DECOMPRESSOR,
    maxPayloadLength: 100 * 1024 * 1024,
    maxBackpressure: 1024 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      if (mode === 'broadcast') sockets.add(ws);
      if (mode === 'publish') ws.subscribe('all');
    },
    message: (ws, message, isBinary) => {
      if (mode === 'echo') ws.send(message, isBinary, compress);
      else if (mode === 'broadcast') for (const s of sockets) s.send(message, isBinary, compress);
      else if (mode === 'publish') app.publish('all', message, isBinary, compress);
    },
    close: (ws) => sockets.delete(ws)
  });
  app.listen('127.0.0.1', port, (token) => {
    if (!token) throw new Error(`uWS cannot listen on ${port}`);
    ready();
  });
} else {
  const WebSocket = require(impl === 'wsrs' ? '../..' : 'ws');
  // BENCH_SERVER_OPTIONS: more options, as JSON (the hostile-peer soak's limits).
  const more = process.env.BENCH_SERVER_OPTIONS ? JSON.parse(process.env.BENCH_SERVER_OPTIONS) : {};
  const wss = new WebSocket.WebSocketServer(
    { port, host: '127.0.0.1', maxPayload: 100 * 1024 * 1024, reusePort: !isMainThread, perMessageDeflate, ...more },
    ready
  );
  wss.on('connection', (ws) => {
    if (mode === 'echo') {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else if (mode === 'broadcast') {
      ws.on('message', (data, isBinary) => {
        wss.clients.forEach((client) => client.send(data, { binary: isBinary }));
      });
    } else if (mode === 'publish') {
      if (typeof wss.broadcast !== 'function') throw new Error(`${impl} has no native broadcast`);
      ws.on('message', (data, isBinary) => wss.broadcast(data, { binary: isBinary }));
    }
  });
}
