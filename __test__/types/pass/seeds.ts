// The seeds' servers (__test__/seeds), written the way TypeScript users of ws
// write them in a CommonJS project: `import X = require('wsrs')`.

import WebSocket = require('wsrs');
import type { IncomingMessage } from 'http';

// 000-heartbeat: `const ws = require('ws')`, `new ws.Server({ port }, cb)`,
// a hand-written heartbeat over text messages.
export function seed000() {
  const ws = WebSocket;
  const wss = new ws.Server({ port: 8080 }, () => {
    console.log('WebSocket 服务器已启动');
  });

  wss.on('connection', (socket) => {
    expectType<Same<typeof socket, WebSocket>>();
    let lastPongTime = Date.now();

    socket.on('message', (message) => {
      expectType<Same<typeof message, WebSocket.RawData>>();
      const msg = message.toString('utf-8');
      if (msg === 'pong') {
        lastPongTime = Date.now();
        return;
      }
      console.log('biz:', msg);
    });

    const heartCheck = setInterval(() => {
      if (socket.readyState !== ws.OPEN) {
        clearInterval(heartCheck);
        return;
      }
      socket.send('ping');
      if (Date.now() - lastPongTime > 10000) {
        socket.close();
        clearInterval(heartCheck);
      }
    }, 5000);

    socket.on('close', () => clearInterval(heartCheck));
  });

  // The seed's commented-out broadcast variant.
  wss.on('connection', (socket) => {
    socket.on('message', (message) => {
      wss.clients.forEach((client) => {
        client.send(message.toString('utf-8'));
      });
    });
  });
  return wss;
}

// 001-broadcast and 001-server.
export function seed001() {
  const wss = new WebSocket.Server({ port: 3000 });
  wss.on('connection', (ws) => {
    ws.on('message', (message) => {
      wss.clients.forEach((client) => {
        if (client.readyState === WebSocket.OPEN) {
          client.send(message);
        }
      });
    });
  });

  const wss2 = new WebSocket.Server({ port: 3001 });
  wss2.on('connection', (ws) => {
    ws.on('message', (message) => {
      console.log('received: %s', message);
    });
    ws.send('something');
  });

  // The broadcast of the brief: `c.readyState === WebSocket.OPEN && c.send('x')`.
  wss.clients.forEach((c) => c.readyState === WebSocket.OPEN && c.send('x'));
  expectType<Same<typeof wss.clients, Set<WebSocket>>>();
  return [wss, wss2];
}

// 004-broadcast: `const { WebSocketServer } = require('ws')`, the request,
// `send(data, { binary: isBinary })`, 'close' with (code, reason).
export function seed004() {
  const { WebSocketServer } = WebSocket;
  const wss = new WebSocketServer({
    port: 8080
  });

  wss.on('connection', (ws, req) => {
    expectType<Same<typeof ws, WebSocket>>();
    expectType<Same<typeof req, IncomingMessage>>();
    const address: string | undefined = req.socket.remoteAddress;
    console.log(address);

    ws.on('message', (data, isBinary) => {
      expectType<Same<typeof data, WebSocket.RawData>>();
      expectType<Same<typeof isBinary, boolean>>();
      wss.clients.forEach(function each(client) {
        if (client.readyState === WebSocket.OPEN) {
          client.send(data, { binary: isBinary });
        }
      });
      // The brief's echo.
      ws.send(data, { binary: isBinary });
    });

    ws.on('close', (code, reason) => {
      expectType<Same<typeof code, number>>();
      expectType<Same<typeof reason, Buffer>>();
      console.log(code, reason.toString());
    });

    ws.on('error', (error) => {
      expectType<Same<typeof error, Error>>();
      console.log(error);
    });
  });
  return wss;
}

// 003-broadcast.ts, with its missing `)` restored, is in star-import.ts; its
// echo: JSON messages and a readyState check on the socket itself.
export function echoJson(ws: WebSocket, state: { HEART: number }) {
  if (ws.readyState === ws.OPEN) {
    ws.send(JSON.stringify({ state: state.HEART, message: '心跳' }));
  }
}
