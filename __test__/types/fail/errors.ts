// Code that must NOT compile. Every line marked `// error` must have a
// diagnostic, and no other line may have one (so an unresolved 'wsrs', which
// would make everything `any` or fail on the import line, cannot pass for
// the expected errors).

import WebSocket = require('wsrs');
import { WebSocketServer } from 'wsrs';

declare const ws: WebSocket;
declare const wss: WebSocketServer;

// send() with a wrong option type, an unknown option, bad data.
ws.send('x', { binary: 'yes' }); // error
ws.send('x', { binery: true }); // error
ws.send({ hello: 'world' }); // error
ws.send(); // error

// The heartbeat and the other wsrs options.
new WebSocketServer({ heartbeat: 'x' }); // error
new WebSocketServer({ port: 8080, heartbeat: true }); // error
new WebSocketServer({ port: 8080, heartbeat: { timeout: 1000 } }); // error
new WebSocketServer({ port: 8080, heartbeat: { interval: '30s' } }); // error
new WebSocketServer({ port: 8080, handshakeTimeout: '30s' }); // error
new WebSocketServer({ port: 8080, maxHeaderSize: '16k' }); // error
new WebSocketServer({ port: 8080, maxFragments: true }); // error
new WebSocketServer({ port: 8080, closeTimeout: null }); // error
new WebSocketServer({ prot: 8080 }); // error
new WebSocketServer({ port: '8080' }); // error

// Hooks with the wrong shape.
new WebSocketServer({ port: 8080, verifyClient: (info) => info.origin.length }); // error
new WebSocketServer({ port: 8080, verifyClient: (info, cb) => cb('yes') }); // error
new WebSocketServer({ port: 8080, verifyClient: async (info) => info.secure }); // error
new WebSocketServer({ port: 8080, handleProtocols: (protocols) => protocols.size }); // error

// Listener parameters are typed.
wss.on('connection', (socket, req) => socket.sendd(req.url)); // error
wss.on('connection', (socket) => socket.on('message', (data, isBinary) => data.startsWith('{') && isBinary)); // error
wss.on('headers', (headers) => headers.toUpperCase()); // error
wss.clients.forEach((c) => c.foo()); // error
ws.on('close', (code, reason) => reason.toFixed(code)); // error

// readyState and the constants are read-only literals; binaryType is a union.
const s: string = ws.readyState; // error
ws.readyState === 5; // error
WebSocket.OPEN = 2; // error
ws.OPEN = 2; // error
ws.binaryType = 'text'; // error

// Wrong arguments elsewhere.
ws.close('1000'); // error
wss.handleUpgrade(ws as any, ws as any); // error
WebSocket.createWebSocketStream('x'); // error
ws.addEventListener('other', () => {}); // error
const addr: { port: number } = wss.address(); // error

export {};
new WebSocketServer({ noServer: true, backpressure: 'ignore' }); // error
