'use strict';

// `npm start`: the chat room from the tutorials our users learn ws from
// (../shared/seeds, 004): their broadcast server, unchanged but for the
// require, mounted on an HTTP server that serves their browser page. Open
// http://localhost:8080/ in two tabs and type.

const fs = require('fs');
const http = require('http');
const path = require('path');

const WebSocket = require('..');
const { WebSocketServer } = require('..');

const PORT = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
const page = fs.readFileSync(path.join(__dirname, 'index.html'));

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(page);
});

// The seed's server, as written (with `server` in place of `port`, so that
// the page and the WebSocket share port 8080).
const wss = new WebSocketServer({
  server
});

wss.on('connection', (ws, req) => {
  console.log(req.socket.remoteAddress);
  ws.on('message', (data, isBinary) => {
    wss.clients.forEach(function each(client) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    });
  });
  ws.on('close', (code, reason) => {
    console.log(code, reason.toString());
  });
  ws.on('error', (error) => {
    console.log(error);
  });
});

server.listen(PORT, () => {
  const { port } = server.address();
  console.log(`wsrs chat demo: http://localhost:${port}/ (WebSocket on ws://localhost:${port})`);
});

process.on('SIGINT', () => {
  for (const c of wss.clients) c.close(1001, 'server shutting down');
  wss.close();
  server.close(() => process.exit(0));
});
