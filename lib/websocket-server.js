'use strict';

// WebSocketServer: ws's server API. In `port` mode Rust listens, parses the
// HTTP request and hands each upgrade request here, where ws's policy runs
// unchanged (method, key, version, path, verifyClient, handleProtocols, the
// 'headers' event); Rust then writes the answer and owns the connection.
// In a cluster worker, `port` mode listens through Node's HTTP server as ws
// does (so the primary shares the port), and upgrades go the `server` way.

const cluster = require('cluster');
const EventEmitter = require('events');
const http = require('http');

const subprotocol = require('./subprotocol');
const WebSocket = require('./websocket');
const NativeSocket = require('./native-socket');
const PerMessageDeflate = require('./permessage-deflate');
const extension = require('./extension');
const { kServer } = WebSocket;
const { CONNECTION_DEFAULTS, EMPTY_BUFFER, kWebSocket } = require('./constants');
const { acceptKey } = require('./addon');
const native = require('./native');
const { NODE_SOCKETS, fdOf, takeOver } = require('./takeover');

const keyRegex = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The `redis` option: a URL, or `{ url, prefix, outbox }` (null: none).
 * @private
 */
function normalizeRedis(redis) {
  if (redis === undefined || redis === null || redis === false) return null;
  const o = typeof redis === 'string' ? { url: redis } : redis;
  if (typeof o !== 'object' || typeof o.url !== 'string') {
    throw new TypeError('The "redis" option must be a Redis URL or an object with a "url" string');
  }
  if (/^(rediss|valkeys):/.test(o.url)) {
    throw new TypeError('The "redis" option: TLS (rediss://) is not supported yet; use redis:// (a TLS tunnel or a private network)');
  }
  if (!/^(redis|redis\+unix|unix|valkey|valkey\+unix):/.test(o.url)) {
    throw new TypeError(`The "redis" option's URL must start with redis:// (got ${JSON.stringify(o.url)})`);
  }
  const out = { url: o.url };
  if (o.prefix !== undefined) {
    if (typeof o.prefix !== 'string') throw new TypeError('The "redis.prefix" option must be a string');
    out.prefix = o.prefix;
  }
  if (o.outbox !== undefined) {
    if (!Number.isInteger(o.outbox) || o.outbox < 1 || o.outbox > 0xffffffff) {
      throw new RangeError('The "redis.outbox" option must be an integer from 1 to 4294967295');
    }
    out.outbox = o.outbox;
  }
  return out;
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

class WebSocketServer extends EventEmitter {
  constructor(options, callback) {
    super();

    options = {
      ...CONNECTION_DEFAULTS,
      perMessageDeflate: false,
      handleProtocols: null,
      clientTracking: true,
      verifyClient: null,
      noServer: false,
      backlog: null,
      server: null,
      host: null,
      path: null,
      port: null,
      heartbeat: null,
      handshakeTimeout: 30000,
      maxHeaderSize: 16 * 1024,
      maxConnections: 0,
      reusePort: false,
      WebSocket,
      ...options
    };

    if (
      (options.port == null && !options.server && !options.noServer) ||
      (options.port != null && (options.server || options.noServer)) ||
      (options.server && options.noServer)
    ) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    this._heartbeat = normalizeHeartbeat(options.heartbeat);
    if (options.backpressure !== 'close' && options.backpressure !== 'drop') {
      throw new TypeError('The "backpressure" option must be "close" or "drop"');
    }
    if (options.perMessageDeflate === true) options.perMessageDeflate = {};
    PerMessageDeflate.validateZlibOptions(options.perMessageDeflate);
    if (options.clientTracking) {
      this.clients = new Set();
      this._shouldEmitClose = false;
    }
    this.options = options;
    this._state = RUNNING;
    this._address = null;
    this._server = null;
    this._removeListeners = null;
    /** Connections accepted on our own port (ws's HTTP server waits for them on close). */
    this._openSockets = 0;
    this._closeWhenDrained = false;

    const port = options.port != null ? validatePort(options.port) : null;
    if (options.reusePort && !native.reusePortSupported()) {
      throw new Error(
        `The "reusePort" option is not supported on this platform (${process.platform}): ` +
          'sharing a port between servers needs SO_REUSEPORT with load balancing (Linux, FreeBSD). ' +
          'Use one server, or node:cluster (which shares the port through the primary).'
      );
    }
    const redis = normalizeRedis(options.redis);
    /** `redisSynced()` promises: [count of changes to reach, resolve]. */
    this._redisWaiters = [];
    // The Rust side of this server: its limits, and its heartbeat.
    this._id = native.addServer(this);
    native.binding.createServer(this._id, native.connectionOptions(options), {
      heartbeatInterval: this._heartbeat ? this._heartbeat.interval : 0,
      heartbeatTimeout: this._heartbeat ? this._heartbeat.timeout : 0,
      handshakeTimeout: Number(options.handshakeTimeout) || 0,
      maxHeaderSize: options.maxHeaderSize >>> 0
    });
    if (redis !== null) {
      try {
        native.binding.redisAttach(this._id, redis);
      } catch (err) {
        native.binding.serverRemove(this._id);
        native.removeServer(this._id);
        throw new TypeError(err.message);
      }
    }

    if (port !== null) {
      if (typeof callback === 'function') this.on('listening', callback);
      this._listen(options, port);
    } else if (options.server) {
      this._mount(options.server);
    }
  }

  /**
   * Mounted on an HTTP(S) server (the user's, or ours from
   * `_listenThroughNode`): Node parses the upgrade request, then Rust takes
   * the socket over.
   * @private
   */
  _mount(server) {
    this._server = server;
    this._removeListeners = addListeners(server, {
      listening: this.emit.bind(this, 'listening'),
      error: this.emit.bind(this, 'error'),
      upgrade: (req, socket, head) => {
        this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
      }
    });
  }

  /** @private */
  _listen(options, port) {
    // Only Node's net.Server shares a port through the cluster primary
    // (round-robin or a shared handle); a socket Rust binds would not,
    // unless it asks for SO_REUSEPORT (as Node's workers do with reusePort).
    if ((cluster.isWorker && !options.reusePort) || NODE_SOCKETS) return this._listenThroughNode(options, port);
    const host = options.host == null ? undefined : String(options.host);
    const backlog = options.backlog == null ? 511 : options.backlog | 0;
    const res = native.binding.listen(this._id, host, port, backlog, !!options.reusePort);
    if (res.errno !== 0) {
      const err = listenError(res.errno, options.host, port);
      process.nextTick(() => this.emit('error', err));
      return;
    }
    native.ref();
    this._address = { address: res.address, family: res.family, port: res.port };
    process.nextTick(() => this.emit('listening'));
  }

  /**
   * `port` mode the way ws does it: an HTTP server of Node's own answers
   * plain requests with 426, forwards 'listening' and 'error', and its
   * upgrades take the `server`-mode path. `address()` is that server's.
   * @private
   */
  _listenThroughNode(options, port) {
    // What Rust's listener enforces, asked of Node's: handshakeTimeout (a
    // request not complete in time is dropped; Node checks at the interval
    // given) and maxHeaderSize (431).
    const timeout = options.handshakeTimeout > 0 ? options.handshakeTimeout : 0;
    const serverOptions = { maxHeaderSize: options.maxHeaderSize || undefined };
    if (timeout > 0) {
      serverOptions.headersTimeout = timeout;
      serverOptions.requestTimeout = timeout;
      serverOptions.connectionsCheckingInterval = Math.max(10, Math.min(30000, Math.floor(timeout / 4)));
    }
    const server = http.createServer(serverOptions, (req, res) => {
      const body = http.STATUS_CODES[426];
      res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
      res.end(body);
    });
    const backlog = options.backlog == null ? undefined : options.backlog;
    // reusePort: Node's own from 22.12 and 23.1.
    server.listen({ port, host: options.host == null ? undefined : options.host, backlog, reusePort: !!options.reusePort });
    this._mount(server);
  }

  address() {
    if (this.options.noServer) {
      throw new Error('The server is operating in "noServer" mode');
    }
    if (this._server !== null) return this._server.address();
    return this._address === null ? null : { ...this._address };
  }

  close(cb) {
    if (this._state === CLOSED) {
      if (cb) {
        this.once('close', () => {
          cb(new Error('The server is not running'));
        });
      }
      process.nextTick(emitClose, this);
      return;
    }
    if (cb) this.once('close', cb);
    if (this._state === CLOSING) return;
    this._state = CLOSING;

    if (this.options.noServer || this.options.server) {
      if (this._server !== null) {
        this._removeListeners();
        this._removeListeners = this._server = null;
      }
      if (this.clients && this.clients.size) this._shouldEmitClose = true;
      else process.nextTick(emitClose, this);
      return;
    }
    if (this._server !== null) {
      // Our Node HTTP server: like ws, close it and rely on its 'close'. Its
      // upgraded sockets are Rust's by then, so (as ws's server waits for
      // its upgraded sockets) wait for those connections to end too.
      const server = this._server;
      this._removeListeners();
      this._removeListeners = this._server = null;
      server.close(() => {
        this._closeWhenDrained = true;
        if (this._openSockets === 0) emitClose(this);
      });
      return;
    }
    // Our own listener: stop accepting. Like ws's internal HTTP server, the
    // 'close' event waits until the connections it accepted have ended.
    if (this._address !== null) {
      // Upgrade requests already read are still answered (503, as ws does).
      native.binding.serverClose(this._id);
      native.unref();
      this._address = null;
      this._closeWhenDrained = true;
      if (this._openSockets === 0) process.nextTick(emitClose, this);
    } else {
      process.nextTick(emitClose, this);
    }
  }

  /**
   * Beyond ws: how many connections the native heartbeat (the `heartbeat`
   * option) has terminated, for peers that stopped answering pings.
   */
  get heartbeatReaped() {
    return native.binding.heartbeatReaped(this._id);
  }

  /**
   * Beyond ws: sends `data` to every socket subscribed to `topic` (see
   * `ws.subscribe()`), framed once and fanned out in Rust with no JavaScript
   * per recipient. Options: `binary` (ws's default: true unless a string),
   * `except` (a socket to skip). Returns the number of recipients.
   */
  publish(topic, data, options) {
    if (typeof topic !== 'string') throw new TypeError('The topic must be a string');
    const { opcode, payload } = WebSocket.toFrame(data, options);
    const except = options && options.except ? options.except._slot : -1;
    const n = native.binding.publish(this._id, topic, payload, opcode, except);
    if (n > 0) native.scheduleFlush();
    return n;
  }

  /**
   * Beyond ws, with the `redis` option: the link's counters (undefined
   * without it). See "Scaling out" in the README.
   */
  get redisStats() {
    return this._id === 0 ? undefined : native.binding.redisStats(this._id) ?? undefined;
  }

  /**
   * Beyond ws, with the `redis` option: resolves once Redis has confirmed
   * every subscription the process made so far (at once without Redis, or
   * with nothing unconfirmed). Through an outage it waits for the
   * reconnection.
   */
  redisSynced() {
    const target = this._id === 0 ? -1 : native.binding.redisSyncPoint(this._id);
    if (target === -1) return Promise.resolve();
    return new Promise((resolve) => this._redisWaiters.push([target, resolve]));
  }

  /**
   * What this server's Redis link reports (src/pubsub/link.rs `status`).
   * @private
   */
  _onRedis(code, text) {
    switch (code) {
      case native.WIRE.REDIS_READY:
        this.emit('redisReady');
        break;
      case native.WIRE.REDIS_UNREACHABLE:
      case native.WIRE.REDIS_LOST: {
        const err = new Error(text);
        err.code = code === native.WIRE.REDIS_LOST ? 'WSRS_REDIS_LOST' : 'WSRS_REDIS_UNREACHABLE';
        // Local publishing goes on: without a listener this is a warning,
        // not the crash an unhandled 'error' would be.
        if (this.listenerCount('error') > 0) this.emit('error', err);
        else process.emitWarning(err.message, { type: 'WsrsRedisWarning', code: err.code });
        break;
      }
      case native.WIRE.REDIS_OVERFLOW: {
        const [dropped, total] = text.split(' ').map(Number);
        this.emit('redisOverflow', { dropped, total });
        break;
      }
      case native.WIRE.REDIS_SYNCED: {
        const confirmed = Number(text);
        // Counts wrap at 2^32: reached when at most 2^31 behind.
        this._redisWaiters = this._redisWaiters.filter(([target, resolve]) => {
          if (((confirmed - target) >>> 0) >= 0x80000000) return true;
          resolve();
          return false;
        });
        break;
      }
    }
  }

  /**
   * Beyond ws: sends `data` to every open socket of this server, like
   * `wss.clients.forEach(c => c.send(data))` but framed once and fanned out
   * in Rust. Options as for `publish`. Returns the number of recipients.
   */
  broadcast(data, options) {
    const { opcode, payload } = WebSocket.toFrame(data, options);
    const except = options && options.except ? options.except._slot : -1;
    const n = this._id === 0 ? 0 : native.binding.broadcast(this._id, payload, opcode, except);
    if (n > 0) native.scheduleFlush();
    return n;
  }

  shouldHandle(req) {
    if (this.options.path) {
      const index = req.url.indexOf('?');
      const pathname = index !== -1 ? req.url.slice(0, index) : req.url;
      if (pathname !== this.options.path) return false;
    }
    return true;
  }

  handleUpgrade(req, socket, head, cb) {
    socket.on('error', socketOnError);

    const key = req.headers['sec-websocket-key'];
    const upgrade = req.headers.upgrade;
    const version = +req.headers['sec-websocket-version'];

    if (req.method !== 'GET') {
      abortHandshakeOrEmitwsClientError(this, req, socket, 405, 'Invalid HTTP method');
      return;
    }
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      abortHandshakeOrEmitwsClientError(this, req, socket, 400, 'Invalid Upgrade header');
      return;
    }
    if (key === undefined || !keyRegex.test(key)) {
      abortHandshakeOrEmitwsClientError(this, req, socket, 400, 'Missing or invalid Sec-WebSocket-Key header');
      return;
    }
    if (version !== 13 && version !== 8) {
      abortHandshakeOrEmitwsClientError(this, req, socket, 400, 'Missing or invalid Sec-WebSocket-Version header', {
        'Sec-WebSocket-Version': '13, 8'
      });
      return;
    }
    if (!this.shouldHandle(req)) {
      abortHandshake(socket, 400);
      return;
    }

    const secWebSocketProtocol = req.headers['sec-websocket-protocol'];
    let protocols = new Set();
    if (secWebSocketProtocol !== undefined) {
      try {
        protocols = subprotocol.parse(secWebSocketProtocol);
      } catch (err) {
        abortHandshakeOrEmitwsClientError(this, req, socket, 400, 'Invalid Sec-WebSocket-Protocol header');
        return;
      }
    }

    const secWebSocketExtensions = req.headers['sec-websocket-extensions'];
    const extensions = {};
    if (this.options.perMessageDeflate && secWebSocketExtensions !== undefined) {
      const perMessageDeflate = new PerMessageDeflate(this.options.perMessageDeflate, true, this.options.maxPayload);
      try {
        const offers = extension.parse(secWebSocketExtensions);
        if (offers[PerMessageDeflate.extensionName]) {
          perMessageDeflate.accept(offers[PerMessageDeflate.extensionName]);
          extensions[PerMessageDeflate.extensionName] = perMessageDeflate;
        }
      } catch (err) {
        abortHandshakeOrEmitwsClientError(this, req, socket, 400, 'Invalid or unacceptable Sec-WebSocket-Extensions header');
        return;
      }
    }

    if (this.options.verifyClient) {
      const info = {
        origin: req.headers[`${version === 8 ? 'sec-websocket-origin' : 'origin'}`],
        secure: !!(req.socket.authorized || req.socket.encrypted),
        req
      };
      if (this.options.verifyClient.length === 2) {
        this.options.verifyClient(info, (verified, code, message, headers) => {
          if (!verified) return abortHandshake(socket, code || 401, message, headers);
          this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
        });
        return;
      }
      if (!this.options.verifyClient(info)) return abortHandshake(socket, 401);
    }

    this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
  }

  completeUpgrade(extensions, key, protocols, req, socket, head, cb) {
    // (ws checks readability first; a socket wsrs took over is already
    // closed on Node's side, so reuse is checked first to throw as ws does.)
    if (socket[kWebSocket]) {
      throw new Error(
        'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration'
      );
    }
    if (!socket.readable || !socket.writable) return socket.destroy();
    if (this._state > RUNNING) return abortHandshake(socket, 503);
    if (this.options.maxConnections > 0 && this._openSockets >= this.options.maxConnections) {
      return abortHandshake(socket, 503);
    }

    // Rust computed it from the request's Sec-WebSocket-Key header (a
    // repeated one fails keyRegex above).
    const digest = socket instanceof NativeUpgradeSocket && socket._acceptKey !== '' ? socket._acceptKey : acceptKey(key);
    const headers = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${digest}`
    ];
    const ws = new this.options.WebSocket(null, undefined, this.options);
    if (!(ws instanceof WebSocket)) {
      // Its native half would be another copy's (another thread's, or a
      // copy loaded again after require.cache was cleared): never answer
      // from the wrong instance.
      throw new TypeError(
        'The "WebSocket" option must be the WebSocket class of the same copy of wsrs as the server ' +
          '(or a subclass of it); this one comes from another copy of the module'
      );
    }

    if (protocols.size) {
      const protocol = this.options.handleProtocols
        ? this.options.handleProtocols(protocols, req)
        : protocols.values().next().value;
      if (protocol) {
        headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
        ws._protocol = protocol;
      }
    }

    const perMessageDeflate = extensions[PerMessageDeflate.extensionName];
    if (perMessageDeflate) {
      const value = extension.format({ [PerMessageDeflate.extensionName]: [perMessageDeflate.params] });
      headers.push(`Sec-WebSocket-Extensions: ${value}`);
      ws._extensions = extensions;
      ws._deflate = true;
    }
    // What Rust compresses and inflates with (undefined: no compression).
    const deflate = perMessageDeflate ? perMessageDeflate.nativeParams() : undefined;

    this.emit('headers', headers, req);
    const response = headers.concat('\r\n').join('\r\n');
    socket.removeListener('error', socketOnError);
    socket[kWebSocket] = ws;

    // ws._socket: the Node socket where Node keeps it, else a stand-in with
    // its addresses (lib/native-socket.js).
    const readByRust = socket instanceof NativeUpgradeSocket;
    const takenOver = !readByRust && fdOf(socket) !== -1;
    if (readByRust) ws._peer = socket._peer();
    else ws._socket = takenOver ? new NativeSocket(ws, socket) : socket;
    if (readByRust) {
      socket.write(response);
      ws._attachNative((slot) => socket._accept(slot, deflate));
    } else if (takenOver) {
      // A plain TCP socket: Rust takes it over.
      ws._attachNative((slot) =>
        takeOver(socket, head, (fd, preread) =>
          native.binding.adopt(this._id, fd, slot, Buffer.from(response), preread, deflate)
        )
      );
    } else {
      // TLS, or any other Duplex: Node keeps moving the bytes.
      ws._attachBridged((slot) => native.binding.bridgeOpen(this._id, slot, deflate), socket, response, head, this.options);
    }
    if (ws._readyState !== WebSocket.OPEN) return;

    this._openSockets++;
    ws[kServer] = this;
    if (this.clients) this.clients.add(ws);
    cb(ws, req);
  }

  /**
   * A socket this server accepted has closed; called just before its 'close'
   * event (ws does this in a 'close' listener added before the user's).
   * @private
   */
  _socketClosed(ws) {
    // Like ws's internal HTTP server, ours counts its connections, and its
    // 'close' comes before the last socket's own 'close' event.
    if (--this._openSockets === 0 && this._closeWhenDrained) emitClose(this);
    if (this.clients) {
      this.clients.delete(ws);
      if (this._shouldEmitClose && !this.clients.size) process.nextTick(emitClose, this);
    }
  }

  /** An upgrade request read by Rust on our port. @private */
  _onNativeUpgrade(requestId, info) {
    const fields = info.split('\0');
    const socket = new NativeUpgradeSocket(requestId, fields);
    const req = incomingMessage(fields, socket);
    socket._serverId = this._id;
    this.handleUpgrade(req, socket, EMPTY_BUFFER, (ws) => {
      this.emit('connection', ws, req);
    });
  }

  /** @private */
  _onNativeError(message) {
    this.emit('error', new Error(message));
  }
}

/**
 * Stands in for the `net.Socket` of a request whose connection Rust owns
 * (it is `req.socket`): it has the peer's address, and what ws's handshake
 * code writes to it is handed to Rust.
 */
/** The addresses of the last request Rust parsed (`NativeUpgradeSocket`). */
const last = { remoteAddress: '', localAddress: '' };

class NativeUpgradeSocket extends EventEmitter {
  /** @param {string[]} f the request's fields (`incomingMessage`) */
  constructor(requestId, f) {
    super();
    this._requestId = requestId;
    this._serverId = 0;
    this._pending = [];
    this._done = false;
    // One string for what is the same as the last request's (the local
    // address, the family, and often the peer's address): each connection
    // keeps them.
    this.remoteAddress = f[3] === last.remoteAddress ? last.remoteAddress : (last.remoteAddress = f[3]);
    this.remotePort = +f[4];
    this.remoteFamily = f[5] === 'IPv4' ? 'IPv4' : 'IPv6';
    this.localAddress = f[6] === last.localAddress ? last.localAddress : (last.localAddress = f[6]);
    this.localPort = +f[7];
    /** Sec-WebSocket-Accept for the request's own key, computed by Rust. */
    this._acceptKey = f[8];
    this.encrypted = undefined;
    this.authorized = undefined;
  }

  get readable() {
    return !this._done;
  }

  get writable() {
    return !this._done;
  }

  get destroyed() {
    return this._done;
  }

  write(data) {
    if (!this._done) this._pending.push(Buffer.from(data));
    return true;
  }

  end(data) {
    if (this._done) return this;
    if (data !== undefined) this.write(data);
    this._done = true;
    native.binding.reject(this._requestId, Buffer.concat(this._pending));
    this._pending = [];
    process.nextTick(() => this.emit('finish'));
    return this;
  }

  destroy() {
    if (!this._done) {
      this._done = true;
      native.binding.reject(this._requestId, null);
    }
    return this;
  }

  setTimeout() {
    return this;
  }

  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  /** The addresses a WebSocket keeps (`WebSocket#_peer`). @private */
  _peer() {
    return {
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      remoteFamily: this.remoteFamily,
      localAddress: this.localAddress,
      localPort: this.localPort,
      counts: null
    };
  }

  /** @private */
  _accept(slot, deflate) {
    this._done = true;
    const head = Buffer.concat(this._pending);
    this._pending = [];
    return native.binding.accept(this._requestId, slot, this._serverId, head, deflate);
  }
}

/**
 * The `http.IncomingMessage` for a request Rust parsed: its fields are
 * method, url, HTTP version, remote address, port and family, local address
 * and port, the Sec-WebSocket-Accept of its key, then each header's name and
 * value (src/handshake.rs, `Request::encode`).
 */
function incomingMessage(f, socket) {
  const req = new http.IncomingMessage(socket);
  req.method = f[0];
  req.url = f[1];
  req.httpVersion = f[2];
  req.httpVersionMajor = 1;
  req.httpVersionMinor = f[2] === '1.0' ? 0 : 1;
  const raw = f.slice(9);
  req.rawHeaders = raw;
  const headers = {};
  for (let i = 0; i < raw.length; i += 2) req._addHeaderLine(raw[i], raw[i + 1], headers);
  req.headers = headers;
  req.upgrade = true;
  req.complete = true;
  req.push(null);
  return req;
}

function normalizeHeartbeat(hb) {
  if (hb == null || hb === false) return null;
  const interval = typeof hb === 'number' ? hb : hb.interval;
  const timeout = typeof hb === 'object' && hb.timeout != null ? hb.timeout : interval;
  if (!(interval > 0) || !(timeout > 0)) {
    throw new RangeError('The "heartbeat" option must be a positive interval in ms or { interval, timeout }');
  }
  return { interval: Number(interval), timeout: Number(timeout) };
}

function validatePort(port) {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    const err = new RangeError(
      `options.port should be >= 0 and < 65536. Received ${typeof port === 'number' ? `type number (${port})` : `type ${typeof port} (${JSON.stringify(port)})`}.`
    );
    err.code = 'ERR_SOCKET_BAD_PORT';
    throw err;
  }
  return n;
}

