'use strict';

// Fixture servers for `npm run bench`: the same scenarios on ws, on
// uWebSockets.js and on wsrs.
//   node bench/servers/server.js IMPL MODE PORT
//   IMPL: ws | uws | wsrs     MODE: echo | broadcast | publish | idle
// Prints "ready" once listening.

const [impl, mode, portArg] = process.argv.slice(2);
const port = Number(portArg);

if (mode === 'idle' && typeof global.gc === 'function') setInterval(global.gc, 500).unref();

function ready() {
  console.log('ready');
}

if (impl === 'uws') {
  const uWS = require('@trufflesuite/uws-js-unofficial');
  const sockets = new Set();
  const app = uWS.App();
  app.ws('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 100 * 1024 * 1024,
    maxBackpressure: 1024 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      if (mode === 'broadcast') sockets.add(ws);
      if (mode === 'publish') ws.subscribe('all');
    },
    message: (ws, message, isBinary) => {
      if (mode === 'echo') ws.send(message, isBinary);
      else if (mode === 'broadcast') for (const s of sockets) s.send(message, isBinary);
      else if (mode === 'publish') app.publish('all', message, isBinary);
    },
    close: (ws) => sockets.delete(ws)
  });
  app.listen('127.0.0.1', port, (token) => {
    if (!token) throw new Error(`uWS cannot listen on ${port}`);
    ready();
  });
} else {
  const WebSocket = require(impl === 'wsrs' ? '../..' : 'ws');
  const wss = new WebSocket.WebSocketServer({ port, host: '127.0.0.1', maxPayload: 100 * 1024 * 1024 }, ready);
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
