// wsrs's types and @types/ws's are assignable to each other, both ways: a
// wsrs server or socket can be passed to libraries typed against ws (e.g.
// graphql-ws's `useServer(options, wss: WebSocketServer)`), and code holding
// ws-typed values or options can hand them to wsrs. Compiled only when
// @types/ws (and @types/node) are installed.

import ws = require('ws');
import wsrs = require('wsrs');
import type { IncomingMessage } from 'http';

declare const wsrsSocket: wsrs;
declare const wsrsServer: wsrs.WebSocketServer;
declare const wsrsOptions: wsrs.ServerOptions;
declare const wsSocket: ws;
declare const wsServer: ws.WebSocketServer;
declare const wsOptions: ws.ServerOptions;

// wsrs where ws is expected.
const a1: ws = wsrsSocket;
const a2: ws.WebSocket = wsrsSocket;
const a3: ws.WebSocketServer = wsrsServer;
const a4: ws.Server = wsrsServer;
const a5: ws.ServerOptions = wsrsOptions;
const a6: typeof ws = wsrs;
const a7: typeof ws.WebSocketServer = wsrs.WebSocketServer;
function useServer(options: object, server: ws.WebSocketServer): void {
  server.on('connection', (socket, request) => socket.send(String(request.url)));
}
useServer({}, new wsrs.WebSocketServer({ noServer: true, heartbeat: 30000 }));
wsrsServer.on('connection', (socket: ws, request: IncomingMessage) => socket.send(String(request.url)));

// ws where wsrs is expected.
const b1: wsrs = wsSocket;
const b2: wsrs.WebSocketServer = wsServer;
const b3: wsrs.ServerOptions = wsOptions;
new wsrs.WebSocketServer(wsOptions);
const verifySync: ws.VerifyClientCallbackSync = (info) => info.secure;
const verifyAsync: ws.VerifyClientCallbackAsync = (info, cb) => cb(info.secure, 401);
new wsrs.WebSocketServer({ noServer: true, verifyClient: verifySync });
new wsrs.WebSocketServer({ noServer: true, verifyClient: verifyAsync });
const rawData: wsrs.RawData = null as unknown as ws.RawData;

export { a1, a2, a3, a4, a5, a6, a7, b1, b2, b3, rawData };
