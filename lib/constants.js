'use strict';

const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'fragments'];
const hasBlob = typeof Blob !== 'undefined';
if (hasBlob) BINARY_TYPES.push('blob');

const CLOSE_TIMEOUT = 30000;

/** What every connection starts from, server side and client side alike. */
const CONNECTION_DEFAULTS = Object.freeze({
  allowSynchronousEvents: true,
  autoPong: true,
  closeTimeout: CLOSE_TIMEOUT,
  maxBufferedChunks: 256 * 1024,
  maxFragments: 16 * 1024,
  maxPayload: 100 * 1024 * 1024,
  maxPendingAutoPongs: 60,
  maxBufferedAmount: 16 * 1024 * 1024,
  backpressure: 'close',
  skipUTF8Validation: false
});

/**
 * A constructor of tables that inherit no keys, like `{ __proto__: null }`,
 * but fast objects rather than dictionaries (a dictionary is a quarter KB):
 * for the ones every connection keeps.
 */
function NoKeys() {}
NoKeys.prototype = Object.create(null);

module.exports = {
  BINARY_TYPES,
  NoKeys,
  CLOSE_TIMEOUT,
  CONNECTION_DEFAULTS,
  EMPTY_BUFFER: Buffer.alloc(0),
  hasBlob,
  kForOnEventAttribute: Symbol('kIsForOnEventAttribute'),
  kListener: Symbol('kListener'),
  kStatusCode: Symbol('status-code'),
  kWebSocket: Symbol('websocket'),
  READY_STATES: ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']
};
