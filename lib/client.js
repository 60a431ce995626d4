'use strict';

// The client side of `new WebSocket(address, protocols, options)`. Node's
// http/https client makes the opening handshake (so redirects, TLS options,
// proxies' agents and Unix sockets behave exactly as with ws); once the
// server has answered 101 and the answer checks out, Rust takes the
// connection over: a plain TCP socket by its file descriptor, anything else
// (TLS, a Unix socket) through the bridged path. From then on framing,
// masking, limits and the close handshake are Rust's.

const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');
const querystring = require('querystring');
const { randomBytes } = require('crypto');
const { URL } = require('url');

const { CONNECTION_DEFAULTS, EMPTY_BUFFER } = require('./constants');
const { acceptKey } = require('./addon');
const { fdOf, takeOver } = require('./takeover');
const { binding, connectionOptions } = require('./native');
const NativeSocket = require('./native-socket');
const PerMessageDeflate = require('./permessage-deflate');
const extension = require('./extension');

const protocolVersions = [8, 13];
const subprotocolRegex = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;
const kAborted = Symbol('kAborted');

/**
 * Starts the opening handshake of `websocket` (ws's `initAsClient`).
 */
function initAsClient(websocket, address, protocols, options) {
  const opts = {
    ...CONNECTION_DEFAULTS,
    protocolVersion: protocolVersions[1],
    perMessageDeflate: true,
    followRedirects: false,
    maxRedirects: 10,
    ...options,
    socketPath: undefined,
    hostname: undefined,
    protocol: undefined,
    protocols: undefined,
    timeout: undefined,
    method: 'GET',
    host: undefined,
    path: undefined,
    port: undefined
  };
  websocket._closeTimeout = opts.closeTimeout;

  if (!protocolVersions.includes(opts.protocolVersion)) {
    throw new RangeError(
      `Unsupported protocol version: ${opts.protocolVersion} (supported versions: ${protocolVersions.join(', ')})`
    );
  }

  let parsedUrl;
  if (address instanceof URL) {
    parsedUrl = address;
  } else {
    try {
      parsedUrl = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }
  if (parsedUrl.protocol === 'http:' || parsedUrl.protocol === 'https:') {
    parsedUrl = new URL(parsedUrl);
    parsedUrl.protocol = parsedUrl.protocol === 'http:' ? 'ws:' : 'wss:';
  }
  websocket._url = parsedUrl.href;

  const isSecure = parsedUrl.protocol === 'wss:';
  const isIpcUrl = parsedUrl.protocol === 'ws+unix:';
  let invalidUrlMessage;
  if (parsedUrl.protocol !== 'ws:' && !isSecure && !isIpcUrl) {
    invalidUrlMessage = 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"';
  } else if (isIpcUrl && !parsedUrl.pathname) {
    invalidUrlMessage = "The URL's pathname is empty";
  } else if (parsedUrl.hash) {
    invalidUrlMessage = 'The URL contains a fragment identifier';
  }
  if (invalidUrlMessage) {
    const err = new SyntaxError(invalidUrlMessage);
    if (websocket._redirects === 0) throw err;
    emitErrorAndClose(websocket, err);
    return opts;
  }

  const defaultPort = isSecure ? 443 : 80;
  const key = randomBytes(16).toString('base64');
  const request = isSecure ? https.request : http.request;
  const protocolSet = new Set();

  opts.createConnection = opts.createConnection || (isSecure ? tlsConnect : netConnect);
  opts.defaultPort = opts.defaultPort || defaultPort;
  opts.port = parsedUrl.port || defaultPort;
  opts.host = parsedUrl.hostname.startsWith('[') ? parsedUrl.hostname.slice(1, -1) : parsedUrl.hostname;
  opts.headers = {
    ...opts.headers,
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket'
  };
  opts.path = parsedUrl.pathname + parsedUrl.search;
  opts.timeout = opts.handshakeTimeout;
  // permessage-deflate is offered by default, as ws does.
  let perMessageDeflate;
  if (opts.perMessageDeflate) {
    PerMessageDeflate.validateZlibOptions(opts.perMessageDeflate);
    perMessageDeflate = new PerMessageDeflate(
      opts.perMessageDeflate !== true ? opts.perMessageDeflate : {},
      false,
      opts.maxPayload
    );
    opts.headers['Sec-WebSocket-Extensions'] = extension.format({
      [PerMessageDeflate.extensionName]: perMessageDeflate.offer()
    });
  }

  if (protocols.length) {
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !subprotocolRegex.test(protocol) || protocolSet.has(protocol)) {
        throw new SyntaxError('An invalid or duplicated subprotocol was specified');
      }
      protocolSet.add(protocol);
    }
    opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  }
  if (opts.origin) {
    if (opts.protocolVersion < 13) opts.headers['Sec-WebSocket-Origin'] = opts.origin;
    else opts.headers.Origin = opts.origin;
  }
  if (parsedUrl.username || parsedUrl.password) {
    opts.auth = `${querystring.unescape(parsedUrl.username)}:${querystring.unescape(parsedUrl.password)}`;
  }
  if (isIpcUrl) {
    const i = opts.path.indexOf(':');
    if (i === -1) {
      opts.socketPath = opts.path;
      opts.path = '';
    } else {
      opts.socketPath = opts.path.slice(0, i);
      opts.path = opts.path.slice(i + 1);
    }
  }

  let req;
  if (opts.followRedirects) {
    if (websocket._redirects === 0) {
      websocket._originalIpc = isIpcUrl;
      websocket._originalSecure = isSecure;
      websocket._originalHostOrSocketPath = isIpcUrl ? opts.socketPath : parsedUrl.host;
      const headers = options && options.headers;
      options = { ...options, headers: {} };
      if (headers) {
        for (const [k, value] of Object.entries(headers)) options.headers[k.toLowerCase()] = value;
      }
    } else if (websocket.listenerCount('redirect') === 0) {
      const isSameHost = isIpcUrl
        ? websocket._originalIpc
          ? opts.socketPath === websocket._originalHostOrSocketPath
          : false
        : websocket._originalIpc
          ? false
          : parsedUrl.host === websocket._originalHostOrSocketPath;
      if (!isSameHost || (websocket._originalSecure && !isSecure)) {
        // Credentials do not follow a redirect to another host.
        delete opts.headers.authorization;
        delete opts.headers.cookie;
        if (!isSameHost) delete opts.headers.host;
        opts.auth = undefined;
      }
    }
    if (opts.auth && !options.headers.authorization) {
      options.headers.authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
    }
    req = websocket._req = request(opts);
    if (websocket._redirects) websocket.emit('redirect', websocket.url, req);
  } else {
    req = websocket._req = request(opts);
  }

  if (opts.timeout) {
    req.on('timeout', () => abortHandshake(websocket, req, 'Opening handshake has timed out'));
  }

  req.on('error', (err) => {
    if (req === null || req[kAborted]) return;
    req = websocket._req = null;
    emitErrorAndClose(websocket, err);
  });

  req.on('response', (res) => {
    const location = res.headers.location;
    const statusCode = res.statusCode;
    if (location && opts.followRedirects && statusCode >= 300 && statusCode < 400) {
      if (++websocket._redirects > opts.maxRedirects) {
        abortHandshake(websocket, req, 'Maximum redirects exceeded');
        return;
      }
      req.abort();
      let addr;
      try {
        addr = new URL(location, address);
      } catch {
        emitErrorAndClose(websocket, new SyntaxError(`Invalid URL: ${location}`));
        return;
      }
      initAsClient(websocket, addr, protocols, options);
    } else if (!websocket.emit('unexpected-response', req, res)) {
      abortHandshake(websocket, req, `Unexpected server response: ${res.statusCode}`);
    }
  });

  req.on('upgrade', (res, socket, head) => {
    websocket.emit('upgrade', res);
    // The user may have closed the socket in an 'upgrade' listener.
    if (websocket.readyState !== websocket.CONNECTING) return;
    req = websocket._req = null;

    const upgrade = res.headers.upgrade;
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      abortHandshake(websocket, socket, 'Invalid Upgrade header');
      return;
    }
    if (res.headers['sec-websocket-accept'] !== acceptKey(key)) {
      abortHandshake(websocket, socket, 'Invalid Sec-WebSocket-Accept header');
      return;
    }
    const serverProt = res.headers['sec-websocket-protocol'];
    let protError;
    if (serverProt !== undefined) {
      if (!protocolSet.size) protError = 'Server sent a subprotocol but none was requested';
      else if (!protocolSet.has(serverProt)) protError = 'Server sent an invalid subprotocol';
    } else if (protocolSet.size) {
      protError = 'Server sent no subprotocol';
    }
    if (protError) {
      abortHandshake(websocket, socket, protError);
      return;
    }
    if (serverProt) websocket._protocol = serverProt;
    const secWebSocketExtensions = res.headers['sec-websocket-extensions'];
    if (secWebSocketExtensions !== undefined) {
      if (!perMessageDeflate) {
        abortHandshake(websocket, socket, 'Server sent a Sec-WebSocket-Extensions header but no extension was requested');
        return;
      }
      let answered;
      try {
        answered = extension.parse(secWebSocketExtensions);
      } catch {
        abortHandshake(websocket, socket, 'Invalid Sec-WebSocket-Extensions header');
        return;
      }
      const names = Object.keys(answered);
      if (names.length !== 1 || names[0] !== PerMessageDeflate.extensionName) {
        abortHandshake(websocket, socket, 'Server indicated an extension that was not requested');
        return;
      }
      try {
        perMessageDeflate.accept(answered[PerMessageDeflate.extensionName]);
      } catch {
        abortHandshake(websocket, socket, 'Invalid Sec-WebSocket-Extensions header');
        return;
      }
      websocket._extensions = { [PerMessageDeflate.extensionName]: perMessageDeflate };
      websocket._deflate = true;
    }
    // What Rust compresses and inflates with (undefined: no compression).
    const deflate = websocket._deflate ? perMessageDeflate.nativeParams() : undefined;

    const native = connectionOptions(opts);
    // ws._socket: the Node socket where Node keeps it, else a stand-in with
    // its addresses (lib/native-socket.js).
    const takenOver = fdOf(socket) !== -1;
    websocket._socket = takenOver ? new NativeSocket(websocket, socket) : socket;
    if (takenOver) {
      websocket._attachNative((slot) =>
        takeOver(socket, head, (fd, preread) => binding.clientAdopt(fd, slot, preread, native, deflate))
      );
    } else {
      websocket._attachBridged((slot) => binding.clientBridgeOpen(slot, native, deflate), socket, null, head, native);
    }
  });

  if (opts.finishRequest) opts.finishRequest(req, websocket);
  else req.end();
  return opts;
}

