// Server options and modes: wsrs's heartbeat, handshakeTimeout and
// maxHeaderSize, ws's limits, verifyClient (sync and async),
// handleProtocols, `server`, `noServer` + handleUpgrade, custom classes.

import * as http from 'http';
import { URL } from 'url';
import WebSocket = require('wsrs');
import { WebSocketServer } from 'wsrs';

// The native heartbeat, every form.
new WebSocketServer({ port: 8080, heartbeat: 30000 });
new WebSocketServer({ port: 8080, heartbeat: { interval: 30000 } });
new WebSocketServer({ port: 8080, heartbeat: { interval: 30000, timeout: 10000 } });
new WebSocketServer({ port: 8080, heartbeat: false });
new WebSocketServer({ port: 8080, heartbeat: undefined });
const hb: WebSocket.HeartbeatOptions = { interval: 1000 };
new WebSocketServer({ port: 8080, heartbeat: process.env.HEARTBEAT ? hb : false });

// Every option at once.
const all: WebSocket.ServerOptions = {
  host: '127.0.0.1',
  port: 0,
  backlog: 511,
  path: '/ws',
  clientTracking: true,
  perMessageDeflate: false,
  maxPayload: 1024 * 1024,
  maxFragments: 16 * 1024,
  maxBufferedChunks: 256 * 1024,
  maxPendingAutoPongs: 60,
  autoPong: true,
  closeTimeout: 30000,
  allowSynchronousEvents: true,
  skipUTF8Validation: false,
  heartbeat: { interval: 30000, timeout: 10000 },
  handshakeTimeout: 30000,
  maxHeaderSize: 16384,
  WebSocket
};
new WebSocketServer(all, () => console.log('listening'));

// verifyClient, synchronous: one parameter.
new WebSocketServer({
  port: 8080,
  verifyClient: (info) => {
    expectType<Same<typeof info.req, http.IncomingMessage>>();
    return info.origin === 'https://example.com' && info.secure;
  }
});
const verifySync: WebSocket.VerifyClientCallbackSync = ({ req }) => req.headers.authorization === 'Bearer x';
new WebSocketServer({ port: 8080, verifyClient: verifySync });

// verifyClient, asynchronous: two parameters.
new WebSocketServer({
  port: 8080,
  verifyClient: (info, done) => {
    const token = info.req.headers['sec-websocket-protocol'];
    setTimeout(() => {
      if (token) done(true);
      else done(false, 403, 'Forbidden', { 'X-Reason': 'no token' });
    }, 10);
  }
});
const verifyAsync: WebSocket.VerifyClientCallbackAsync = (info, cb) => cb(info.secure);
new WebSocketServer({ port: 8080, verifyClient: verifyAsync });

// handleProtocols.
new WebSocketServer({
  port: 8080,
  handleProtocols: (protocols, request) => {
    expectType<Same<typeof protocols, Set<string>>>();
    console.log(request.url);
    if (protocols.has('chat.v2')) return 'chat.v2';
    return protocols.has('chat') ? 'chat' : false;
  }
});
const wssP = new WebSocketServer({ port: 8080, handleProtocols: (p) => p.values().next().value ?? false });
wssP.on('connection', (ws) => console.log(ws.protocol));

// noServer + handleUpgrade: routing upgrades of an http.Server by path.
{
  const server = http.createServer((req, res) => {
    res.writeHead(200);
    res.end('ok');
  });
  const chat = new WebSocketServer({ noServer: true, heartbeat: 15000 });
  const feed = new WebSocket.Server({ noServer: true });

  server.on('upgrade', (request, socket, head) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname === '/chat') {
      chat.handleUpgrade(request, socket, head, (ws, req) => {
        expectType<Same<typeof ws, WebSocket>>();
        chat.emit('connection', ws, req);
      });
    } else if (pathname === '/feed' && feed.shouldHandle(request)) {
      feed.handleUpgrade(request, socket, head, (ws) => feed.emit('connection', ws, request));
    } else {
      socket.destroy();
    }
  });
  chat.on('connection', (ws, req) => {
    ws.send(`hello ${req.socket.remoteAddress}`);
  });
  server.listen(8080);
}

