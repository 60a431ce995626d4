'use strict';

// Pub/sub across threads, processes and machines: `redis` on the server
// relays wss.publish() through Redis pub/sub to the servers of other
// processes, and in one process a publish reaches every instance of the
// module (every worker thread's servers). Each test starts its own
// redis-server (helpers/redis.js) and peer processes
// (fixtures/redis-peer.js), all stopped at the end whatever happened.
// Serial: several of them load both cores, and they would slow each other
// into timeouts.
//
// Where a test needs one process to be back on a restarted Redis before
// another (so that what the other flushes from its outbox has a subscriber
// to reach), the other goes to Redis through a proxy the test holds back
// (helpers/redis.js's proxy): Redis itself restarts for both.

const test = require('ava');
const crypto = require('crypto');
const path = require('path');
const { Worker } = require('worker_threads');

const WebSocket = require('ws');
const wsrs = require('..');
const native = require('../lib/native');
const { NODE_SOCKETS } = require('../lib/takeover');
const { closeServer, eventually, listen, once, quietWindow } = require('./helpers');
const R = require('./helpers/redis');
const { Tracker, publishSequence, summarize } = require('./helpers/pubsub-track');

const THREAD = path.join(__dirname, 'fixtures', 'pubsub-thread.js');

async function redisFor(t, opts) {
  const redis = await R.startRedis(opts);
  t.teardown(() => redis.close());
  return redis;
}

async function peerFor(t, opts) {
  const p = await R.startPeer(opts);
  t.teardown(() => p.stop());
  return p;
}

const peersFor = (t, list) => Promise.all(list.map((o) => peerFor(t, o)));

const hex = (s) => Buffer.from(s).toString('hex');
const lost = (p) => p.waitEvent((e) => e.event === 'error' && e.code === 'WSRS_REDIS_LOST', { what: "'error' WSRS_REDIS_LOST" });
const statsOf = async (p) => (await p.call('stats')).stats;

/** The peer's clients all have every seq of `ranges`; resolves with the summary (fails the test with it otherwise). */
async function allReceived(t, p, ranges, timeout = 10000) {
  const { done, report } = await p.call('until', { ranges, timeout }, { timeout: timeout + 5000 });
  t.true(done, `${p.name}'s clients did not all receive ${JSON.stringify(ranges)}: ${JSON.stringify(report)}`);
  return report;
}

function clean(t, report, who) {
  t.is(report.dups, 0, `${who}: duplicates ${JSON.stringify(report.streams)} ${JSON.stringify(report.problems)}`);
  t.is(report.ooo, 0, `${who}: out of order ${JSON.stringify(report.streams)} ${JSON.stringify(report.problems)}`);
  t.is(report.wrongKind, 0, `${who}: text arrived as binary or binary as text`);
  t.is(report.other, 0, `${who}: messages that no one published`);
}

test.serial('text stays text and binary stays binary across processes; redisStats after the first connection', async (t) => {
  const redis = await redisFor(t);
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: redis.url, clients: 1, topics: ['kinds'], log: true },
    { name: 'B', redis: redis.url, clients: 1, topics: ['kinds'], log: true }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  await Promise.all([a.ready(1), b.ready(1)]);

  const stats = await statsOf(a);
  for (const key of ['published', 'received', 'dropped', 'malformed', 'reconnects', 'outbox']) {
    t.is(typeof stats[key], 'number', `redisStats.${key}`);
  }
  t.like(stats, { connected: true, published: 0, dropped: 0, malformed: 0, reconnects: 0, outbox: 0 });

  const big = crypto.randomBytes(64 * 1024).toString('hex');
  const items = [
    { text: 'hello' },
    { text: 'héllo ✓ 🦀' },
    { text: '' },
    { hex: '00ff10' },
    { hex: '' },
    { text: 'as binary', binary: true },
    { hex: hex('as text'), binary: false },
    { hex: big }
  ];
  const expected = [
    ['hello', false],
    ['héllo ✓ 🦀', false],
    ['', false],
    ['00ff10', true],
    ['', true],
    [hex('as binary'), true],
    ['as text', false],
    [big, true]
  ];
  t.deepEqual(await a.call('publish', { topic: 'kinds', items }), items.map(() => 1), 'each publish reached the one local subscriber');
  t.deepEqual(await a.call('log', { count: items.length }), expected, "A's client, locally");
  t.deepEqual(await b.call('log', { count: items.length }), expected, "B's client, through Redis");

  // And back: B's publishes come after A's at both.
  t.deepEqual(await b.call('publish', { topic: 'kinds', items }), items.map(() => 1));
  t.deepEqual(await a.call('log', { count: 2 * items.length }), [...expected, ...expected], "A's client");
  t.deepEqual(await b.call('log', { count: 2 * items.length }), [...expected, ...expected], "B's client");
  await eventually(async () => (await statsOf(a)).published === items.length, { message: 'A published every item to Redis' });
  t.is((await statsOf(a)).malformed, 0);
});

