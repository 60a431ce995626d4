'use strict';

// permessage-deflate's negotiation (RFC 7692 §7.1), with ws's options and
// rules: which offer a server accepts and what it answers. The data path
// (inflating and deflating) is Rust's (src/deflate.rs), given the result as
// `nativeParams()`.

const zlib = require('zlib');

const { NoKeys } = require('./constants');

const NAME = 'permessage-deflate';

/**
 * The accepted parameters, which every connection keeps: copied out of the
 * dictionary-mode object `extension.parse` made (`Object.create(null)`, a
 * quarter KB each) into a fast one that, like it, inherits no keys.
 */
function settled(params) {
  const out = new NoKeys();
  for (const key of Object.keys(params)) out[key] = params[key];
  return out;
}

class PerMessageDeflate {
  /**
   * @param {Object} [options] ws's: serverNoContextTakeover, clientNoContextTakeover,
   *   serverMaxWindowBits, clientMaxWindowBits, zlibDeflateOptions, zlibInflateOptions,
   *   threshold (1024), concurrencyLimit (10)
   * @param {boolean} [isServer]
   * @param {number} [maxPayload]
   */
  constructor(options, isServer, maxPayload) {
    this._maxPayload = maxPayload | 0;
    this._options = options || {};
    this._threshold = this._options.threshold !== undefined ? this._options.threshold : 1024;
    this._isServer = !!isServer;
    this.params = null;
  }

  static get extensionName() {
    return NAME;
  }

  /** A client's offer (what ws's client sends). */
  offer() {
    const opts = this._options;
    const params = {};
    if (opts.serverNoContextTakeover) params.server_no_context_takeover = true;
    if (opts.clientNoContextTakeover) params.client_no_context_takeover = true;
    if (opts.serverMaxWindowBits) params.server_max_window_bits = opts.serverMaxWindowBits;
    if (opts.clientMaxWindowBits) params.client_max_window_bits = opts.clientMaxWindowBits;
    else if (opts.clientMaxWindowBits == null) params.client_max_window_bits = true;
    return params;
  }

  /**
   * Accepts an offer (server: the list of offers, from `extension.parse`) or
   * the server's answer (client). Throws when nothing can be accepted or a
   * parameter is invalid; the caller answers 400 (server) or fails (client).
   */
  accept(configurations) {
    const offers = this.normalizeParams(configurations);
    this.params = settled(this._isServer ? this.acceptAsServer(offers) : this.acceptAsClient(offers));
    return this.params;
  }

  cleanup() {}

  acceptAsServer(offers) {
    const opts = this._options;
    const accepted = offers.find((params) => {
      if (opts.serverNoContextTakeover === false && params.server_no_context_takeover) return false;
      if (params.server_max_window_bits) {
        if (opts.serverMaxWindowBits === false) return false;
        if (typeof opts.serverMaxWindowBits === 'number' && opts.serverMaxWindowBits > params.server_max_window_bits) {
          return false;
        }
        // zlib has no 8-bit window for raw DEFLATE (it would use 9): an offer
        // that binds us to 8 cannot be honoured.
        if (Math.min(params.server_max_window_bits, opts.serverMaxWindowBits || 15) < 9) return false;
      }
      // Our client_max_window_bits must fit what the client offered.
      if (typeof opts.clientMaxWindowBits === 'number') {
        const offered = params.client_max_window_bits;
        if (typeof offered === 'number' ? opts.clientMaxWindowBits > offered : !offered) return false;
      }
      return true;
    });
    if (!accepted) throw new Error('None of the extension offers can be accepted');
    if (opts.serverNoContextTakeover) accepted.server_no_context_takeover = true;
    if (opts.clientNoContextTakeover) accepted.client_no_context_takeover = true;
    if (typeof opts.serverMaxWindowBits === 'number') accepted.server_max_window_bits = opts.serverMaxWindowBits;
    if (typeof opts.clientMaxWindowBits === 'number') accepted.client_max_window_bits = opts.clientMaxWindowBits;
    else if (accepted.client_max_window_bits === true || opts.clientMaxWindowBits === false) {
      delete accepted.client_max_window_bits;
    }
    return accepted;
  }

