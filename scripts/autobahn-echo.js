'use strict';

// Echo server for the Autobahn|Testsuite fuzzingclient, on wsrs (the same
// shape as the reference ws-echo.js: echo every message with its type).
//   node scripts/autobahn-echo.js PORT [--max-fragments=N] [--deflate]
// (--deflate: permessage-deflate on, ws's default options, for cases 12 and 13)

const WebSocket = require('..');

const port = Number(process.argv[2]);
const options = { host: '127.0.0.1', port };
for (const arg of process.argv.slice(3)) {
  const [name, value] = arg.split('=');
  if (name === '--max-fragments') options.maxFragments = Number(value);
  else if (name === '--deflate') options.perMessageDeflate = true;
  else throw new Error(`unknown option ${arg}`);
}

const wss = new WebSocket.WebSocketServer(options, () => {
  console.log(`autobahn-echo: wsrs listening on 127.0.0.1:${port} ${JSON.stringify(options)}`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});

const stop = () => wss.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