test.serial("no double delivery: a process's client gets its own publish once, not again from Redis", async (t) => {
  const redis = await redisFor(t);
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: redis.url, clients: 1, topics: ['dd'], log: true },
    { name: 'B', redis: redis.url, clients: 1, topics: ['dd'], log: true }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  // A publishes 'A'; B, on receiving it through Redis, publishes 'M'; A, on
  // receiving 'M', publishes 'N'. Redis sends A the echo of 'A' before 'M'
  // (B published 'M' only after Redis had sent 'A' to everyone), and B the
  // echo of 'M' before 'N': a copy of one's own publish from Redis would
  // show in the logs before the other's answer.
  await b.call('react', { when: 'A', topic: 'dd', text: 'M' });
  await a.call('react', { when: 'M', topic: 'dd', text: 'N' });
  t.deepEqual(await a.call('publish', { topic: 'dd', items: [{ text: 'A' }] }), [1]);
  const want = [
    ['A', false],
    ['M', false],
    ['N', false]
  ];
  t.deepEqual(await a.call('log', { count: 3 }), want, "A's client");
  t.deepEqual(await b.call('log', { count: 3 }), want, "B's client");
  t.like(await a.waitEvent('reacted'), { when: 'M', sent: 1 });
  t.like(await b.waitEvent('reacted'), { when: 'A', sent: 1 });
  await eventually(async () => (await statsOf(a)).published === 2 && (await statsOf(b)).published === 1, {
    message: 'A published 2 and B 1 to Redis'
  });
});

test.serial('unsubscribe: the process leaves the Redis channel with its last socket, and comes back with the next', async (t) => {
  const redis = await redisFor(t);
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: redis.url, clients: 2, topics: ['u'], log: true },
    { name: 'B', redis: redis.url, clients: 0 }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  const subscribed = () => R.numsub(redis.port, 'wsrs:u');
  t.is(await subscribed(), 1, 'A is subscribed to wsrs:u');

  await b.call('publish', { topic: 'u', items: [{ text: 'one' }] });
  t.deepEqual(await a.call('log', { client: 0, count: 1 }), [['one', false]]);
  t.deepEqual(await a.call('log', { client: 1, count: 1 }), [['one', false]]);

  // One of two sockets leaves: the process stays on the channel.
  t.deepEqual(await a.call('unsubscribe', { topic: 'u', clients: [0] }), [true]);
  await a.call('synced');
  t.is(await subscribed(), 1, 'a socket still wants the topic');
  await b.call('publish', { topic: 'u', items: [{ text: 'two' }] });
  t.deepEqual(await a.call('log', { client: 1, count: 2 }), [
    ['one', false],
    ['two', false]
  ]);

  // The last one leaves by closing: the process unsubscribes on Redis.
  await a.call('closeClient', { client: 1 });
  await a.call('synced');
  t.is(await subscribed(), 0, 'no socket wants the topic: A left wsrs:u');
  t.is(await R.command(redis.port, 'PUBLISH', 'wsrs:u', R.envelope('raw')), 0, 'Redis has no one to send wsrs:u to');
  // B publishes 'three' while A is off the channel; a raw pattern
  // subscriber (not counted by NUMSUB) shows it has gone through Redis.
  const watch = await R.subscriber(redis.port, ['wsrs:u'], { pattern: true });
  t.teardown(() => watch.close());
  await b.call('publish', { topic: 'u', items: [{ text: 'three' }] });
  await watch.next((m) => R.openEnvelope(m.payload).payload.toString() === 'three');
  watch.close();

  // A socket joins again: so does the process, and what B publishes next
  // arrives. 'three' never does: it would come before 'four'.
  t.deepEqual(await a.call('subscribe', { topic: 'u', clients: [0] }), [true]);
  await a.call('synced');
  t.is(await subscribed(), 1, 'A is back on wsrs:u');
  await b.call('publish', { topic: 'u', items: [{ text: 'four' }] });
  t.deepEqual(await a.call('log', { client: 0, count: 2 }), [
    ['one', false],
    ['four', false]
  ]);
});

