'use strict';

// The WebSocket class: ws's API over a connection whose protocol work
// (framing, UTF-8 checks, limits, ping/pong, the close handshake) is done in
// Rust. This file only keeps the JS-visible state and turns calls into
// synchronous pushes to the native socket.

const EventEmitter = require('events');

const {
  BINARY_TYPES,
  CLOSE_TIMEOUT,
  EMPTY_BUFFER,
  kForOnEventAttribute,
  kListener,
  kStatusCode,
  NoKeys,
  READY_STATES
} = require('./constants');
const { EventTarget } = require('./event-target');
const { isBlob, isValidStatusCode } = require('./validation');
const native = require('./native');
const NativeSocket = require('./native-socket');
// Required now, not when the first client is made: a copy of this module
// must use its own copy of the native instance, even after require.cache
// was cleared and the package loaded again (as test runners do).
const client = require('./client');
const { SocketSender } = require('./sender');

const { binding } = native;
/** The WebSocketServer that accepted a socket (for its bookkeeping on close). */
const kServer = Symbol('kServer');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// What a native send did, and opcodes: from their one source in Rust.
const { SENT, NOT_OPEN, DROPPED, OVERFLOW, OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG } = native.WIRE;

class WebSocket extends EventEmitter {
  /**
   * @param {(String|URL|null)} address null for a server-side socket
   * @param {(String|String[])} [protocols]
   * @param {Object} [options]
   */
  constructor(address, protocols, options) {
    super();
    // EventEmitter's listener table, as a fast object rather than the
    // dictionary `{ __proto__: null }` makes: a third of an idle
    // connection's JS memory otherwise. It inherits nothing either.
    this._events = new NoKeys();

    // (What most connections never change has its default on the
    // prototype, below: an idle connection is mostly this object.)
    this._readyState = CONNECTING;
    this._slot = -1;
    this._firstFragment = true;
    this._bufferedAmount = 0;
    this._sendCallbacks = null;
    /** net.Socket, or its NativeSocket stand-in where Rust owns the socket (`_socket`). */
    this._sock = null;
    /**
     * A connection Rust accepted: its addresses (and, once closed, its byte
     * counts), from which `_socket` makes its NativeSocket on first use;
     * most applications never touch it, and it would be the larger part of
     * an idle connection's memory.
     */
    this._peer = null;
    this[kServer] = undefined;

    if (address !== null) {
      this._isServer = false;
      this._redirects = 0;
      this._req = null;
      if (protocols === undefined) {
        if (!options || options.protocols === undefined) protocols = [];
        else protocols = Array.isArray(options.protocols) ? options.protocols : [options.protocols];
      } else if (!Array.isArray(protocols)) {
        if (typeof protocols === 'object' && protocols !== null) {
          options = protocols;
          if (options.protocols === undefined) protocols = [];
          else protocols = Array.isArray(options.protocols) ? options.protocols : [options.protocols];
        } else {
          protocols = [protocols];
        }
      }
      client.initAsClient(this, address, protocols, options);
      return;
    }
    this._isServer = true;
    options = options || {};
    this._closeTimeout = options.closeTimeout === undefined ? CLOSE_TIMEOUT : options.closeTimeout;
  }

  /** @private */
  get _socket() {
    if (this._sock === null && this._peer !== null) this._sock = new NativeSocket(this, this._peer);
    return this._sock;
  }

  set _socket(socket) {
    this._sock = socket;
  }

