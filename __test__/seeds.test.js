'use strict';

// The server snippets of the ws tutorials in /work/shared/seeds, differential:
// each runs UNCHANGED (fixtures in __test__/seeds/) as a child process, once
// with `ws` resolving to the real ws and once to wsrs (preload
// helpers/use-impl.js, or helpers/use-impl-esm.mjs for ESM), with timers sped
// up (helpers/scale-timers.js, the same for both). The same real-ws clients
// drive both servers; the transcripts (what clients get, close codes, server
// stdout/stderr, crash) must be equal, and a few concrete expectations per
// seed make sure both are not broken in the same way.
//
// The seeds listen on fixed ports (8080, 3000): a run listens on its seed's
// port if that is free, else on a port the system picks (the harness passes
// the choice to helpers/seed-ports.js, which maps the port where the seed's
// code hands it to WebSocketServer or listen(); the seed's code is unchanged),
// so a port held elsewhere, or another run of this file, never fails a run.
// test.serial all the same: one seed at a time keeps the load low.

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const test = require('ava');
const ts = require('typescript');

const H = require('./helpers/seed-harness');

const SEEDS = '/work/shared/seeds';
const FIXTURES = path.join(__dirname, 'seeds');
const fx = (name) => path.join(FIXTURES, name);
const hex = (s) => Buffer.from(s).toString('hex');

// ---- fixture files -----------------------------------------------------------

const FIX_MARK = /^(\s*)(.*?)\s*\/\/ SEED-FIX: was ("(?:[^"\\]|\\.)*")/;

/**
 * A fixture's code as it is in its seed: leading `//!` lines are our header
 * (naming the seed), later `//!` lines separate inline snippets, and lines
 * marked `// SEED-FIX: was "<original>"` get their original text back.
 */
function parseFixture(text) {
  const all = text.split('\n');
  let i = 0;
  const header = [];
  while (i < all.length && all[i].startsWith('//!')) header.push(all[i++]);
  const seedName = (header.join('\n').match(/\/work\/shared\/seeds\/(\S+?\.txt)/) || [])[1];
  const segments = [[]];
  let fixes = 0;
  for (; i < all.length; i++) {
    const line = all[i].trimEnd();
    if (line.startsWith('//!')) {
      segments.push([]);
      continue;
    }
    const m = line.match(FIX_MARK);
    if (m) {
      fixes++;
      segments[segments.length - 1].push(m[1] + JSON.parse(m[3]));
    } else {
      segments[segments.length - 1].push(line);
    }
  }
  for (const seg of segments) {
    while (seg.length && seg[0] === '') seg.shift();
    while (seg.length && seg[seg.length - 1] === '') seg.pop();
  }
  return { header, seedName, segments: segments.filter((s) => s.length), fixes };
}

/** Whether `seg` (lines) occurs in `seedText`, allowing one consistent indentation. */
function occursIn(seedText, seg) {
  if (seg.length === 1) return seedText.includes(seg[0].trim());
  const lines = seedText.split('\n').map((l) => l.trimEnd());
  for (let i = 0; i + seg.length <= lines.length; i++) {
    if (!lines[i].endsWith(seg[0])) continue;
    const indent = lines[i].slice(0, lines[i].length - seg[0].length);
    if (indent.trim() !== '') continue;
    if (seg.every((l, j) => (l === '' ? lines[i + j] === '' : lines[i + j] === indent + l))) return true;
  }
  return false;
}

