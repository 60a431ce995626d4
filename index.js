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

WebSocket.createWebSocketStream = createWebSocketStream;
WebSocket.Sender = Sender;
WebSocket.subprotocol = subprotocol;
WebSocket.Server = WebSocketServer;
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;

module.exports = WebSocket;
