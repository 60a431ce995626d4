'use strict';

// `npm start` (demo/server.js), over HTTP and WebSocket clients: the chat room's page and its
// Content-Security-Policy, the tutorial's page at /seed with its broadcast server, the chat's rooms
// (native topics), history and live numbers, and the graceful stop (1001, then exit) on SIGTERM and
// SIGINT. The same page in a browser: browser.test.js.

const test = require('ava');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { connect, eventually, messages, once } = require('./helpers');
const { startCluster, startDemo, stop } = require('./helpers/demo');

const DEMO = path.join(__dirname, '..', 'demo');

async function demo(t, env) {
  const d = await startDemo(env);
  t.teardown(() => stop(d.child, 'SIGKILL'));
  return d;
}

/** A chat client in `room` as `nick`: `got` holds the parsed messages, `wait(pred)` the first that matches. */
async function chatter(d, room, nick) {
  const ws = await connect(`${d.ws}/chat`);
  const got = [];
  ws.on('message', (data) => got.push(JSON.parse(data.toString())));
  ws.json = (msg) => ws.send(JSON.stringify(msg));
  ws.got = got;
  ws.wait = (pred, what) => eventually(() => got.find(pred), { message: () => `${what}; got ${JSON.stringify(got)}` });
  ws.json({ type: 'join', room, nick });
  await ws.wait((m) => m.type === 'joined', `${nick} joined ${room}`);
  return ws;
}