/** Fenced code blocks of a seed (dedented, trailing spaces dropped). */
function codeBlocks(text) {
  const out = [];
  const lines = text.split('\n');
  let start = -1;
  lines.forEach((l, i) => {
    if (!/^\s*```/.test(l)) return;
    if (start === -1) {
      start = i;
      return;
    }
    const body = lines.slice(start + 1, i).map((x) => x.trimEnd());
    const indent = Math.min(...body.filter(Boolean).map((x) => x.match(/^ */)[0].length));
    out.push(body.map((x) => x.slice(indent)));
    start = -1;
  });
  return out;
}

const SERVER_CODE = /new\s+[\w.]*Server\s*\(|expressWs\s*\(/;

const fixtureFiles = fs.readdirSync(FIXTURES).filter((f) => /\.(js|mjs|ts)$/.test(f)).sort();
const haveSeeds = fs.existsSync(SEEDS);

(haveSeeds ? test : test.skip)('fixtures have not drifted: their code (minus header and marked fixes) is in their seed', (t) => {
  t.true(fixtureFiles.length >= 9);
  for (const f of fixtureFiles) {
    const p = parseFixture(fs.readFileSync(fx(f), 'utf8'));
    t.truthy(p.seedName, `${f} names its seed in a //! header`);
    const seed = fs.readFileSync(path.join(SEEDS, p.seedName), 'utf8');
    t.true(p.segments.length > 0, f);
    for (const seg of p.segments) t.true(occursIn(seed, seg), `${f}: this code is not in ${p.seedName}:\n${seg.join('\n')}`);
    // Only seed 002 needed (syntax) fixes.
    t.is(p.fixes, f === '002-esm.mjs' ? 2 : 0, `${f}: SEED-FIX count`);
  }
});

(haveSeeds ? test : test.skip)('every server snippet in the seeds has a fixture', (t) => {
  const parsed = fixtureFiles.map((f) => ({ f, ...parseFixture(fs.readFileSync(fx(f), 'utf8')) }));
  let count = 0;
  for (const seedName of fs.readdirSync(SEEDS).filter((f) => f.endsWith('.txt'))) {
    const text = fs.readFileSync(path.join(SEEDS, seedName), 'utf8');
    const mine = parsed.filter((p) => p.seedName === seedName);
    for (const block of codeBlocks(text).filter((b) => SERVER_CODE.test(b.join('\n')))) {
      count++;
      while (block.length && block[block.length - 1] === '') block.pop();
      const hit = mine.find((p) => p.segments.length === 1 && p.segments[0].join('\n') === block.join('\n'));
      t.truthy(hit, `${seedName}: no fixture holds this whole block:\n${block.slice(0, 5).join('\n')}\n...`);
    }
    for (const [, span] of text.matchAll(/`([^`\n]+)`/g)) {
      if (!SERVER_CODE.test(span)) continue;
      count++;
      t.truthy(
        mine.find((p) => p.segments.some((s) => s.length === 1 && s[0] === span)),
        `${seedName}: no fixture holds the inline snippet ${span}`
      );
    }
  }
  t.is(count, 9); // 8 fenced blocks + 1 inline one (seed 003)
});

// ---- running fixtures --------------------------------------------------------

/** Starts `file` and waits until it listens for its fixed `port` (or exits, or does not in time). */
async function startSeed(t, file, impl, { port, divisor, fallback }) {
  if (!port) return { run: startAndTearDown(t, file, { impl, divisor }), start: 'no port' };
  let ports = await H.portPlan(port, { fallback });
  let run = startAndTearDown(t, file, { impl, divisor, ports });
  let start = await H.waitForServer(run, port);
  if (start === 'exited' && ports[port] === port && /\bEADDRINUSE\b/.test(run.stderr)) {
    // Taken between portPlan's check and the seed's listen(): again, on a
    // port of the system's choosing.
    ports = { [port]: 0 };
    run = startAndTearDown(t, file, { impl, divisor, ports });
    start = await H.waitForServer(run, port);
  }
  return { run, start };
}

function startAndTearDown(t, file, options) {
  const run = H.startServer(file, options);
  t.teardown(() => H.stopServer(run));
  return run;
}

/**
 * Runs `file` with `ws` = impl, waits until it listens, plays `scenario` with
 * real ws clients and returns the transcript (see helpers/seed-harness.js).
 * `fallback`: listen off the fixed port even if it is free.
 */
async function runSeed(t, file, impl, { port = null, divisor = 50, fallback, heartbeat, paths, scenario }) {
  const { run, start } = await startSeed(t, file, impl, { port, divisor, fallback });
  const clients = [];
  const ctx = {
    /** Where the seed really listens (its fixed port, or the one it was moved to). */
    get port() {
      return run.listening ? run.listening.real : port;
    },
    async connect(name, options) {
      const c = await H.connectClient(ctx.port, name, options);
      clients.push(c);
      return c;
    },
    closeClient: H.closeClient,
    quietWindow: H.quietWindow,
    waitFor: H.waitFor,
    waitStdout: (n, timeout = 2000) => H.waitFor(() => H.lines(run.stdout).length >= n, timeout),
    waitExit: (timeout = 5000) => H.waitFor(() => run.exit !== null, timeout)
  };
  let extra = {};
  try {
    if (start === 'timeout') extra.startup = `never reported listening for port ${port}`;
    Object.assign(extra, await scenario(ctx, start));
    // A server still running gets a last window to show what it must not:
    // a late line on stdout or stderr, or a crash, after the scenario's
    // last step (nothing marks that it will not come).
    if (run.exit === null) await ctx.quietWindow(50);
  } finally {
    for (const c of clients) if (c.close === null) c.ws.terminate();
    await H.stopServer(run);
  }
  return { tr: H.transcript(run, clients, extra, { heartbeat, paths }), run, clients };
}

/** Runs `file` on both implementations and asserts equal transcripts. */
async function differential(t, file, options, [reference, candidate] = ['ws', 'wsrs']) {
  const ref = await runSeed(t, file, reference, options);
  const got = await runSeed(t, file, candidate, options);
  if (options.requiresWs !== false) {
    t.is(H.resolvedImpl(ref.run), reference, `the ${reference} run resolved 'ws' to ${reference}`);
    t.is(H.resolvedImpl(got.run), candidate, `the ${candidate} run resolved 'ws' to ${candidate}`);
  }
  t.deepEqual(got.tr, ref.tr, `${path.basename(file)}: ${candidate} transcript differs from ${reference}'s`);
  return { ref, got, both: [ref, got] };
}

const nonHeartbeat = (c, hb) => c.log.filter((e) => !hb(e));

test.serial('seed 000: heartbeat snippet (ping every 5 s, drop after 10 s without pong)', async (t) => {
  const PING = (e) => e[0] === 'text' && e[1] === 'ping';
  const TICK = 5000 / 25; // real ms per heartbeat
  const { both } = await differential(t, fx('000-heartbeat.js'), {
    port: 8080,
    divisor: 25,
    heartbeat: PING,
    async scenario(ctx) {
      await ctx.waitStdout(1);
      const A = await ctx.connect('A', { reply: (e) => (PING(e) ? 'pong' : undefined) }); // answers pings
      const B = await ctx.connect('B'); // never answers
      A.ws.send('hello');
      await ctx.waitStdout(2);
      B.ws.send(Buffer.from('你!'));
      await ctx.waitStdout(3);
      const silentDropped = await ctx.waitFor(() => B.close !== null, 20 * TICK);
      const before = A.log.filter(PING).length;
      // Three more pings: as long again as B, connected with A, lasted
      // without answering. A answers, so it must still be open then.
      const threePingsAfterDrop = await ctx.waitFor(() => A.log.filter(PING).length - before >= 3, 20 * TICK);
      const pongingStillOpen = A.close === null;
      await ctx.closeClient(A, 1000, 'done');
      return { silentDropped, pongingStillOpen, threePingsAfterDrop };
    }
  });
  for (const { tr, clients } of both) {
    t.deepEqual(tr.stdout, ['WebSocket 服务器已启动', 'biz: hello', 'biz: 你!']);
    t.deepEqual(tr.stderr, []);
    t.true(tr.silentDropped);
    t.deepEqual(tr.clients.B.close, [1005, '']); // socket.close() without a code
    const bPings = clients[1].log.filter(PING).length;
    t.true(bPings >= 1 && bPings <= 3, `the silent client got ${bPings} pings before being dropped`);
    t.true(tr.threePingsAfterDrop);
    t.true(tr.pongingStillOpen);
    t.deepEqual(tr.clients.A.heartbeats, [['text', 'ping']]);
    t.deepEqual(tr.clients.A.messages, []);
    t.deepEqual(tr.clients.A.close, [1000, 'done']);
    t.is(tr.server, 'running until the test stopped it');
  }
});

test.serial('seed 001: broadcast snippet (echoes the Buffer to every open client)', async (t) => {
  const { both } = await differential(t, fx('001-broadcast.js'), {
    port: 3000,
    async scenario(ctx) {
      const A = await ctx.connect('A');
      const B = await ctx.connect('B');
      const C = await ctx.connect('C');
      const all = [A, B, C];
      A.ws.send('hello');
      await ctx.waitFor(() => all.every((c) => c.log.length >= 1));
      B.ws.send(Buffer.from([0, 1, 2, 255]));
      await ctx.waitFor(() => all.every((c) => c.log.length >= 2));
      await ctx.closeClient(C, 1000, 'C leaves');
      A.ws.send('after C left');
      await ctx.waitFor(() => A.log.length >= 3 && B.log.length >= 3);
      // No extra copy of a broadcast may follow (the clients' logs are checked
      // whole): only a window can show that none comes.
      await ctx.quietWindow(50);
      await ctx.closeClient(A, 4001, 'bye from A');
      await ctx.closeClient(B);
      return {};
    }
  });
  for (const { tr } of both) {
    // `client.send(message)` sends the received Buffer: text comes back binary.
    const first = [['binary', hex('hello')], ['binary', '000102ff']];
    t.deepEqual(tr.clients.A.messages, [...first, ['binary', hex('after C left')]]);
    t.deepEqual(tr.clients.B.messages, [...first, ['binary', hex('after C left')]]);
    t.deepEqual(tr.clients.C.messages, first);
    t.deepEqual(tr.clients.C.close, [1000, 'C leaves']);
    t.deepEqual(tr.clients.A.close, [4001, 'bye from A']);
    t.deepEqual(tr.clients.B.close, [1005, '']);
    t.deepEqual(tr.stdout, []);
    t.deepEqual(tr.stderr, []);
    t.is(tr.server, 'running until the test stopped it');
  }
});

test.serial('seed 001: heartbeat snippet crashes at startup the same way (`wws` is undefined)', async (t) => {
  const { both } = await differential(t, fx('001-heartbeat.js'), {
    port: 3000,
    async scenario(ctx) {
      return { exitedOnItsOwn: await ctx.waitExit(5000) };
    }
  });
  for (const { tr } of both) {
    t.true(tr.exitedOnItsOwn);
    t.deepEqual(tr.server, { exitCode: 1, signal: null, error: 'ReferenceError: wws is not defined' });
    t.is(tr.stderr[0], '<root>/__test__/seeds/001-heartbeat.js:12');
    t.deepEqual(tr.stdout, []);
  }
});

test.serial('seed 001: server snippet (greets with "something", logs messages with %s)', async (t) => {
  const { both } = await differential(t, fx('001-server.js'), {
    port: 3000,
    async scenario(ctx) {
      const A = await ctx.connect('A');
      await ctx.waitFor(() => A.log.length >= 1);
      A.ws.send('hello');
      await ctx.waitStdout(1);
      A.ws.send(Buffer.from('bin'));
      await ctx.waitStdout(2);
      const B = await ctx.connect('B');
      await ctx.waitFor(() => B.log.length >= 1);
      B.ws.send('你好');
      await ctx.waitStdout(3);
      await ctx.closeClient(A);
      await ctx.closeClient(B, 1001, 'going away');
      return {};
    }
  });
  for (const { tr } of both) {
    t.deepEqual(tr.stdout, ['received: hello', 'received: bin', 'received: 你好']);
    t.deepEqual(tr.clients.A.messages, [['text', 'something']]);
    t.deepEqual(tr.clients.B.messages, [['text', 'something']]);
    t.deepEqual(tr.clients.A.close, [1005, '']);
    t.deepEqual(tr.clients.B.close, [1001, 'going away']);
    t.deepEqual(tr.stderr, []);
  }
});

test.serial('the harness moves a seed off its fixed port only when that port is taken', async (t) => {
  const holder = net.createServer();
  await new Promise((resolve) => holder.listen(0, resolve)); // every address, as the seeds listen
  const { port } = holder.address();
  t.false(await H.portFree(port));
  t.deepEqual(await H.portPlan(port), { [port]: 0 });
  await new Promise((resolve) => holder.close(resolve));
  t.true(await H.portFree(port));
  t.deepEqual(await H.portPlan(port), { [port]: port });
  t.deepEqual(await H.portPlan(port, { fallback: true }), { [port]: 0 });
});

test.serial('a seed moved off its fixed port listens on one the system picks, with the same transcript', async (t) => {
  // 3000 held here if it can be (else something else holds it); the runs
  // are moved regardless (`fallback`), so that this does not depend on when
  // another holder lets go.
  let holderConnections = 0;
  const holder = net.createServer((sock) => {
    holderConnections++;
    sock.destroy();
  });
  await new Promise((resolve) => holder.once('error', resolve).listen(3000, resolve));
  t.teardown(() => holder.close());
  const { both } = await differential(t, fx('001-server.js'), {
    port: 3000,
    fallback: true,
    async scenario(ctx) {
      const A = await ctx.connect('A');
      await ctx.waitFor(() => A.log.length >= 1);
      A.ws.send('hello');
      await ctx.waitStdout(1);
      await ctx.closeClient(A);
      return {};
    }
  });
  for (const { tr, run } of both) {
    t.deepEqual(run.ports, { 3000: 0 });
    t.is(run.listening.port, 3000);
    t.not(run.listening.real, 3000);
    t.deepEqual(tr.stdout, ['received: hello']);
    t.deepEqual(tr.clients.A.messages, [['text', 'something']]);
    t.deepEqual(tr.clients.A.close, [1005, '']);
    t.deepEqual(tr.stderr, []);
  }
  t.is(holderConnections, 0);
});

// Seed 002 is ESM: `import WS from "ws"; new WS.Server(...)`.

function crashScenario(timeout = 5000) {
  return async (ctx) => ({ exitedOnItsOwn: await ctx.waitExit(timeout) });
}

test.serial('seed 002: on the real ws, `import WS from "ws"; new WS.Server()` throws (no .Server on the ESM default export)', async (t) => {
  const { tr, run } = await runSeed(t, fx('002-esm.mjs'), 'ws', { port: 8080, scenario: crashScenario() });
  t.is(H.resolvedImpl(run), 'ws');
  t.true(tr.exitedOnItsOwn);
  t.deepEqual(tr.server, { exitCode: 1, signal: null, error: 'TypeError: WS.Server is not a constructor' });
  t.deepEqual(tr.stdout, []);
});

// With the minimal syntax fix (one `)`), the message handler closes right
// before `heartInreaval = setInterval(heartCheck,5000)`, so `heartCheck` is
// out of scope there: the snippet throws in its 'connection' handler.
test.serial('seed 002: ESM snippet on wsrs behaves like ws whose default export has .Server (throws on the first connection)', async (t) => {
  const { both } = await differential(
    t,
    fx('002-esm.mjs'),
    {
      port: 8080,
      async scenario(ctx) {
        const A = await ctx.connect('A');
        const exitedOnItsOwn = await ctx.waitExit(5000);
        await ctx.waitFor(() => A.close !== null);
        return { exitedOnItsOwn };
      }
    },
    ['ws-shim', 'wsrs']
  );
  const throwLine =
    fs.readFileSync(fx('002-esm.mjs'), 'utf8').split('\n').indexOf('heartInreaval = setInterval(heartCheck,5000)') + 1;
  for (const { tr } of both) {
    t.deepEqual(tr.stdout, ['Client connected']);
    t.true(tr.exitedOnItsOwn);
    t.deepEqual(tr.server, { exitCode: 1, signal: null, error: 'ReferenceError: heartCheck is not defined' });
    // The 101 went out before the 'connection' handler threw.
    t.true(tr.clients.A.opened);
    t.deepEqual(tr.clients.A.messages, []);
    t.deepEqual(tr.clients.A.close, [1006, '']);
    // Node's report of the uncaught error quotes the line that threw it.
    t.deepEqual(tr.stderr.slice(0, 3), [
      `file://<root>/__test__/seeds/002-esm.mjs:${throwLine}`,
      'heartInreaval = setInterval(heartCheck,5000)',
      '                            ^'
    ]);
  }
});

test.serial('seed 002: the snippet as printed is a SyntaxError, and each marked fix is needed', (t) => {
  const text = fs.readFileSync(fx('002-esm.mjs'), 'utf8');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-seed-002-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const check = (src, name) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, src);
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    return { status: r.status, syntaxError: /SyntaxError/.test(r.stderr) };
  };
  const lines = text.split('\n');
  const marked = lines.map((l, i) => (FIX_MARK.test(l) ? i : -1)).filter((i) => i !== -1);
  t.is(marked.length, 2);
  const revert = (which) =>
    lines
      .map((l, i) => {
        const m = which.includes(i) && l.match(FIX_MARK);
        return m ? m[1] + JSON.parse(m[3]) : l;
      })
      .join('\n');
  t.deepEqual(check(text, 'fixed.mjs'), { status: 0, syntaxError: false });
  t.deepEqual(check(revert(marked), 'as-printed.mjs'), { status: 1, syntaxError: true });
  for (const i of marked) t.deepEqual(check(revert([i]), `without-fix-${i}.mjs`), { status: 1, syntaxError: true });
});

// Seed 003: TypeScript, `import * as ws from 'ws'`.

function compile003() {
  return ts.transpileModule(fs.readFileSync(fx('003-broadcast.ts'), 'utf8'), {
    fileName: '003-broadcast.ts',
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, esModuleInterop: true, target: ts.ScriptTarget.ES2020 }
  });
}