  /**
   * The slot is about to be released: a NativeSocket keeps its last byte
   * counts (one not made yet gets them when it is).
   * @private
   */
  _snapshotSocket() {
    if (this._sock !== null) {
      if (typeof this._sock._snapshot === 'function') this._sock._snapshot();
    } else if (this._peer !== null) {
      this._peer.counts = NativeSocket.counts(this._slot);
    }
  }

  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (!BINARY_TYPES.includes(type)) return;
    this._binaryType = type;
  }

  get bufferedAmount() {
    if (this._slot === -1) return this._bufferedAmount;
    const inNode = this._bridged === null ? 0 : this._bridged.writableLength;
    return binding.buffered(this._slot) + inNode + this._bufferedAmount;
  }

  get extensions() {
    return Object.keys(this._extensions).join();
  }

  get isPaused() {
    return this._paused;
  }

  get protocol() {
    return this._protocol;
  }

  get readyState() {
    return this._readyState;
  }

  get url() {
    return this._url;
  }

  /* istanbul ignore next */
  get onclose() {
    return null;
  }
  /* istanbul ignore next */
  get onerror() {
    return null;
  }
  /* istanbul ignore next */
  get onopen() {
    return null;
  }
  /* istanbul ignore next */
  get onmessage() {
    return null;
  }

  /**
   * Binds this object to a native socket that has completed its handshake.
   * @private
   */
  _attachNative(attach, wire) {
    const slot = native.addSocket(this);
    let attached;
    try {
      attached = attach(slot);
    } catch (err) {
      native.removeSocket(slot);
      throw err;
    }
    if (!attached) {
      // The peer left while the upgrade was being decided.
      native.removeSocket(slot);
      this._readyState = CLOSING;
      process.nextTick(() => this._onClosed());
      return;
    }
    this._slot = slot;
    // Everything the connection needs is in place before user code runs in
    // 'open' or 'connection' (the 101 answer is on the wire already).
    if (wire !== undefined) wire();
    this._readyState = OPEN;
    this.emit('open');
  }

  close(code, data) {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortConnecting(this);
      return;
    }
    if (this._readyState === CLOSING) return;

    let reason;
    if (code === undefined) {
      // A close frame with no body.
    } else if (typeof code !== 'number' || !isValidStatusCode(code)) {
      throw new TypeError('First argument must be a valid error code number');
    } else if (data !== undefined && data.length) {
      reason = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
      if (reason.length > 123) {
        throw new RangeError('The message must not be greater than 123 bytes');
      }
    }

    this._readyState = CLOSING;
    this._closeFrameSent = true;
    if (this._blobQueue !== null) queueClose(this, code, reason, false);
    else {
      binding.close(this._slot, code, reason);
      native.scheduleFlush();
    }
    this._startCloseTimer();
  }

  pause() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = true;
    if (this._bridged !== null) this._bridged.pause();
    else binding.pause(this._slot);
  }

  resume() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = false;
    if (this._bridged !== null) this._bridged.resume();
    else binding.resume(this._slot);
  }

  ping(data, mask, cb) {
    this._control(OP_PING, data, mask, cb);
  }

  pong(data, mask, cb) {
    this._control(OP_PONG, data, mask, cb);
  }

  /** @private */
  _control(opcode, data, mask, cb) {
    if (this._readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (typeof data === 'function') {
      cb = data;
      data = mask = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) {
      sendAfterClose(this, data, cb);
      return;
    }
    const blob = isBlob(data);
    const buf = blob ? data : data === undefined || data === null ? EMPTY_BUFFER : toBuffer(data);
    const size = blob ? data.size : buf.length;
    if (size > 125) {
      throw new RangeError('The data size must not be greater than 125 bytes');
    }
    if (blob || this._blobQueue !== null) {
      queueOp(this, opcode, buf, true, undefined, cb, size);
      return;
    }
    this._afterSend(binding.sendBuffer(this._slot, buf, opcode, true), cb);
  }

  send(data, options, cb) {
    if (this._readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    if (typeof data === 'number') data = data.toString();
    if (this._readyState !== OPEN) {
      sendAfterClose(this, data, cb);
      return;
    }

    const isString = typeof data === 'string';
    if (this._blobQueue !== null || (!isString && isBlob(data))) {
      // A Blob is read first (asynchronously); what follows it waits behind it, in order.
      queueSend(this, data, isString, options, cb);
      return;
    }
    if (this._sendLimit > 0 && this._bridged.writableLength > 0 && overLimit(this, data, isString)) {
      this._afterSend(this._dropWhenFull ? DROPPED : OVERFLOW, cb);
      if (!this._dropWhenFull) this._bridged.destroy();
      return;
    }
    let binary = !isString;
    let fin = true;
    if (options !== undefined && options !== null) {
      if (options.binary !== undefined) binary = !!options.binary;
      if (options.fin !== undefined) fin = !!options.fin;
    }
    const opcode = this._firstFragment ? (binary ? OP_BINARY : OP_TEXT) : OP_CONT;
    this._firstFragment = fin;

    let result;
    try {
      result = sendNative(this, data, isString, options, opcode, fin);
    } catch (err) {
      // Rust failed inside the send (a bug; it terminated the connection):
      // end it here too, so that a socket Node keeps is destroyed as well.
      this.terminate();
      throw err;
    }
    this._afterSend(result, cb);
    if (this._idle !== null) this._idle._activity();
  }

  /**
   * `result` is what the native send did: 0 queued, 1 not open, 2 dropped
   * (buffer limit, `backpressure: 'drop'`), 3 buffer limit: terminating.
   * @private
   */
  _afterSend(result, cb) {
    if (result !== SENT) {
      if (result !== NOT_OPEN) this._onBufferLimit(result === OVERFLOW);
      if (typeof cb === 'function') {
        const err = new Error(
          result === NOT_OPEN
            ? `WebSocket is not open: readyState ${this._readyState} (${READY_STATES[this._readyState]})`
            : 'The send buffer is full: the peer does not read fast enough'
        );
        if (result !== NOT_OPEN) err.code = 'WSRS_ERR_BUFFER_FULL';
        process.nextTick(cb, err);
      }
      return;
    }
    if (typeof cb === 'function') {
      if (this._sendCallbacks === null) this._sendCallbacks = [];
      this._sendCallbacks.push(cb);
      native.waitForWrite(this);
    }
    native.scheduleFlush();
  }

  /** A send went over `maxBufferedAmount`. @private */
  _onBufferLimit(terminating) {
    if (terminating && this._readyState === OPEN) {
      this._readyState = CLOSING;
      const err = new Error('The send buffer is full: the peer does not read fast enough');
      err.code = 'WSRS_ERR_BUFFER_FULL';
      if (!this._errorEmitted && this.listenerCount('error') > 0) {
        this._errorEmitted = true;
        this.emit('error', err);
      }
    }
  }

  /** The socket's stalled writes are all written (beyond ws). @private */
  _onDrain() {
    this.emit('drain');
  }

  /**
   * Rust has written (or, for a bridged socket, handed to Node) everything
   * queued so far. A bridged socket's callbacks wait for Node's own write,
   * as ws's send callbacks are its socket's write callbacks.
   * @private
   */
  _onWritten() {
    const socket = this._bridged;
    if (socket === null || socket.writableLength === 0) return this._settleSendCallbacks(null);
    const cbs = this._sendCallbacks;
    if (cbs === null) return;
    this._sendCallbacks = null;
    // Node's write callbacks run in order: this one once all before it is written.
    socket.write(EMPTY, (err) => settle(cbs, err ? new Error('WebSocket is not open: readyState 3 (CLOSED)') : null));
  }

  /** Calls the send callbacks whose data is written (err = null) or lost. @private */
  _settleSendCallbacks(err) {
    const cbs = this._sendCallbacks;
    if (cbs === null) return;
    this._sendCallbacks = null;
    settle(cbs, err);
  }

  /**
   * ws's internal sender, as far as engine.io uses it: `sendFrame(list, cb)`
   * writes a message framed by `Sender.frame()`.
   * @private
   */
  get _sender() {
    if (this._socketSender === undefined) this._socketSender = new SocketSender(this);
    return this._socketSender;
  }

  /** @private */
  _sendFramed(frame, cb) {
    if (this._readyState !== OPEN) {
      sendAfterClose(this, frame, cb);
      return;
    }
    this._afterSend(binding.sendRaw(this._slot, frame), cb);
  }

  /**
   * Beyond ws: subscribes this socket to `topic` for `wss.publish(topic, ...)`
   * (fanned out in Rust). Returns false if it was already subscribed.
   */
  subscribe(topic) {
    return this._slot !== -1 && binding.subscribe(this._slot, topicName(topic));
  }

  /** Beyond ws: the opposite of `subscribe`. */
  unsubscribe(topic) {
    return this._slot !== -1 && binding.unsubscribe(this._slot, topicName(topic));
  }

  /** Beyond ws. */
  isSubscribed(topic) {
    return this._slot !== -1 && binding.isSubscribed(this._slot, topicName(topic));
  }

  /** Beyond ws: the topics this socket is subscribed to. */
  getTopics() {
    return this._slot === -1 ? [] : binding.topics(this._slot);
  }

  terminate() {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortConnecting(this);
      return;
    }
    this._readyState = CLOSING;
    if (this._blobQueue !== null) this._blobQueue.terminated = true;
    binding.terminate(this._slot);
    if (this._bridged !== null) {
      // What was sent before goes out, then Node's socket is destroyed (the
      // flush hands both to _bridgeWrite), as ws's terminate follows its writes.
      binding.bridgeKick(this._slot);
      native.scheduleFlush();
    }
  }

  // ---- events from the native side ----------------------------------------

  /** @private */
  _onMessage(ab, start, len, isBinary) {
    if (this._idle !== null) this._idle._activity();
    let data;
    if (!isBinary || this._binaryType === 'nodebuffer') {
      data = Buffer.from(ab, start, len);
    } else if (this._binaryType === 'arraybuffer') {
      data = ab.slice(start, start + len);
    } else if (this._binaryType === 'fragments') {
      data = [Buffer.from(ab, start, len)];
    } else {
      data = new Blob([new Uint8Array(ab, start, len)]);
    }
    this.emit('message', data, isBinary);
  }

  /** @private */
  _onControl(type, data) {
    this.emit(type, data);
  }

  /** The peer's close frame: answer with the same code and reason, as ws does. @private */
  _onPeerClose(code, reason) {
    this._closeFrameReceived = true;
    this._closeCode = code;
    this._closeMessage = reason;
    this._readyState = CLOSING;
    this._closeFrameSent = true;
    if (this._blobQueue !== null) {
      // As ws's answer, it follows what the socket was sending (a Blob being read).
      queueClose(this, code === 1005 ? undefined : code, reason.length ? reason : undefined, true);
    } else {
      binding.close(this._slot, code === 1005 ? undefined : code, reason.length ? reason : undefined, true);
      native.scheduleFlush();
    }
    this._startCloseTimer();
  }

  /** A protocol fault: close with its code and end the connection. @private */
  _onProtocolError(err, closeCode) {
    err[kStatusCode] = closeCode;
    this._readyState = CLOSING;
    this._closeFrameSent = true;
    if (this._blobQueue !== null) queueClose(this, closeCode, undefined, true);
    else {
      binding.close(this._slot, closeCode, undefined, true);
      native.scheduleFlush();
    }
    this._startCloseTimer();
    if (!this._errorEmitted) {
      this._errorEmitted = true;
      // Unlike ws, a peer's bad frame never crashes a process that has no
      // 'error' listener: the connection is closed with the right code either way.
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
  }

  /**
   * Binds this object to a socket Node keeps (TLS, any Duplex): Node moves
   * the bytes, Rust keeps the protocol.
   * @private
   */
  _attachBridged(open, socket, response, head, limits) {
    this._attachNative(open, () => this._wireBridged(socket, response, head, limits));
  }

  /** Binds a bridged socket's events (before 'open' is emitted). @private */
  _wireBridged(socket, response, head, limits) {
    this._bridged = socket;
    this._sendLimit = limits.maxBufferedAmount;
    this._dropWhenFull = limits.backpressure === 'drop';
    // Node's socket wrote all it had queued after a write it could not take
    // at once: what 'drain' says on a socket Rust writes.
    socket.on('drain', () => {
      if (this._readyState === OPEN) this._onDrain();
    });
    if (response) socket.write(response);
    if (socket.setNoDelay) socket.setNoDelay();
    if (socket.setTimeout) socket.setTimeout(0);
    // As ws does: bytes that came with the handshake are read first, as
    // 'data', once the 'connection' (or 'open') handlers have run.
    if (head && head.length) socket.unshift(head);
    const onData = (chunk) => native.feed(this, chunk);
    socket.on('data', onData);
    socket.on('end', () => {
      if (this._readyState === OPEN) this._readyState = CLOSING;
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(this._closeTimer);
      native.bridgedClosed(this);
    });
  }

  /** What Rust framed for a bridged socket. @private */
  _bridgeWrite(data, end, destroy) {
    const socket = this._bridged;
    if (socket === null) return;
    if (data) socket.write(data);
    if (destroy) {
      // Rust ended it (terminate(), a send past the buffer limit, a pong
      // flood, the heartbeat): Node's socket goes with it.
      socket.destroy();
      return;
    }
    if (end) socket.end();
  }

  /** ws's close timer, for a bridged socket (Rust has its own otherwise). @private */
  _startCloseTimer() {
    if (this._bridged === null || this._closeTimer !== null) return;
    const socket = this._bridged;
    this._closeTimer = setTimeout(() => socket.destroy(), this._closeTimeout);
  }

  /** @private */
  _onClosed() {
    this._slot = -1;
    // As ws's socketOnClose: the socket is gone, the WebSocket is CLOSING
    // until its own 'close'. The server's bookkeeping runs in between, so a
    // port server's 'close' (and close(cb)) comes before the last socket's
    // own 'close', as ws's HTTP server's does.
    this._readyState = CLOSING;
    if (this[kServer] !== undefined) this[kServer]._socketClosed(this);
    this._readyState = CLOSED;
    if (this._sendCallbacks !== null) {
      this._settleSendCallbacks(new Error('WebSocket is not open: readyState 3 (CLOSED)'));
    }
    this.emit('close', this._closeCode, this._closeMessage);
    // As with ws, whose 'close' comes from its own, earlier, listener on the
    // socket's 'close': the user's socket listeners run after it.
    if (this._sock instanceof NativeSocket) this._sock._closed();
  }
}

const EMPTY = Buffer.alloc(0);

/** Whether `data` would take a bridged socket past its maxBufferedAmount. */
function overLimit(ws, data, isString) {
  let len;
  if (isString) len = Buffer.byteLength(data);
  else if (data === undefined || data === null) len = 0;
  else len = typeof data.byteLength === 'number' ? data.byteLength : toBuffer(data).length;
  return ws.bufferedAmount + len > ws._sendLimit;
}

/** Calls send callbacks; one that throws does not stop the others. */
function settle(cbs, err) {
  for (const cb of cbs) {
    try {
      cb(err);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
    }
  }
}

for (const [i, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value: i });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value: i });
}

