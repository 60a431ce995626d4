'use strict';

// `ws._socket` for a connection whose socket Rust owns. Code written for ws
// reads it (`ws._socket.remoteAddress`, `setNoDelay()`, `setKeepAlive()`,
// `setTimeout()`, `bytesRead`, `on('close')`); this object has those
// net.Socket members, applied to the real socket, and nothing else: a member
// it lacks is absent (undefined), never a silent no-op. Where Node keeps the
// socket (TLS, any Duplex, Windows), `ws._socket` is that socket itself.

const { EventEmitter } = require('events');

const native = require('./native');

const { binding } = native;

class NativeSocket extends EventEmitter {
  /**
   * @param {import('./websocket')} ws
   * @param {{ remoteAddress?: string, remotePort?: number, remoteFamily?: string,
   *   localAddress?: string, localPort?: number }} from the socket or request it came from
   */
  constructor(ws, from) {
    super();
    this._ws = ws;
    this.remoteAddress = from.remoteAddress;
    this.remotePort = from.remotePort;
    this.remoteFamily = from.remoteFamily;
    this.localAddress = from.localAddress;
    this.localPort = from.localPort;
    // Made after its connection closed (`WebSocket#_socket`): the counts kept then.
    this._final = from.counts || null;
    this._timeout = 0;
    this._timer = null;
  }

  /** Bytes read from the socket after the handshake (ws's count includes the request). */
  get bytesRead() {
    return this._info().bytesRead;
  }

  /** Bytes written to the socket, the handshake's answer included. */
  get bytesWritten() {
    return this._info().bytesWritten;
  }

  get destroyed() {
    return this._final !== null;
  }

  address() {
    const family = this.localAddress && this.localAddress.includes(':') ? 'IPv6' : 'IPv4';
    return { address: this.localAddress, family, port: this.localPort };
  }

  setNoDelay(noDelay = true) {
    if (this._final === null) binding.setSocketOptions(this._ws._slot, !!noDelay, undefined, undefined);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0) {
    if (this._final === null) {
      binding.setSocketOptions(this._ws._slot, undefined, !!enable, Math.max(0, Math.floor(initialDelay)) >>> 0);
    }
    return this;
  }

  /**
   * As net.Socket: 'timeout' once the socket has been idle (nothing read or
   * sent) for `ms`; 0 turns it off. The connection stays open.
   */
  setTimeout(ms, callback) {
    this._timeout = ms;
    this._ws._idle = ms > 0 ? this : null;
    if (typeof callback === 'function') {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this._activity();
    return this;
  }

  pause() {
    this._ws.pause();
    return this;
  }

  resume() {
    this._ws.resume();
    return this;
  }

  destroy() {
    this._ws.terminate();
    return this;
  }

  /** Something was read or sent (restarts the idle timer). @private */
  _activity() {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    if (this._timeout > 0 && this._final === null) {
      this._timer = setTimeout(() => {
        this._timer = null;
        this.emit('timeout');
      }, this._timeout);
      this._timer.unref();
    }
  }

  /** Keeps the last counts: the slot is about to be released. @private */
  _snapshot() {
    if (this._final === null) this._final = this._info();
  }

  /** The socket closed: 'close' (after the WebSocket's, as with ws). @private */
  _closed() {
    this._snapshot();
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    this.emit('close', false);
  }

  /** @private */
  _info() {
    if (this._final !== null) return this._final;
    return NativeSocket.counts(this._ws._slot);
  }

  /** The byte counts and options of the connection in `slot`, from Rust. @private */
  static counts(slot) {
    return binding.socketInfo(slot) || NO_INFO;
  }
}

/** What a connection Rust no longer has reports. */
const NO_INFO = Object.freeze({ bytesRead: 0, bytesWritten: 0, noDelay: false, keepAlive: false });

module.exports = NativeSocket;