test.serial('seed 003: the TypeScript snippet does not parse (ts-node would refuse it: TS1005)', (t) => {
  const out = compile003();
  // ts-node (transpile-only too) throws a TSError for any such diagnostic.
  t.is(out.diagnostics.length, 1);
  const [d] = out.diagnostics;
  t.is(d.code, 1005);
  t.is(ts.flattenDiagnosticMessageText(d.messageText, '\n'), "',' expected.");
  // At the `})` right after `client.send(JSON.stringify({ ... })`: the `)` of send() is missing.
  const { line } = ts.getLineAndCharacterOfPosition(d.file, d.start);
  const src = d.file.text.split('\n');
  t.is(src[line].trim(), '})');
  t.is(src[line - 1].trim(), '})');
  t.regex(src[line - 4], /client\.send\(JSON\.stringify\(\{$/);
});

test.serial('seed 003: what tsc emits anyway (import * as ws) runs the same on wsrs', async (t) => {
  const out = compile003();
  t.regex(out.outputText, /const ws = __importStar\(require\("ws"\)\);/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsrs-seed-003-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, '003-broadcast.js');
  fs.writeFileSync(file, out.outputText);

  const HEART = (e) => e[0] === 'text' && /^\{"state":1,/.test(e[1]);
  const { both } = await differential(t, file, {
    port: 8080,
    heartbeat: HEART,
    paths: { [dir]: '<tmp>' },
    async scenario(ctx) {
      await ctx.waitStdout(1);
      const A = await ctx.connect('A');
      const B = await ctx.connect('B');
      const C = await ctx.connect('C');
      const all = [A, B, C];
      const n = (c) => nonHeartbeat(c, HEART).length;
      await ctx.waitStdout(4);
      A.ws.send('hello');
      await ctx.waitFor(() => all.every((c) => n(c) >= 1));
      B.ws.send(Buffer.from('bin'));
      await ctx.waitFor(() => all.every((c) => n(c) >= 2));
      const heartbeats = await ctx.waitFor(() => all.every((c) => c.log.filter(HEART).length >= 2), 3000);
      await ctx.closeClient(C);
      A.ws.send('after');
      await ctx.waitFor(() => n(A) >= 3 && n(B) >= 3);
      // No extra copy of a broadcast may follow: only a window can show that.
      await ctx.quietWindow(50);
      await ctx.closeClient(A);
      await ctx.closeClient(B, 4002, 'B done');
      return { everyClientGotTwoHeartbeats: heartbeats };
    }
  });
  const msg = (m) => ['text', JSON.stringify({ state: 2, message: m })];
  for (const { tr } of both) {
    t.deepEqual(tr.stdout, [
      'server is running on 8080',
      'client connected',
      'client connected',
      'client connected',
      'received: hello',
      'received: bin',
      'received: after'
    ]);
    t.true(tr.everyClientGotTwoHeartbeats);
    for (const name of ['A', 'B', 'C']) {
      t.deepEqual(tr.clients[name].heartbeats, [['text', '{"state":1,"message":"心跳"}']]);
    }
    t.deepEqual(tr.clients.A.messages, [msg('hello'), msg('bin'), msg('after')]);
    t.deepEqual(tr.clients.B.messages, [msg('hello'), msg('bin'), msg('after')]);
    t.deepEqual(tr.clients.C.messages, [msg('hello'), msg('bin')]);
    t.deepEqual(tr.clients.B.close, [4002, 'B done']);
    t.deepEqual(tr.stderr, []);
  }
});

test.serial('seed 003: the inline snippets throw at their first line (`ws` is never defined)', async (t) => {
  const { both } = await differential(t, fx('003-server.js'), { requiresWs: false, scenario: crashScenario() });
  for (const { tr, run } of both) {
    t.is(H.resolvedImpl(run), null);
    t.true(tr.exitedOnItsOwn);
    t.deepEqual(tr.server, { exitCode: 1, signal: null, error: 'ReferenceError: ws is not defined' });
  }
});

test.serial('seed 004: WebSocketServer broadcast snippet (binary flag kept, close codes logged)', async (t) => {
  const { both } = await differential(t, fx('004-broadcast.js'), {
    port: 8080,
    async scenario(ctx) {
      const A = await ctx.connect('A');
      const B = await ctx.connect('B');
      const C = await ctx.connect('C');
      const all = [A, B, C];
      await ctx.waitStdout(3);
      A.ws.send('hello');
      await ctx.waitFor(() => all.every((c) => c.log.length >= 1));
      B.ws.send(Buffer.from([1, 2, 3]));
      await ctx.waitFor(() => all.every((c) => c.log.length >= 2));
      C.ws.send('from C');
      await ctx.waitFor(() => all.every((c) => c.log.length >= 3));
      await ctx.closeClient(C, 4000, 'bye');
      await ctx.waitStdout(4);
      await ctx.closeClient(A);
      await ctx.waitStdout(5);
      B.ws.terminate();
      await ctx.waitFor(() => B.close !== null);
      await ctx.waitStdout(6);
      return {};
    }
  });
  for (const { tr } of both) {
    const addr = tr.stdout.slice(0, 3);
    t.is(new Set(addr).size, 1);
    t.regex(addr[0], /^(::ffff:)?127\.0\.0\.1$/);
    t.deepEqual(tr.stdout.slice(3), ['4000 bye', '1005 ', '1006 ']);
    const got = [['text', 'hello'], ['binary', '010203'], ['text', 'from C']];
    for (const name of ['A', 'B', 'C']) t.deepEqual(tr.clients[name].messages, got);
    t.deepEqual(tr.clients.C.close, [4000, 'bye']);
    t.deepEqual(tr.clients.A.close, [1005, '']);
    t.deepEqual(tr.clients.B.close, [1006, '']);
    t.deepEqual(tr.stderr, []);
  }
});

// Seed 004's second snippet: express-ws creates its WebSocketServer with the
// `server` option (the app's own HTTP server), so Node parses the upgrade and
// wsrs takes the socket over. express-ws itself does `require('ws')`, which
// the preload resolves to the implementation under test.
test.serial('seed 004: express-ws snippet (the /talk WebSocket route and the plain /data route)', async (t) => {
  const { both } = await differential(t, fx('004-express-ws.js'), {
    port: 8080,
    async scenario(ctx) {
      const A = await ctx.connect('A', { path: '/talk' });
      await ctx.waitStdout(1);
      // No route for this path: express-ws closes the socket.
      const B = await ctx.connect('B', { path: '/nowhere' });
      await ctx.waitFor(() => B.close !== null, 3000);
      const data = await fetch(`http://127.0.0.1:${ctx.port}/data`).then((r) => r.text());
      // The route ignores messages: nothing printed, no crash (runSeed's
      // last window, after the close, is where that would show).
      A.ws.send('hello');
      await ctx.closeClient(A);
      return { data };
    }
  });
  for (const { tr } of both) {
    t.deepEqual(tr.stdout, ['连接了']);
    t.is(tr.data, '122222');
    t.true(tr.clients.A.opened);
    t.deepEqual(tr.clients.A.close, [1005, '']);
    t.true(tr.clients.B.opened);
    t.deepEqual(tr.clients.B.close, [1005, '']);
    t.deepEqual(tr.stderr, []);
  }
});
