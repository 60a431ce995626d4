// A .cts file: `import X = require('wsrs')` and `import { ... } from` (typed),
// and the plain `require()` of the seeds, which TypeScript leaves untyped in
// .ts/.cts files (it is typed in .js/.cjs ones: see seeds-js.cjs).

import wsrs = require('wsrs');
import { WebSocketServer as Named } from 'wsrs';

const { WebSocketServer } = wsrs;
const wss = new WebSocketServer({ port: 8080, heartbeat: 30000 });
expectType<Same<typeof wss, Named>>();
wss.on('connection', (ws, req) => {
  req.socket.remoteAddress;
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.clients.forEach((c) => c.readyState === wsrs.OPEN && c.send('x'));

const { WebSocketServer: Untyped } = require('wsrs');
const wss2 = new Untyped({ port: 8081 });
wss2.on('connection', (ws: wsrs) => ws.send('hello'));

export = wss;