test.serial('the envelope on the channel, and the prefix option', async (t) => {
  const redis = await redisFor(t);
  const watch = await R.subscriber(redis.port, ['*'], { pattern: true });
  t.teardown(() => watch.close());
  const [a, c] = await peersFor(t, [
    { name: 'A', redis: redis.url, clients: 1, topics: ['wire'] },
    { name: 'C', redis: { url: redis.url, prefix: 'app1:' }, clients: 1, topics: ['wire'] }
  ]);
  await Promise.all([a.call('synced'), c.call('synced')]);
  t.is(await R.numsub(redis.port, 'wsrs:wire'), 1, 'A, with the default prefix');
  t.is(await R.numsub(redis.port, 'app1:wire'), 1, 'C, with its own');
  t.is(await R.numsub(redis.port, 'wire'), 0);

  await a.call('publish', { topic: 'wire', items: [{ text: 'hi' }, { hex: '010203' }] });
  await c.call('publish', { topic: 'wire', items: [{ text: 'yo' }] });
  await eventually(() => watch.messages.length >= 3, { message: () => `the raw subscriber got ${watch.messages.length}` });
  const byA = watch.messages.filter((m) => m.channel === 'wsrs:wire').map((m) => R.openEnvelope(m.payload));
  const byC = watch.messages.filter((m) => m.channel === 'app1:wire').map((m) => R.openEnvelope(m.payload));
  t.is(byA.length, 2);
  t.is(byC.length, 1);
  t.like(byA[0], { magic: 0x57, version: 1, opcode: 1 });
  t.is(byA[0].payload.toString(), 'hi');
  t.like(byA[1], { magic: 0x57, version: 1, opcode: 2 });
  t.is(byA[1].payload.toString('hex'), '010203');
  t.like(byC[0], { magic: 0x57, version: 1, opcode: 1 });
  t.is(byC[0].payload.toString(), 'yo');
  t.regex(byA[0].origin, /^[0-9a-f]{16}$/);
  t.is(byA[1].origin, byA[0].origin, "one origin per process");
  t.not(byC[0].origin, byA[0].origin, 'each process its own');
  t.is(watch.messages.length, 3, 'nothing else on any channel');
});

test.serial('malformed messages on the channel are counted and dropped; what comes after still arrives', async (t) => {
  const redis = await redisFor(t);
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: redis.url, clients: 1, topics: ['m'], log: true },
    { name: 'B', redis: redis.url, clients: 0 }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  const origin = crypto.randomBytes(8);
  const env = (data, o) => R.envelope(data, { origin, ...o });
  const bad = [
    ['empty', Buffer.alloc(0)],
    ['shorter than the header', env('x').subarray(0, R.HEADER - 1)],
    ['bad magic', env('x', { magic: 0x58 })],
    ["another program's text", Buffer.from('hello, not ours')],
    ['version 0', env('x', { version: 0 })],
    ['version 2', env('x', { version: 2 })],
    ['opcode 0 (continuation)', env('x', { opcode: 0 })],
    ['opcode 3', env('x', { opcode: 3 })],
    ['opcode 8 (close)', env(Buffer.from([0x03, 0xe8]), { opcode: 8 })],
    ['opcode 9 (ping)', env('x', { opcode: 9 })],
    ['invalid UTF-8 text', env(Buffer.from([0xc3, 0x28]), { opcode: 1 })],
    ['text cut in a character', env(Buffer.from('ok ✓').subarray(0, 5), { opcode: 1 })],
    ['a UTF-16 surrogate in text', env(Buffer.from([0xed, 0xa0, 0x80]), { opcode: 1 })]
  ];
  for (const [what, payload] of bad) {
    t.is(await R.command(redis.port, 'PUBLISH', 'wsrs:m', payload), 1, `${what}: Redis sent it to A`);
  }
  let seen;
  await eventually(async () => (seen = (await statsOf(a)).malformed) === bad.length, {
    message: () => `redisStats.malformed ${seen}, ${bad.length} sent`
  });

  // After them, a message made by hand as another process would, the same
  // bytes as binary (fine there), and a real publish from B.
  t.is(await R.command(redis.port, 'PUBLISH', 'wsrs:m', env('hand-made')), 1);
  t.is(await R.command(redis.port, 'PUBLISH', 'wsrs:m', env(Buffer.from([0xc3, 0x28]), { opcode: 2 })), 1);
  await b.call('publish', { topic: 'm', items: [{ text: 'from B' }] });
  // They came after the malformed ones on A's subscription: any of those
  // delivered would be in the log before them.
  t.deepEqual(await a.call('log', { count: 3 }), [
    ['hand-made', false],
    ['c328', true],
    ['from B', false]
  ]);
  const stats = await statsOf(a);
  t.is(stats.malformed, bad.length, 'the good ones are not malformed');
  t.true(stats.received >= 3, `received ${stats.received}`);
  t.true(stats.connected);
});