for (const property of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
  Object.defineProperty(WebSocket.prototype, property, { enumerable: true });
}

// `onopen`, `onmessage`, ...: at most one listener each, set through the
// EventTarget interface.
for (const method of ['open', 'error', 'close', 'message']) {
  Object.defineProperty(WebSocket.prototype, `on${method}`, {
    enumerable: true,
    get() {
      for (const listener of this.listeners(method)) {
        if (listener[kForOnEventAttribute]) return listener[kListener];
      }
      return null;
    },
    set(handler) {
      for (const listener of this.listeners(method)) {
        if (listener[kForOnEventAttribute]) {
          this.removeListener(method, listener);
          break;
        }
      }
      if (typeof handler !== 'function') return;
      this.addEventListener(method, handler, { [kForOnEventAttribute]: true });
    }
  });
}

WebSocket.prototype.addEventListener = EventTarget.addEventListener;
WebSocket.prototype.removeEventListener = EventTarget.removeEventListener;

/** close() or terminate() before the opening handshake completed (ws's behaviour). */
function abortConnecting(ws) {
  const msg = 'WebSocket was closed before the connection was established';
  if (ws._req) {
    client.abortHandshake(ws, ws._req, msg);
    return;
  }
  throw new Error(msg);
}

let lastString = null;
let lastEncoded = null;

