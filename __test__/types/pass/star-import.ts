// Seed 003-broadcast.ts (with the `)` it is missing): `import * as ws from
// 'ws'` in a CommonJS TypeScript file, then `new ws.Server(...)`.

import * as ws from 'wsrs';

const wss = new ws.Server({ port: 8080 }, () => {
  console.log('server is running on 8080');
});
const state = {
  HEART: 1,
  MESSAGE: 2
};

wss.on('connection', (ws) => {
  expectType<Same<typeof ws, import('wsrs')>>();
  console.log('client connected');
  ws.on('message', (message) => {
    console.log('received: %s', message.toString());
    wss.clients.forEach((client) => {
      client.send(
        JSON.stringify({
          state: state.MESSAGE,
          message: message.toString()
        })
      );
    });
  });
  let hraetInreval: ReturnType<typeof setInterval> | null = null;
  const sendHeart = () => {
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ state: state.HEART, message: '心跳' }));
    } else if (hraetInreval) {
      clearInterval(hraetInreval);
    }
  };
  hraetInreval = setInterval(sendHeart, 5000);
});

// The namespace's other members.
const server2: ws.WebSocketServer = new ws.WebSocketServer({ port: 8081 });
const server3: ws.Server = server2;
const isOpen = (s: ws.WebSocket) => s.readyState === ws.OPEN && s.readyState === ws.WebSocket.OPEN;
const stream = (s: ws) => ws.createWebSocketStream(s);
const data: ws.RawData[] = [];
const options: ws.ServerOptions = { noServer: true };

export { wss, server3, isOpen, stream, data, options };
