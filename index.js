'use strict';

// CommonJS entry, shaped like ws's: the module is the WebSocket class, with
// the server and helpers as (enumerable, own) properties, so that
// `require('wsrs')`, `const { WebSocketServer } = require('wsrs')` and
// TypeScript's `import * as ws from 'wsrs'` all work as they do with ws.

const WebSocket = require('./lib/websocket');
const WebSocketServer = require('./lib/websocket-server');
const createWebSocketStream = require('./lib/stream');
const Sender = require('./lib/sender');
const subprotocol = require('./lib/subprotocol');
const extension = require('./lib/extension');
const PerMessageDeflate = require('./lib/permessage-deflate');

/** The Error that using what wsrs exports only for ws's shape throws. */
function unsupported(what, why) {
  const err = new Error(`${what} is not supported by wsrs: ${why}`);
  err.code = 'WSRS_ERR_UNSUPPORTED';
  return err;
}

// Exported as ws exports them, so that importing them works; using them
// throws. Frames are parsed in Rust, which has no JS Receiver to hand out.
class Receiver {
  constructor() {
    throw unsupported('Receiver', 'frames are parsed in Rust');
  }
}

WebSocket.createWebSocketStream = createWebSocketStream;
WebSocket.extension = extension;
WebSocket.PerMessageDeflate = PerMessageDeflate;
WebSocket.Receiver = Receiver;
WebSocket.Sender = Sender;
WebSocket.Server = WebSocketServer;
WebSocket.subprotocol = subprotocol;
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;

module.exports = WebSocket;