function topicName(topic) {
  if (typeof topic !== 'string') throw new TypeError('The topic must be a string');
  return topic;
}

/**
 * The frame opcode and payload for `data` with ws's `binary` default (used
 * by publish and broadcast).
 */
function toFrame(data, options) {
  if (typeof data === 'number') data = data.toString();
  const isString = typeof data === 'string';
  let binary = !isString;
  if (options && options.binary !== undefined) binary = !!options.binary;
  const payload = isString ? data : data === undefined || data === null ? EMPTY_BUFFER : toBuffer(data);
  return { opcode: binary ? OP_BINARY : OP_TEXT, payload };
}

/** Turns what ws accepts as data into a Buffer without copying when it can. */
function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** ws's behaviour for send/ping/pong once the socket is closing or closed. */
function sendAfterClose(ws, data, cb) {
  if (data) {
    const length = isBlob(data) ? data.size : toBuffer(data).length;
    ws._bufferedAmount += length;
  }
  if (cb) {
    const err = new Error(
      `WebSocket is not open: readyState ${ws._readyState} (${READY_STATES[ws._readyState]})`
    );
    process.nextTick(cb, err);
  }
}

// ---- Blobs ------------------------------------------------------------------
// As ws does, a Blob is read (`blob.arrayBuffer()`) before it is framed, and
// what the socket is asked to send meanwhile (messages, pings, pongs, the
// close frame) waits behind it in `_blobQueue`, to go out in order once the
// bytes are there; send callbacks run in that order. Each waiting item counts
// in `bufferedAmount` until it reaches the native socket. `_blobQueue` is null
// whenever no Blob is pending: then sends take the synchronous path.