test.serial('Redis unreachable at start: an error naming it, local delivery meanwhile, then the connection comes', async (t) => {
  const port = await R.freePort();
  const url = `redis://127.0.0.1:${port}`;
  const a = await peerFor(t, { name: 'A', redis: url, clients: 1, topics: ['late'], log: true });
  const err = await a.waitEvent('error');
  t.is(err.code, 'WSRS_REDIS_UNREACHABLE');
  t.true(err.message.includes(`127.0.0.1:${port}`), `names the URL: ${err.message}`);
  t.regex(err.message, /outbox/i, 'says where publishes wait');

  t.deepEqual(await a.call('publish', { topic: 'late', items: [{ text: 'local' }] }), [1], 'local delivery needs no Redis');
  t.deepEqual(await a.call('log', { count: 1 }), [['local', false]]);
  t.like(await statsOf(a), { connected: false, outbox: 1 });

  // redisSynced() waits through the outage.
  let synced = false;
  const syncing = a.call('synced', {}, { timeout: 30000 }).then((r) => {
    synced = true;
    return r;
  });
  // Watching for an absence: it must not resolve while nothing listens on the port.
  await quietWindow(300);
  t.false(synced, 'redisSynced() resolved with no Redis');

  const redis = await redisFor(t, { port });
  await a.ready(1, 20000);
  const { stats } = await syncing;
  t.true(stats.connected);
  await eventually(async () => (await statsOf(a)).outbox === 0, { message: 'the outbox was flushed' });

  const b = await peerFor(t, { name: 'B', redis: redis.url, clients: 1, topics: ['late'], log: true });
  await b.call('synced');
  await b.call('publish', { topic: 'late', items: [{ text: 'from B' }] });
  // A's flushed 'local' came back to A (before B existed): ignored, as its
  // own; a copy would be in the log before 'from B'.
  t.deepEqual(await a.call('log', { count: 2 }), [
    ['local', false],
    ['from B', false]
  ]);
  await a.call('publish', { topic: 'late', items: [{ text: 'from A' }] });
  t.deepEqual(await a.call('log', { count: 3 }), [
    ['local', false],
    ['from B', false],
    ['from A', false]
  ]);
  // 'local' was flushed to Redis before B subscribed: B never sees it.
  t.deepEqual(await b.call('log', { count: 2 }), [
    ['from B', false],
    ['from A', false]
  ]);
});

test.serial("Redis unreachable with no 'error' listener: a process warning, and the process lives on", async (t) => {
  const port = await R.freePort();
  const a = await peerFor(t, { name: 'A', redis: `redis://127.0.0.1:${port}`, clients: 0, noErrorListener: true });
  const w = await a.waitEvent('warning');
  t.true(w.message.includes(`127.0.0.1:${port}`), `names the URL: ${w.message}`);
  t.log(`warning: ${w.name} ${w.code}: ${w.message}`);
  t.is((await statsOf(a)).connected, false);
});

test.serial('Redis restarted mid-stream: the outbox is flushed in order and the subscriptions are made again', async (t) => {
  const redis = await redisFor(t);
  const px = await R.proxy(redis.port);
  t.teardown(() => px.close());
  // A publishes and reaches Redis through the proxy; B goes straight to it.
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: px.url, clients: 1, topics: ['r'] },
    { name: 'B', redis: redis.url, clients: 1, topics: ['r'] }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  t.is((await a.call('sequence', { topic: 'r', stream: 'A', from: 0, count: 10 })).local, 10);
  await allReceived(t, b, { A: [0, 10] });

  px.hold();
  await redis.stop();
  const [lostA, lostB] = await Promise.all([lost(a), lost(b)]);
  t.true(lostB.message.includes(`127.0.0.1:${redis.port}`), `names the URL: ${lostB.message}`);
  t.regex(lostB.message, /outbox/i);
  t.true(lostA.message.includes(`127.0.0.1:${px.port}`), `names the URL: ${lostA.message}`);
  t.is((await statsOf(a)).connected, false);

  // During the outage: local delivery at once, Redis's share to the outbox.
  t.is((await a.call('sequence', { topic: 'r', stream: 'A', from: 10, count: 10, binary: 'alternate' })).local, 10);
  await allReceived(t, a, { A: [0, 20] });
  t.is((await statsOf(a)).outbox, 10);
  const bSynced = b.call('synced', {}, { timeout: 30000 });

  await redis.start();
  await b.ready(2, 20000);
  await bSynced;
  // B is back on its channel: now A may reach Redis again and flush.
  px.release();
  await a.ready(2, 20000);
  clean(t, await allReceived(t, b, { A: [0, 20] }), 'B after the flush');
  await eventually(async () => (await statsOf(a)).outbox === 0, { message: "A's outbox emptied" });
  const [sa, sb] = await Promise.all([statsOf(a), statsOf(b)]);
  t.true(sa.reconnects >= 1, `A reconnects ${sa.reconnects}`);
  t.true(sb.reconnects >= 1, `B reconnects ${sb.reconnects}`);
  t.true(sa.connected && sb.connected);

  // Both are subscribed again: publishes each way arrive.
  t.is(await R.numsub(redis.port, 'wsrs:r'), 2);
  await Promise.all([
    a.call('sequence', { topic: 'r', stream: 'A', from: 20, count: 10 }),
    b.call('sequence', { topic: 'r', stream: 'B', from: 0, count: 10 })
  ]);
  const ranges = { A: [0, 30], B: [0, 10] };
  clean(t, await allReceived(t, a, ranges), 'A');
  clean(t, await allReceived(t, b, ranges), 'B');
});

