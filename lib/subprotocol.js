'use strict';

const { tokenChars } = require('./validation');

/**
 * Parses a `Sec-WebSocket-Protocol` header into a Set of names, throwing a
 * SyntaxError for what ws rejects (empty names, bad characters, duplicates).
 */
function parse(header) {
  const protocols = new Set();
  let start = -1;
  let end = -1;
  let i = 0;

  const add = (name) => {
    if (protocols.has(name)) throw new SyntaxError(`The "${name}" subprotocol is duplicated`);
    protocols.add(name);
  };

  for (; i < header.length; i++) {
    const code = header.charCodeAt(i);
    if (end === -1 && tokenChars[code] === 1) {
      if (start === -1) start = i;
    } else if (i !== 0 && (code === 0x20 || code === 0x09)) {
      if (end === -1 && start !== -1) end = i;
    } else if (code === 0x2c) {
      if (start === -1) throw new SyntaxError(`Unexpected character at index ${i}`);
      if (end === -1) end = i;
      add(header.slice(start, end));
      start = end = -1;
    } else {
      throw new SyntaxError(`Unexpected character at index ${i}`);
    }
  }
  if (start === -1 || end !== -1) throw new SyntaxError('Unexpected end of input');
  add(header.slice(start, i));
  return protocols;
}

module.exports = { parse };