/** What waits behind a pending Blob (the first item is that Blob). */
class BlobQueue {
  constructor(op) {
    this.ops = [op];
    /** terminate() was called: the socket is gone, as ws's is destroyed at once. */
    this.terminated = false;
  }
}

/** A send, ping, pong or close waiting behind a Blob. */
class Pending {
  constructor(opcode, data, fin, code, cb, size) {
    this.opcode = opcode;
    /** A Blob until it is read, then a Buffer; a string; a close frame's reason. */
    this.data = data;
    /** For a close: whether the connection ends once it is written. */
    this.fin = fin;
    this.code = code;
    this.cb = cb;
    this.size = size;
  }
}

/** send() of a Blob, or of anything while a Blob is pending. */
function queueSend(ws, data, isString, options, cb) {
  let binary = !isString;
  let fin = true;
  if (options !== undefined && options !== null) {
    if (options.binary !== undefined) binary = !!options.binary;
    if (options.fin !== undefined) fin = !!options.fin;
  }
  // The opcode is decided now, as ws's Sender does in send().
  const opcode = ws._firstFragment ? (binary ? OP_BINARY : OP_TEXT) : OP_CONT;
  ws._firstFragment = fin;
  let size;
  if (isString) size = Buffer.byteLength(data);
  else if (isBlob(data)) size = data.size;
  else {
    data = data === undefined || data === null ? EMPTY_BUFFER : toBuffer(data);
    size = data.length;
  }
  queueOp(ws, opcode, data, fin, undefined, cb, size);
}