test.serial('outbox overflow: publishes past `outbox` are dropped and reported; the kept ones arrive in order', async (t) => {
  const redis = await redisFor(t);
  const px = await R.proxy(redis.port);
  t.teardown(() => px.close());
  const [a, b] = await peersFor(t, [
    { name: 'A', redis: { url: px.url, outbox: 5 }, clients: 1, topics: ['o'] },
    { name: 'B', redis: redis.url, clients: 1, topics: ['o'] }
  ]);
  await Promise.all([a.call('synced'), b.call('synced')]);
  await a.call('sequence', { topic: 'o', stream: 'A', from: 0, count: 2 });
  await allReceived(t, b, { A: [0, 2] });

  px.hold();
  await redis.stop();
  await Promise.all([lost(a), lost(b)]);
  // 8 publishes: seqs 2..6 fill the outbox, 7..9 are refused.
  t.is((await a.call('sequence', { topic: 'o', stream: 'A', from: 2, count: 8, perTurn: 8 })).local, 8);
  await allReceived(t, a, { A: [0, 10] }); // locally, all of them
  await a.waitEvent((e) => e.event === 'redisOverflow' && e.total === 3, { what: 'redisOverflow with total 3' });
  const reports = a.events.filter((e) => e.event === 'redisOverflow');
  t.is(
    reports.reduce((n, e) => n + e.dropped, 0),
    3,
    `dropped since the last report, summed over the reports: ${JSON.stringify(reports)}`
  );
  t.deepEqual(
    reports.map((e) => e.total),
    [...reports.map((e) => e.total)].sort((x, y) => x - y),
    'total only grows'
  );
  t.like(await statsOf(a), { dropped: 3, outbox: 5 });

  await redis.start();
  await b.ready(2, 20000);
  await b.call('synced');
  px.release();
  await a.ready(2, 20000);
  clean(t, await allReceived(t, b, { A: [0, 7] }), 'B');
  // One more after them: the dropped ones would arrive before it.
  await a.call('sequence', { topic: 'o', stream: 'A', from: 10, count: 1 });
  const report = await allReceived(t, b, { A: [10, 11] });
  t.is(report.streams.A.received, 8, 'B got seqs 0..6 and 10, and nothing else');
  t.like(await statsOf(a), { dropped: 3, outbox: 0 });
});

