// Seed 004-broadcast.js as plain JavaScript, checked with checkJs: in JS
// files `require('wsrs')` is typed, so the JSDoc `@type`s below are checked.

const WebSocket = require('wsrs');
const { WebSocketServer } = require('wsrs');

const wss = new WebSocketServer({
  port: 8080,
  heartbeat: { interval: 30000 }
});

wss.on('connection',
  /**
   * @param {*} ws 建立连接的WebSocket
   * @param {*} req request {http.IncomingMessage}
   */
  (ws, req) => {
    console.log(req.socket.remoteAddress);
    ws.on('message', (/** @type {any} */ data, /** @type {boolean} */ isBinary) => {
      wss.clients.forEach(function each(client) {
        if (client.readyState === WebSocket.OPEN) {
          client.send(data, { binary: isBinary });
        }
      });
    });
    ws.on('close', (/** @type {number} */ code, /** @type {Buffer} */ reason) => {
      console.log(code, reason.toString());
    });
  });

// Without the seed's `{*}` annotations the parameters are inferred.
wss.on('connection', (ws, req) => {
  /** @type {import('wsrs')} */
  const socket = ws;
  /** @type {string | undefined} */
  const address = req.socket.remoteAddress;
  ws.on('message', (data, isBinary) => {
    /** @type {import('wsrs').RawData} */
    const d = data;
    /** @type {boolean} */
    const b = isBinary;
    socket.send(d, { binary: b });
  });
  console.log(address);
});

module.exports = wss;
