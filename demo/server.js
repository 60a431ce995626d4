'use strict';

// `npm start`: a chat room on wsrs, and the usage example of what wsrs adds to ws.
//
//   GET /        the chat room (index.html): rooms, nicknames, times, and a live panel
//   GET /seed    the page of the tutorial our users learn ws from (seed 004, seed.html), as written
//   WS  /chat    the chat room's socket (JSON, below)
//   WS  other    the tutorial's broadcast server, for the tutorial's page
//
// Beyond ws, all in this file: a room is a native topic (ws.subscribe, wss.publish: each message is
// framed once and fanned out in Rust), the heartbeat is the server's `heartbeat` option (no
// setInterval, no isAlive), and the panel's numbers come from this process once a second over the
// same socket (the 'stats' topic).
//
// The chat socket speaks JSON. From the page:
//   { type: 'join', room, nick }   enter a room (and leave the one before); nick may be ''
//   { type: 'nick', nick }         rename
//   { type: 'say', text }          a message to the room
//   { type: 'stats' }              the panel's numbers, once a second from now on
//   { type: 'load', on }           start or stop the simulated clients (load.js; from this machine only)
// To the page:
//   { type: 'joined', room, nick, history, canLoad }, { type: 'nick', nick }
//   { type: 'msg', room, nick, text, ts }, { type: 'info', room, text, ts } (joins, leaves, renames)
//   { type: 'stats', connections, messagesPerSecond, deliveredPerSecond, history, rss, rssPerConnection,
//     reaped, heartbeat, rooms, load }
//
// Environment: PORT (8080; 0 takes a free port), HEARTBEAT_MS (the heartbeat's interval, 10000; its
// timeout is half that), LOAD_CLIENTS (how many clients the page's button simulates, 1000),
// REDIS_URL (rooms shared with every other process on that Redis: `npm run demo:cluster` runs two),
// DEMO_NAME (this process's name on its messages, with REDIS_URL).
// Ctrl-C or SIGTERM: every client gets 1001 ("going away") and the process exits.

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawn } = require('child_process');

const { WebSocketServer } = require('..');

const PORT = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS) || 10000;
const HEARTBEAT = { interval: HEARTBEAT_MS, timeout: HEARTBEAT_MS / 2 };
const LOAD_CLIENTS = Number(process.env.LOAD_CLIENTS) || 1000;
const HISTORY = 50; // messages a room keeps for those who join it
const REDIS_URL = process.env.REDIS_URL || null;
const NAME = process.env.DEMO_NAME || '';