test.serial('3 processes × 200 clients, Redis killed and restarted mid-run: no duplicates, no reordering; all of it after the reconnection', async (t) => {
  t.timeout(120000);
  const redis = await redisFor(t);
  const names = ['P', 'Q', 'R'];
  const CLIENTS = 200;
  const N = 300; // publishes per process and phase
  const ps = await peersFor(
    t,
    names.map((name) => ({ name, redis: redis.url, clients: CLIENTS, topics: ['big'], startTimeout: 40000, lifetime: 110000 }))
  );
  await Promise.all(ps.map((p) => p.call('synced')));

  // Phase 1: each process publishes seqs 0..N-1, text and binary in turn,
  // stopping at gates for the test to act at known points: at 90 Redis is
  // killed while they go on (the crash lands amid publishes); from 150 on
  // they publish to a dead Redis; at 210 it starts again, and they go on
  // while the processes reconnect.
  const runs = ps.map((p) =>
    p.call('sequence', { topic: 'big', stream: p.name, from: 0, count: N, perTurn: 4, binary: 'alternate', gates: [90, 150, 210] }, { timeout: 60000 })
  );
  const atGate = (at) => Promise.all(ps.map((p) => p.waitEvent((e) => e.event === 'gate' && e.at === at, { timeout: 30000, what: `gate ${at}` })));
  const open = (at) => Promise.all(ps.map((p) => p.call('open', { stream: p.name, at })));
  await atGate(90);
  const killed = redis.kill();
  await open(90);
  await atGate(150);
  await killed;
  await open(150);
  await atGate(210);
  await redis.start();
  await open(210);
  for (const [i, r] of (await Promise.all(runs)).entries()) {
    t.is(r.local, N * CLIENTS, `${names[i]}: every publish reached its ${CLIENTS} local subscribers, outage or not`);
  }

  // Phase 2, once every process is back and subscribed: nothing may be lost.
  await Promise.all(ps.map((p) => p.ready(2, 30000)));
  await Promise.all(ps.map((p) => p.call('synced', {}, { timeout: 30000 })));
  await Promise.all(
    ps.map((p) => p.call('sequence', { topic: 'big', stream: p.name, from: N, count: N, perTurn: 4, binary: 'alternate' }, { timeout: 60000 }))
  );
  const phase1 = Object.fromEntries(names.map((n) => [n, [0, N]]));
  const phase2 = Object.fromEntries(names.map((n) => [n, [N, 2 * N]]));
  for (const p of ps) {
    const report2 = await allReceived(t, p, phase2, 30000);
    // Phase 2 complete means phase 1 is over too (per-publisher order).
    const report1 = await p.call('report', { ranges: phase1 });
    clean(t, report2, p.name);
    t.is(report1.streams[p.name].missing, 0, `${p.name}: its own publishes all reached its clients`);
    for (const n of names) {
      t.is(report2.streams[n].missing, 0, `${p.name}: from ${n} after the reconnection`);
      const s = report1.streams[n];
      if (n !== p.name) t.log(`${p.name} from ${n} during the outage: ${s.missing} of ${N * CLIENTS} lost (${s.clientsMissing} clients missed some, at most ${s.worstMissing})`);
    }
    const stats = report2.stats;
    t.true(stats.reconnects >= 1, `${p.name}: reconnects ${stats.reconnects}`);
    t.is(stats.malformed, 0);
    t.log(`${p.name}: ${JSON.stringify(stats)}`);
  }
});

// Where Node listens, reusePort is Node's own (from 22.12 and 23.1).
const [major, minor] = process.versions.node.split('.').map(Number);
const nodeReusePort = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);

/** One open ws client per port of `ports`, each with a Tracker of what it receives (in that order). */
async function trackedClients(t, ports) {
  const clients = [];
  t.teardown(() => clients.forEach((c) => c.terminate()));
  return Promise.all(
    ports.map(
      (port) =>
        new Promise((resolve, reject) => {
          const tr = new Tracker();
          const c = new WebSocket(`ws://127.0.0.1:${port}`);
          clients.push(c);
          c.on('message', (data, isBinary) => tr.add(data, isBinary));
          c.once('open', () => resolve(tr));
          c.once('error', reject);
        })
    )
  );
}

/** A pubsub-thread worker; resolves once it listens, with call(cmd, args). */
function startWorker(all, workerData) {
  const worker = new Worker(THREAD, { workerData });
  all.push(worker);
  const calls = new Map();
  let id = 0;
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m) => {
      if (m.error) return reject(new Error(`${workerData.tag}: ${m.error}`));
      worker.on('message', (r) => {
        const c = calls.get(r.id);
        if (!c) return;
        calls.delete(r.id);
        if (r.error) c.reject(new Error(`${workerData.tag}: ${r.error}`));
        else c.resolve(r.result);
      });
      worker.on('error', (err) => {
        for (const c of calls.values()) c.reject(err);
        calls.clear();
      });
      resolve({
        tag: workerData.tag,
        port: m.listening,
        call: (cmd, args = {}) =>
          new Promise((res, rej) => {
            const i = ++id;
            calls.set(i, { resolve: res, reject: rej });
            worker.postMessage({ id: i, cmd, ...args });
          })
      });
    });
  });
}

