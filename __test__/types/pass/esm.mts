// An ES module: seed 002-esm.mjs (`import WS from 'ws'; new WS.Server(...)`,
// with its syntax fixes) and the named exports of index.mjs. Everything here
// is right at runtime too, so it must compile whether 'wsrs' resolves to
// index.d.ts or index.d.mts.

import WS from 'wsrs';
import { WebSocketServer, WebSocket, createWebSocketStream } from 'wsrs';
import type { RawData, ServerOptions, Server } from 'wsrs';
import * as ns from 'wsrs';

const wss = new WS.Server({ port: 8080 });

const state = {
  HEART: 1,
  MESSAGE: 2
};

wss.on('connection', (ws) => {
  expectType<Same<typeof ws, WebSocket>>();
  console.log('Client connected');

  ws.on('message', (message) => {
    expectType<Same<typeof message, RawData>>();
    console.log('Received:', message);
    ws.send(`我是服务端: ${message}`);
    wss.clients.forEach((client) => {
      client.send('我是服务端 发送给客户端的消息' + message.toString());
    });
  });

  let heartInreaval: ReturnType<typeof setInterval> | undefined;
  const heartCheck = () => {
    if (ws.readyState === WS.OPEN) {
      ws.send(JSON.stringify({ type: state.HEART, message: '心跳检测' }));
    } else {
      clearInterval(heartInreaval);
    }
  };
  heartInreaval = setInterval(heartCheck, 5000);
});

// `import { WebSocketServer } from 'wsrs'`, the heartbeat option.
const options: ServerOptions = { port: 8081, heartbeat: { interval: 30000, timeout: 10000 } };
const wss2 = new WebSocketServer(options);
const asServer: Server = wss2;
wss2.on('connection', (ws, req) => {
  console.log(req.headers['user-agent'], req.socket.remoteAddress);
  const duplex = createWebSocketStream(ws);
  duplex.pipe(process.stdout);
  ws.on('close', (code, reason) => console.log(code, reason.toString()));
});

// What index.mjs exports by name, and the default export's members.
new ns.WebSocketServer({ port: 8082 });
ns.createWebSocketStream;
new ns.default.Server({ port: 8083 });
const open: 1 = WebSocket.OPEN;
new WebSocket.Server({ port: 8084 });
new WS.WebSocketServer({ noServer: true });
WS.createWebSocketStream;

export { asServer, open };
