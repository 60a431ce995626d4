// `import WS from 'wsrs'` (esModuleInterop) and named imports, in a CommonJS
// TypeScript file.

import WS, { WebSocket, WebSocketServer, createWebSocketStream, Server } from 'wsrs';
import type { RawData, ServerOptions, VerifyClientCallbackSync } from 'wsrs';

const wss = new WS.Server({ port: 8080 });
const wss2 = new WebSocketServer({ port: 8081 });
const wss3 = new Server({ port: 8082 });
const wss4 = new WS.WebSocketServer({ port: 8083 });
expectType<Same<typeof wss, typeof wss2>>();
expectType<Same<typeof wss3, WebSocketServer>>();
expectType<Same<typeof wss4, WebSocketServer>>();
expectType<Same<typeof WS, typeof WebSocket>>();

wss.on('connection', (ws) => {
  expectType<Same<typeof ws, WebSocket>>();
  ws.on('message', (data: RawData, isBinary) => {
    if (ws.readyState === WS.OPEN) ws.send(data, { binary: isBinary });
  });
  const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
  duplex.on('data', (chunk: string) => console.log(chunk));
});

const verify: VerifyClientCallbackSync = ({ origin }) => origin === 'https://example.com';
const options: ServerOptions = { port: 8084, verifyClient: verify };
new WebSocketServer(options);
