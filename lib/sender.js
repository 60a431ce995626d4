'use strict';

// ws's `Sender` as far as its users outside ws touch it: the static
// `Sender.frame(data, options)` (socket.io-adapter frames a broadcast once
// with it) and, on a socket, `ws._sender.sendFrame(list, cb)` (engine.io
// writes such pre-framed messages with it). Framing for wsrs's own sends
// happens in Rust.

const { randomFillSync } = require('crypto');

class Sender {
  /**
   * Frames `data`: returns `[header, data]`, or one Buffer when masking
   * (with `readOnly`, the payload is copied rather than masked in place).
   * Options: `fin`, `opcode`, `rsv1`, `mask`, `readOnly`, `maskBuffer`,
   * `generateMask`.
   */
  static frame(data, options) {
    if (typeof data === 'string') data = Buffer.from(data);
    const len = data.length;
    let offset = options.mask ? 6 : 2;
    let payloadLength = len;
    if (len >= 65536) {
      offset += 8;
      payloadLength = 127;
    } else if (len > 125) {
      offset += 2;
      payloadLength = 126;
    }
    const merge = !!options.mask;
    const target = Buffer.allocUnsafe(merge ? len + offset : offset);
    target[0] = options.fin ? options.opcode | 0x80 : options.opcode;
    if (options.rsv1) target[0] |= 0x40;
    target[1] = payloadLength;
    if (payloadLength === 126) {
      target.writeUInt16BE(len, 2);
    } else if (payloadLength === 127) {
      target[2] = target[3] = 0;
      target.writeUIntBE(len, 4, 6);
    }
    if (!options.mask) return [target, data];

    const mask = options.maskBuffer || Buffer.alloc(4);
    if (options.generateMask) options.generateMask(mask);
    else randomFillSync(mask);
    target[1] |= 0x80;
    target[offset - 4] = mask[0];
    target[offset - 3] = mask[1];
    target[offset - 2] = mask[2];
    target[offset - 1] = mask[3];
    for (let i = 0; i < len; i++) target[offset + i] = data[i] ^ mask[i & 3];
    return [target];
  }
}

/** What `ws._sender` is on a wsrs socket. */
class SocketSender {
  constructor(ws) {
    this._ws = ws;
  }

  /** Writes an already framed message (from `Sender.frame`). */
  sendFrame(list, cb) {
    this._ws._sendFramed(list.length === 1 ? list[0] : Buffer.concat(list), cb);
  }
}

module.exports = Sender;
module.exports.SocketSender = SocketSender;