/**
 * The native send for `ws.send(data, options)`: compressed, as a string, or
 * as bytes. Returns what Rust did (SENT, NOT_OPEN, DROPPED, OVERFLOW).
 */
function sendNative(ws, data, isString, options, opcode, fin) {
  if (ws._deflate && (options === undefined || options === null || options.compress !== false)) {
    // permessage-deflate: Rust compresses it (past `threshold`).
    let buf;
    if (isString) buf = data === lastString ? lastEncoded : Buffer.from(data);
    else buf = data === undefined || data === null ? EMPTY_BUFFER : toBuffer(data);
    return binding.sendCompressed(ws._slot, buf, opcode, fin);
  }
  if (isString) {
    // The same string sent to many sockets in a row (a broadcast loop) is
    // encoded once.
    if (data.length > 64) {
      if (data !== lastString) {
        lastString = data;
        lastEncoded = Buffer.from(data);
      }
      return binding.sendBuffer(ws._slot, lastEncoded, opcode, fin);
    }
    return binding.sendString(ws._slot, data, opcode, fin);
  }
  const buf = data === undefined || data === null ? EMPTY_BUFFER : toBuffer(data);
  return binding.sendBuffer(ws._slot, buf, opcode, fin);
}

/** A close frame (`end`: the connection ends once it is written) behind a pending Blob. */
function queueClose(ws, code, reason, end) {
  const size = code === undefined ? 0 : 2 + (reason === undefined ? 0 : reason.length);
  queueOp(ws, OP_CLOSE, reason, end, code, undefined, size);
}

function queueOp(ws, opcode, data, fin, code, cb, size) {
  ws._bufferedAmount += size;
  const op = new Pending(opcode, data, fin, code, cb, size);
  if (ws._blobQueue !== null) {
    ws._blobQueue.ops.push(op);
    return;
  }
  // Only a Blob starts a queue.
  ws._blobQueue = new BlobQueue(op);
  try {
    readBlob(ws, op);
  } catch (err) {
    ws._blobQueue = null;
    ws._bufferedAmount -= size;
    throw err;
  }
}