test.serial("one process, no Redis: a publish reaches every worker thread's subscribers (3 servers on one port with reusePort)", async (t) => {
  const supported = native.reusePortSupported() && (!NODE_SOCKETS || nodeReusePort);
  if (!supported) {
    t.log(`reusePort is not supported here (${process.platform}, Node ${process.version}): nothing to test`);
    t.pass();
    return;
  }
  const threads = [];
  t.teardown(() => Promise.all(threads.map((w) => w.terminate())));
  const first = await startWorker(threads, { tag: 'w0', reusePort: true, topic: 'room' });
  const workers = [first];
  for (const tag of ['w1', 'w2']) workers.push(await startWorker(threads, { tag, port: first.port, reusePort: true, topic: 'room' }));
  for (const w of workers) t.is(w.port, first.port);

  const CLIENTS = 60;
  const trackers = await trackedClients(t, Array(CLIENTS).fill(first.port));
  const counts = () => Promise.all(workers.map((w) => w.call('count')));
  await eventually(async () => (await counts()).reduce((a, b) => a + b, 0) === CLIENTS, {
    message: 'every connection reached a worker'
  });
  const perWorker = await counts();
  t.log(`connections per worker: ${perWorker.join(', ')}`);
  t.true(perWorker.filter((n) => n > 0).length >= 2, `the kernel spread them: ${perWorker}`);

  // The main thread's own instance, with no subscriber of its own.
  const { wss } = await listen(wsrs);
  t.teardown(() => closeServer(wss));

  // Every worker and the main thread publish a sequence at once, text and binary in turn.
  const M = 20;
  const [mainLocal, ...results] = await Promise.all([
    publishSequence({ publish: (topic, d, o) => wss.publish(topic, d, o), topic: 'room', stream: 'main', count: M, perTurn: 3, binary: 'alternate' }),
    ...workers.map((w) => w.call('sequence', { stream: w.tag, count: M, perTurn: 3, binary: 'alternate' }))
  ]);
  t.is(mainLocal, 0, "publish counts this instance's recipients: the main thread has none");
  results.forEach((r, i) => t.is(r.local, M * perWorker[i], `${workers[i].tag}: its own recipients`));

  const ranges = { main: [0, M], w0: [0, M], w1: [0, M], w2: [0, M] };
  await eventually(() => trackers.every((tr) => tr.has(ranges)), {
    timeout: 10000,
    message: () => JSON.stringify(summarize(trackers, ranges))
  });
  // Watching for an absence: a late duplicate from another thread's copy.
  await quietWindow(200);
  const s = summarize(trackers, ranges);
  t.is(s.total, CLIENTS * 4 * M, 'every client got each message exactly once');
  t.is(s.dups, 0);
  t.is(s.ooo, 0, 'in order per publisher');
  t.is(s.wrongKind, 0, 'text stays text, binary binary');
  t.is(s.other, 0);
});

test.serial("one process, no Redis: worker threads on ports of their own share the topics too (and Node's sockets where Node keeps them)", async (t) => {
  const threads = [];
  t.teardown(() => Promise.all(threads.map((w) => w.terminate())));
  const workers = await Promise.all(['w0', 'w1'].map((tag) => startWorker(threads, { tag, topic: 'room' })));
  const PER = 10;
  const trackers = await trackedClients(t, workers.flatMap((w) => Array(PER).fill(w.port)));
  await eventually(async () => (await Promise.all(workers.map((w) => w.call('count')))).every((n) => n === PER), {
    message: 'each worker has its clients'
  });
  const M = 30;
  const results = await Promise.all(workers.map((w) => w.call('sequence', { stream: w.tag, count: M, perTurn: 5, binary: 'alternate' })));
  results.forEach((r) => t.is(r.local, M * PER, 'each publish counts its own thread'));
  const ranges = { w0: [0, M], w1: [0, M] };
  await eventually(() => trackers.every((tr) => tr.has(ranges)), { timeout: 10000, message: () => JSON.stringify(summarize(trackers, ranges)) });
  // Watching for an absence: a late duplicate.
  await quietWindow(200);
  const s = summarize(trackers, ranges);
  t.is(s.total, 2 * PER * 2 * M, 'every client got each message of both threads exactly once');
  t.is(s.dups + s.ooo + s.wrongKind + s.other, 0, JSON.stringify(s));
  // A worker terminated with subscribers takes its instance out of the process's topics: nothing
  // keeps the instance alive (its memory is freed), and the other thread publishes on.
  const before = native.processStats().instances;
  await threads[1].terminate();
  await eventually(() => native.processStats().instances === before - 1, {
    message: () => `the terminated worker's instance is freed (${native.processStats().instances} alive, ${before} before)`
  });
  t.is(await workers[0].call('publish', { data: 'after', binary: false }), PER);
  await eventually(() => trackers.slice(0, PER).every((tr) => tr.total === 2 * M + 1), { message: "w0's clients got 'after'" });
});