function sha256(text) {
  return `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;
}

test('/ is the chat room, its CSP allows its own inline script and style only; /seed: the tutorial page', async (t) => {
  const d = await demo(t);
  const res = await fetch(`${d.http}/`);
  t.is(res.status, 200);
  const html = await res.text();
  t.is(html, fs.readFileSync(path.join(DEMO, 'index.html'), 'utf8'));
  const csp = res.headers.get('content-security-policy');
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)[1];
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)[1];
  t.true(csp.includes("default-src 'none'"), csp);
  t.true(csp.includes(`script-src ${sha256(script)}`), csp);
  t.true(csp.includes(`style-src ${sha256(style)}`), csp);
  t.true(csp.includes("connect-src 'self'"), csp);
  t.false(csp.includes('unsafe'), csp);
  // Text goes in as text, and the WebSocket URL comes from the page's location.
  t.false(html.includes('innerHTML'));
  t.false(/localhost|8080/.test(script));
  t.true(script.includes("new URL('chat', location.href)"));

  const seed = await fetch(`${d.http}/seed`);
  t.is(seed.status, 200);
  t.is(await seed.text(), fs.readFileSync(path.join(DEMO, 'seed.html'), 'utf8'));
  t.regex(seed.headers.get('content-security-policy'), /connect-src 'self' ws:\/\/localhost:8080/);

  t.is((await fetch(`${d.http}/nope`)).status, 404);
});

test("the tutorial's server broadcasts to the tutorial's tabs, and not into the chat", async (t) => {
  const d = await demo(t);
  const a = await connect(d.ws);
  const b = await connect(d.ws);
  const chat = await chatter(d, 'lobby', 'ann');
  const gotA = messages(a, 1);
  const gotB = messages(b, 1);
  a.send('你好');
  t.deepEqual(await gotA, [['你好', false]]);
  t.deepEqual(await gotB, [['你好', false]]);
  // The chat socket's own message comes after anything the server sent it before: not the seed's text.
  chat.json({ type: 'say', text: 'after' });
  await chat.wait((m) => m.type === 'msg' && m.text === 'after', 'own message');
  t.false(chat.got.some((m) => JSON.stringify(m).includes('你好')));
  a.close();
  b.close();
  await once(b, 'close');
});

test('chat: a room is a topic; messages carry nick and time, reach their room only, stay in its history', async (t) => {
  const d = await demo(t);
  const ann = await chatter(d, 'garden', 'ann');
  const bob = await chatter(d, 'garden', 'bob');
  const cy = await chatter(d, 'attic', 'cy');
  await ann.wait((m) => m.type === 'info' && m.text === 'bob joined', 'bob joined, seen by ann');

  ann.json({ type: 'say', text: '<b>hello</b> garden' });
  const msg = await bob.wait((m) => m.type === 'msg', 'a message for bob');
  t.like(msg, { type: 'msg', room: 'garden', nick: 'ann', text: '<b>hello</b> garden' });
  t.true(Math.abs(msg.ts - Date.now()) < 60000);

  cy.json({ type: 'say', text: 'attic only' });
  await cy.wait((m) => m.type === 'msg' && m.text === 'attic only', "cy's own message");
  t.false(cy.got.some((m) => m.room === 'garden'));
  t.false(bob.got.some((m) => m.room === 'attic'));

  bob.json({ type: 'nick', nick: 'robert' });
  await ann.wait((m) => m.type === 'info' && m.text === 'bob is now robert', 'the rename, seen by ann');

  const late = await chatter(d, 'garden', 'dee');
  const joined = late.got.find((m) => m.type === 'joined');
  t.like(joined, { room: 'garden', nick: 'dee' });
  t.true(joined.history.some((m) => m.type === 'msg' && m.nick === 'ann' && m.text === '<b>hello</b> garden'));

  // Bad input is ignored, and the socket stays open.
  late.send('not json');
  late.json({ type: 'join', room: '../etc' });
  late.json({ type: 'say', text: 42 });
  late.json({ type: 'say', text: 'still here' });
  await ann.wait((m) => m.type === 'msg' && m.text === 'still here', "dee's message after the bad ones");
});

test('demo:cluster: two processes share the rooms through Redis; each message says which one published it', async (t) => {
  const { child, a, b } = await startCluster();
  t.teardown(() => stop(child, 'SIGTERM'));
  const ann = await chatter(a, 'garden', 'ann');
  const bob = await chatter(b, 'garden', 'bob');
  t.is(ann.got.find((m) => m.type === 'joined').server, 'A');
  t.is(bob.got.find((m) => m.type === 'joined').server, 'B');
  // Joined means subscribed at Redis too (the demo waits for wss.redisSynced()).
  await ann.wait((m) => m.type === 'info' && m.text === 'bob joined' && m.server === 'B', "bob's join, from B, seen on A");
  ann.json({ type: 'say', text: 'from A' });
  bob.json({ type: 'say', text: 'from B' });
  t.like(await bob.wait((m) => m.type === 'msg' && m.text === 'from A', "A's message on B"), { nick: 'ann', server: 'A' });
  t.like(await ann.wait((m) => m.type === 'msg' && m.text === 'from B', "B's message on A"), { nick: 'bob', server: 'B' });
  // Each once: a process does not deliver its own publish twice. A duplicate (Redis's echo of a
  // process's own publish, or a second copy of the other's) would come before these markers, which
  // each side sends once it has seen both messages.
  ann.json({ type: 'say', text: 'marker A' });
  bob.json({ type: 'say', text: 'marker B' });
  for (const ws of [ann, bob]) {
    for (const text of ['marker A', 'marker B']) await ws.wait((m) => m.type === 'msg' && m.text === text, text);
  }
  for (const [ws, text] of [[ann, 'from A'], [ann, 'from B'], [bob, 'from A'], [bob, 'from B']]) {
    t.is(ws.got.filter((m) => m.type === 'msg' && m.text === text).length, 1);
  }
  t.is(await stop(child, 'SIGTERM'), 0, 'Ctrl-C stops the processes and Redis, and it exits cleanly');
});

test('chat: the live numbers come once a second to the sockets that ask', async (t) => {
  const d = await demo(t, { HEARTBEAT_MS: '4000' });
  const ann = await chatter(d, 'lobby', 'ann');
  ann.json({ type: 'stats' });
  const stats = await ann.wait((m) => m.type === 'stats', 'stats');
  t.is(stats.connections, 1);
  t.deepEqual(stats.heartbeat, { interval: 4000, timeout: 2000 });
  t.deepEqual(stats.rooms, { lobby: 1 });
  t.true(stats.rss > 0);
  t.true(Array.isArray(stats.history));
  t.is(stats.reaped, 0);
  t.like(stats.load, { running: false, clients: 1000 });
  ann.json({ type: 'say', text: 'one' });
  const busy = (m) => m.type === 'stats' && m.messagesPerSecond >= 1 && m.deliveredPerSecond >= 1;
  await ann.wait(busy, 'a second with a message');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal}: every client gets 1001 and the process exits`, async (t) => {
    const d = await demo(t);
    const chat = await chatter(d, 'lobby', 'ann');
    const seed = await connect(d.ws);
    const closes = [once(chat, 'close'), once(seed, 'close')];
    const exit = once(d.child, 'exit');
    d.child.kill(signal);
    for (const [code, reason] of await Promise.all(closes)) {
      t.is(code, 1001);
      t.is(reason.toString(), 'server shutting down');
    }
    t.deepEqual(await exit, [0, null]);
    t.regex(d.child.output, new RegExp(`${signal}: closing 2 connections with 1001`));
  });
}
