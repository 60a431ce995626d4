'use strict';

// Preload (`node --require`) for the seed fixtures, the same for ws and wsrs
// runs: the seeds listen on fixed ports (8080, 3000), which something else
// may hold (a second test run, anything on the machine). SEED_PORTS maps
// each fixed port to the one to really listen on, as JSON chosen by the
// harness (seed-harness.js): {"8080":8080} when 8080 was free, {"8080":0}
// (a port the system picks, which no other run can have) when it was not.
// The seed's code stays as it is: the port is replaced where it enters,
//   - the `port` option of WebSocketServer (`Server`) as the `ws` module
//     exports it, whichever implementation WS_IMPL chose (so also where wsrs
//     listens in Rust, without Node's listen());
//   - Node's `server.listen()` (what express's `app.listen(8080)` calls).
// Once such a server listens, a `[seed-harness] listening <fixed> -> <real>`
// line on stderr tells the harness where to connect (the harness drops
// these lines from the transcript). Without SEED_PORTS this does nothing.

const fs = require('fs');
const Module = require('module');
const net = require('net');
const path = require('path');

const MAP = process.env.SEED_PORTS ? JSON.parse(process.env.SEED_PORTS) : null;

if (MAP) {
  const ROOT = path.resolve(__dirname, '..', '..');
  // The CommonJS entries of ws and wsrs: use-impl.js resolves `require('ws')`
  // to one of them, and the ESM entries the seeds' `import 'ws'` gets
  // (ws-default-with-server.mjs, wsrs's index.mjs) take their default
  // export, and wsrs's its named ones, from them.
  const ENTRIES = new Set([require.resolve('ws', { paths: [ROOT] }), path.join(ROOT, 'index.js')]);
  const reported = new Set();

  /** The port to listen on instead of `port`, or undefined if `port` is no seed's fixed port. */
  const mapped = (port) => {
    const key = String(Number(port));
    return Object.prototype.hasOwnProperty.call(MAP, key) ? MAP[key] : undefined;
  };

  /** Reports where `server` (asked to listen on the fixed port `from`) listens, once it does. */
  const reportWhenListening = (from, server) =>
    server.once('listening', () => {
      if (reported.has(from)) return; // ws's server and its own HTTP server both tell
      reported.add(from);
      fs.writeSync(2, `[seed-harness] listening ${from} -> ${server.address().port}\n`);
    });

  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    const [first] = args;
    let from;
    let to;
    if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      to = mapped(first);
      if (to !== undefined) [from, args[0]] = [Number(first), to];
    } else if (first && typeof first === 'object' && !first._handle && first.fd === undefined && first.port != null) {
      to = mapped(first.port);
      if (to !== undefined) [from, args[0]] = [Number(first.port), { ...first, port: to }];
    }
    if (to !== undefined) reportWhenListening(from, this);
    return listen.apply(this, args);
  };

  const wrapServer = (exports) => {
    const Server = exports.WebSocketServer;
    if (typeof Server !== 'function') throw new Error('seed-ports.js: the ws module has no WebSocketServer');
    const Wrapped = new Proxy(Server, {
      construct(target, [options, ...rest], newTarget) {
        const to = options && options.port != null ? mapped(options.port) : undefined;
        const args = [to === undefined ? options : { ...options, port: to }, ...rest];
        // new.target stays the class itself (or the seed's subclass of it).
        const wss = Reflect.construct(target, args, newTarget === Wrapped ? target : newTarget);
        if (to !== undefined) reportWhenListening(Number(options.port), wss);
        return wss;
      }
    });
    for (const name of ['Server', 'WebSocketServer']) if (exports[name] === Server) exports[name] = Wrapped;
  };

  const loadJs = Module._extensions['.js'];
  Module._extensions['.js'] = function (module, filename) {
    loadJs.call(this, module, filename);
    if (ENTRIES.has(filename)) wrapServer(module.exports);
  };
}