function netConnect(options) {
  options.path = options.socketPath;
  return net.connect(options);
}

function tlsConnect(options) {
  options.path = undefined;
  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host) ? '' : options.host;
  }
  return tls.connect(options);
}

/** The handshake failed or was given up: 'error', then 'close' (1006). */
function emitErrorAndClose(websocket, err) {
  websocket._readyState = websocket.CLOSING;
  websocket._errorEmitted = true;
  websocket.emit('error', err);
  websocket._readyState = websocket.CLOSED;
  websocket.emit('close', websocket._closeCode, EMPTY_BUFFER);
}

/**
 * Gives up an opening handshake: `stream` is the request (before the answer)
 * or the socket (after a bad answer).
 */
function abortHandshake(websocket, stream, message) {
  websocket._readyState = websocket.CLOSING;
  const err = new Error(message);
  Error.captureStackTrace(err, abortHandshake);
  if (stream.setHeader) {
    stream[kAborted] = true;
    stream.abort();
    if (stream.socket && !stream.socket.destroyed) stream.socket.destroy();
    process.nextTick(emitErrorAndClose, websocket, err);
  } else {
    stream.destroy(err);
    stream.once('error', websocket.emit.bind(websocket, 'error'));
    stream.once('close', () => {
      websocket._readyState = websocket.CLOSED;
      websocket.emit('close', websocket._closeCode, EMPTY_BUFFER);
    });
  }
}

module.exports = { abortHandshake, initAsClient };
