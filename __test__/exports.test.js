'use strict';

// The package's names against ws's: every name ws's ES module entry
// (wrapper.mjs) exports is exported by wsrs's (index.mjs), and by its
// CommonJS entry as ws's index.js has them. What wsrs has only for ws's
// shape (Receiver) throws when used.

const test = require('ava');
const { execFile } = require('child_process');
const { ROOT } = require('./helpers');

const wsrs = require('..');
const ws = require('ws');

// What wsrs's ESM entry has beyond ws's: the readyState constants and Server.
const EXTRA_ESM = ['CLOSED', 'CLOSING', 'CONNECTING', 'OPEN', 'Server'];

const namesOf = (ns) => Object.keys(ns).sort();

test("the ES module entry exports every name ws's wrapper.mjs exports", async (t) => {
  const [wsEsm, wsrsEsm] = await Promise.all([import('ws'), import('wsrs')]);
  t.is(wsrsEsm.default, wsrs, "'wsrs' resolves to this package's index.mjs");
  // ws 8.18+: createWebSocketStream, extension, PerMessageDeflate, Receiver,
  // Sender, subprotocol, WebSocket, WebSocketServer and default.
  t.true(namesOf(wsEsm).length >= 9, namesOf(wsEsm).join());
  t.deepEqual(namesOf(wsrsEsm), [...namesOf(wsEsm), ...EXTRA_ESM].sort());
  for (const name of namesOf(wsrsEsm)) {
    if (name !== 'default') t.is(wsrsEsm[name], wsrs[name], `the named export ${name} is the CommonJS one`);
  }
  t.is(wsrsEsm.default.Server, wsrsEsm.WebSocketServer);
  t.is(wsrsEsm.default.WebSocketServer, wsrsEsm.WebSocketServer);
});

test("a static import of every name ws's wrapper.mjs exports links", async (t) => {
  const names = namesOf(await import('ws')).filter((name) => name !== 'default');
  const source =
    `import WS, { ${names.join(', ')} } from 'wsrs';\n` +
    `console.log(JSON.stringify([typeof WS, ${names.map((n) => `typeof ${n}`).join(', ')}]));`;
  const r = await new Promise((resolve) => {
    const args = ['--input-type=module', '-e', source];
    execFile(process.execPath, args, { cwd: ROOT, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout: stdout.trim(), stderr });
    });
  });
  t.is(r.code, 0, r.stderr);
  const types = JSON.parse(r.stdout);
  const objects = ['extension', 'subprotocol'];
  t.deepEqual(types, ['function', ...names.map((name) => (objects.includes(name) ? 'object' : 'function'))]);
});

test("CommonJS require('..') has ws's names, as own enumerable properties", async (t) => {
  const names = namesOf(await import('ws')).filter((name) => name !== 'default');
  for (const name of names) {
    t.true(Object.prototype.propertyIsEnumerable.call(ws, name), `ws has ${name}`);
    t.true(Object.prototype.propertyIsEnumerable.call(wsrs, name), `wsrs has ${name}`);
    t.is(typeof wsrs[name], typeof ws[name], name);
  }
});

test('subprotocol.parse is ws\'s', (t) => {
  const r = {};
  for (const [name, Impl] of Object.entries({ ws, wsrs })) {
    r[name] = ['chat', 'chat, superchat', ' chat', 'a,,b', 'a, a', 'a\tb', ''].map((header) => {
      try {
        return [...Impl.subprotocol.parse(header)];
      } catch (err) {
        return `${err.name}: ${err.message}`;
      }
    });
  }
  t.deepEqual(r.wsrs, r.ws);
});

test('Receiver is exported and using it throws "not supported by wsrs"; extension and PerMessageDeflate are ws\'s', (t) => {
  const notSupported = { instanceOf: Error, code: 'WSRS_ERR_UNSUPPORTED', message: /is not supported by wsrs/ };
  t.throws(() => new wsrs.Receiver(), { ...notSupported, message: /^Receiver is not supported by wsrs/ });
  t.throws(() => new wsrs.Receiver({ isServer: true }), notSupported);
  t.is(wsrs.PerMessageDeflate.extensionName, ws.PerMessageDeflate.extensionName);
  t.deepEqual(Object.keys(wsrs.extension).sort(), Object.keys(ws.extension).sort());
  // The header parser and formatter behave as ws's (differential).
  const headers = [
    'permessage-deflate',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=10, permessage-deflate',
    'foo; bar="baz"; x, y',
    'a;b="c\\d"',
    'a ;b=1 ,c',
    'a; b=1;b=2',
    'permessage-deflate;;',
    'a; b=',
    'a b',
    ' a',
    'a ; b = 1',
    '',
    'a, ',
    'a; b=""',
    'a;b="1 2"'
  ];
  const outcome = (impl, h) => {
    try {
      return JSON.stringify(impl.extension.parse(h));
    } catch (err) {
      return `${err.constructor.name}: ${err.message}`;
    }
  };
  for (const h of headers) t.is(outcome(wsrs, h), outcome(ws, h), h);
  const offers = { 'permessage-deflate': [{ client_max_window_bits: 10, server_no_context_takeover: true }, {}], x: {} };
  t.is(wsrs.extension.format(offers), ws.extension.format(offers));
});