/** Reads the Blob at the head of the queue, then sends it and what follows it. */
function readBlob(ws, op) {
  const queue = ws._blobQueue;
  let read = false;
  op.data
    .arrayBuffer()
    .then((arrayBuffer) => {
      read = true;
      queue.ops.shift();
      ws._bufferedAmount -= op.size;
      op.data = Buffer.from(arrayBuffer);
      const open = ws._readyState !== CLOSED && !queue.terminated && (ws._bridged === null || !ws._bridged.destroyed);
      if (!open || !replay(ws, op, true)) {
        // ws's answer: every waiting callback gets this error, and what was
        // not sent stays counted in bufferedAmount.
        ws._bufferedAmount += op.size;
        process.nextTick(failQueue, ws, new Error('The socket was closed while the blob was being read'), op.cb);
        return;
      }
      drain(ws);
    })
    .catch((err) => {
      if (!read) queue.ops.shift();
      // In the next tick, as ws: an error thrown by a callback or an 'error'
      // listener is not swallowed by the promise.
      process.nextTick(blobFailed, ws, err, read ? undefined : op.cb);
    });
}

/** Sends what waited behind a Blob that is now sent, up to the next Blob. */
function drain(ws) {
  const queue = ws._blobQueue;
  const ops = queue.ops;
  while (ops.length > 0) {
    const op = ops[0];
    if (op.opcode !== OP_CLOSE && isBlob(op.data)) {
      readBlob(ws, op);
      return;
    }
    ops.shift();
    ws._bufferedAmount -= op.size;
    replay(ws, op, false);
  }
  if (ws._blobQueue === queue) ws._blobQueue = null;
}

/**
 * Hands a waiting item to the native socket, as the synchronous path would
 * have. False (and no callback) if it refused a Blob's message as not open.
 */
function replay(ws, op, blob) {
  if (op.opcode === OP_CLOSE) {
    binding.close(ws._slot, op.code, op.data, op.fin);
    native.scheduleFlush();
    return true;
  }
  const data = op.data;
  const isData = op.opcode !== OP_PING && op.opcode !== OP_PONG;
  if (isData && ws._sendLimit > 0 && ws._bridged.writableLength > 0 && ws.bufferedAmount + op.size > ws._sendLimit) {
    ws._afterSend(ws._dropWhenFull ? DROPPED : OVERFLOW, op.cb);
    if (!ws._dropWhenFull) ws._bridged.destroy();
    return true;
  }
  const result =
    typeof data === 'string'
      ? binding.sendString(ws._slot, data, op.opcode, op.fin)
      : binding.sendBuffer(ws._slot, data, op.opcode, op.fin);
  if (blob && result === NOT_OPEN) return false;
  ws._afterSend(result, op.cb);
  return true;
}

/** Calls `cb` and the callbacks of all that waits with `err`; the queue is dropped. */
function failQueue(ws, err, cb) {
  const queue = ws._blobQueue;
  ws._blobQueue = null;
  const cbs = typeof cb === 'function' ? [cb] : [];
  if (queue !== null) {
    for (const op of queue.ops) if (typeof op.cb === 'function') cbs.push(op.cb);
  }
  settle(cbs, err);
}

/**
 * Reading a Blob failed: as ws, the waiting callbacks get the error, the
 * connection ends without a close frame (the peer sees 1006) and 'error' is emitted.
 */
function blobFailed(ws, err, cb) {
  failQueue(ws, err, cb);
  if (ws._readyState === CLOSED) return;
  ws.terminate();
  if (!ws._errorEmitted) {
    ws._errorEmitted = true;
    ws.emit('error', err);
  }
}

// Defaults that most connections keep for their whole life (set on the
// instance when they change): they take no room in each connection.
Object.assign(WebSocket.prototype, {
  _binaryType: BINARY_TYPES[0],
  _closeCode: 1006,
  _closeFrameReceived: false,
  _closeFrameSent: false,
  _closeMessage: EMPTY_BUFFER,
  _errorEmitted: false,
  /** The negotiated extensions (replaced, never changed in place). */
  _extensions: Object.freeze({}),
  /** permessage-deflate was negotiated: sends may be compressed. */
  _deflate: false,
  _paused: false,
  _protocol: '',
  /** Sends waiting behind a Blob being read (ws's Sender queue), else null. */
  _blobQueue: null,
  /** The NativeSocket whose idle timer (setTimeout) runs, else null. */
  _idle: null,
  /** The Node socket of a bridged connection (TLS, any Duplex), else null. */
  _bridged: null,
  _closeTimer: null,
  /**
   * A bridged socket's maxBufferedAmount and backpressure mode: Rust's own
   * check sees only what it holds, not what Node's socket still queues.
   */
  _sendLimit: 0,
  _dropWhenFull: false
});

module.exports = WebSocket;
module.exports.kServer = kServer;
module.exports.toFrame = toFrame;