// A page and its headers. Its Content-Security-Policy allows the page's own inline <style> and
// <script> by their sha256 (no 'unsafe-inline': markup that gets into the page cannot run), its
// WebSocket, and nothing else.
function page(file, connectSrc) {
  const html = fs.readFileSync(path.join(__dirname, file), 'utf8');
  const hashes = { script: [], style: [] };
  for (const [, tag, body] of html.matchAll(/<(script|style)>([\s\S]*?)<\/\1>/g)) {
    hashes[tag].push(`'sha256-${crypto.createHash('sha256').update(body).digest('base64')}'`);
  }
  const csp = [
    "default-src 'none'",
    `script-src ${hashes.script.join(' ')}`,
    `style-src ${hashes.style.join(' ')}`,
    `connect-src ${connectSrc}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ');
  const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': csp };
  return { html, headers: { ...headers, 'X-Content-Type-Options': 'nosniff' } };
}

const pages = {
  '/': page('index.html', "'self'"),
  // The tutorial's page connects to ws://localhost:8080, as its text says.
  '/seed': page('seed.html', "'self' ws://localhost:8080")
};

const server = http.createServer((req, res) => {
  const found = (req.method === 'GET' || req.method === 'HEAD') && pages[new URL(req.url, 'http://host').pathname];
  if (!found) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Not found\n');
    return;
  }
  res.writeHead(200, found.headers);
  res.end(found.html);
});

// With REDIS_URL, a publish also reaches the room's members on every other process on that Redis
// (and theirs reach ours), fanned out in Rust on each side: the only change is this option. (A
// room's history is each process's own: what other processes publish does not enter JavaScript.)
const wss = new WebSocketServer({
  server,
  heartbeat: HEARTBEAT,
  maxPayload: 64 * 1024,
  ...(REDIS_URL === null ? {} : { redis: REDIS_URL })
});
wss.on('error', (err) => console.log(`${err.code || 'error'}: ${err.message}`));
wss.on('redisReady', () => console.log(`redis: connected to ${REDIS_URL}`));
const counters = { messages: 0, delivered: 0 };

wss.on('connection', (ws, req) => {
  if (new URL(req.url, 'http://host').pathname === '/chat') chat(ws, req);
  else seed(ws, req);
});

// The tutorial's server (seed 004), for the tutorial's page. It sent each message to every open
// client (wss.clients.forEach); here the tutorial's tabs share a topic of their own, so that the
// chat's sockets do not get its raw text.
function seed(ws, req) {
  console.log(req.socket.remoteAddress);
  ws.subscribe('seed');
  ws.on('message', (data, isBinary) => {
    counters.messages++;
    counters.delivered += wss.publish('seed', data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    console.log(code, reason.toString());
  });
  ws.on('error', (error) => {
    console.log(error);
  });
}

const rooms = new Map(); // name -> { members, history }
let guests = 0;

function chat(ws, req) {
  const canLoad = /^(127\.|::1$|::ffff:127\.)/.test(req.socket.remoteAddress);
  const user = { nick: `guest-${++guests}`, room: null, canLoad };
  ws.on('message', (data, isBinary) => {
    counters.messages++;
    if (isBinary) return;
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    if (msg.type === 'join' && validRoom(msg.room)) {
      if (validNick(msg.nick)) user.nick = msg.nick.trim();
      join(ws, user, msg.room);
    } else if (msg.type === 'nick' && validNick(msg.nick) && user.room !== null) {
      const old = user.nick;
      user.nick = msg.nick.trim();
      ws.send(JSON.stringify({ type: 'nick', nick: user.nick }));
      say(user.room, { type: 'info', text: `${old} is now ${user.nick}` });
    } else if (msg.type === 'say' && typeof msg.text === 'string' && msg.text.trim() && user.room !== null) {
      say(user.room, { type: 'msg', nick: user.nick, text: msg.text.trim().slice(0, 500) });
    } else if (msg.type === 'stats') {
      ws.subscribe('stats');
    } else if (msg.type === 'load' && canLoad) {
      if (msg.on) startLoad();
      else stopLoad();
    }
  });
  ws.on('close', () => leave(ws, user));
  ws.on('error', (error) => console.log(error));
}

function validRoom(name) {
  return typeof name === 'string' && /^[a-z0-9_-]{1,24}$/.test(name);
}

function validNick(nick) {
  return typeof nick === 'string' && nick.trim().length > 0 && nick.trim().length <= 24;
}

function join(ws, user, name) {
  if (user.room !== name) {
    leave(ws, user);
    if (!rooms.has(name)) rooms.set(name, { members: 0, history: [] });
    rooms.get(name).members++;
    user.room = name;
  }
  const fresh = ws.subscribe(`room:${name}`);
  // With REDIS_URL, 'joined' waits until Redis has the room's subscription: from then on this socket
  // gets what every process publishes to the room. (Without it, this resolves at once.)
  wss.redisSynced().then(() => {
    if (user.room !== name || ws.readyState !== ws.OPEN) return;
    const { history } = rooms.get(name);
    ws.send(JSON.stringify({ type: 'joined', room: name, nick: user.nick, history, canLoad: user.canLoad, server: NAME }));
    if (fresh) say(name, { type: 'info', text: `${user.nick} joined` });
  });
}

function leave(ws, user) {
  if (user.room === null) return;
  const room = rooms.get(user.room);
  ws.unsubscribe(`room:${user.room}`);
  if (--room.members === 0) rooms.delete(user.room);
  else say(user.room, { type: 'info', text: `${user.nick} left` });
  user.room = null;
}

// To everyone in the room, in one native publish; and into the room's history.
function say(name, msg) {
  const room = rooms.get(name);
  msg = { ...msg, room: name, ts: Date.now(), server: NAME };
  room.history.push(msg);
  if (room.history.length > HISTORY) room.history.shift();
  counters.delivered += wss.publish(`room:${name}`, JSON.stringify(msg));
}

// The panel's numbers, to the sockets that asked for them.
const perSecond = []; // messages per second, the last minute
let idleRss = process.memoryUsage.rss();
const ticker = setInterval(() => {
  perSecond.push(counters.messages);
  if (perSecond.length > 60) perSecond.shift();
  const connections = wss.clients.size;
  const rss = process.memoryUsage.rss();
  wss.publish('stats', JSON.stringify({
    type: 'stats',
    connections,
    messagesPerSecond: counters.messages,
    deliveredPerSecond: counters.delivered,
    history: perSecond,
    rss,
    rssPerConnection: connections ? Math.max(0, rss - idleRss) / connections : 0,
    reaped: wss.heartbeatReaped, // the native heartbeat's own count
    heartbeat: HEARTBEAT,
    rooms: Object.fromEntries([...rooms].map(([name, room]) => [name, room.members])),
    load: { running: load !== null, clients: LOAD_CLIENTS }
  }));
  counters.messages = 0;
  counters.delivered = 0;
}, 1000);

// The page's button: LOAD_CLIENTS simulated clients (load.js) in a process of their own, for 2 minutes at most.
let load = null;

function startLoad() {
  if (load !== null) return;
  const url = `ws://127.0.0.1:${server.address().port}/chat`;
  const child = spawn(process.execPath, [path.join(__dirname, 'load.js'), String(LOAD_CLIENTS), url], {
    stdio: ['ignore', 'ignore', 'inherit']
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 120000);
  child.on('exit', () => {
    clearTimeout(timer);
    if (load === child) load = null;
  });
  load = child;
}

function stopLoad() {
  if (load !== null) load.kill('SIGTERM');
}

server.listen(PORT, () => {
  const { port } = server.address();
  idleRss = process.memoryUsage.rss();
  console.log(`wsrs chat demo: http://localhost:${port}/ (the tutorial's page: http://localhost:${port}/seed)`);
});

function shutdown(signal) {
  console.log(`${signal}: closing ${wss.clients.size} connections with 1001`);
  clearInterval(ticker);
  stopLoad();
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref(); // for peers that never answer the close
}

process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