test.serial('servers in one process that name the same Redis share one link: one subscriber connection, each message once', async (t) => {
  const redis = await redisFor(t);
  // The database number makes no other link: Redis's pub/sub ignores it.
  const made = [await localServer(t, redis.url, ['shared']), await localServer(t, { url: `${redis.url}/1` }, ['shared'])];
  const servers = made.map((m) => m.wss);
  const clients = made.map((m) => m.client);
  t.teardown(() => Promise.all(servers.map((wss) => closeServer(wss))));
  await Promise.all(servers.map((wss) => wss.redisSynced()));
  t.is(await R.numsub(redis.port, 'wsrs:shared'), 1, 'one subscriber connection for the process');
  // A publish from a raw client reaches both servers' clients once.
  await R.command(redis.port, 'PUBLISH', 'wsrs:shared', R.envelope('from afar', { opcode: 1 }));
  servers[0].publish('shared', 'from here');
  await eventually(() => clients.every((c) => c.got.length === 2), { message: () => JSON.stringify(clients.map((c) => c.got)) });
  // Watching for an absence: a second copy of either.
  await quietWindow(200);
  for (const c of clients) t.deepEqual(c.got.slice().sort(), ['from afar', 'from here']);
  t.is(servers[0].redisStats.received, 1);
  t.is(servers[1].redisStats.received, 1, 'the same link: the same counters');
});

/** A wsrs server in this process on `redisOption`, with `clients` ws clients whose sockets join `topics`. */
async function localServer(t, redisOption, topics = []) {
  const { wss, url } = await listen(wsrs, redisOption === undefined ? {} : { redis: redisOption });
  wss.on('error', () => {});
  wss.on('connection', (ws) => topics.forEach((topic) => ws.subscribe(topic)));
  const c = new WebSocket(url);
  c.got = [];
  c.on('message', (data) => c.got.push(data.toString()));
  t.teardown(() => c.terminate());
  await new Promise((resolve, reject) => {
    c.once('open', resolve);
    c.once('error', reject);
  });
  await eventually(() => wss.clients.size === 1, { message: 'the client is connected' });
  return { wss, client: c };
}

test.serial('what a server published just before close() still reaches Redis', async (t) => {
  const redis = await redisFor(t);
  const sub = await R.subscriber(redis.port, ['wsrs:bye']);
  t.teardown(() => sub.close());
  const { wss } = await localServer(t, redis.url);
  // Resolves once the first connection has made the process's subscriptions.
  await wss.redisSynced();
  t.true(wss.redisStats.connected);
  const closed = once(wss, 'close');
  wss.publish('bye', 'last words');
  for (const c of wss.clients) c.terminate();
  wss.close();
  await closed;
  const m = await sub.next((m) => m.channel === 'wsrs:bye');
  t.is(R.openEnvelope(m.payload).payload.toString(), 'last words');
});

test.serial('redisSynced() waits for the first connection to subscribe topics the process had before it, and settles at close', async (t) => {
  const port = await R.freePort();
  // A server without Redis has a subscriber to 'pre' before any link exists.
  const plain = await localServer(t, undefined, ['pre']);
  t.teardown(() => closeServer(plain.wss));
  const { wss } = await localServer(t, `redis://127.0.0.1:${port}`);
  const synced = wss.redisSynced();
  // Nothing listens on `port` yet: the link fails, then Redis starts there.
  const redis = await redisFor(t, { port });
  await synced;
  t.is(await R.numsub(redis.port, 'wsrs:pre'), 1, 'synced means the subscription is at Redis');
  // Pending at close: settled, not left hanging.
  await redis.stop();
  plain.client.terminate();
  await eventually(() => plain.wss.clients.size === 0, { message: 'the subscriber is gone' });
  const pending = wss.redisSynced();
  for (const c of wss.clients) c.terminate();
  await closeServer(wss);
  await pending;
  t.pass();
});

test.serial('a channel Redis refuses (an ACL) is left out; the link and the other topics go on', async (t) => {
  const redis = await redisFor(t);
  // The default user may use wsrs:ok only.
  t.is((await R.command(redis.port, 'ACL', 'SETUSER', 'default', 'resetchannels', '&wsrs:ok')).toString(), 'OK');
  const sub = await R.subscriber(redis.port, ['wsrs:ok']);
  t.teardown(() => sub.close());
  const { wss, client } = await localServer(t, redis.url, ['no', 'ok']);
  await wss.redisSynced();
  t.is(await R.numsub(redis.port, 'wsrs:ok'), 2, 'ours and the raw subscriber');
  wss.publish('no', 'refused');
  wss.publish('ok', 'fine');
  const m = await sub.next((m) => m.channel === 'wsrs:ok');
  t.is(R.openEnvelope(m.payload).payload.toString(), 'fine');
  await eventually(() => wss.redisStats.refused >= 1, { message: () => JSON.stringify(wss.redisStats) });
  t.like(wss.redisStats, { connected: true, reconnects: 0, lost: 0 });
  // Locally, both were delivered.
  await eventually(() => client.got.length === 2, { message: () => JSON.stringify(client.got) });
  t.deepEqual(client.got, ['refused', 'fine']);
  await closeServer(wss);
});
