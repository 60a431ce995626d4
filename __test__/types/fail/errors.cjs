// JavaScript checked with checkJs must fail where the types say so: proves
// that `require('wsrs')` is typed in JS files. Lines marked `// error` must
// have a diagnostic, and no other line.

const { WebSocketServer } = require('wsrs');
const WebSocket = require('wsrs');

new WebSocketServer({ port: 8080, heartbeat: 'x' }); // error
const wss = new WebSocketServer({ port: 8080 });
wss.on('connection', (ws) => {
  ws.send('x', { binary: 'yes' }); // error
  ws.sendd('x'); // error
});
WebSocket.OPEN = 2; // error

module.exports = wss;