// `server`: attached to an http.Server; its events.
{
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024 });
  wss.on('listening', () => {
    const address = wss.address();
    if (address !== null && typeof address !== 'string') {
      const port: number = address.port;
      console.log(port, address.address, address.family);
    }
  });
  wss.on('headers', (headers, req) => {
    expectType<Same<typeof headers, string[]>>();
    headers.push(`X-Path: ${req.url}`);
  });
  wss.on('wsClientError', (error, socket, req) => {
    console.log(error.message, req.method);
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  wss.on('error', (err) => console.error(err.message));
  wss.once('close', () => console.log('closed'));
  wss.close((err) => {
    if (err) console.error(err.message);
  });
  server.listen(8080);
}

// A custom WebSocket class: the server is generic over it, as with @types/ws.
{
  class Client extends WebSocket {
    isAlive = true;
    userId?: string;
  }
  const wss = new WebSocketServer({ port: 8080, WebSocket: Client });
  wss.on('connection', (ws, req) => {
    expectType<Same<typeof ws, Client>>();
    ws.userId = req.headers['x-user'] as string | undefined;
    ws.on('pong', () => {
      ws.isAlive = true;
    });
  });
  // ws's README heartbeat, which wsrs's `heartbeat` option replaces.
  const interval = setInterval(() => {
    wss.clients.forEach((ws) => {
      if (!ws.isAlive) return ws.terminate();
      ws.isAlive = false;
      ws.ping();
    });
  }, 30000);
  wss.on('close', () => clearInterval(interval));
}

// A custom request class, through the `server` option.
{
  class Request extends http.IncomingMessage {
    user?: string;
  }
  const server = http.createServer({ IncomingMessage: Request });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    expectType<Same<typeof req, Request>>();
    ws.send(req.user ?? 'anonymous');
  });
}

// Subclassing the server, and augmenting it like @types/ws users do.
class AppServer extends WebSocket.Server {
  broadcast(data: string) {
    this.clients.forEach((c) => c.readyState === WebSocket.OPEN && c.send(data));
  }
}
new AppServer({ port: 8080 }).broadcast('hi');

declare module 'wsrs' {
  interface Server {
    getWebSocketId(): string;
  }
}
const augmented = new WebSocketServer({ noServer: true });
const id: string = augmented.getWebSocketId();

export { id };

// wsrs's fan-out, backpressure and connection limit.
{
  const wss = new WebSocket.WebSocketServer({ port: 8080, maxBufferedAmount: 1 << 20, backpressure: 'drop', maxConnections: 1000 });
  wss.on('connection', (ws) => {
    const fresh: boolean = ws.subscribe!('room:1');
    const topics: string[] = ws.getTopics!();
    ws.on('drain', () => ws.unsubscribe!('room:1'));
    const n: number = wss.publish!('room:1', Buffer.from('hi'), { binary: false, except: ws });
    void [fresh, topics, n, ws.isSubscribed!('x')];
  });
  wss.broadcast!('to everyone');
}

// wsrs's scaling out through Redis.
{
  const a = new WebSocket.WebSocketServer({ port: 8080, redis: 'redis://127.0.0.1:6379' });
  const b = new WebSocket.WebSocketServer({ port: 8081, redis: { url: 'redis://127.0.0.1:6379', prefix: 'app:', outbox: 100 } });
  a.on('redisReady', () => undefined);
  b.on('redisOverflow', ({ dropped, total }) => void [dropped + total]);
  a.on('error', (err) => void err.message);
  const stats = a.redisStats;
  if (stats !== undefined) {
    const n: number = stats.published + stats.received + stats.dropped + stats.lost + stats.malformed + stats.outbox;
    const up: boolean = stats.connected;
    void [n, up];
  }
  void a.redisSynced!().then(() => a.publish!('room', 'hi'));
}