  acceptAsClient(response) {
    const params = response[0];
    const opts = this._options;
    if (opts.clientNoContextTakeover === false && params.client_no_context_takeover) {
      throw new Error('Unexpected parameter "client_no_context_takeover"');
    }
    if (!params.client_max_window_bits) {
      if (typeof opts.clientMaxWindowBits === 'number') params.client_max_window_bits = opts.clientMaxWindowBits;
    } else if (
      opts.clientMaxWindowBits === false ||
      (typeof opts.clientMaxWindowBits === 'number' && params.client_max_window_bits > opts.clientMaxWindowBits)
    ) {
      throw new Error('Unexpected or invalid parameter "client_max_window_bits"');
    }
    return params;
  }

  /** Each parameter once, with a valid value (RFC 7692 §7.1). */
  normalizeParams(configurations) {
    return configurations.map((offer) => {
      const params = {};
      for (const key of Object.keys(offer)) {
        const values = offer[key];
        if (values.length > 1) throw new Error(`Parameter "${key}" must have only a single value`);
        let value = values[0];
        if (key === 'client_max_window_bits') {
          if (value !== true) {
            const num = +value;
            if (!Number.isInteger(num) || num < 8 || num > 15) {
              throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
            }
            value = num;
          } else if (!this._isServer) {
            throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
          }
        } else if (key === 'server_max_window_bits') {
          const num = +value;
          if (!Number.isInteger(num) || num < 8 || num > 15) {
            throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
          }
          value = num;
        } else if (key === 'client_no_context_takeover' || key === 'server_no_context_takeover') {
          if (value !== true) throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
        } else {
          throw new Error(`Unknown parameter "${key}"`);
        }
        params[key] = value;
      }
      return params;
    });
  }

  /** What Rust's data path needs of the negotiated parameters. */
  nativeParams() {
    const p = this.params;
    const own = this._isServer ? 'server' : 'client';
    const peer = this._isServer ? 'client' : 'server';
    const zlibOptions = this._options.zlibDeflateOptions || {};
    const pick = (value, fallback) => (typeof value === 'number' && value >= 0 ? value : fallback);
    const bits = (value) => (typeof value === 'number' ? value : 15);
    return {
      peerTakeover: !p[`${peer}_no_context_takeover`],
      peerWindowBits: bits(p[`${peer}_max_window_bits`]),
      ownTakeover: !p[`${own}_no_context_takeover`],
      ownWindowBits: bits(p[`${own}_max_window_bits`]),
      // zlib's defaults, as ws's zlib.createDeflateRaw has them (its
      // Z_DEFAULT_COMPRESSION, -1, is level 6).
      level: pick(zlibOptions.level, 6),
      memLevel: pick(zlibOptions.memLevel, zlib.constants.Z_DEFAULT_MEMLEVEL),
      strategy: pick(zlibOptions.strategy, zlib.constants.Z_DEFAULT_STRATEGY),
      threshold: this._threshold >>> 0
    };
  }
}

/**
 * Node's own checks of `zlibDeflateOptions` / `zlibInflateOptions` (its
 * RangeError and TypeError, ERR_OUT_OF_RANGE and ERR_INVALID_ARG_TYPE), run
 * once when the server or client is made. ws meets them only when it first
 * compresses, inside a send.
 */
function validateZlibOptions(options) {
  if (!options || typeof options !== 'object') return;
  if (options.zlibDeflateOptions) zlib.createDeflateRaw(options.zlibDeflateOptions).close();
  if (options.zlibInflateOptions) zlib.createInflateRaw(options.zlibInflateOptions).close();
}

PerMessageDeflate.validateZlibOptions = validateZlibOptions;

module.exports = PerMessageDeflate;
