'use strict';

// The Sec-WebSocket-Extensions header (RFC 6455 §9.1, with RFC 7230's token
// and quoted-string): `parse` gives { name: [offer, ...] } where each offer
// maps a parameter to the list of its values (`true` for a parameter with no
// value), as ws's `extension.parse`; `format` is the inverse.

const { tokenChars } = require('./validation');

const isToken = (c) => c < 128 && tokenChars[c] === 1;
const isSpace = (c) => c === 0x20 || c === 0x09;

/**
 * @param {string} header
 * @returns {Object<string, Array<Object<string, Array<(string|true)>>>>}
 */
function parse(header) {
  const offers = Object.create(null);
  let i = 0;
  const n = header.length;
  const fail = () => {
    throw new SyntaxError(i < n ? `Unexpected character at index ${i}` : 'Unexpected end of input');
  };
  const skipSpace = () => {
    while (i < n && isSpace(header.charCodeAt(i))) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && isToken(header.charCodeAt(i))) i++;
    if (i === start) fail();
    return header.slice(start, i);
  };
  const quoted = () => {
    // At the opening quote. A quoted value must itself be a token (§9.1).
    i++;
    let value = '';
    for (;;) {
      if (i >= n) fail();
      const c = header.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        i++;
        if (i >= n) fail();
      }
      if (!isToken(header.charCodeAt(i))) fail();
      value += header[i++];
    }
    if (value === '') fail();
    i++;
    return value;
  };

  if (i >= n) fail();
  for (;;) {
    const name = token();
    const params = Object.create(null);
    skipSpace();
    while (i < n && header[i] === ';') {
      i++;
      skipSpace();
      const key = token();
      let value = true;
      // No space around "=" (RFC 6455 §9.1's grammar).
      if (i < n && header[i] === '=') {
        i++;
        value = i < n && header[i] === '"' ? quoted() : token();
      }
      skipSpace();
      (params[key] || (params[key] = [])).push(value);
    }
    (offers[name] || (offers[name] = [])).push(params);
    if (i >= n) return offers;
    if (header[i] !== ',') fail();
    i++;
    skipSpace();
  }
}

/**
 * @param {Object<string, (Object|Object[])>} extensions
 * @returns {string}
 */
function format(extensions) {
  return Object.keys(extensions)
    .map((name) => {
      const configs = Array.isArray(extensions[name]) ? extensions[name] : [extensions[name]];
      return configs
        .map((params) =>
          [name]
            .concat(
              Object.keys(params).map((key) => {
                const values = Array.isArray(params[key]) ? params[key] : [params[key]];
                return values.map((v) => (v === true ? key : `${key}=${v}`)).join('; ');
              })
            )
            .join('; ')
        )
        .join(', ');
    })
    .join(', ');
}

module.exports = { format, parse };