/** The error Node's `server.listen()` emits. */
function listenError(errno, host, port) {
  const util = require('util');
  const code = util.getSystemErrorName(-errno);
  const map = util.getSystemErrorMap().get(-errno);
  const address = host == null ? '::' : String(host);
  const err = new Error(`listen ${code}: ${map ? map[1] : 'unknown error'} ${address}:${port}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = 'listen';
  err.address = address;
  err.port = port;
  return err;
}

function addListeners(server, map) {
  for (const event of Object.keys(map)) server.on(event, map[event]);
  return function removeListeners() {
    for (const event of Object.keys(map)) server.removeListener(event, map[event]);
  };
}

function emitClose(server) {
  if (server._id !== 0) {
    native.binding.serverRemove(server._id);
    native.removeServer(server._id);
    server._id = 0;
  }
  // A closed server waits for no subscription any more.
  for (const [, resolve] of server._redisWaiters) resolve();
  server._redisWaiters = [];
  server._state = CLOSED;
  server.emit('close');
}

function socketOnError() {
  this.destroy();
}

function abortHandshake(socket, code, message, headers) {
  message = message || http.STATUS_CODES[code];
  headers = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(message),
    ...headers
  };
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\n` +
      Object.keys(headers)
        .map((h) => `${h}: ${headers[h]}`)
        .join('\r\n') +
      '\r\n\r\n' +
      message
  );
}

function abortHandshakeOrEmitwsClientError(server, req, socket, code, message, headers) {
  if (server.listenerCount('wsClientError')) {
    const err = new Error(message);
    Error.captureStackTrace(err, abortHandshakeOrEmitwsClientError);
    server.emit('wsClientError', err, socket, req);
  } else {
    abortHandshake(socket, code, message, headers);
  }
}

module.exports = WebSocketServer;
