'use strict';

// Property-based test of the JS API: random sequences of send, ping, pong,
// close, terminate, pause and resume with random arguments never crash the
// process, never throw anything but ws's documented errors, and always end
// with the socket closed (no hang). Bounded: a fixed number of runs.

const test = require('ava');
const fc = require('fast-check');
const { closeServer, connect, impls, listen, once } = require('./helpers');

const data = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 200 }).map((a) => a.buffer),
  fc.integer(),
  fc.constant(undefined),
  fc.constant(null)
);
const code = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 6000 }), fc.constant('1000'));
const reason = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 140 }), fc.uint8Array({ maxLength: 130 }).map((a) => Buffer.from(a)));

const op = fc.oneof(
  fc.record({ op: fc.constant('send'), data, binary: fc.option(fc.boolean()), fin: fc.option(fc.boolean()), cb: fc.boolean() }),
  fc.record({ op: fc.constantFrom('ping', 'pong'), data: fc.oneof(fc.string({ maxLength: 130 }), fc.constant(undefined)) }),
  fc.record({ op: fc.constant('close'), code, reason }),
  fc.record({ op: fc.constantFrom('terminate', 'pause', 'resume', 'clientSend', 'clientClose') })
);

// Errors ws documents for bad arguments or states.
const EXPECTED = [
  /^First argument must be a valid error code number$/,
  /^The message must not be greater than 123 bytes$/,
  /^The data size must not be greater than 125 bytes$/,
  /^WebSocket is not open/
];

test('random API call sequences never crash, hang or throw undocumented errors', async (t) => {
  const { wss, url } = await listen(impls.wsrs, { closeTimeout: 300 });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const conn = once(wss, 'connection');
      const client = await connect(url);
      client.on('error', () => {});
      const [ws] = await conn;
      ws.on('error', () => {});
      const closed = once(ws, 'close');
      for (const o of ops) {
        try {
          switch (o.op) {
            case 'send': {
              const options = {};
              if (o.binary !== null) options.binary = o.binary;
              if (o.fin !== null) options.fin = o.fin;
              if (o.cb) ws.send(o.data, options, () => {});
              else ws.send(o.data, options);
              break;
            }
            case 'ping':
            case 'pong':
              ws[o.op](o.data);
              break;
            case 'close':
              ws.close(o.code, o.reason);
              break;
            case 'clientSend':
              if (client.readyState === 1) client.send('from client');
              break;
            case 'clientClose':
              client.close();
              break;
            default:
              ws[o.op]();
          }
        } catch (err) {
          if (!EXPECTED.some((re) => re.test(err.message))) throw err;
        }
      }
      ws.resume();
      ws.terminate();
      client.terminate();
      await closed;
      return ws.readyState === ws.CLOSED;
    }),
    { numRuns: 60 }
  );
  t.pass();
  await closeServer(wss);
});
