'use strict';

// RFC 7230 token characters (what a subprotocol name may contain).
const tokenChars = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") tokenChars[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tokenChars[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tokenChars[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tokenChars[c] = 1;

const { isValidCloseCode } = require('./addon');

/**
 * Close codes an endpoint may send (ws's rule): the one the parser applies
 * to the peer's close frames (src/frame.rs).
 */
function isValidStatusCode(code) {
  return Number.isInteger(code) && code >= 0 && code <= 0xffff && isValidCloseCode(code);
}

function isBlob(value) {
  return (
    typeof Blob !== 'undefined' &&
    value !== null &&
    typeof value === 'object' &&
    typeof value.arrayBuffer === 'function' &&
    typeof value.type === 'string' &&
    typeof value.stream === 'function' &&
    (value[Symbol.toStringTag] === 'Blob' || value[Symbol.toStringTag] === 'File')
  );
}

module.exports = { isBlob, isValidStatusCode, tokenChars };
